import { beforeAll, describe, expect, it } from "vitest";
import { findingsList } from "../../src/functions/findings-list.js";
import { findingKey, type Finding } from "../../src/core/findings.js";
import { nameOf } from "../../src/core/resource-id.js";
import type { AuditStore } from "../../src/core/ports.js";
import { seedFindings, syntheticFindings } from "../../scripts/bench-api.js";
import { freshStore } from "../helpers/harness.js";
import { call, seeded, testRuntime, use, type Called } from "../api/harness.js";

type Json = Record<string, unknown>;

/** Follows nextLink until the end; returns every item and the number of pages. */
async function all(url: string): Promise<{ items: Json[]; pages: number }> {
  const items: Json[] = [];
  let next: string | undefined = url;
  let pages = 0;
  while (next) {
    const r = await call(findingsList, next);
    expect(r.status, r.text).toBe(200);
    items.push(...(r.json.value as Json[]));
    next = r.json.nextLink;
    if (next) expect(next.startsWith("http://localhost:7071/api/findings?")).toBe(true);
    expect(++pages).toBeLessThan(500);
  }
  return { items, pages };
}

const keyOf = (f: Json) => findingKey(f as unknown as Finding);

function expectSameSet(got: Json[], expected: Finding[]): void {
  const keys = got.map(keyOf);
  expect(new Set(keys).size, "no finding twice").toBe(keys.length);
  expect([...keys].sort()).toEqual(expected.map(findingKey).sort());
}

describe("GET /api/findings on an audited estate", () => {
  let findings: Finding[];
  let runtime: ReturnType<typeof testRuntime>;

  beforeAll(async () => {
    const s = await seeded("flist");
    findings = s.result.findings;
    runtime = s.runtime;
  });

  it("lists every current finding in the ARM envelope, in the CLI's finding JSON shape", async () => {
    use(runtime);
    const r = await call(findingsList, "/api/findings");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(r.json.nextLink).toBeUndefined();
    expectSameSet(r.json.value, findings);
    expect(Object.keys(r.json.value[0])).toEqual([
      "ruleId",
      "status",
      "severity",
      "reason",
      "change",
      "previousStatus",
      "clusterId",
      "registryId",
      "message",
      "evidence",
      "exemption",
      "remediation",
    ]);
  });

  it.each([
    ["status=fail", (f: Finding) => f.status === "fail"],
    ["status=unknown", (f: Finding) => f.status === "unknown"],
    ["severity=medium", (f: Finding) => f.severity === "medium" || f.severity === "high" || f.severity === "critical"],
    ["severity=high&status=fail", (f: Finding) => f.status === "fail" && (f.severity === "high" || f.severity === "critical")],
    ["ruleId=network.path", (f: Finding) => f.ruleId === "network.path"],
    ["change=new", (f: Finding) => f.change === "new"],
    ["exempted=false", (f: Finding) => !f.exemption],
    ["registry=ghostregistry", (f: Finding) => f.registryId === "ghostregistry"],
    ["registry=PAYACR.azurecr.io", (f: Finding) => !!f.registryId && nameOf(f.registryId) === "payacr"],
    ["cluster=AKS-B&status=fail", (f: Finding) => !!f.clusterId && nameOf(f.clusterId) === "aks-b" && f.status === "fail"],
  ])("filter %s", async (query, predicate) => {
    use(runtime);
    const expected = findings.filter(predicate);
    expect(expected.length).toBeGreaterThan(0);
    const { items } = await all(`/api/findings?${query}&top=3`);
    expectSameSet(items, expected);
  });

  it("a cluster or registry resource ID matches case-insensitively; subscription filters the subject's subscription", async () => {
    use(runtime);
    const clusterId = findings.find((f) => f.clusterId && nameOf(f.clusterId) === "aks-pay")!.clusterId!;
    const byId = await all(`/api/findings?cluster=${encodeURIComponent(clusterId.toUpperCase())}`);
    expectSameSet(
      byId.items,
      findings.filter((f) => f.clusterId === clusterId),
    );
    const registryId = findings.find((f) => f.registryId && nameOf(f.registryId) === "hubacr")!.registryId!;
    const byRegistry = await all(`/api/findings?registry=${encodeURIComponent(registryId.toLowerCase())}&top=2`);
    expectSameSet(
      byRegistry.items,
      findings.filter((f) => f.registryId === registryId),
    );
    const sub = clusterId.split("/")[2];
    const bySub = await all(`/api/findings?subscription=${sub.toUpperCase()}`);
    expectSameSet(
      bySub.items,
      findings.filter((f) => (f.subscriptionId ?? "").toLowerCase() === sub.toLowerCase()),
    );
  });

  it("a name or ID that matches nothing is an empty list, not an error", async () => {
    use(runtime);
    for (const q of [
      "cluster=no-such-cluster",
      "registry=nosuchacr",
      `cluster=${encodeURIComponent("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/x/providers/Microsoft.ContainerService/managedClusters/x")}`,
    ]) {
      const r = await call(findingsList, `/api/findings?${q}`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ value: [] });
    }
  });

  it("user values never reach a store filter as syntax: quotes and OData operators inside a resource ID match nothing", async () => {
    use(runtime);
    const hostile = [
      "/subscriptions/x'or'PartitionKey'ne'a/resourceGroups/g/providers/p/managedClusters/c",
      "/subscriptions/x/resourceGroups/g'or'1'eq'1/providers/Microsoft.ContainerRegistry/registries/r",
      "/subscriptions/%27or%20true/resourceGroups/\u00fc\u202e/providers/p/x/y",
      "/subscriptions/a|b~c#d?e\\f/resourceGroups/g/providers/p/x/y",
    ];
    for (const id of hostile) {
      for (const p of ["cluster", "registry"]) {
        const r = await call(findingsList, `/api/findings?${p}=${encodeURIComponent(id)}`);
        expect(r.status).toBe(200);
        expect(r.json.value).toEqual([]);
      }
    }
    // With whitespace it is no resource ID at all.
    const spaced = await call(
      findingsList,
      `/api/findings?cluster=${encodeURIComponent("/subscriptions/x' or true or 'a/resourceGroups/g")}`,
    );
    expect(spaced.status).toBe(400);
  });

  it.each([
    ["bogus=1", "bogus", /Unknown query parameter "bogus"/],
    ["status=broken", "status", /must be one of pass, fail, unknown/],
    ["severity=urgent", "severity", /must be one of low, medium, high, critical/],
    ["top=0", "top", /from 1 to 1000/],
    ["top=5000", "top", /from 1 to 1000/],
    ["ruleId=nope", "ruleId", /must be one of identity\.kubelet-managed/],
    ["cluster=' or true or ''='", "cluster", /resource ID/],
    ["change=gone", "change", /new, unchanged, changed, removed/],
    ["status=fail&status=pass", "status", /more than once/],
    ["format=xml", "format", /json, csv/],
  ])("400 for %s names the parameter", async (q, target, message) => {
    use(runtime);
    const r = await call(findingsList, `/api/findings?${q}`);
    expect(r.status).toBe(400);
    expect(r.json.error.target).toBe(target);
    expect(r.json.error.message).toMatch(message);
  });

  it("the function key in `code` is not an unknown parameter", async () => {
    use(runtime);
    expect((await call(findingsList, "/api/findings?code=abc&top=1")).status).toBe(200);
  });

  it("CSV: format=csv or Accept: text/csv; RFC 4180, one header row, evidence as JSON", async () => {
    use(runtime);
    for (const [url, headers] of [
      ["/api/findings?format=csv", {}],
      ["/api/findings", { accept: "text/csv" }],
      ["/api/findings", { accept: "application/json;q=0.5, text/csv" }],
    ] as const) {
      const r = await call(findingsList, url, { headers });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^text\/csv/);
      const lines = r.text.split("\r\n");
      expect(lines[0]).toMatch(/^ruleId,status,severity,reason,change,previousStatus,clusterId,registryId,subscriptionId,message,/);
      expect(lines.at(-1)).toBe("");
      const rows = lines.slice(1, -1);
      expect(rows.length).toBe(findings.length);
      for (const row of rows) expect(row).toMatch(/"\{.*\}"$|,\{\}$/);
    }
    const json = await call(findingsList, "/api/findings?format=json", { headers: { accept: "text/csv" } });
    expect(json.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("CSV with top pages like JSON, the next page in a Link header", async () => {
    use(runtime);
    const r = await call(findingsList, "/api/findings?format=csv&top=10");
    expect(r.text.split("\r\n").length).toBe(12);
    const link = /^<(.+)>; rel="next"$/.exec(r.headers.get("link") ?? "");
    expect(link).not.toBeNull();
    const next = await call(findingsList, link![1]);
    expect(next.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(next.text.split("\r\n")[0]).toMatch(/^ruleId,/);
  });
});

describe("paging and continuation tokens", () => {
  let store: AuditStore;
  let synthetic: Finding[];

  beforeAll(async () => {
    store = await freshStore("fpage");
    synthetic = syntheticFindings(900, { clusters: 30, registries: 8 }).map((f, i) =>
      i % 40 === 0 ? { ...f, severity: "critical" as const } : f,
    );
    await seedFindings(store, "tenant", synthetic, { chunk: 900 });
    use(testRuntime(store));
  });

  it.each([
    ["", () => true, 97],
    ["status=fail&severity=high", (f: Finding) => f.status === "fail" && (f.severity === "high" || f.severity === "critical"), 13],
    ["severity=critical", (f: Finding) => f.severity === "critical", 4],
    ["ruleId=pull.granted&status=pass", (f: Finding) => f.ruleId === "pull.granted" && f.status === "pass", 11],
    ["cluster=aks-7", (f: Finding) => !!f.clusterId && nameOf(f.clusterId) === "aks-7", 5],
    ["registry=acr3&exempted=false", (f: Finding) => !!f.registryId && nameOf(f.registryId) === "acr3" && !f.exemption, 50],
    ["status=pass", (f: Finding) => f.status === "pass", 1000],
  ])("paging %s returns each match exactly once", async (query, predicate, top) => {
    const expected = synthetic.filter(predicate);
    expect(expected.length).toBeGreaterThan(0);
    const { items, pages } = await all(`/api/findings?${query}${query ? "&" : ""}top=${top}`);
    expectSameSet(items, expected);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / top));
  });

  it("full pages hold exactly `top` items when the access path decides the filter", async () => {
    const r = await call(findingsList, "/api/findings?status=fail&top=25");
    expect(r.json.value).toHaveLength(25);
    expect(r.json.nextLink).toBeDefined();
  });

  async function tokenOf(query: string): Promise<string> {
    const r = await call(findingsList, `/api/findings?${query}`);
    return new URL(r.json.nextLink).searchParams.get("$skipToken")!;
  }

  const expect400 = (r: Called) => {
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("InvalidContinuationToken");
    expect(r.json.error.target).toBe("$skipToken");
  };

  it("a forged, corrupted or truncated token is a 400 naming $skipToken", async () => {
    const token = await tokenOf("top=5");
    const [body, sig] = token.split(".");
    const payload = JSON.parse(Buffer.from(body, "base64url").toString());
    const forgedBody = Buffer.from(JSON.stringify({ ...payload, i: 0, n: 0, s: 0, c: undefined })).toString("base64url");
    for (const bad of [
      "garbage",
      "x".repeat(5000),
      `${body}.${"A".repeat(22)}`,
      `${forgedBody}.${sig}`,
      token.slice(0, -1),
      `${token}x`,
      Buffer.from(JSON.stringify({ v: 1 })).toString("base64url"),
      "' or true or ''='",
      "%00",
    ]) {
      expect400(await call(findingsList, `/api/findings?top=5&$skipToken=${encodeURIComponent(bad)}`));
    }
  });

  it("a token of another filter set, or of another scope, is a 400", async () => {
    const token = await tokenOf("status=fail&top=5");
    expect400(await call(findingsList, `/api/findings?status=pass&top=5&$skipToken=${encodeURIComponent(token)}`));
    expect400(await call(findingsList, `/api/findings?top=5&$skipToken=${encodeURIComponent(token)}`));
    const byName = await tokenOf("cluster=aks-7&top=2");
    expect400(await call(findingsList, `/api/findings?cluster=aks-8&top=2&$skipToken=${encodeURIComponent(byName)}`));
    use({ ...testRuntime(store), scopeKey: "mg-other" });
    expect400(await call(findingsList, `/api/findings?status=fail&top=5&$skipToken=${encodeURIComponent(token)}`));
    use({ ...testRuntime(store), config: { ...testRuntime(store).config, tablePrefix: "otherstore" } });
    expect400(await call(findingsList, `/api/findings?status=fail&top=5&$skipToken=${encodeURIComponent(token)}`));
    use(testRuntime(store));
    expect((await call(findingsList, `/api/findings?status=fail&top=5&$skipToken=${encodeURIComponent(token)}`)).status).toBe(200);
  });

  it("a token stays valid for its filters whatever `top` the next request asks for", async () => {
    const token = await tokenOf("status=fail&top=5");
    const r = await call(findingsList, `/api/findings?status=fail&top=50&$skipToken=${encodeURIComponent(token)}`);
    expect(r.status).toBe(200);
    expect(r.json.value).toHaveLength(50);
  });

  it("streams a whole CSV export across store pages", async () => {
    const r = await call(findingsList, "/api/findings?format=csv");
    expect(r.headers.get("content-disposition")).toContain("findings.csv");
    expect(r.text.split("\r\n").length - 2).toBe(synthetic.length);
  });
});
