import { describe, expect, it } from "vitest";
import { isRestError, type PipelineResponse } from "@azure/core-rest-pipeline";
import { KUBELET, OTHER_PRINCIPAL, RA, REG_A1, SUB_A, SUB_B, SUB_C, SUB_X, queryAll, rgClient, simulator } from "./helpers.js";

const REGISTRIES = "resources | where type =~ 'microsoft.containerregistry/registries' | project id, name, subscriptionId";

async function rejection(p: Promise<unknown>): Promise<Error & { statusCode?: number; code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { statusCode?: number; code?: string };
  }
  throw new Error("expected the call to fail");
}

describe("ARM simulator: Resource Graph paging", () => {
  it("pages with pageSize 2 through skipToken, with Azure's totals and flags", async () => {
    const sim = simulator({ pageSize: 2 });
    const client = rgClient(sim);
    const first = await client.resources({ query: REGISTRIES, options: { resultFormat: "objectArray" } });
    expect(first.totalRecords).toBe(4);
    expect(first.count).toBe(2);
    expect(first.resultTruncated).toBe("false");
    expect(first.skipToken).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(first.facets).toEqual([]);
    const second = await client.resources({ query: REGISTRIES, options: { skipToken: first.skipToken } });
    expect(second.count).toBe(2);
    expect(second.skipToken).toBeUndefined();
    const names = [...first.data, ...second.data].map((r: { name: string }) => r.name);
    // estate order, unreadable subscription left out
    expect(names).toEqual(["corpacr1", "corpacr2", "onlineacr", "sharedacr"]);
    expect(sim.stats.resourceGraphRequests).toBe(2);
    expect(sim.stats.rowsReturned).toBe(4);
    expect(sim.stats.queries).toEqual([REGISTRIES, REGISTRIES]);
  });

  it("sends $skipToken on the wire and the same rows however the pages are cut", async () => {
    const sim = simulator({ pageSize: 1 });
    const rows = await queryAll(rgClient(sim), REGISTRIES);
    expect(rows).toHaveLength(4);
    expect(sim.stats.resourceGraphRequests).toBe(4);
    const all = await queryAll(rgClient(simulator()), REGISTRIES);
    expect(rows).toEqual(all);
  });

  it("lets options.$top lower the page size and $skip start later", async () => {
    const client = rgClient(simulator());
    const res = await client.resources({ query: REGISTRIES, options: { top: 3, skip: 2 } });
    expect(res.count).toBe(2);
    expect(res.totalRecords).toBe(4);
    const top = await client.resources({ query: REGISTRIES, options: { top: 3 } });
    expect(top.count).toBe(3);
    expect(top.skipToken).toBeDefined();
  });

  it("flags a long result without an id column as truncated and gives no skipToken", async () => {
    const client = rgClient(simulator({ pageSize: 2 }));
    const res = await client.resources({ query: "resources | where type =~ 'microsoft.containerregistry/registries' | project name" });
    expect(res.count).toBe(2);
    expect(res.totalRecords).toBe(4);
    expect(res.resultTruncated).toBe("true");
    expect(res.skipToken).toBeUndefined();
  });

  it("rejects a forged skipToken and one from another query with 400", async () => {
    const client = rgClient(simulator({ pageSize: 1 }));
    const forged = await rejection(
      client.resources({ query: REGISTRIES, options: { skipToken: Buffer.from('{"v":1,"o":1,"b":"x","m":"y"}').toString("base64") } }),
    );
    expect(isRestError(forged)).toBe(true);
    expect(forged.statusCode).toBe(400);
    expect(forged.message).toMatch(/skipToken/);
    const garbage = await rejection(client.resources({ query: REGISTRIES, options: { skipToken: "not a token!" } }));
    expect(garbage.statusCode).toBe(400);
    const other = await client.resources({ query: "resources | project id", options: {} });
    const foreign = await rejection(client.resources({ query: REGISTRIES, options: { skipToken: other.skipToken } }));
    expect(foreign.statusCode).toBe(400);
    expect(foreign.message).toMatch(/different query or scope/);
    const otherScope = await rejection(
      client.resources({ query: "resources | project id", subscriptions: [SUB_A], options: { skipToken: other.skipToken } }),
    );
    expect(otherScope.statusCode).toBe(400);
  });
});

describe("ARM simulator: Resource Graph scoping", () => {
  const client = rgClient(simulator());

  it("returns only readable subscriptions, narrowed by the subscriptions list", async () => {
    const all = await queryAll(client, "resources | project id, subscriptionId");
    expect(all.some((r) => r.subscriptionId === SUB_X)).toBe(false);
    const a = await queryAll(client, REGISTRIES, { subscriptions: [SUB_A.toUpperCase(), SUB_X] });
    expect(a.map((r) => r.name)).toEqual(["corpacr1", "corpacr2"]);
    const x = await queryAll(client, REGISTRIES, { subscriptions: [SUB_X] });
    expect(x).toEqual([]);
  });

  it("answers a management group that does not exist with 400 ManagementGroupsContainInvalidIds, as Azure", async () => {
    const err = await rejection(client.resources({ query: REGISTRIES, managementGroups: ["no-such-group"] }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toMatch(/management groups must be valid.*no-such-group/);
  });

  it("scopes management groups by the subscriptions' ancestor chains (case-insensitive)", async () => {
    const corp = await queryAll(client, REGISTRIES, { managementGroups: ["CORP"] });
    expect(corp.map((r) => r.subscriptionId)).toEqual([SUB_A, SUB_A, SUB_C]);
    const online = await queryAll(client, REGISTRIES, { managementGroups: ["online"] });
    expect(online.map((r) => r.name)).toEqual(["onlineacr"]);
    const groups = await queryAll(client, "resourcecontainers | where type == 'microsoft.management/managementgroups' | project id, name", {
      managementGroups: ["corp"],
    });
    expect(groups.map((r) => r.name)).toEqual(["corp", "corp-prod"]);
    const tenantGroups = await queryAll(
      client,
      "resourcecontainers | where type == 'microsoft.management/managementgroups' | project id, name",
    );
    expect(tenantGroups).toHaveLength(4);
    const subGroups = await queryAll(client, "resourcecontainers | where type == 'microsoft.management/managementgroups' | project id", {
      subscriptions: [SUB_A],
    });
    expect(subGroups).toEqual([]);
  });

  it("returns subscription rows only for readable subscriptions", async () => {
    const subs = await queryAll(
      client,
      "resourcecontainers | where type == 'microsoft.resources/subscriptions' | project id, subscriptionId, chain = properties.managementGroupAncestorsChain",
    );
    expect(subs.map((s) => s.subscriptionId)).toEqual([SUB_A, SUB_B, SUB_C]);
    expect((subs[0].chain as { name: string }[])[0].name).toBe("corp-prod");
  });

  it("answers on any cloud's ARM host", async () => {
    for (const host of ["https://management.chinacloudapi.cn", "https://management.usgovcloudapi.net"]) {
      const rows = await queryAll(rgClient(simulator(), host), REGISTRIES, { subscriptions: [SUB_B] });
      expect(rows.map((r) => r.name)).toEqual(["onlineacr"]);
    }
  });
});

describe("ARM simulator: authorizationScopeFilter", () => {
  const client = rgClient(simulator());
  const ASSIGNMENTS =
    "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | project id, name, scope = tostring(properties.scope), principalId = tostring(properties.principalId)";

  it("leaves management-group and root assignments out by default (AtScopeAndBelow)", async () => {
    const rows = await queryAll(client, ASSIGNMENTS, { subscriptions: [SUB_A] });
    expect(rows.map((r) => r.name).sort()).toEqual([RA.registryA1, RA.otherPrincipalA].sort());
    const exact = await queryAll(client, ASSIGNMENTS, { subscriptions: [SUB_A] }, { authorizationScopeFilter: "AtScopeExact" });
    expect(exact.map((r) => r.name).sort()).toEqual([RA.registryA1, RA.otherPrincipalA].sort());
  });

  it("adds the groups above the requested subscriptions, and root, with AtScopeAndAbove", async () => {
    const a = await queryAll(client, ASSIGNMENTS, { subscriptions: [SUB_A] }, { authorizationScopeFilter: "AtScopeAndAbove" });
    expect(a.map((r) => r.name).sort()).toEqual([RA.registryA1, RA.otherPrincipalA, RA.mgCorp, RA.mgCorpProd, RA.root].sort());
    const b = await queryAll(client, ASSIGNMENTS, { subscriptions: [SUB_B] }, { authorizationScopeFilter: "AtScopeAboveAndBelow" });
    expect(b.map((r) => r.name).sort()).toEqual([RA.rgB, RA.mgOnline, RA.root].sort());
  });

  it("with a management group: that group, the groups above it, and below it only for AtScopeAboveAndBelow", async () => {
    const above = await queryAll(client, ASSIGNMENTS, { managementGroups: ["corp"] }, { authorizationScopeFilter: "AtScopeAndAbove" });
    expect(above.map((r) => r.name).sort()).toEqual([RA.registryA1, RA.otherPrincipalA, RA.subC, RA.mgCorp, RA.root].sort());
    const both = await queryAll(client, ASSIGNMENTS, { managementGroups: ["corp"] }, { authorizationScopeFilter: "AtScopeAboveAndBelow" });
    expect(both.map((r) => r.name)).toContain(RA.mgCorpProd);
    expect(both.map((r) => r.name)).not.toContain(RA.mgOnline);
  });

  it("never returns assignments of an unreadable subscription, and always returns tenant role definitions", async () => {
    const rows = await queryAll(client, ASSIGNMENTS, {}, { authorizationScopeFilter: "AtScopeAboveAndBelow" });
    expect(rows.map((r) => r.name)).not.toContain(RA.unreadableX);
    const defs = await queryAll(
      client,
      "authorizationresources | where type == 'microsoft.authorization/roledefinitions' | project id, name",
      { subscriptions: [SUB_B] },
    );
    expect(defs).toHaveLength(1); // the tenant-level built-in copy; the custom role lives in SUB_C
  });

  it("serves the production role assignment query", async () => {
    const q =
      "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | where tostring(properties.principalId) in~ ('" +
      KUBELET.toUpperCase() +
      "','nobody') | project id, scope = tostring(properties.scope), principalId = tostring(properties.principalId), roleDefinitionId = tostring(properties.roleDefinitionId), condition = tostring(properties.condition)";
    const rows = await queryAll(client, q, { subscriptions: [SUB_A, SUB_B] }, { authorizationScopeFilter: "AtScopeAndAbove" });
    expect(rows.map((r) => r.id)).not.toContain(expect.stringContaining(RA.otherPrincipalA));
    const reg = rows.find((r) => r.scope === REG_A1)!;
    expect(reg).toEqual({
      id: `${REG_A1}/providers/Microsoft.Authorization/roleAssignments/${RA.registryA1}`,
      scope: REG_A1,
      principalId: KUBELET,
      roleDefinitionId: "/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
      condition: "",
    });
    expect(rows.find((r) => String(r.id).includes(RA.rgB))!.condition).toBe("@Resource[x] == 'y'");
    expect(rows.some((r) => r.principalId === OTHER_PRINCIPAL)).toBe(false);
  });
});

describe("ARM simulator: Resource Graph quota", () => {
  it("sends x-ms-user-quota-* on every response and a 429 with Retry-After past the quota", async () => {
    const sim = simulator({ quota: { requests: 2, windowSeconds: 60 } });
    const client = rgClient(sim, undefined, { maxRetries: 0, retryDelayInMs: 10, maxRetryDelayInMs: 50 });
    const seen: PipelineResponse[] = [];
    const onResponse = (r: { status: number; headers: PipelineResponse["headers"] }) => seen.push(r as unknown as PipelineResponse);
    await client.resources({ query: REGISTRIES }, { onResponse });
    await client.resources({ query: REGISTRIES }, { onResponse });
    const err = await rejection(client.resources({ query: REGISTRIES }, { onResponse }));
    expect(err.statusCode).toBe(429);
    expect(seen.map((r) => r.headers.get("x-ms-user-quota-remaining"))).toEqual(["1", "0", "0"]);
    for (const r of seen) expect(r.headers.get("x-ms-user-quota-resets-after")).toMatch(/^00:0[01]:\d\d$/);
    expect(Number(seen[2].headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
    expect(sim.stats.throttled).toBe(1);
  });

  it("is honoured by the SDK's retry policy: the retry comes after Retry-After", async () => {
    const sim = simulator(undefined, { quota: { requests: 1, windowSeconds: 1 } });
    const client = rgClient(sim);
    await client.resources({ query: REGISTRIES });
    const started = Date.now();
    const res = await client.resources({ query: REGISTRIES });
    const elapsed = Date.now() - started;
    expect(res.count).toBe(4);
    expect(sim.stats.throttled).toBe(1);
    expect(sim.stats.resourceGraphRequests).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(1900);
  });
});

describe("ARM simulator: query errors", () => {
  const client = rgClient(simulator());

  it("answers an unsupported query with a 400 RestError naming the problem and its position", async () => {
    const err = await rejection(client.resources({ query: "resources | summarize count() by type" }));
    expect(isRestError(err)).toBe(true);
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe("BadRequest");
    expect(err.message).toMatch(/operator 'summarize' is not supported.*line 1, column 13/);
    const details = (err as unknown as { details: { error: { details: { code: string; message: string }[] } } }).details;
    expect(JSON.stringify(details)).toContain("InvalidQuery");
  });

  it("rejects unknown tables, unknown columns and queries over 100,000 characters", async () => {
    expect((await rejection(client.resources({ query: "securityresources | take 1" }))).message).toMatch(
      /table 'securityresources' is not served/,
    );
    expect((await rejection(client.resources({ query: "resources | where typ == 'x'" }))).message).toMatch(/'typ'/);
    const long = `resources | where name in ('${"x".repeat(100_001)}')`;
    const err = await rejection(client.resources({ query: long }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toMatch(/limit is 100000/);
  });

  it("rejects facets, table format and both scopes at once", async () => {
    expect((await rejection(client.resources({ query: REGISTRIES, facets: [{ expression: "location" }] }))).statusCode).toBe(400);
    expect((await rejection(client.resources({ query: REGISTRIES, options: { resultFormat: "table" } }))).message).toMatch(/table/);
    expect((await rejection(client.resources({ query: REGISTRIES, subscriptions: [SUB_A], managementGroups: ["corp"] }))).statusCode).toBe(
      400,
    );
  });
});

describe("ARM simulator: routing", () => {
  it("answers unknown routes with an ARM 404 and requires a bearer token", async () => {
    const sim = simulator();
    const { createPipelineRequest, createHttpHeaders } = await import("@azure/core-rest-pipeline");
    const unknown = await sim.sendRequest(
      createPipelineRequest({
        url: "https://management.azure.com/subscriptions/x/providers/Microsoft.Compute/virtualMachines?api-version=1",
        headers: createHttpHeaders({ authorization: "Bearer t" }),
      }),
    );
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.bodyAsText!).error.code).toBe("NotFound");
    const anonymous = await sim.sendRequest(
      createPipelineRequest({
        url: "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01",
        method: "POST",
        body: "{}",
      }),
    );
    expect(anonymous.status).toBe(401);
    const doubled = await sim.sendRequest(
      createPipelineRequest({
        url: "https://management.azure.com//providers//Microsoft.ResourceGraph/resources/?api-version=2024-04-01",
        method: "POST",
        body: JSON.stringify({ query: "resources | project id | take 1", subscriptions: [SUB_C] }),
        headers: createHttpHeaders({ authorization: "Bearer t" }),
      }),
    );
    expect(doubled.status).toBe(200);
    expect(JSON.parse(doubled.bodyAsText!).data[0].id).toContain(SUB_C);
  });
});
