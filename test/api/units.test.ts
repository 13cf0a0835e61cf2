import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cached, configureReadCache, invalidateReadCache } from "../../src/api/cache.js";
import { csvCell, csvHeader, csvRow } from "../../src/api/csv.js";
import { ApiError, errorResponse } from "../../src/api/errors.js";
import { decodeCursor, encodeCursor, readPage, type QueryFn } from "../../src/api/pager.js";
import { computeSummary } from "../../src/api/summary.js";
import { bindingHash, signToken, tokenKey, verifyToken } from "../../src/api/tokens.js";
import { parseExemptionBody, parseForgetBody } from "../../src/api/bodies.js";
import { clusterFromRoute } from "../../src/api/attachments.js";
import type { Finding, Severity, Status } from "../../src/core/findings.js";
import type { FindingQuery } from "../../src/core/ports.js";

const CLUSTER = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-1";
const REGISTRY = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1";

function finding(i: number, over: Partial<Finding> = {}): Finding {
  return {
    ruleId: "pull.granted",
    status: "fail",
    severity: "high",
    clusterId: `${CLUSTER}${i % 3}`,
    registryId: REGISTRY,
    reason: null,
    message: `m${i}`,
    evidence: { i },
    change: "unchanged",
    previousStatus: null,
    subscriptionId: "s1",
    ...over,
  };
}

describe("continuation tokens", () => {
  const key = tokenKey(undefined, "store", "tenant");
  it("round-trips and refuses tampering, other keys and other bindings", () => {
    const t = signToken(key, { v: 1, h: "b", o: 3 });
    expect(verifyToken(key, t, "b", "$skipToken")).toEqual({ v: 1, h: "b", o: 3 });
    const [body, sig] = t.split(".");
    const forged = Buffer.from(JSON.stringify({ v: 1, h: "b", o: 4 })).toString("base64url");
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as ApiError).code;
      }
      return "none";
    };
    expect(codeOf(() => verifyToken(key, `${forged}.${sig}`, "b", "$skipToken"))).toBe("InvalidContinuationToken");
    expect(codeOf(() => verifyToken(key, `${body}.${sig.replace(/^./, (c) => (c === "A" ? "B" : "A"))}`, "b", "$skipToken"))).toBe(
      "InvalidContinuationToken",
    );
    expect(codeOf(() => verifyToken(key, t, "other", "$skipToken"))).toBe("InvalidContinuationToken");
    expect(codeOf(() => verifyToken(tokenKey(undefined, "store", "mg-x"), t, "b", "$skipToken"))).toBe("InvalidContinuationToken");
    expect(codeOf(() => verifyToken(tokenKey("secret", "store", "tenant"), t, "b", "$skipToken"))).toBe("InvalidContinuationToken");
    expect(codeOf(() => verifyToken(key, "x".repeat(20000), "b", "$skipToken"))).toBe("InvalidContinuationToken");
  });

  it("cursor fields are range-checked even when signed", () => {
    const b = bindingHash({ x: 1 });
    expect(() => decodeCursor(key, b, signToken(key, { v: 1, h: b, i: 5, n: 0, s: 0 }), "$skipToken", 2, false)).toThrow(
      /not a valid continuation/,
    );
    expect(() =>
      decodeCursor(key, b, signToken(key, { v: 1, h: b, i: 0, n: 0, s: 0, p: [{ clusterId: CLUSTER }] }), "$skipToken", 1, false),
    ).toThrow(/other filters/);
    expect(() => decodeCursor(key, b, signToken(key, { v: 1, h: b, i: 0, n: 0, s: 0, x: 1 }), "$skipToken", 1, false)).toThrow(
      /unexpected field/,
    );
    expect(decodeCursor(key, b, encodeCursor(key, b, { i: 1, n: 3, s: 10, c: "abc" }), "$skipToken", 2, false)).toEqual({
      i: 1,
      n: 3,
      s: 10,
      c: "abc",
    });
  });
});

/** An in-memory query function paging like the store (an exact page of `size`, opaque offsets). */
function fakeStore(partitions: Finding[][]): QueryFn {
  return async (q: FindingQuery, size, continuation) => {
    const key = JSON.stringify(q);
    const all = partitions[Number(JSON.parse(key).p ?? 0)] ?? [];
    const start = continuation ? Number(continuation) : 0;
    const items = all.slice(start, start + size);
    const end = start + items.length;
    return { items, continuation: end < all.length ? String(end) : undefined };
  };
}

describe("paging over a plan", () => {
  it("property: every match is returned exactly once, in order, whatever the page size and filter", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 25 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        async (sizes, top, modulo, exact) => {
          let n = 0;
          const partitions = sizes.map((s) => Array.from({ length: s }, () => finding(n++)));
          const plan = partitions.map((_, p) => ({ p }) as unknown as FindingQuery);
          const predicate = exact ? () => true : (f: Finding) => Number(f.message.slice(1)) % modulo === 0;
          const expected = partitions
            .flat()
            .filter(predicate)
            .map((f) => f.message);
          const got: string[] = [];
          let cursor;
          for (let pages = 0; pages < 1000; pages++) {
            const r = await readPage(fakeStore(partitions), plan, predicate, top, exact, cursor, 3);
            expect(r.items.length).toBeLessThanOrEqual(top);
            got.push(...r.items.map((f) => f.message));
            if (!r.next) break;
            cursor = r.next;
          }
          expect(got).toEqual(expected);
        },
      ),
      { seed: 20261125, numRuns: 200 },
    );
  });
});

describe("CSV", () => {
  it("quotes per RFC 4180 and defuses formulas", () => {
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell("line\nbreak")).toBe('"line\nbreak"');
    expect(csvCell('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvCell("+1")).toBe("'+1");
    expect(csvCell("-1")).toBe("'-1");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell("\tx")).toBe("'\tx");
    expect(csvCell(null)).toBe("");
    expect(csvHeader()).toBe(
      "ruleId,status,severity,reason,change,previousStatus,clusterId,registryId,subscriptionId,message,exemptionSource,exemptionJustification,exemptionExpiresOn,remediation,evidence\r\n",
    );
    const row = csvRow(finding(1, { message: "=cmd|' /C calc'!A0", evidence: { a: "x,y" } }));
    expect(row).toContain(`,'=cmd|' /C calc'!A0,`);
    expect(row.endsWith(`"{""a"":""x,y""}"\r\n`)).toBe(true);
  });
});

describe("summary", () => {
  it("counts by status x severity and rule; open failing excludes exempted and removed; top clusters", () => {
    const findings: Finding[] = [
      finding(0),
      finding(1),
      finding(2, { exemption: { source: "tag", justification: "j", expiresOn: null } }),
      finding(3, { status: "pass", severity: "low", ruleId: "registry.admin-user", clusterId: null }),
      finding(4, { change: "removed" }),
      finding(5, { status: "unknown" as Status, severity: "critical" as Severity }),
    ];
    const s = computeSummary(findings, null);
    expect(s.total).toBe(5);
    expect(s.openFailing).toBe(2);
    expect(s.exempted).toBe(1);
    expect(s.byStatusSeverity.fail.high).toBe(3);
    expect(s.byStatusSeverity.unknown.critical).toBe(1);
    expect(s.byRule.map((r) => r.ruleId)).toEqual(["pull.granted", "registry.admin-user"]);
    expect(s.byRule[0]).toMatchObject({ total: 4, fail: 3, unknown: 1, openFailing: 2, exempted: 1 });
    expect(s.topClusters.map((c) => [c.name, c.openFailing])).toEqual([
      ["aks-10", 1],
      ["aks-11", 1],
    ]);
  });

  it("keeps the 10 clusters with most open failing findings", () => {
    const findings = Array.from({ length: 15 }, (_, c) =>
      Array.from({ length: c + 1 }, (_, i) => finding(i, { clusterId: `${CLUSTER}-${c}`, ruleId: `r${i}` })),
    ).flat();
    const s = computeSummary(findings, null);
    expect(s.topClusters).toHaveLength(10);
    expect(s.topClusters[0]).toMatchObject({ name: "aks-1-14", openFailing: 15 });
    expect(s.topClusters[9].openFailing).toBe(6);
  });
});

describe("bodies", () => {
  it("forget needs both IDs; a registry may be the declared text of an unresolved entry", () => {
    expect(parseForgetBody({ clusterId: CLUSTER, registryId: "ghostregistry" })).toEqual({
      clusterId: CLUSTER,
      registryId: "ghostregistry",
    });
    expect(() => parseForgetBody({ clusterId: "aks-1", registryId: REGISTRY })).toThrow(/clusterId/);
    expect(() => parseForgetBody({ clusterId: CLUSTER })).toThrow(/registryId/);
    expect(() => parseForgetBody({ clusterId: CLUSTER, registryId: REGISTRY, x: 1 })).toThrow(/Unknown property/);
  });

  it("exemptions check the rule, the subject kind, the justification and the expiry", () => {
    const ok = { ruleId: "pull.granted", clusterId: CLUSTER, justification: " accepted " };
    expect(parseExemptionBody(ok, "2026-01-01")).toEqual({
      ruleId: "pull.granted",
      clusterId: CLUSTER,
      registryId: null,
      justification: "accepted",
      expiresOn: null,
    });
    const target = (body: Record<string, unknown>) => {
      try {
        parseExemptionBody(body, "2026-06-15");
      } catch (e) {
        return (e as ApiError).target;
      }
      return "none";
    };
    expect(target({ ...ok, ruleId: "nope" })).toBe("ruleId");
    expect(target({ ruleId: "pull.granted", justification: "j" })).toBe("clusterId");
    expect(target({ ruleId: "registry.admin-user", clusterId: CLUSTER, justification: "j" })).toBe("registryId");
    expect(target({ ruleId: "identity.kubelet-managed", registryId: REGISTRY, justification: "j" })).toBe("clusterId");
    expect(target({ ...ok, justification: "" })).toBe("justification");
    expect(target({ ...ok, justification: "x".repeat(501) })).toBe("justification");
    expect(target({ ...ok, expiresOn: "2026-06-14" })).toBe("expiresOn");
    expect(target({ ...ok, expiresOn: "2026-02-30" })).toBe("expiresOn");
    expect(target({ ...ok, expiresOn: "2026-06-15" })).toBe("none"); // today counts (inclusive)
  });
});

describe("cluster route parameter", () => {
  it("accepts the encoded one-segment form, the catch-all form and a name; requires /attachments", () => {
    expect(clusterFromRoute(`${CLUSTER}/attachments`)).toEqual({ kind: "id", id: CLUSTER });
    expect(clusterFromRoute(`${CLUSTER.slice(1)}/attachments`)).toEqual({ kind: "id", id: CLUSTER });
    expect(clusterFromRoute(`${encodeURIComponent(CLUSTER)}/attachments`)).toEqual({ kind: "id", id: CLUSTER });
    expect(clusterFromRoute("aks-1/attachments")).toEqual({ kind: "name", name: "aks-1" });
    expect(clusterFromRoute("aks-1")).toBeUndefined();
    expect(clusterFromRoute("aks-1/findings")).toBeUndefined();
    expect(() => clusterFromRoute("a b/attachments")).toThrow(/resource ID/);
  });
});

describe("errors and cache", () => {
  it("never leaks an unexpected error's message", () => {
    const r = errorResponse(new Error("ECONNREFUSED 10.0.0.1: secret detail"), "inv-1");
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.body)).not.toContain("secret");
    expect(r.body.error.message).toContain("inv-1");
    expect(errorResponse(Object.assign(new Error("x"), { code: "InvalidContinuationToken" })).status).toBe(400);
    expect(errorResponse(Object.assign(new Error("x"), { code: "LeaseHeld" })).status).toBe(409);
  });

  it("serves one load to concurrent callers, expires, and forgets failures", async () => {
    const owner = {};
    let loads = 0;
    let t = 0;
    const load = async () => ++loads;
    const [a, b] = await Promise.all([cached(owner, "k", load, () => t), cached(owner, "k", load, () => t)]);
    expect([a, b, loads]).toEqual([1, 1, 1]);
    t += 15_000; // expired, within one more TTL: served stale while one refresh runs
    const slow = () => new Promise<number>((r) => setTimeout(() => r(++loads), 5));
    expect(await cached(owner, "k", slow, () => t)).toBe(1);
    expect(await cached(owner, "k", slow, () => t)).toBe(1); // the refresh is still running: no second load
    await new Promise((r) => setTimeout(r, 20));
    expect(loads).toBe(2);
    expect(await cached(owner, "k", load, () => t)).toBe(2);
    t += 40_000; // long expired: a blocking load
    expect(await cached(owner, "k", load, () => t)).toBe(3);
    await expect(
      cached(
        owner,
        "bad",
        () => Promise.reject(new Error("x")),
        () => t,
      ),
    ).rejects.toThrow();
    expect(await cached(owner, "bad", load, () => t)).toBe(4);
    invalidateReadCache(owner);
    expect(await cached(owner, "k", load, () => t)).toBe(5);
    const previous = configureReadCache({ ttlMs: 0 });
    expect(await cached(owner, "k", load, () => t)).toBe(6);
    configureReadCache(previous);
  });
});
