/**
 * Faults through the simulator's scripted faults: retried within a bounded budget, or a partial run whose
 * affected findings are unknown (never pass, never removed), with the run record naming what was missed.
 */
import { describe, expect, test } from "vitest";
import { AuditError } from "../../src/core/audit.js";
import type { Finding } from "../../src/core/findings.js";
import { findingKey } from "../../src/core/findings.js";
import { auditEstate, freshStore } from "../helpers/harness.js";
import { SUB_A, SUB_B, twoSubscriptions, withFaults } from "./estates.js";

const bySub = (fs: Finding[], sub: string) => fs.filter((f) => (f.clusterId ?? f.registryId ?? "").toLowerCase().includes(sub));
const statusMap = (fs: Finding[]) => Object.fromEntries(fs.map((f) => [findingKey(f), `${f.status}:${f.reason}`]));

describe("transient faults are retried and change nothing", () => {
  const cases: [string, Record<string, unknown>[]][] = [
    ["429 storm with Retry-After on Resource Graph", [{ service: "resourcegraph", status: 429, retryAfterSeconds: 1, count: 2 }]],
    ["503s on Resource Graph", [{ service: "resourcegraph", status: 503, count: 2 }]],
    ["connection resets on Resource Graph", [{ service: "resourcegraph", kind: "reset", count: 2 }]],
    ["a timeout on Resource Graph", [{ service: "resourcegraph", kind: "timeout", timeoutMs: 200, count: 1 }]],
    ["429 without Retry-After", [{ service: "resourcegraph", status: 429, count: 1 }]],
    [
      "429 and 503 on the authorization API",
      [
        { service: "authorization", status: 429, retryAfterSeconds: 1, count: 1 },
        { service: "authorization", status: 503, count: 1 },
      ],
    ],
    ["resets on the authorization API", [{ service: "authorization", kind: "reset", count: 2 }]],
  ];
  const base = twoSubscriptions({ withoutRoleDefinitionRows: true });
  let baseline: Awaited<ReturnType<typeof auditEstate>> | undefined;
  test.each(cases)("%s", async (_name, faults) => {
    baseline ??= await auditEstate(base, await freshStore("base"));
    const store = await freshStore("fault");
    const started = Date.now();
    const result = await auditEstate(withFaults(base, faults), store);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.simulator.stats.faultsInjected).toBeGreaterThan(0);
    expect(result.run.status).toBe("succeeded");
    expect(result.run.missed).toEqual([]);
    expect(statusMap(result.findings)).toEqual(statusMap(baseline.findings));
  });
});

describe("persistent faults make a partial run", () => {
  test("a subscription whose queries keep failing: its findings go unknown/not-visible, the rest is untouched", async () => {
    const store = await freshStore("persist");
    const first = await auditEstate(twoSubscriptions(), store);
    expect(first.run.status).toBe("succeeded");
    const second = await auditEstate(
      withFaults(twoSubscriptions(), [{ service: "resourcegraph", status: 500, count: -1, subscriptionId: SUB_B, table: "resources" }]),
      store,
    );
    expect(second.run.status).toBe("partial");
    expect(second.run.missed).toContain(`subscription:${SUB_B}`);
    const b = bySub(second.findings, SUB_B);
    expect(b.length).toBe(bySub(first.findings, SUB_B).length);
    for (const f of b) {
      expect(f.status, f.ruleId).toBe("unknown");
      expect(f.reason).toBe("not-visible");
      expect(f.change).not.toBe("removed");
    }
    const a = bySub(second.findings, SUB_A);
    expect(a.every((f) => f.change === "unchanged")).toBe(true);
    expect(statusMap(a)).toEqual(statusMap(bySub(first.findings, SUB_A)));
    // The store now holds exactly the reported state, and the next clean run recovers.
    const state = await store.loadState("tenant");
    expect(statusMap(state.findings)).toEqual(statusMap(second.findings));
    const third = await auditEstate(twoSubscriptions(), store);
    expect(third.run.status).toBe("succeeded");
    expect(statusMap(third.findings)).toEqual(statusMap(first.findings));
  });

  test("role definitions that cannot be read make pull rules unknown, never pass", async () => {
    const store = await freshStore("authz");
    const result = await auditEstate(
      withFaults(twoSubscriptions({ withoutRoleDefinitionRows: true }), [{ service: "authorization", status: 500, count: -1 }]),
      store,
    );
    expect(result.run.status).toBe("partial");
    expect(result.run.missed.some((m) => m.includes("roleDefinitions"))).toBe(true);
    const pull = result.findings.filter((f) => f.ruleId === "pull.granted");
    expect(pull.length).toBe(2);
    for (const f of pull) expect(f).toMatchObject({ status: "unknown", reason: "role-definition-unresolved" });
  });

  test("Resource Graph failing for everything: the run fails and the stored state is untouched", async () => {
    const store = await freshStore("down");
    const first = await auditEstate(twoSubscriptions(), store);
    const err = (await auditEstate(withFaults(twoSubscriptions(), [{ service: "resourcegraph", status: 503, count: -1 }]), store).catch(
      (e: unknown) => e,
    )) as AuditError;
    expect(err).toBeInstanceOf(AuditError);
    expect(err.run?.status).toBe("failed");
    const state = await store.loadState("tenant");
    expect(state.lastRunId).toBe(first.run.id);
    expect(statusMap(state.findings)).toEqual(statusMap(first.findings));
    expect((await store.getRun("tenant", err.run!.id))?.status).toBe("failed");
  });
});
