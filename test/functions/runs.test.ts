import type { DiscoveryPort } from "../../src/core/ports.js";
import { beforeAll, describe, expect, it } from "vitest";
import { runsList } from "../../src/functions/runs-list.js";
import { runsGet } from "../../src/functions/runs-get.js";
import { runsChanges } from "../../src/functions/runs-changes.js";
import { backgroundRuns, runsStart } from "../../src/functions/runs-start.js";
import { findingsList } from "../../src/functions/findings-list.js";
import { findingsSummary } from "../../src/functions/findings-summary.js";
import { findingKey, type Finding } from "../../src/core/findings.js";
import { loadEstateFile } from "../../src/adapters/simulator/index.js";
import { auditEstate, freshStore } from "../helpers/harness.js";
import { call, seeded, testRuntime, use } from "../api/harness.js";

const CONFORMANCE = `${__dirname}/../conformance`;

describe("GET /api/runs, /api/runs/{runId}, /api/runs/{runId}/changes", () => {
  let runtime: ReturnType<typeof testRuntime>;
  let firstRunId: string;
  let secondRunId: string;
  let changed: Finding[];
  let firstChanges: Finding[];

  beforeAll(async () => {
    // Two runs of the drift case: the second one changes findings.
    const store = await freshStore("runs");
    const before = await auditEstate(`${CONFORMANCE}/drift-pull-removed.before.json`, store, { now: new Date("2026-01-01T00:00:00Z") });
    const after = await auditEstate(`${CONFORMANCE}/drift-pull-removed.json`, store, { now: new Date("2026-01-02T00:00:00Z") });
    firstRunId = before.run.id;
    secondRunId = after.run.id;
    changed = after.findings.filter((f) => f.change !== "unchanged");
    firstChanges = before.findings;
    runtime = testRuntime(store, loadEstateFile(`${CONFORMANCE}/drift-pull-removed.json`));
  });

  it("lists runs newest first, with status, duration, counts and missed scopes", async () => {
    use(runtime);
    const r = await call(runsList, "/api/runs");
    expect(r.status).toBe(200);
    expect(r.json.value.map((x: { id: string }) => x.id)).toEqual([secondRunId, firstRunId]);
    expect(r.json.value[0]).toMatchObject({ status: "succeeded", missed: [], counts: { total: expect.any(Number) } });
    expect(r.json.value[0].durationMs).toBeGreaterThanOrEqual(0);
    const one = await call(runsList, "/api/runs?top=1");
    expect(one.json.value).toHaveLength(1);
  });

  it.each(["top=0", "top=101", "top=x", "since=yesterday"])("400 for %s", async (q) => {
    use(runtime);
    const r = await call(runsList, `/api/runs?${q}`);
    expect(r.status).toBe(400);
    expect(["top", "since"]).toContain(r.json.error.target);
  });

  it("gets a run by ID and `latest`", async () => {
    use(runtime);
    const byId = await call(runsGet, `/api/runs/${firstRunId}`, { params: { runId: firstRunId } });
    expect(byId.status).toBe(200);
    expect(byId.json.id).toBe(firstRunId);
    const latest = await call(runsGet, "/api/runs/latest", { params: { runId: "latest" } });
    expect(latest.json.id).toBe(secondRunId);
  });

  it("404 for an unknown run, 400 for a malformed run ID", async () => {
    use(runtime);
    const missing = await call(runsGet, "/api/runs/20200101T000000Z-deadbeef", { params: { runId: "20200101T000000Z-deadbeef" } });
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({ code: "RunNotFound", target: "runId" });
    const bad = await call(runsGet, "/api/runs/..%2f..", { params: { runId: "../.." } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.target).toBe("runId");
    const badChanges = await call(runsChanges, "/api/runs/x'y/changes", { params: { runId: "x'y" } });
    expect(badChanges.status).toBe(400);
  });

  it("the changes of a run are its drift feed, paged", async () => {
    use(runtime);
    expect(changed.length).toBeGreaterThan(0);
    expect(firstChanges.length).toBeGreaterThan(3);
    const got: Record<string, unknown>[] = [];
    let url: string | undefined = `/api/runs/${firstRunId}/changes?top=2`;
    while (url) {
      const r = await call(runsChanges, url, { params: { runId: firstRunId } });
      expect(r.status).toBe(200);
      got.push(...r.json.value);
      url = r.json.nextLink;
    }
    expect(got.map((f) => findingKey(f as never)).sort()).toEqual(firstChanges.map(findingKey).sort());
    expect(got.every((f) => f.change === "new")).toBe(true);
    const latest = await call(runsChanges, "/api/runs/latest/changes", { params: { runId: "latest" } });
    expect(latest.json.value.map((f: Finding) => findingKey(f)).sort()).toEqual(changed.map(findingKey).sort());
    expect(latest.json.value.every((f: Finding) => f.change !== "unchanged")).toBe(true);
  });

  it("changes: 404 for an unknown run; a token of another run is a 400", async () => {
    use(runtime);
    const missing = await call(runsChanges, "/api/runs/nope/changes", { params: { runId: "nope" } });
    expect(missing.status).toBe(404);
    const first = await call(runsChanges, `/api/runs/${firstRunId}/changes?top=1`, { params: { runId: firstRunId } });
    const token = new URL(first.json.nextLink).searchParams.get("$skipToken")!;
    const foreign = await call(runsChanges, `/api/runs/${secondRunId}/changes?$skipToken=${encodeURIComponent(token)}`, {
      params: { runId: secondRunId },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.json.error.target).toBe("$skipToken");
  });
});

describe("POST /api/runs", () => {
  it("answers 202 with the run ID and Location, runs the audit in the background, and the new findings show", async () => {
    const store = await freshStore("runstart");
    use(testRuntime(store));
    const before = await call(findingsSummary, "/api/findings/summary");
    expect(before.json).toMatchObject({ run: null, total: 0 });
    const r = await call(runsStart, "/api/runs", { method: "POST" });
    expect(r.status).toBe(202);
    expect(r.json.status).toBe("running");
    expect(r.headers.get("location")).toBe(`http://localhost:7071/api/runs/${r.json.id}`);
    const early = await call(runsGet, `/api/runs/${r.json.id}`, { params: { runId: r.json.id } });
    expect(early.status).toBe(200);
    await backgroundRuns();
    const done = await call(runsGet, `/api/runs/${r.json.id}`, { params: { runId: r.json.id } });
    expect(done.json.status).toBe("succeeded");
    const findings = await call(findingsList, "/api/findings?top=1000");
    expect(findings.json.value.length).toBe(done.json.counts.total);
    const summary = await call(findingsSummary, "/api/findings/summary");
    expect(summary.json.run.id).toBe(r.json.id);
  });

  it("409 while another audit holds the lease; accepts an empty JSON object body", async () => {
    const store = await freshStore("runs409");
    use(testRuntime(store));
    const held = await store.acquireLease("tenant", "timer-elsewhere", 60);
    expect(held.acquired).toBe(true);
    const r = await call(runsStart, "/api/runs", { method: "POST", body: {} });
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe("RunInProgress");
    if (held.acquired) await store.releaseLease(held.lease);
    const ok = await call(runsStart, "/api/runs", { method: "POST", body: {} });
    expect(ok.status).toBe(202);
    await backgroundRuns();
  });

  it("a body with properties is a 400, a non-JSON body a 415", async () => {
    use(testRuntime(await freshStore("runsbody")));
    const extra = await call(runsStart, "/api/runs", { method: "POST", body: { scope: "x" } });
    expect(extra.status).toBe(400);
    expect(extra.json.error.target).toBe("scope");
    const text = await call(runsStart, "/api/runs", { method: "POST", body: "go", headers: { "content-type": "text/plain" } });
    expect(text.status).toBe(415);
  });

  it("an audit that fails in the background is recorded as failed, logged, and releases the lease", async () => {
    const store = await freshStore("runsfail");
    const logs: string[] = [];
    use({
      ...testRuntime(store),
      // Discovery that fails once the run is under way (a credential refused by the tenant, say).
      newDiscovery: () =>
        new Proxy({} as DiscoveryPort, {
          get: (_t, name) =>
            name === "stats"
              ? () => ({ resourceGraphRequests: 0, armRequests: 0, throttled: 0 })
              : () => Promise.reject(new Error("no credential")),
        }),
    });
    const r = await call(runsStart, "/api/runs", { method: "POST" });
    expect(r.status).toBe(202);
    await backgroundRuns();
    const run = await call(runsGet, `/api/runs/${r.json.id}`, { params: { runId: r.json.id } });
    expect(run.json).toMatchObject({ status: "failed" });
    expect(run.json.error).toMatch(/no credential/);
    const again = await store.acquireLease("tenant", "next", 60);
    expect(again.acquired).toBe(true);
    void logs;
  });

  it("a run that starts after a failed one sees the previous state intact", async () => {
    const { runtime, result } = await seeded("runsafter");
    use(runtime);
    const r = await call(runsStart, "/api/runs", { method: "POST" });
    await backgroundRuns();
    const run = await call(runsGet, `/api/runs/${r.json.id}`, { params: { runId: r.json.id } });
    expect(run.json.status).toBe("succeeded");
    expect(run.json.counts.byChange.unchanged).toBe(result.findings.length);
  });
});
