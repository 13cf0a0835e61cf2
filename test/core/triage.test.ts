/** Triage answers what a full audit answers, for one cluster, reading only what it needs. */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { assess, discover } from "../../src/core/audit.js";
import { sameId } from "../../src/core/resource-id.js";
import { triage, TriageError, TRIAGE_STEPS } from "../../src/core/triage.js";
import { loadEstateFile } from "../../src/adapters/simulator/index.js";
import { simulatorDiscovery } from "../helpers/harness.js";

const EMPTY = { generation: 0, lastRunId: null, findings: [], attachments: [], forgotten: [], exemptions: [] };
const ROOT = path.join(__dirname, "../..");
const estates = [
  ...fs
    .readdirSync(path.join(ROOT, "test/conformance"))
    .filter((f) => f.endsWith(".json") && !f.endsWith(".expected.json"))
    .map((f) => path.join(ROOT, "test/conformance", f)),
  path.join(ROOT, "samples/contoso.estate.json"),
];

describe("triage agrees with the full audit", () => {
  test.each(estates.map((e) => [path.basename(e), e]))("%s", async (_name, file) => {
    const estate = loadEstateFile(file);
    const full = simulatorDiscovery(estate);
    const { index, attachments } = await discover(full.discovery, { kind: "tenant" }, full.cloud, EMPTY);
    const now = new Date("2026-11-25T00:00:00Z");
    const { findings } = assess(index, attachments, EMPTY, { armPrivateLink: false, now });
    for (const c of index.inventory.clusters) {
      const scoped = simulatorDiscovery(estate);
      const t = await triage(scoped.discovery, {
        cluster: c.id,
        scope: { kind: "tenant" },
        cloud: scoped.cloud,
        armPrivateLink: false,
        now,
      });
      const expectedRegistries = attachments
        .filter((a) => sameId(a.clusterId, c.id))
        .map((a) => a.registryId.toLowerCase())
        .sort();
      expect(t.registries.map((r) => r.registryId.toLowerCase()).sort(), c.name).toEqual(expectedRegistries);
      for (const r of t.registries) {
        const related = findings.filter(
          (f) =>
            sameId(f.registryId, r.registryId) &&
            (f.clusterId === null || sameId(f.clusterId, c.id)) &&
            f.ruleId !== "identity.kubelet-changed",
        );
        for (const step of r.steps) {
          for (const f of step.findings) {
            const same = [...related, ...findings.filter((x) => sameId(x.clusterId, c.id) && !x.registryId)].find(
              (x) => x.ruleId === f.ruleId && (f.registryId === null ? x.registryId === null : sameId(x.registryId, f.registryId)),
            );
            expect(same, `${c.name} ${f.ruleId}`).toBeTruthy();
            expect(`${f.status}:${f.reason}`, `${c.name} -> ${r.name} ${f.ruleId}`).toBe(`${same!.status}:${same!.reason}`);
          }
        }
        expect(r.steps.map((s) => s.step)).toEqual(TRIAGE_STEPS.map((s) => s.step));
      }
      // Scoped: never more Resource Graph rows than the full audit read.
      expect(scoped.simulator.stats.rowsReturned).toBeLessThanOrEqual(full.simulator.stats.rowsReturned);
    }
  });

  test("a name that matches several clusters lists them", async () => {
    const raw = JSON.parse(fs.readFileSync(path.join(ROOT, "test/conformance/attached-basic.json"), "utf8"));
    const copy = JSON.parse(
      JSON.stringify(raw.tables.resources.find((r: { type: string }) => r.type === "microsoft.containerservice/managedclusters")),
    );
    copy.id = copy.id.replace("/rg-aks/", "/rg-other/");
    copy.resourceGroup = "rg-other";
    raw.tables.resources.push(copy);
    const { parseEstate } = await import("../../src/adapters/simulator/index.js");
    const { discovery, cloud } = simulatorDiscovery(parseEstate(raw, "dup"));
    const err = await triage(discovery, { cluster: "aks-prod", scope: { kind: "tenant" }, cloud, armPrivateLink: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TriageError);
    expect((err as TriageError).code).toBe("AmbiguousCluster");
    expect((err as TriageError).candidates).toHaveLength(2);
  });

  test("--registry narrows to one registry, and asks about one the cluster is not attached to", async () => {
    const estate = loadEstateFile(path.join(ROOT, "test/conformance/firewall-blocks-egress.json"));
    const { discovery, cloud } = simulatorDiscovery(estate);
    const t = await triage(discovery, {
      cluster: "aks-pay",
      registry: "payacr.azurecr.io",
      scope: { kind: "tenant" },
      cloud,
      armPrivateLink: false,
    });
    expect(t.registries.map((r) => r.name)).toEqual(["payacr"]);
    expect(t.registries[0].steps.find((s) => s.step === "network-path")!.status).toBe("fail");
  });
});
