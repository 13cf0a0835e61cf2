/**
 * The staged assessment (issue 8): a run evaluates every rule but the network ones while the network
 * rounds of discovery are in flight, over an index without network facts. It must give exactly what
 * evaluating everything at the end gives, in the same order, on every estate we have.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { Assessment, attachmentsToRemember, discover } from "../../src/core/audit.js";
import type { Finding } from "../../src/core/findings.js";
import type { InventoryIndex } from "../../src/core/inventory-index.js";
import type { ApiExemption, DiscoveryPort, StoredState } from "../../src/core/ports.js";
import { loadEstateFile, type Estate } from "../../src/adapters/simulator/index.js";
import { auditEstate, simulatorDiscovery } from "../helpers/harness.js";
import { newStore } from "../adapters/table-store/fixtures.js";
import { referenceAssessment } from "./reference-assessment.js";

const ROOT = path.join(__dirname, "../..");
const NOW = new Date("2026-11-25T00:00:00Z");
const EMPTY: StoredState = { generation: 0, lastRunId: null, findings: [], attachments: [], forgotten: [], exemptions: [] };

/** The assessment before it was staged (a frozen copy in reference-assessment.ts), over the complete index. */
const allAtOnce = (index: InventoryIndex, attachments: Parameters<typeof referenceAssessment>[1], previous: StoredState) =>
  referenceAssessment(index, attachments, previous, NOW);

async function staged(file: string | Estate, previous: StoredState) {
  const { discovery, cloud, simulator } = simulatorDiscovery(typeof file === "string" ? loadEstateFile(file) : file);
  const assessment = new Assessment(previous, { armPrivateLink: false, now: NOW });
  let earlyIndex: InventoryIndex | undefined;
  const { index, attachments } = await discover(
    discovery,
    { kind: "tenant" },
    cloud,
    previous,
    undefined,
    undefined,
    async (early, atts) => {
      earlyIndex = early;
      await assessment.earlyAsync(early, atts);
    },
  );
  return { index, attachments, earlyIndex, simulator, result: assessment.finish(index, attachments) };
}

function estateFiles(): string[] {
  const dirs = ["test/estates", "test/conformance"];
  return [
    path.join(ROOT, "samples/contoso.estate.json"),
    ...dirs.flatMap((d) =>
      fs
        .readdirSync(path.join(ROOT, d))
        .filter((f) => f.endsWith(".json") && !f.endsWith(".expected.json"))
        .map((f) => path.join(ROOT, d, f)),
    ),
  ].filter((f) => !f.endsWith(".before.json"));
}

describe("staged assessment", () => {
  /** API exemptions over some of `findings`: by cluster, by registry, one expired, one for a rule nothing has. */
  function apiExemptionsFor(findings: Finding[]): ApiExemption[] {
    const failing = findings.filter((f) => f.status !== "pass");
    const base = { justification: "test", createdAt: "2026-11-01T00:00:00Z" };
    const out: ApiExemption[] = [];
    const byCluster = failing.find((f) => f.clusterId);
    if (byCluster)
      out.push({
        ...base,
        id: "x1",
        ruleId: byCluster.ruleId,
        clusterId: byCluster.clusterId!.toUpperCase(),
        registryId: null,
        expiresOn: null,
      });
    const byRegistry = failing.find((f) => f.registryId && f !== byCluster);
    if (byRegistry)
      out.push({
        ...base,
        id: "x2",
        ruleId: byRegistry.ruleId,
        clusterId: null,
        registryId: byRegistry.registryId,
        expiresOn: "2026-12-31",
      });
    const expired = failing.find((f) => f.clusterId && f !== byCluster && f !== byRegistry);
    if (expired)
      out.push({
        ...base,
        id: "x3",
        ruleId: expired.ruleId,
        clusterId: expired.clusterId,
        registryId: expired.registryId,
        expiresOn: "2026-11-24",
      });
    out.push({
      ...base,
      id: "x4",
      ruleId: "registry.admin-user",
      clusterId: "/subscriptions/none/resourceGroups/x/providers/Microsoft.ContainerService/managedClusters/x",
      registryId: null,
      expiresOn: null,
    });
    return out;
  }

  function expectSame(s: Awaited<ReturnType<typeof staged>>, previous: StoredState, what: string): Finding[] {
    expect(s.earlyIndex, what).toBeDefined();
    // The early index really has no network facts: the early rules cannot have read them.
    expect(
      s.earlyIndex!.vnets.size + s.earlyIndex!.privateEndpoints.size + s.earlyIndex!.publicIps.size + s.earlyIndex!.dnsLinks.size,
      what,
    ).toBe(0);
    const reference = allAtOnce(s.index, s.attachments, previous);
    expect(s.result.findings, what).toEqual(reference.findings);
    expect(s.result.warnings, what).toEqual(reference.warnings);
    return s.result.findings;
  }

  test("early (without network facts) + finish equals the frozen all-at-once assessment, on every estate, drift cases after their before-estate, and a rerun with API exemptions", async () => {
    const files = estateFiles();
    expect(files.length).toBeGreaterThan(20);
    let networkFindings = 0;
    let apiExempted = 0;
    for (const file of files) {
      const before = file.replace(/\.json$/, ".before.json");
      let previous = EMPTY;
      if (fs.existsSync(before)) {
        const b = await staged(before, EMPTY);
        previous = {
          ...EMPTY,
          generation: 1,
          findings: b.result.findings,
          attachments: attachmentsToRemember(b.index, b.attachments, EMPTY),
          exemptions: apiExemptionsFor(b.result.findings),
        };
      }
      const s1 = await staged(file, previous);
      const first = expectSame(s1, previous, file);
      networkFindings += first.filter((f) => f.ruleId.startsWith("network.")).length;
      // The same estate again, after the first run, with API exemptions: unchanged drift, exemptions applied.
      const again = {
        ...EMPTY,
        generation: 2,
        findings: first,
        attachments: attachmentsToRemember(s1.index, s1.attachments, previous),
        exemptions: apiExemptionsFor(first),
      };
      const second = expectSame(await staged(file, again), again, `${file} (rerun)`);
      apiExempted += second.filter((f) => f.exemption?.source === "api").length;
    }
    expect(networkFindings).toBeGreaterThan(10);
    expect(apiExempted).toBeGreaterThan(10);
  });

  test("with failing reads (every Resource Graph request for one subscription from the Nth on refused): the same findings and missed scopes", async () => {
    const file = path.join(ROOT, "samples/contoso.estate.json");
    const estate = loadEstateFile(file);
    const subs = (estate.tables.resourcecontainers ?? [])
      .filter((r) => String(r.type).toLowerCase() === "microsoft.resources/subscriptions")
      .map((r) => String(r.subscriptionId));
    expect(subs.length).toBeGreaterThan(1);
    const requests = (await staged(estate, EMPTY)).simulator.stats.resourceGraphRequests;
    expect(requests).toBeGreaterThan(5);
    const outcomes = new Set<string>();
    for (const sub of subs.slice(0, 2)) {
      for (let after = 0; after <= requests; after++) {
        const faulty: Estate = {
          ...estate,
          simulation: { ...estate.simulation, faults: [{ service: "resourcegraph", status: 403, subscriptionId: sub, after, count: -1 }] },
        };
        let s: Awaited<ReturnType<typeof staged>>;
        try {
          s = await staged(faulty, EMPTY);
        } catch (err) {
          outcomes.add(`failed: ${(err as Error).name}`);
          continue;
        }
        expectSame(s, EMPTY, `${sub} from request ${after}`);
        for (const m of s.index.inventory.missed) outcomes.add(m.split(":")[0]);
        if (s.index.inventory.failedSubscriptions.length) outcomes.add("subscriptions");
      }
    }
    // The sweep reached every family: role assignments, definitions and network reads went missing in some
    // runs (replications come with the registries' query and go missing with it).
    expect([...outcomes], [...outcomes].join(", ")).toEqual(
      expect.arrayContaining(["registries", "roleAssignments", "roleDefinitions", "network", "subscriptions"]),
    );
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
        await Promise.race([
          gate,
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error("the early stage did not run while the network facts were pending")), 5_000),
          ),
        ]);
        return facts;
      },
    });
    const assessment = new Assessment(EMPTY, { armPrivateLink: false, now: NOW });
    let earlyDone = false;
    const { index, attachments } = await discover(
      discovery,
      { kind: "tenant" },
      cloud,
      EMPTY,
      undefined,
      undefined,
      async (early, atts) => {
        expect(networkAsked).toBe(true);
        await assessment.earlyAsync(early, atts);
        earlyDone = true;
        release();
      },
    );
    expect(earlyDone).toBe(true);
    const { findings } = assessment.finish(index, attachments);
    expect(findings).toEqual(allAtOnce(index, attachments, EMPTY).findings);
  });

  test("a failing network round fails discovery after the early stage settles, and the early stage runs once", async () => {
    const file = path.join(ROOT, "samples/contoso.estate.json");
    const { discovery: real, cloud } = simulatorDiscovery(loadEstateFile(file));
    // The network round fails once the early stage has started, while it is still running.
    let fail!: (err: Error) => void;
    const discovery: DiscoveryPort = Object.assign(Object.create(real) as DiscoveryPort, {
      listNetworkFacts: () => new Promise((_, reject) => (fail = reject)),
    });
    const assessment = new Assessment(EMPTY, { armPrivateLink: false, now: NOW });
    let settled = false;
    await expect(
      discover(discovery, { kind: "tenant" }, cloud, EMPTY, undefined, undefined, async (early, atts) => {
        fail(new Error("network round failed"));
        await new Promise((resolve) => setTimeout(resolve, 20));
        await assessment.earlyAsync(early, atts);
        settled = true;
      }),
    ).rejects.toThrow("network round failed");
    expect(settled).toBe(true);
    expect(() => [...assessment.early({} as InventoryIndex, [])]).toThrow(/once/);
  });

  test("a network round that fails before the replications are in: the early stage does not start", async () => {
    const file = path.join(ROOT, "samples/contoso.estate.json");
    const { discovery: real, cloud } = simulatorDiscovery(loadEstateFile(file));
    const discovery: DiscoveryPort = Object.assign(Object.create(real) as DiscoveryPort, {
      listNetworkFacts: () => Promise.reject(new Error("network round failed")),
      // The replications answer only after the network round has failed.
      listReplications: async (...a: Parameters<DiscoveryPort["listReplications"]>) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return real.listReplications(...a);
      },
    });
    let started = false;
    await expect(
      discover(discovery, { kind: "tenant" }, cloud, EMPTY, undefined, undefined, async () => {
        started = true;
      }),
    ).rejects.toThrow("network round failed");
    expect(started).toBe(false);
  });

  test("finish after an early stage given up half-way refuses instead of returning part of the findings", async () => {
    const file = path.join(ROOT, "samples/contoso.estate.json");
    const { discovery, cloud } = simulatorDiscovery(loadEstateFile(file));
    const { index, attachments } = await discover(discovery, { kind: "tenant" }, cloud, EMPTY);
    const assessment = new Assessment(EMPTY, { armPrivateLink: false, now: NOW });
    const steps = assessment.early(index, attachments, 1);
    steps.next();
    steps.next();
    expect(() => assessment.finish(index, attachments)).toThrow(/to its end/);
    // Run to its end, the same assessment finishes normally.
    for (const _ of steps);
    expect(assessment.finish(index, attachments).findings).toEqual(allAtOnce(index, attachments, EMPTY).findings);
  });

  test("runAudit on a real store: findings are prepared during discovery; a prepare that throws does not fail the run", async () => {
    const file = path.join(ROOT, "samples/contoso.estate.json");
    const store = await newStore({ verifyPrepared: true });
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
    // The commit used those encodings (and, verifying them, found none changed since): every early finding.
    expect(store.lastCommitPhases()?.prepared).toBe(early.length);
    expect(early.length).toBeGreaterThan(0);
    expect(early.length).toBeLessThan(first.findings.length);

    const failing = await newStore();
    failing.prepare = () => {
      throw new Error("encoding failed");
    };
    const r = await auditEstate(file, failing);
    expect(r.run.status).toBe("succeeded");
    expect((await failing.loadState("tenant")).findings).toHaveLength(r.findings.length);
  });

  test("a commit that switched the state but could not write its run record is not reported as a failed run", async () => {
    const file = path.join(ROOT, "samples/contoso.estate.json");
    const store = await newStore();
    const realCommit = store.commitRun.bind(store);
    let failRuns = 0;
    const realFail = store.failRun.bind(store);
    store.commitRun = async (...a: Parameters<typeof store.commitRun>) => {
      await realCommit(...a);
      throw Object.assign(new Error("run record write refused"), { code: "RunRecordFailed" });
    };
    store.failRun = async (...a: Parameters<typeof store.failRun>) => {
      failRuns++;
      await realFail(...a);
    };
    const err = (await auditEstate(file, store).catch((e: unknown) => e)) as { code?: string; message: string };
    expect(err.code).toBe("StoreFailed");
    expect(err.message).toMatch(/findings were stored/);
    expect((err as { committed?: boolean }).committed).toBe(true);
    expect(failRuns).toBe(0);
    expect((await store.loadState("tenant")).findings.length).toBeGreaterThan(0);
  });
});
