/**
 * Scale properties of discovery (issues 3, 8 and 10), on generated estates (scripts/generate-estate.ts)
 * through the real SDK clients and the ARM simulator, without latency: these count requests and rows,
 * they do not time anything (the timings are in `npm run bench` and `npm run bench:triage`).
 */
import { describe, expect, test } from "vitest";
import { parseEstate, type Estate } from "../../src/adapters/simulator/index.js";
import { discover } from "../../src/core/audit.js";
import type { StoredState } from "../../src/core/ports.js";
import { triage } from "../../src/core/triage.js";
import { generateEstate, quotaLowerBound, relevantRows, type GenerateOptions } from "../../scripts/generate-estate.js";
import { simulatorDiscovery } from "../helpers/harness.js";

const EMPTY: StoredState = { generation: 0, lastRunId: null, findings: [], attachments: [], forgotten: [], exemptions: [] };

function estateOf(o: GenerateOptions) {
  const g = generateEstate(o);
  return { ...g, estate: parseEstate(g.estate, `generated-${o.clusters}`) };
}

/** Resource Graph queries about network objects (VNets, endpoints, NAT gateways, IPs, DNS zone links). */
const isNetworkQuery = (q: string) => /'microsoft\.network\//i.test(q);

async function discoverEstate(estate: Estate, overrides?: NonNullable<Parameters<typeof simulatorDiscovery>[1]>["overrides"]) {
  const { simulator, discovery, cloud } = simulatorDiscovery(estate, { overrides });
  const t0 = performance.now();
  const result = await discover(discovery, { kind: "tenant" }, cloud, EMPTY);
  return { simulator, discovery, result, seconds: (performance.now() - t0) / 1000 };
}

describe("generated estates", () => {
  test("are valid estate files, deterministic, and have the ratios the benchmark describes", () => {
    const a = generateEstate({ clusters: 300, seed: 7 });
    const b = generateEstate({ clusters: 300, seed: 7 });
    expect(JSON.stringify(a.estate)).toBe(JSON.stringify(b.estate));
    expect(() => parseEstate(a.estate, "generated")).not.toThrow();
    const c = a.counts;
    expect(c.clusters).toBe(300);
    expect(c.subscriptions).toBe(15);
    expect(c.registries).toBeGreaterThanOrEqual(95);
    expect(c.registries).toBeLessThanOrEqual(120);
    expect(c.roleAssignments / c.clusters).toBeGreaterThan(4.5);
    expect(c.roleAssignments / c.clusters).toBeLessThan(6.5);
    expect(c.unrelated).toBeGreaterThan(1000);
    const types = new Set(a.estate.tables.resources.map((r) => r.type));
    for (const t of [
      "microsoft.compute/virtualmachines",
      "microsoft.compute/disks",
      "microsoft.network/networkinterfaces",
      "microsoft.storage/storageaccounts",
      "microsoft.network/natgateways",
      "microsoft.network/publicipprefixes",
      "microsoft.network/privatednszones/virtualnetworklinks",
      "microsoft.containerregistry/registries/replications",
    ]) {
      expect(types, t).toContain(t);
    }
    // The extra network resources come from their own random stream: the rest of the estate is unchanged.
    const extra = generateEstate({ clusters: 300, seed: 7, extraNetwork: 500 });
    expect(extra.estate.tables.resources.length).toBe(a.estate.tables.resources.length + 500);
    expect(JSON.stringify(extra.estate.tables.resources.slice(0, a.estate.tables.resources.length))).toBe(
      JSON.stringify(a.estate.tables.resources),
    );
  });
});

describe("discovery cost", () => {
  test("network facts: the Resource Graph requests do not grow when the estate gains 5,000 unrelated network resources", async () => {
    const base = estateOf({ clusters: 150, seed: 3 });
    const bigger = estateOf({ clusters: 150, seed: 3, extraNetwork: 5000 });
    const types = new Set(bigger.estate.tables.resources.slice(base.estate.tables.resources.length).map((r) => r.type));
    expect([...types].sort()).toEqual(
      [
        "microsoft.network/natgateways",
        "microsoft.network/privatednszones/virtualnetworklinks",
        "microsoft.network/privateendpoints",
        "microsoft.network/publicipaddresses",
        "microsoft.network/virtualnetworks",
      ].sort(),
    );
    const a = await discoverEstate(base.estate);
    const b = await discoverEstate(bigger.estate);
    const networkRequests = (s: { queries: string[] }) => s.queries.filter(isNetworkQuery).length;
    expect(networkRequests(a.simulator.stats)).toBeGreaterThan(0);
    expect(networkRequests(b.simulator.stats)).toBe(networkRequests(a.simulator.stats));
    expect(b.simulator.stats.resourceGraphRequests).toBe(a.simulator.stats.resourceGraphRequests);
    // Not one of the extra rows comes back, and the facts are the same.
    expect(b.simulator.stats.rowsReturned).toBe(a.simulator.stats.rowsReturned);
    expect(JSON.stringify(b.result.inventory.network)).toBe(JSON.stringify(a.result.inventory.network));
  });

  test("requests grow at most linearly from 200 to 2,000 clusters, and only the rows the audit needs come back", async () => {
    const small = estateOf({ clusters: 200, seed: 5 });
    const large = estateOf({ clusters: 2000, seed: 5 });
    const a = await discoverEstate(small.estate);
    const b = await discoverEstate(large.estate);
    const ra = a.simulator.stats.resourceGraphRequests;
    const rb = b.simulator.stats.resourceGraphRequests;
    expect(rb / ra).toBeLessThanOrEqual(2000 / 200);
    for (const [x, g] of [
      [a, small],
      [b, large],
    ] as const) {
      const rows = relevantRows(g.estate);
      const needed = ["subscriptions", "clusters", "registries", "roleAssignments", "roleDefinitions", "network", "replications"].reduce(
        (n, k) => n + rows[k],
        0,
      );
      // Nearly every row returned is one the audit needs (the only extras: replications of registries
      // no cluster is attached to, read with the registries in one query) ...
      expect(x.simulator.stats.rowsReturned).toBeLessThanOrEqual(needed + Math.ceil(rows.replications * 0.02) + 2);
      expect(x.simulator.stats.rowsReturned).toBeGreaterThanOrEqual(needed * 0.98);
      // ... and the requests stay close to the pages those rows need.
      const { pages } = quotaLowerBound(rows, { requests: 15, windowSeconds: 5, latencySeconds: 0 });
      expect(x.simulator.stats.resourceGraphRequests).toBeLessThanOrEqual(Math.ceil(pages * 1.25) + 6);
      expect(x.result.inventory.missed).toEqual([]);
    }
  });

  test("the quota limiter keeps a run within the quota: no 429s, and close to the fewest windows the requests need", async () => {
    const { estate } = estateOf({ clusters: 400, seed: 11 });
    const quota = { requests: 4, windowSeconds: 1 };
    const r = await discoverEstate(estate, { latencyMs: 10, quota });
    expect(r.simulator.stats.throttled).toBe(0);
    const n = r.simulator.stats.resourceGraphRequests;
    const windows = Math.floor((n - 1) / quota.requests);
    expect(r.seconds).toBeGreaterThanOrEqual(windows * quota.windowSeconds * 0.95);
    // A limiter that waited for whole-second resets, or for every response, would take far longer.
    expect(r.seconds).toBeLessThanOrEqual(windows * quota.windowSeconds * 1.35 + 1);
  });
});

describe("triage cost", () => {
  test("touches only the scoped queries: requests and rows stay constant as the estate grows from 100 to 2,000 clusters", async () => {
    const measure = async (clusters: number) => {
      const g = estateOf({ clusters, seed: 9 });
      const picks = g.clusters.filter((c) => c.broken).slice(0, 3);
      expect(picks.length).toBe(3);
      const out: { requests: number; rows: number; verdict: string }[] = [];
      for (const c of picks) {
        const { simulator, discovery, cloud } = simulatorDiscovery(g.estate);
        const t = await triage(discovery, { cluster: c.id, scope: { kind: "tenant" }, cloud, armPrivateLink: false });
        expect(t.cluster.id.toLowerCase()).toBe(c.id.toLowerCase());
        out.push({ requests: simulator.stats.resourceGraphRequests, rows: simulator.stats.rowsReturned, verdict: t.verdict });
      }
      return out;
    };
    const small = await measure(100);
    const large = await measure(2000);
    const max = (xs: { requests: number; rows: number }[], k: "requests" | "rows") => Math.max(...xs.map((x) => x[k]));
    // Subscriptions are the only rows that grow with the tenant (one page up to 1,000 of them).
    const subs = (n: number) => Math.max(2, Math.round(n / 20));
    expect(max(large, "requests")).toBeLessThanOrEqual(max(small, "requests"));
    expect(max(large, "requests")).toBeLessThanOrEqual(12);
    expect(max(large, "rows") - subs(2000)).toBeLessThanOrEqual(max(small, "rows") - subs(100) + 20);
    expect(max(large, "rows") - subs(2000)).toBeLessThanOrEqual(60);
    expect(large.some((x) => x.verdict !== "pass")).toBe(true);
  });
});
