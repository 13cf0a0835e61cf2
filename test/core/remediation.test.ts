/** Remediation: every failing reason of the catalog has commands naming the finding's own objects. */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { assess, attachmentsToRemember, discover } from "../../src/core/audit.js";
import type { StoredAttachment } from "../../src/core/ports.js";
import { CLOUDS } from "../../src/core/clouds.js";
import { RULES } from "../../src/core/catalog.js";
import type { Finding } from "../../src/core/findings.js";
import { nameOf } from "../../src/core/resource-id.js";
import { loadEstateFile } from "../../src/adapters/simulator/index.js";
import { simulatorDiscovery } from "../helpers/harness.js";

const EMPTY = { generation: 0, lastRunId: null, findings: [], attachments: [], forgotten: [], exemptions: [] };
const ROOT = path.join(__dirname, "../..");

async function findingsOf(file: string): Promise<Finding[]> {
  return (await stateOf(file)).findings;
}

/** What a run of `file` leaves for the next: its findings and the attachments it remembers. */
async function stateOf(file: string): Promise<{ findings: Finding[]; attachments: StoredAttachment[] }> {
  // A drift case is audited after its ".before" estate, as the conformance runner does.
  const before = file.replace(/\.json$/, ".before.json");
  const previous = !file.endsWith(".before.json") && fs.existsSync(before) ? { ...EMPTY, ...(await stateOf(before)) } : EMPTY;
  const estate = loadEstateFile(file);
  const { discovery, cloud } = simulatorDiscovery(estate);
  const { index, attachments } = await discover(discovery, { kind: "tenant" }, cloud, previous);
  const findings = assess(index, attachments, previous, { armPrivateLink: false, now: new Date("2026-11-25T00:00:00Z") }).findings;
  return { findings, attachments: attachmentsToRemember(index, attachments, previous) };
}

const NO_REMEDIATION = new Set(["repository-scoped", "not-visible", "kubelet-identity-missing", "role-definition-unresolved"]);

describe("remediation", () => {
  test("every failing or actionable reason, across the sample and the test estates, has a fix naming its objects", async () => {
    const files = [
      path.join(ROOT, "samples/contoso.estate.json"),
      ...fs
        .readdirSync(path.join(ROOT, "test/estates"))
        .filter((f) => f.endsWith(".json") && !f.endsWith(".expected.json"))
        .map((f) => path.join(ROOT, "test/estates", f)),
    ];
    const seen = new Map<string, Finding>();
    for (const f of files) {
      for (const x of await findingsOf(f)) {
        if (x.status === "pass" || !x.reason || NO_REMEDIATION.has(x.reason)) continue;
        seen.set(`${x.ruleId}/${x.reason}`, x);
        const r = x.remediation;
        expect(r, `${x.ruleId}/${x.reason}`).toBeTruthy();
        expect(r!.commands.length).toBeGreaterThan(0);
        expect(fs.existsSync(path.join(ROOT, r!.docs)), r!.docs).toBe(true);
        const names = [x.clusterId, x.registryId].filter(Boolean).flatMap((id) => [id!, nameOf(id!), nameOf(id!).split(".")[0]]);
        const text = [r!.summary, ...r!.commands].join("\n");
        expect(
          names.some((n) => text.includes(n)),
          `${x.ruleId}/${x.reason}: ${text}`,
        ).toBe(true);
        for (const c of r!.commands) {
          if (/\b(delete|remove)\b/.test(c)) expect(r!.summary, c).toMatch(/DELETES|remov|chang/i);
        }
      }
    }
    const wanted = RULES.flatMap((rule) => rule.reasons.filter((x) => !NO_REMEDIATION.has(x)).map((x) => `${rule.id}/${x}`));
    const missing = wanted.filter((w) => !seen.has(w));
    expect(missing).toEqual([]);
  });

  test("pull fixes name the kubelet identity and the registry, and ABAC registries get the repository reader role", async () => {
    const abac = (await findingsOf(path.join(ROOT, "test/conformance/abac-mode.json"))).find((f) => f.reason === "abac-mode-ignores-role")!;
    expect(abac.remediation!.commands[0]).toContain('--role "Container Registry Repository Reader"');
    expect(abac.remediation!.commands[0]).toContain(abac.registryId!);
    const none = (await findingsOf(path.join(ROOT, "test/conformance/declared-without-role.json"))).find(
      (f) => f.reason === "no-pull-role",
    )!;
    expect(none.remediation!.commands[0]).toMatch(/--assignee-object-id [0-9a-f-]{36} .*--role AcrPull --scope \/subscriptions\//);
    expect(none.remediation!.bicep).toContain("Microsoft.Authorization/roleAssignments");
  });

  test("outside the public cloud, commands start with az cloud set", async () => {
    const all = await findingsOf(path.join(ROOT, "test/estates/china-cloud.json"));
    for (const f of all.filter((x) => x.remediation)) expect(f.remediation!.commands[0]).toBe("az cloud set --name AzureChinaCloud");
    expect(CLOUDS.AzureChinaCloud.privateLinkZone).toBe("privatelink.azurecr.cn");
  });
});
