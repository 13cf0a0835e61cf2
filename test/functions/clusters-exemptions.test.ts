import { beforeAll, describe, expect, it } from "vitest";
import { clusterAttachments } from "../../src/functions/cluster-attachments.js";
import { attachmentsForget } from "../../src/functions/attachments-forget.js";
import { exemptionsCreate } from "../../src/functions/exemptions-create.js";
import { exemptionsList } from "../../src/functions/exemptions-list.js";
import { exemptionsDelete } from "../../src/functions/exemptions-delete.js";
import { findingsList } from "../../src/functions/findings-list.js";
import { findingsSummary } from "../../src/functions/findings-summary.js";
import { invalidateReadCache } from "../../src/api/cache.js";
import type { Finding } from "../../src/core/findings.js";
import { nameOf } from "../../src/core/resource-id.js";
import { loadEstateFile } from "../../src/adapters/simulator/index.js";
import { seedFindings, syntheticFindings } from "../../scripts/bench-api.js";
import { auditEstate, freshStore } from "../helpers/harness.js";
import { call, sampleEstate, seeded, testRuntime, use } from "../api/harness.js";

const CONFORMANCE = `${__dirname}/../conformance`;
type Runtime = ReturnType<typeof testRuntime>;

function attachmentsPath(cluster: string): { url: string; params: Record<string, string> } {
  return { url: `/api/clusters/${encodeURIComponent(cluster)}/attachments`, params: { clusterId: `${cluster}/attachments` } };
}

describe("GET /api/clusters/{clusterId}/attachments", () => {
  let runtime: Runtime;
  let findings: Finding[];
  let payId: string;

  beforeAll(async () => {
    const s = await seeded("clatt");
    runtime = s.runtime;
    findings = s.result.findings;
    payId = findings.find((f) => f.clusterId && nameOf(f.clusterId) === "aks-pay")!.clusterId!;
  });

  it("lists each attachment with how it was inferred and its findings, plus the cluster's own findings", async () => {
    use(runtime);
    const { url, params } = attachmentsPath(payId);
    const r = await call(clusterAttachments, url, { params });
    expect(r.status).toBe(200);
    expect(r.json.clusterId).toBe(payId);
    expect(r.json.name).toBe("aks-pay");
    expect(r.json.value.map((a: { registryName: string; sources: string[] }) => [a.registryName, a.sources])).toEqual([
      ["payacr", ["granted"]],
      ["payacrok", ["granted"]],
    ]);
    const own = findings.filter((f) => f.clusterId === payId);
    const inAttachments = r.json.value.flatMap((a: { findings: unknown[] }) => a.findings);
    expect(inAttachments.length + r.json.findings.length).toBe(own.length);
    expect(r.json.findings.every((f: Finding) => f.registryId === null)).toBe(true);
  });

  it("the catch-all form (ID written out), a different case, and the cluster name all answer the same", async () => {
    use(runtime);
    const expected = (await call(clusterAttachments, attachmentsPath(payId).url, { params: attachmentsPath(payId).params })).json;
    const raw = `${payId.slice(1).toUpperCase()}/attachments`;
    const catchAll = await call(clusterAttachments, `/api/clusters/${raw}`, { params: { clusterId: raw } });
    expect(catchAll.json).toEqual(expected);
    const byName = await call(clusterAttachments, "/api/clusters/aks-pay/attachments", { params: { clusterId: "aks-pay/attachments" } });
    expect(byName.json).toEqual(expected);
  });

  it("declared attachments, including an entry that resolves to nothing", async () => {
    use(runtime);
    const r = await call(clusterAttachments, "/api/clusters/aks-apps/attachments", { params: { clusterId: "aks-apps/attachments" } });
    const ghost = r.json.value.find((a: { registryId: string }) => a.registryId === "ghostregistry");
    expect(ghost.sources).toEqual(["declared"]);
    expect(ghost.findings.map((f: Finding) => [f.ruleId, f.status])).toEqual([["registry.exists", "unknown"]]);
  });

  it("404 for an unknown cluster or a path without /attachments; 400 for a malformed cluster", async () => {
    use(runtime);
    const unknown = await call(clusterAttachments, "/api/clusters/nope/attachments", { params: { clusterId: "nope/attachments" } });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: "ClusterNotFound", target: "clusterId" });
    const unknownId = attachmentsPath(payId.replace("aks-pay", "aks-gone"));
    expect((await call(clusterAttachments, unknownId.url, { params: unknownId.params })).status).toBe(404);
    const noSuffix = await call(clusterAttachments, "/api/clusters/aks-pay", { params: { clusterId: "aks-pay" } });
    expect(noSuffix.status).toBe(404);
    const bad = await call(clusterAttachments, "/api/clusters/a%20b/attachments", { params: { clusterId: "a b/attachments" } });
    expect(bad.status).toBe(400);
    const query = await call(clusterAttachments, "/api/clusters/aks-pay/attachments?x=1", { params: { clusterId: "aks-pay/attachments" } });
    expect(query.status).toBe(400);
  });

  it("a name shared by two clusters is a 400 asking for the resource ID", async () => {
    const store = await freshStore("clamb");
    const [a, b] = syntheticFindings(40, { clusters: 2, registries: 5 })
      .filter((f) => f.clusterId)
      .slice(0, 2);
    const dup = (f: Finding, rg: string): Finding => ({
      ...f,
      clusterId: f.clusterId!.replace(/resourceGroups\/[^/]+/, `resourceGroups/${rg}`).replace(/aks-\d+$/, "aks-dup"),
    });
    await seedFindings(store, "tenant", [dup(a, "rg-one"), dup(b, "rg-two")]);
    use(testRuntime(store));
    const r = await call(clusterAttachments, "/api/clusters/aks-dup/attachments", { params: { clusterId: "aks-dup/attachments" } });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: "AmbiguousName", target: "clusterId" });
    expect(r.json.error.message).toContain("rg-one");
  });
});

describe("POST /api/attachments/forget", () => {
  it("ends a remembered attachment: 202, then the next run reports its findings removed", async () => {
    const store = await freshStore("forget");
    const after = loadEstateFile(`${CONFORMANCE}/drift-pull-removed.json`);
    await auditEstate(`${CONFORMANCE}/drift-pull-removed.before.json`, store);
    const second = await auditEstate(after, store);
    use(testRuntime(store, after));
    const pair = second.attachments.find((a) => a.sources.includes("remembered"))!;
    expect(pair).toBeDefined();
    const r = await call(attachmentsForget, "/api/attachments/forget", {
      method: "POST",
      body: { clusterId: pair.clusterId.toUpperCase(), registryId: pair.registryId },
    });
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({
      clusterId: pair.clusterId,
      registryId: pair.registryId,
      status: "forgetRequested",
      sources: ["remembered"],
    });
    const view = await call(clusterAttachments, attachmentsPath(pair.clusterId).url, { params: attachmentsPath(pair.clusterId).params });
    expect(view.json.value.find((a: { registryId: string }) => a.registryId === pair.registryId).forgetRequested).toBe(true);
    const third = await auditEstate(after, store);
    const gone = third.findings.filter((f) => f.clusterId === pair.clusterId && f.registryId === pair.registryId);
    expect(gone.length).toBeGreaterThan(0);
    expect(gone.every((f) => f.change === "removed")).toBe(true);
    invalidateReadCache();
    const again = await call(attachmentsForget, "/api/attachments/forget", {
      method: "POST",
      body: { clusterId: pair.clusterId, registryId: pair.registryId },
    });
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe("AttachmentNotFound");
  });

  it("validates the body: 400 naming the property, 415 for a non-JSON body, 413 over 64 KiB", async () => {
    const { runtime, result } = await seeded("forgetbad");
    use(runtime);
    const cluster = result.findings.find((f) => f.clusterId)!.clusterId!;
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      call(attachmentsForget, "/api/attachments/forget", { method: "POST", body, headers });
    const cases: [unknown, string][] = [
      [{ registryId: "x" }, "clusterId"],
      [{ clusterId: cluster }, "registryId"],
      [{ clusterId: "aks-pay", registryId: "x" }, "clusterId"],
      [{ clusterId: cluster, registryId: "' or 1 eq 1" }, "registryId"],
      [{ clusterId: cluster, registryId: "x", extra: true }, "extra"],
    ];
    for (const [body, target] of cases) {
      const r = await post(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.target).toBe(target);
    }
    for (const body of ["[1]", "not json", ""]) {
      const r = await post(body, { "content-type": "application/json" });
      expect(r.status, body).toBe(400);
    }
    expect((await post('{"clusterId":"x"}', { "content-type": "text/plain" })).status).toBe(415);
    expect((await post('{"clusterId":"x"}')).status).toBe(415);
    const big = await post(JSON.stringify({ clusterId: cluster, registryId: "x".repeat(70_000) }), { "content-type": "application/json" });
    expect(big.status).toBe(413);
    const unknown = await post({ clusterId: cluster, registryId: "nosuchregistry" });
    expect(unknown.status).toBe(404);
  });
});

describe("exemptions", () => {
  it("POST creates (201 + Location), GET lists, the next run applies it, DELETE removes it (204), and the run after that drops it", async () => {
    const store = await freshStore("exempt");
    const estate = sampleEstate();
    const first = await auditEstate(estate, store);
    use(testRuntime(store, estate));
    const target = first.findings.find((f) => f.ruleId === "registry.public-unrestricted" && f.status === "fail")!;
    const summaryBefore = (await call(findingsSummary, "/api/findings/summary")).json;
    expect(summaryBefore.exempted).toBe(0);

    const created = await call(exemptionsCreate, "/api/exemptions", {
      method: "POST",
      body: {
        ruleId: target.ruleId,
        registryId: target.registryId,
        justification: "Public by design: a pull-through cache",
        expiresOn: "2999-12-31",
      },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ ruleId: target.ruleId, registryId: target.registryId, clusterId: null, expiresOn: "2999-12-31" });
    expect(created.headers.get("location")).toBe(`http://localhost:7071/api/exemptions/${created.json.id}`);
    const listed = await call(exemptionsList, "/api/exemptions");
    expect(listed.json.value).toEqual([created.json]);

    await auditEstate(estate, store);
    invalidateReadCache();
    const exempted = await call(findingsList, `/api/findings?ruleId=${target.ruleId}&registry=${encodeURIComponent(target.registryId!)}`);
    expect(exempted.json.value[0]).toMatchObject({
      status: "fail",
      exemption: { source: "api", justification: "Public by design: a pull-through cache", expiresOn: "2999-12-31" },
    });
    const summaryAfter = (await call(findingsSummary, "/api/findings/summary")).json;
    expect(summaryAfter.exempted).toBe(1);
    expect(summaryAfter.openFailing).toBe(summaryBefore.openFailing - 1);
    expect(summaryAfter.byStatusSeverity.fail).toEqual(summaryBefore.byStatusSeverity.fail); // real status kept
    expect((await call(findingsList, "/api/findings?exempted=true")).json.value).toHaveLength(1);

    const deleted = await call(exemptionsDelete, `/api/exemptions/${created.json.id}`, {
      method: "DELETE",
      params: { id: created.json.id },
    });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    const missing = await call(exemptionsDelete, `/api/exemptions/${created.json.id}`, {
      method: "DELETE",
      params: { id: created.json.id },
    });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("ExemptionNotFound");
    await auditEstate(estate, store);
    invalidateReadCache();
    expect((await call(findingsList, "/api/findings?exempted=true")).json.value).toHaveLength(0);
  });

  it("validates: rule from the catalog, a subject, a fitting subject kind, justification 1..500, a future YYYY-MM-DD expiry", async () => {
    use(testRuntime(await freshStore("exbad")));
    const cluster =
      "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks";
    const post = (body: unknown) => call(exemptionsCreate, "/api/exemptions", { method: "POST", body });
    const cases: [Record<string, unknown>, string][] = [
      [{ ruleId: "no.such-rule", clusterId: cluster, justification: "j" }, "ruleId"],
      [{ ruleId: "pull.granted", justification: "j" }, "clusterId"],
      [{ ruleId: "pull.granted", clusterId: "aks", justification: "j" }, "clusterId"],
      [{ ruleId: "registry.admin-user", clusterId: cluster, justification: "j" }, "registryId"],
      [{ ruleId: "pull.granted", clusterId: cluster }, "justification"],
      [{ ruleId: "pull.granted", clusterId: cluster, justification: "x".repeat(501) }, "justification"],
      [{ ruleId: "pull.granted", clusterId: cluster, justification: "j", expiresOn: "2001-01-01" }, "expiresOn"],
      [{ ruleId: "pull.granted", clusterId: cluster, justification: "j", expiresOn: "tomorrow" }, "expiresOn"],
      [{ ruleId: "pull.granted", clusterId: cluster, justification: "j", id: "mine" }, "id"],
    ];
    for (const [body, target] of cases) {
      const r = await post(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.target, JSON.stringify(body)).toBe(target);
    }
    expect(
      (
        await call(exemptionsCreate, "/api/exemptions", {
          method: "POST",
          body: "ruleId=x",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        })
      ).status,
    ).toBe(415);
    expect(
      (
        await call(exemptionsCreate, "/api/exemptions", {
          method: "POST",
          body: JSON.stringify({ justification: "x".repeat(66_000) }),
          headers: { "content-type": "application/json" },
        })
      ).status,
    ).toBe(413);
    const bad = await call(exemptionsDelete, "/api/exemptions/not-a-uuid", { method: "DELETE", params: { id: "not-a-uuid" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.target).toBe("id");
    const ok = await post({ ruleId: "pull.granted", clusterId: cluster, justification: "j", expiresOn: null });
    expect(ok.status).toBe(201);
    expect(ok.json.expiresOn).toBeNull();
  });
});

describe("GET /api/findings/summary", () => {
  it("counts by status x severity and by rule, and lists the clusters with most open failing findings", async () => {
    const { runtime, result } = await seeded("summary");
    use(runtime);
    const r = await call(findingsSummary, "/api/findings/summary");
    expect(r.status).toBe(200);
    const s = r.json;
    const live = result.findings.filter((f) => f.change !== "removed");
    expect(s.run).toMatchObject({ id: result.run.id, status: "succeeded" });
    expect(s.total).toBe(live.length);
    expect(s.openFailing).toBe(live.filter((f) => f.status === "fail" && !f.exemption).length);
    expect(s.byStatusSeverity.fail.high).toBe(live.filter((f) => f.status === "fail" && f.severity === "high").length);
    expect(s.byRule.reduce((n: number, x: { total: number }) => n + x.total, 0)).toBe(live.length);
    const failingClusters = new Set(live.filter((f) => f.status === "fail" && f.clusterId).map((f) => f.clusterId));
    expect(s.topClusters).toHaveLength(failingClusters.size);
    expect(s.topClusters[0].openFailing).toBeGreaterThanOrEqual(s.topClusters.at(-1).openFailing);
    expect((await call(findingsSummary, "/api/findings/summary?top=5")).status).toBe(400);
  });
});
