import { describe, expect, test } from "vitest";
import type { ApiExemption } from "../../../src/core/ports.js";
import {
  asUnchanged,
  clusterId,
  commit,
  estate,
  newStore,
  registryId,
  runIdAt,
  runRecord,
  sortFindings,
  uniquePrefix,
} from "./fixtures.js";

describe("lease", () => {
  test("two store instances race for a scope: exactly one acquires; release lets the other in", async () => {
    const prefix = uniquePrefix("lease");
    const a = await newStore({ tablePrefix: prefix });
    const b = await newStore({ tablePrefix: prefix });
    const [ra, rb] = await Promise.all([a.acquireLease("tenant", "host-a", 60), b.acquireLease("tenant", "host-b", 60)]);
    expect([ra.acquired, rb.acquired].filter(Boolean)).toHaveLength(1);
    const [winner, loser, winnerStore, loserStore, loserName] = ra.acquired ? [ra, rb, a, b, "host-b"] : [rb, ra, b, a, "host-a"];
    if (!winner.acquired || loser.acquired) throw new Error("unreachable");
    expect(loser.holder).toBe(winner.lease.holder);
    expect(loser.expiresAt).toBe(winner.lease.expiresAt);
    expect(Date.parse(loser.expiresAt)).toBeGreaterThan(Date.now() + 50_000);

    // Other scopes are independent.
    expect((await loserStore.acquireLease("mg-other", loserName, 60)).acquired).toBe(true);

    await winnerStore.releaseLease(winner.lease);
    const again = await loserStore.acquireLease("tenant", loserName, 60);
    expect(again.acquired).toBe(true);
    // Releasing a lease that is no longer ours (stale ETag) is ignored and leaves the new holder's lease.
    await winnerStore.releaseLease(winner.lease);
    const third = await winnerStore.acquireLease("tenant", "host-c", 60);
    expect(third).toMatchObject({ acquired: false, holder: loserName });
  });

  test("an expired lease is taken over; only one of two contenders gets it", async () => {
    const prefix = uniquePrefix("expiry");
    const a = await newStore({ tablePrefix: prefix });
    expect((await a.acquireLease("tenant", "crashed-host", 30)).acquired).toBe(true);
    const later = () => Date.now() + 31_000;
    const b = await newStore({ tablePrefix: prefix, now: later });
    const c = await newStore({ tablePrefix: prefix, now: later });
    await expect((await newStore({ tablePrefix: prefix })).acquireLease("tenant", "early", 30)).resolves.toMatchObject({
      acquired: false,
      holder: "crashed-host",
    });
    const [rb, rc] = await Promise.all([b.acquireLease("tenant", "host-b", 30), c.acquireLease("tenant", "host-c", 30)]);
    expect([rb.acquired, rc.acquired].filter(Boolean)).toHaveLength(1);
  });

  test("the holder renews its own lease", async () => {
    const s = await newStore();
    const first = await s.acquireLease("tenant", "me", 10);
    const second = await s.acquireLease("tenant", "me", 120);
    expect(first.acquired && second.acquired).toBe(true);
    if (!second.acquired || !first.acquired) return;
    expect(Date.parse(second.lease.expiresAt)).toBeGreaterThan(Date.parse(first.lease.expiresAt));
    expect(second.lease.etag).not.toBe(first.lease.etag);
  });
});

describe("runs", () => {
  test("startRun, commit, failRun; listRuns newest first; getRun by ID", async () => {
    const s = await newStore();
    const t = Date.UTC(2026, 2, 1, 6, 0, 0);
    const r1 = runRecord("tenant", { startedAt: new Date(t) });
    const r2 = runRecord("tenant", { startedAt: new Date(t + 6 * 3600_000) });
    const r3 = runRecord("tenant", { startedAt: new Date(t + 12 * 3600_000) });
    await commit(s, "tenant", estate(2, 1), r1);
    await s.startRun("tenant", r2);
    expect((await s.getRun("tenant", r2.id))?.status).toBe("running");
    await s.failRun("tenant", { ...r2, status: "failed", error: "boom" });
    await s.startRun("tenant", r3);

    expect(await s.getRun("tenant", r1.id)).toEqual(r1);
    expect(await s.getRun("tenant", r2.id)).toEqual({ ...r2, status: "failed", error: "boom" });
    expect((await s.listRuns("tenant", 10)).map((r) => r.id)).toEqual([r3.id, r2.id, r1.id]);
    expect((await s.listRuns("tenant", 2)).map((r) => r.id)).toEqual([r3.id, r2.id]);
    expect(await s.getRun("tenant", runIdAt(new Date(t), 999))).toBeUndefined();
    expect(await s.getRun("other", r1.id)).toBeUndefined();
    // The failed run left the state as it was.
    expect((await s.loadState("tenant")).lastRunId).toBe(r1.id);

    // A run ID that does not have the core's shape still works.
    const odd = runRecord("tenant", { id: "manual/Run #7?", startedAt: new Date(t + 18 * 3600_000) });
    await s.startRun("tenant", odd);
    expect((await s.getRun("tenant", odd.id))?.id).toBe(odd.id);
    expect((await s.listRuns("tenant", 1))[0].id).toBe(odd.id);
  });

  test("a getRun is one point read, listRuns(n) reads n entities", async () => {
    const s = await newStore();
    const runs = [0, 1, 2, 3].map((i) => runRecord("tenant", { startedAt: new Date(Date.UTC(2026, 3, 1, i)) }));
    for (const r of runs) await s.startRun("tenant", r);
    let ops = s.operations();
    await s.getRun("tenant", runs[1].id);
    expect(s.operations() - ops).toBe(1);
    ops = s.operations();
    expect(await s.listRuns("tenant", 2)).toHaveLength(2);
    expect(s.operations() - ops).toBe(2);
  });

  test("pruneHistory removes old runs and their change feeds, keeps the rest", async () => {
    const s = await newStore();
    const day = 86_400_000;
    const t0 = Date.UTC(2026, 0, 1);
    const old1 = runRecord("tenant", { startedAt: new Date(t0) });
    const old2 = runRecord("tenant", { startedAt: new Date(t0 + day) });
    const recent = runRecord("tenant", { startedAt: new Date(t0 + 100 * day) });
    const first = estate(3, 1);
    await commit(s, "tenant", first, old1);
    await commit(
      s,
      "tenant",
      {
        findings: first.findings.map((f, i) =>
          i === 0 ? { ...f, status: "fail" as const, change: "changed" as const, previousStatus: f.status } : asUnchanged(f),
        ),
        attachments: first.attachments,
      },
      old2,
    );
    await commit(s, "tenant", { findings: first.findings.map(asUnchanged), attachments: first.attachments }, recent);
    await commit(s, "other", estate(1, 1), runRecord("other", { startedAt: new Date(t0) }));
    expect((await s.listChanges("tenant", old1.id)).length).toBe(first.findings.length);

    expect(await s.pruneHistory("tenant", new Date(t0 + day))).toBe(1); // strictly older than `before`
    expect(await s.getRun("tenant", old1.id)).toBeUndefined();
    expect(await s.listChanges("tenant", old1.id)).toEqual([]);
    expect(await s.getRun("tenant", old2.id)).toBeDefined();
    expect(await s.listChanges("tenant", old2.id)).toHaveLength(1);

    expect(await s.pruneHistory("tenant", new Date(t0 + 90 * day))).toBe(1);
    expect((await s.listRuns("tenant", 10)).map((r) => r.id)).toEqual([recent.id]);
    expect(await s.listRuns("other", 10)).toHaveLength(1);
    // Pruning history never touches the current state.
    expect(sortFindings((await s.loadState("tenant")).findings)).toEqual(sortFindings(first.findings.map(asUnchanged)));
  });
});

describe("exemptions and forget requests", () => {
  test("exemptions: put, list, replace, delete; loadState carries them", async () => {
    const s = await newStore();
    const x1: ApiExemption = {
      id: "ex-1",
      ruleId: "registry.anonymous-pull",
      clusterId: null,
      registryId: registryId(1),
      justification: "cache registry for isolated clusters",
      expiresOn: "2026-12-31",
      createdAt: "2026-01-01T00:00:00.000Z",
      createdBy: "alice@example.com",
    };
    const x2: ApiExemption = {
      id: "Ex/2#?",
      ruleId: "pull.least-privilege",
      clusterId: clusterId(1),
      registryId: null,
      justification: "temporary",
      expiresOn: null,
      createdAt: "2026-01-02T00:00:00.000Z",
    };
    await s.putExemption("tenant", x1);
    await s.putExemption("tenant", x2);
    await s.putExemption("other", { ...x1, id: "elsewhere" });
    const byId = (xs: ApiExemption[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
    expect(byId(await s.listExemptions("tenant"))).toEqual(byId([x1, x2]));
    await s.putExemption("tenant", { ...x1, justification: "updated" });
    expect((await s.listExemptions("tenant")).find((x) => x.id === "ex-1")?.justification).toBe("updated");
    expect(await s.deleteExemption("tenant", "Ex/2#?")).toBe(true);
    expect(await s.deleteExemption("tenant", "Ex/2#?")).toBe(false);
    expect((await s.loadState("tenant")).exemptions.map((x) => x.id)).toEqual(["ex-1"]);
  });

  test("forget requests are read by the next run and cleared once consumed; later requests stay", async () => {
    let clock = Date.UTC(2026, 5, 1, 10, 0, 0);
    const s = await newStore({ now: () => clock });
    const first = estate(3, 1);
    await commit(s, "tenant", first, runRecord("tenant", { startedAt: new Date(clock - 3600_000) }));
    await s.forgetAttachment("tenant", clusterId(0), registryId(0));
    const loaded = await s.loadState("tenant");
    expect(loaded.forgotten).toEqual([{ clusterId: clusterId(0), registryId: registryId(0), requestedAt: new Date(clock).toISOString() }]);

    const run = runRecord("tenant", { startedAt: new Date(clock + 60_000) });
    await s.startRun("tenant", run);
    clock += 120_000; // a request made while the run is in progress
    await s.forgetAttachment("tenant", clusterId(1), registryId(0));
    const next = { findings: first.findings.map(asUnchanged), attachments: first.attachments.filter((a) => a.clusterId !== clusterId(0)) };
    await s.commitRun("tenant", run, loaded, next);
    const after = await s.loadState("tenant");
    expect(after.forgotten.map((f) => f.clusterId)).toEqual([clusterId(1)]);
    expect(after.attachments).toHaveLength(2);
  });
});
