/**
 * The staged assessment (issue 8): a run evaluates every rule but the network ones while the network
 * rounds of discovery are in flight, over an index without network facts. It must give exactly what
 * evaluating everything at the end gives, in the same order, on every estate we have.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { Assessment, discover } from "../../src/core/audit.js";
import { applyDrift, previousKubelets } from "../../src/core/drift.js";
import { applyExemptions } from "../../src/core/exemptions.js";
import type { Attachment, Finding } from "../../src/core/findings.js";
import type { InventoryIndex } from "../../src/core/inventory-index.js";
import type { ApiExemption, DiscoveryPort, StoredState } from "../../src/core/ports.js";
import { remediate } from "../../src/core/remediation.js";
import { evaluateAll } from "../../src/core/rules.js";
import { loadEstateFile } from "../../src/adapters/simulator/index.js";
import { auditEstate, simulatorDiscovery } from "../helpers/harness.js";
import { newStore } from "../adapters/table-store/fixtures.js";

const ROOT = path.join(__dirname, "../..");
const NOW = new Date("2026-11-25T00:00:00Z");
const EMPTY: StoredState = { generation: 0, lastRunId: null, findings: [], attachments: [], forgotten: [], exemptions: [] };

/** What `assess` did before it was staged: every rule over the complete index, then drift, exemptions, remediation. */
function allAtOnce(index: InventoryIndex, attachments: Attachment[], previous: StoredState): { findings: Finding[]; warnings: unknown[] } {
  const evaluations = evaluateAll(index, attachments, { armPrivateLink: false, previousKubelet: previousKubelets(previous.findings) });
  const findings = applyDrift(evaluations, previous.findings, index, attachments);
  const warnings = applyExemptions(findings, index, previous.exemptions, NOW);
  for (const f of findings) f.remediation = remediate(f, index);
  return { findings, warnings };
}

async function staged(file: string, previous: StoredState) {
  const { discovery, cloud } = simulatorDiscovery(loadEstateFile(file));
  const assessment = new Assessment(previous, { armPrivateLink: false, now: NOW });
  let earlyIndex: InventoryIndex | undefined;
  const { index, attachments } = await discover(discovery, { kind: "tenant" }, cloud, previous, undefined, undefined, async (early, atts) => {
    earlyIndex = early;
    await assessment.earlyAsync(early, atts);
  });
  return { index, attachments, earlyIndex, result: assessment.finish(index, attachments) };
}

function estateFiles(): string[] {
  const dirs = ["test/estates", "test/conformance"];
  return [
    path.join(ROOT, "samples/contoso.estate.json"),
    ...dirs.flatMap((d) => fs.readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith(".json") && !f.endsWith(".expected.json")).map((f) => path.join(ROOT, d, f))),
  ].filter((f) => !f.endsWith(".before.json"));
}

describe("staged assessment", () => {
  test("early (without network facts) + finish equals evaluating everything at the end, on every estate, drift cases after their before-estate", async () => {
    const files = estateFiles();
    expect(files.length).toBeGreaterThan(20);
    let networkFindings = 0;
    for (const file of files) {
      const before = file.replace(/\.json$/, ".before.json");
      let previous = EMPTY;
      if (fs.existsSync(before)) {
        const b = await staged(before, EMPTY);
        const apiExemptions: ApiExemption[] = [];
        previous = { ...EMPTY, generation: 1, findings: b.result.findings, exemptions: apiExemptions };
      }
      const s = await staged(file, previous);
      expect(s.earlyIndex, file).toBeDefined();
      // The early index really has no network facts: the early rules cannot have read them.
      expect(s.earlyIndex!.vnets.size + s.earlyIndex!.privateEndpoints.size + s.earlyIndex!.publicIps.size + s.earlyIndex!.dnsLinks.size, file).toBe(0);
      const reference = allAtOnce(s.index, s.attachments, previous);
      expect(s.result.findings, file).toEqual(reference.findings);
      expect(s.result.warnings, file).toEqual(reference.warnings);
      networkFindings += s.result.findings.filter((f) => f.ruleId.startsWith("network.")).length;
    }
    expect(networkFindings).toBeGreaterThan(10);
  });

  test("runs while the network round is in flight: discovery's network facts wait until the early stage is done", async () => {
    const file = path.join(ROOT, "samples/contoso.estate.json");
    const { discovery: real, cloud } = simulatorDiscovery(loadEstateFile(file));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let networkAsked = false;
    const discovery: DiscoveryPort = Object.assign(Object.create(real) as DiscoveryPort, {
      // The network facts arrive only once the early stage has finished: if it waited for them, this deadlocks.
      listNetworkFacts: async (...a: Parameters<DiscoveryPort["listNetworkFacts"]>) => {
        networkAsked = true;
        const facts = await real.listNetworkFacts(...a);
        await Promise.race([gate, new Promise((_, reject) => setTimeout(() => reject(new Error("the early stage did not run while the network facts were pending")), 5_000))]);
        return facts;
      },
    });
    const assessment = new Assessment(EMPTY, { armPrivateLink: false, now: NOW });
    let earlyDone = false;
    const { index, attachments } = await discover(discovery, { kind: "tenant" }, cloud, EMPTY, undefined, undefined, async (early, atts) => {
      expect(networkAsked).toBe(true);
      await assessment.earlyAsync(early, atts);
      earlyDone = true;
      release();
    });
    expect(earlyDone).toBe(true);
    const { findings } = assessment.finish(index, attachments);
    expect(findings).toEqual(allAtOnce(index, attachments, EMPTY).findings);
  });

  test("a failing network round fails discovery after the early stage settles, and the early stage runs once", async () => {
    const file = path.join(ROOT, "samples/contoso.estate.json");
    const { discovery: real, cloud } = simulatorDiscovery(loadEstateFile(file));
    const discovery: DiscoveryPort = Object.assign(Object.create(real) as DiscoveryPort, {
      listNetworkFacts: () => Promise.reject(new Error("network round failed")),
    });
    const assessment = new Assessment(EMPTY, { armPrivateLink: false, now: NOW });
    let settled = false;
    await expect(
      discover(discovery, { kind: "tenant" }, cloud, EMPTY, undefined, undefined, async (early, atts) => {
        await assessment.earlyAsync(early, atts);
        settled = true;
      }),
    ).rejects.toThrow("network round failed");
    expect(settled).toBe(true);
    expect(() => [...assessment.early({} as InventoryIndex, [])]).toThrow(/once/);
  });

  test("runAudit on a real store: findings are prepared during discovery; a prepare that throws does not fail the run", async () => {
    const file = path.join(ROOT, "samples/contoso.estate.json");
    const store = await newStore();
    const prepared: number[] = [];
    const real = store.prepare.bind(store);
    store.prepare = (scope, findings) => {
      prepared.push(findings.length);
      real(scope, findings);
    };
    const first = await auditEstate(file, store);
    expect(first.run.status).toBe("succeeded");
    const early = first.findings.filter((f) => !f.ruleId.startsWith("network."));
    expect(prepared.reduce((a, b) => a + b, 0)).toBe(early.length);

    const failing = await newStore();
    failing.prepare = () => {
      throw new Error("encoding failed");
    };
    const r = await auditEstate(file, failing);
    expect(r.run.status).toBe("succeeded");
    expect((await failing.loadState("tenant")).findings).toHaveLength(r.findings.length);
  });
});
