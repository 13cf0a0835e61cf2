import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/api/errors.js";
import { accessPlan, matchesFilter, parseFindingsQuery, registryNameMatches } from "../../src/api/findings-query.js";
import type { Finding } from "../../src/core/findings.js";

const q = (s: string) => parseFindingsQuery(new URLSearchParams(s));
const err = (s: string): ApiError => {
  try {
    q(s);
  } catch (e) {
    return e as ApiError;
  }
  throw new Error(`no error for ${s}`);
};

const CLUSTER =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-111111111111/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-prod";
const REGISTRY =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-222222222222/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contosoprod";

function finding(over: Partial<Finding> = {}): Finding {
  return {
    ruleId: "pull.granted",
    status: "fail",
    severity: "high",
    clusterId: CLUSTER,
    registryId: REGISTRY,
    reason: "no-pull-role",
    message: "m",
    evidence: {},
    change: "new",
    previousStatus: null,
    subscriptionId: "0b1f6471-1bf0-4dda-aec3-111111111111",
    ...over,
  };
}

describe("findings query parameters", () => {
  it("parses every filter, case-insensitively in names and enum values", () => {
    const r = q(
      `STATUS=Fail&severity=HIGH&ruleid=pull.granted&cluster=aks-prod&registry=${encodeURIComponent(REGISTRY)}&subscription=0B1F6471-1BF0-4DDA-AEC3-111111111111&change=new&exempted=false&top=5&format=csv&code=secret`,
    );
    expect(r.filter).toEqual({
      status: "fail",
      severity: "high",
      ruleId: "pull.granted",
      cluster: { kind: "name", name: "aks-prod" },
      registry: { kind: "id", id: REGISTRY },
      subscription: "0b1f6471-1bf0-4dda-aec3-111111111111",
      change: "new",
      exempted: false,
    });
    expect(r.top).toBe(5);
    expect(r.format).toBe("csv");
  });

  it("defaults: top 100, JSON, no token", () => {
    expect(q("")).toEqual({ filter: {}, top: 100, topGiven: false, skipToken: undefined, format: undefined });
  });

  it.each([
    ["foo=1", "UnknownQueryParameter", "foo"],
    ["status=bad", "InvalidQueryParameter", "status"],
    ["severity=", "InvalidQueryParameter", "severity"],
    ["status=fail&status=pass", "DuplicateQueryParameter", "status"],
    ["status=fail&Status=pass", "DuplicateQueryParameter", "status"],
    ["top=0", "InvalidQueryParameter", "top"],
    ["top=1001", "InvalidQueryParameter", "top"],
    ["top=1e2", "InvalidQueryParameter", "top"],
    ["top=-1", "InvalidQueryParameter", "top"],
    ["top=99999999999999999999", "InvalidQueryParameter", "top"],
    ["ruleId=pull.*", "InvalidQueryParameter", "ruleId"],
    ["cluster=' or true or ''='", "InvalidQueryParameter", "cluster"],
    ["cluster=/not/an/id", "InvalidQueryParameter", "cluster"],
    ["registry=a b", "InvalidQueryParameter", "registry"],
    ["subscription=x", "InvalidQueryParameter", "subscription"],
    ["exempted=yes", "InvalidQueryParameter", "exempted"],
    ["format=xml", "InvalidQueryParameter", "format"],
    ["$skipToken=", "InvalidContinuationToken", "$skipToken"],
    ["status=fail%00", "InvalidQueryParameter", "status"],
  ])("%s -> %s naming %s", (s, code, target) => {
    const e = err(s);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe(code);
    expect(e.target).toBe(target);
  });

  it("says which values are allowed", () => {
    expect(err("severity=urgent").message).toBe("Query parameter 'severity' must be one of low, medium, high, critical (got \"urgent\").");
    expect(err("bogus=1").message).toMatch(/Unknown query parameter "bogus"; this route accepts status, severity, ruleId/);
  });
});

describe("access plan and filter", () => {
  it("uses the cluster partition for a cluster ID, the registry's for a registry ID", () => {
    expect(accessPlan(q(`cluster=${CLUSTER}`).filter)).toEqual({ queries: [{ clusterId: CLUSTER }], exact: true, resolved: false });
    expect(accessPlan(q(`cluster=${CLUSTER}&status=fail`).filter).exact).toBe(false);
    expect(accessPlan(q(`registry=${REGISTRY}`).filter).queries).toEqual([{ registryId: REGISTRY }]);
  });

  it("reads each severity partition at or above a minimum, most severe first", () => {
    expect(accessPlan(q("status=fail&severity=high").filter)).toEqual({
      queries: [
        { status: "fail", severity: "critical" },
        { status: "fail", severity: "high" },
      ],
      exact: true,
      resolved: false,
    });
    expect(accessPlan(q("severity=critical").filter).queries).toEqual([
      { status: "fail", severity: "critical" },
      { status: "unknown", severity: "critical" },
      { status: "pass", severity: "critical" },
    ]);
    expect(accessPlan(q("status=pass").filter).queries).toEqual([{ status: "pass" }]);
    expect(accessPlan(q("ruleId=pull.granted").filter)).toEqual({ queries: [{}], exact: false, resolved: false });
  });

  it("names resolve to the IDs given; none gives an empty plan", () => {
    expect(accessPlan(q("cluster=aks-prod").filter, { clusterIds: [CLUSTER] }).queries).toEqual([{ clusterId: CLUSTER }]);
    expect(accessPlan(q("cluster=aks-prod").filter, { clusterIds: [] }).queries).toEqual([]);
  });

  it("filters case-insensitively on IDs and names; severity is a minimum; exempted", () => {
    const f = finding();
    expect(matchesFilter(f, q(`cluster=${CLUSTER.toUpperCase()}`).filter)).toBe(true);
    expect(matchesFilter(f, q("cluster=AKS-PROD").filter)).toBe(true);
    expect(matchesFilter(f, q("cluster=aks").filter)).toBe(false);
    expect(matchesFilter(f, q("registry=contosoprod.azurecr.io").filter)).toBe(true);
    expect(matchesFilter(f, q("severity=medium").filter)).toBe(true);
    expect(matchesFilter(f, q("severity=critical").filter)).toBe(false);
    expect(matchesFilter(f, q("subscription=0b1f6471-1bf0-4dda-aec3-111111111111").filter)).toBe(true);
    expect(matchesFilter(f, q("exempted=true").filter)).toBe(false);
    expect(matchesFilter({ ...f, exemption: { source: "api", justification: "j", expiresOn: null } }, q("exempted=true").filter)).toBe(
      true,
    );
    expect(matchesFilter({ ...f, clusterId: null }, q("cluster=aks-prod").filter)).toBe(false);
  });

  it("a registry name matches the declared text of an unresolved entry", () => {
    expect(registryNameMatches("ghostregistry", "GhostRegistry")).toBe(true);
    expect(registryNameMatches("ghost.azurecr.io", "ghost.azurecr.io")).toBe(true);
    expect(registryNameMatches(REGISTRY, "contoso")).toBe(false);
  });
});

describe("findings query edge cases", () => {
  it("an ID filter with a trailing slash names the same subject (as normalizeId has it)", () => {
    expect(q(`cluster=${encodeURIComponent(CLUSTER + "/")}`).filter.cluster).toEqual({ kind: "id", id: CLUSTER });
    expect(q(`registry=${encodeURIComponent(REGISTRY + "/")}`).filter.registry).toEqual({ kind: "id", id: REGISTRY });
  });
  it("a continuation token too long to be ours is a broken token (InvalidContinuationToken), not a bad parameter", () => {
    const e = err(`$skipToken=${"a".repeat(9000)}`);
    expect(e.code).toBe("InvalidContinuationToken");
    expect(e.target).toBe("$skipToken");
    expect(err(`ruleId=${"a".repeat(9000)}`).code).toBe("InvalidQueryParameter");
  });
});
