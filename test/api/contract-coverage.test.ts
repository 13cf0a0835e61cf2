/**
 * Contract coverage: one tour that makes every operation answer every status openapi.yaml documents for
 * it (handlers directly, and the local server for what only it answers: 401, unknown routes), each
 * response validated; then checks that nothing documented was left unexercised.
 */
import fs from "node:fs";
import { afterAll, describe, expect, it, vi } from "vitest";
import { startServer, type RunningServer } from "../../src/server.js";
import { backgroundRuns } from "../../src/functions/runs-start.js";
import { OPERATIONS, registrationOf, type OperationName } from "../../src/api/routes.js";
import { loadEstateFile } from "../../src/adapters/simulator/index.js";
import { auditEstate, freshStore } from "../helpers/harness.js";
import { brokenStore, HANDLER_TABLE, validRequest } from "./handlers.js";
import { call, seeded, testRuntime, use } from "./harness.js";
import { documentedOperations, expectMatchesOpenApi, findPath, recordedCoverage } from "./openapi-validator.js";

const CONFORMANCE = `${__dirname}/../conformance`;
const KEY = "k1";
const ADMIN = "k2";
let server: RunningServer | undefined;

afterAll(async () => {
  await backgroundRuns();
  await server?.close();
});

const h = HANDLER_TABLE;
const json = (body: unknown) => ({ method: "POST", body });
const big = (method: string) => ({
  method,
  body: JSON.stringify({ justification: "x".repeat(70_000) }),
  headers: { "content-type": "application/json" },
});
const textBody = (method: string) => ({ method, body: "{}", headers: { "content-type": "text/plain" } });

describe("every documented (operation, status) is exercised and matches the document", () => {
  it("tour", async () => {
    // 500 first for the OpenAPI document itself: openapi.yaml unreadable (e.g. not deployed).
    const spy = vi.spyOn(fs.promises, "readFile").mockRejectedValueOnce(Object.assign(new Error("ENOENT"), { code: "ENOENT" }));
    expect((await call(h.openapi, "/api/openapi.json")).status).toBe(500);
    spy.mockRestore();

    const { runtime, result, store } = await seeded("tour");
    use(runtime);
    const cluster = result.findings.find((f) => f.clusterId)!.clusterId!;
    const registry = result.findings.find((f) => f.registryId?.startsWith("/"))!.registryId!;
    const runId = result.run.id;
    const expectStatus = async (status: number, p: Promise<{ status: number; text: string }>) => {
      const r = await p;
      expect(r.status, r.text).toBe(status);
    };

    // findings
    await expectStatus(200, call(h["findings-list"], "/api/findings"));
    await expectStatus(200, call(h["findings-list"], "/api/findings?format=csv&top=2"));
    await expectStatus(400, call(h["findings-list"], "/api/findings?nope=1"));
    await expectStatus(200, call(h["findings-summary"], "/api/findings/summary"));
    await expectStatus(400, call(h["findings-summary"], "/api/findings/summary?x=1"));
    // runs
    await expectStatus(200, call(h["runs-list"], "/api/runs"));
    await expectStatus(400, call(h["runs-list"], "/api/runs?top=0"));
    await expectStatus(200, call(h["runs-get"], `/api/runs/${runId}`, { params: { runId } }));
    await expectStatus(400, call(h["runs-get"], "/api/runs/-", { params: { runId: "-" } }));
    await expectStatus(404, call(h["runs-get"], "/api/runs/none", { params: { runId: "none" } }));
    await expectStatus(200, call(h["runs-changes"], `/api/runs/${runId}/changes`, { params: { runId } }));
    await expectStatus(400, call(h["runs-changes"], `/api/runs/${runId}/changes?top=x`, { params: { runId } }));
    await expectStatus(404, call(h["runs-changes"], "/api/runs/none/changes", { params: { runId: "none" } }));
    const lease = await store.acquireLease("tenant", "other", 60);
    await expectStatus(409, call(h["runs-start"], "/api/runs", { method: "POST" }));
    if (lease.acquired) await store.releaseLease(lease.lease);
    await expectStatus(400, call(h["runs-start"], "/api/runs", json({ a: 1 })));
    await expectStatus(413, call(h["runs-start"], "/api/runs", big("POST")));
    await expectStatus(415, call(h["runs-start"], "/api/runs", textBody("POST")));
    await expectStatus(202, call(h["runs-start"], "/api/runs", { method: "POST" }));
    await backgroundRuns();
    // clusters
    const p = `${cluster}/attachments`;
    await expectStatus(
      200,
      call(h["cluster-attachments"], `/api/clusters/${encodeURIComponent(cluster)}/attachments`, { params: { clusterId: p } }),
    );
    await expectStatus(
      400,
      call(h["cluster-attachments"], "/api/clusters/a%20b/attachments", { params: { clusterId: "a b/attachments" } }),
    );
    await expectStatus(
      404,
      call(h["cluster-attachments"], "/api/clusters/none/attachments", { params: { clusterId: "none/attachments" } }),
    );
    await expectStatus(400, call(h["attachments-forget"], "/api/attachments/forget", json({})));
    await expectStatus(404, call(h["attachments-forget"], "/api/attachments/forget", json({ clusterId: cluster, registryId: "nosuch" })));
    await expectStatus(413, call(h["attachments-forget"], "/api/attachments/forget", big("POST")));
    await expectStatus(415, call(h["attachments-forget"], "/api/attachments/forget", textBody("POST")));
    // a remembered attachment to forget
    const driftStore = await freshStore("tourdrift");
    await auditEstate(`${CONFORMANCE}/drift-pull-removed.before.json`, driftStore);
    const drift = await auditEstate(`${CONFORMANCE}/drift-pull-removed.json`, driftStore);
    use(testRuntime(driftStore, loadEstateFile(`${CONFORMANCE}/drift-pull-removed.json`)));
    const pair = drift.attachments[0];
    await expectStatus(
      202,
      call(h["attachments-forget"], "/api/attachments/forget", json({ clusterId: pair.clusterId, registryId: pair.registryId })),
    );
    use(runtime);
    // exemptions
    await expectStatus(200, call(h["exemptions-list"], "/api/exemptions"));
    await expectStatus(400, call(h["exemptions-list"], "/api/exemptions?x=1"));
    const created = await call(
      h["exemptions-create"],
      "/api/exemptions",
      json({ ruleId: "registry.admin-user", registryId: registry, justification: "tour" }),
    );
    expect(created.status).toBe(201);
    await expectStatus(400, call(h["exemptions-create"], "/api/exemptions", json({ ruleId: "x" })));
    await expectStatus(413, call(h["exemptions-create"], "/api/exemptions", big("POST")));
    await expectStatus(415, call(h["exemptions-create"], "/api/exemptions", textBody("POST")));
    await expectStatus(
      204,
      call(h["exemptions-delete"], `/api/exemptions/${created.json.id}`, { method: "DELETE", params: { id: created.json.id } }),
    );
    await expectStatus(
      404,
      call(h["exemptions-delete"], `/api/exemptions/${created.json.id}`, { method: "DELETE", params: { id: created.json.id } }),
    );
    await expectStatus(400, call(h["exemptions-delete"], "/api/exemptions/x", { method: "DELETE", params: { id: "x" } }));
    // triage
    await expectStatus(200, call(h.triage, `/api/triage?cluster=${encodeURIComponent(cluster)}`));
    await expectStatus(400, call(h.triage, "/api/triage"));
    await expectStatus(400, call(h.triage, `/api/triage?cluster=${encodeURIComponent(cluster)}&registry=`));
    await expectStatus(404, call(h.triage, "/api/triage?cluster=no-such-cluster"));
    // service
    await expectStatus(200, call(h.health, "/api/health"));
    await expectStatus(400, call(h.health, "/api/health?x=1"));
    await expectStatus(200, call(h.openapi, "/api/openapi.json"));
    await expectStatus(400, call(h.openapi, "/api/openapi.json?x=1"));

    // 405 on every route, through the handler that registers the other methods
    for (const o of OPERATIONS) {
      const name = o.name as OperationName;
      const other = registrationOf(name).methods.find((m) => m !== o.method);
      if (!other) continue;
      const req = validRequest(name);
      await expectStatus(405, call(h[name], req.url, { method: other, params: req.params }));
    }

    // 500 for every operation that reads the store; 503 for health
    use({ ...runtime, store: brokenStore() });
    for (const o of OPERATIONS) {
      const name = o.name as OperationName;
      if (name === "openapi") continue;
      const req = validRequest(name);
      await expectStatus(name === "health" ? 503 : 500, call(h[name], req.url, { method: req.method, params: req.params, body: req.body }));
    }
    use(runtime);

    // What only the server answers: 401 for every secured operation, 404 for unknown routes.
    server = await startServer({ port: 0, apiKey: KEY, adminKey: ADMIN, log: () => undefined });
    for (const o of OPERATIONS) {
      if (o.authLevel === "anonymous") continue;
      const req = validRequest(o.name as OperationName);
      const url = `${server.url}${req.url}`;
      const res = await fetch(url, { method: o.method, headers: { "x-functions-key": o.authLevel === "admin" ? KEY : "wrong" } });
      const text = await res.text();
      expect(res.status).toBe(401);
      expectMatchesOpenApi({ method: o.method, url, status: res.status, headers: res.headers, text });
    }
    const unknown = await fetch(`${server.url}/api/unknown`, { headers: { "x-functions-key": KEY } });
    expectMatchesOpenApi({
      method: "GET",
      url: `${server.url}/api/unknown`,
      status: unknown.status,
      headers: unknown.headers,
      text: await unknown.text(),
    });

    // Nothing documented is left out.
    const seen = recordedCoverage();
    const missing: string[] = [];
    for (const [op, statuses] of documentedOperations()) for (const s of statuses) if (!seen.has(`${op} ${s}`)) missing.push(`${op} ${s}`);
    for (const t of new Set(OPERATIONS.map((o) => findPath(`/${o.route.replace("{*clusterId}", "x/attachments")}`)!))) {
      if (!seen.has(`405 ${t} 405`)) missing.push(`405 ${t}`);
    }
    if (!seen.has("UNKNOWN-ROUTE 404")) missing.push("unknown route 404");
    expect(missing).toEqual([]);
  });
});
