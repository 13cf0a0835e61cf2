import { describe, expect, test } from "vitest";
import { createHash } from "node:crypto";
import { keys, MAX_STRING_CHARS, TRUNCATION_MARKER } from "../../../src/adapters/table-store/index.js";
import { canonicalJson, encodeFinding } from "../../../src/adapters/table-store/codec.js";
import type { Finding } from "../../../src/core/findings.js";
import type { NextState } from "../../../src/core/ports.js";
import {
  asUnchanged,
  clusterId,
  commit,
  comparable,
  estate,
  finding,
  newStore,
  rawEntities,
  rawTable,
  registryId,
  runRecord,
  sortFindings,
} from "./fixtures.js";

describe("state round trip", () => {
  test("an empty scope loads as generation 0", async () => {
    const store = await newStore();
    const s = await store.loadState("tenant");
    expect(s).toEqual({ generation: 0, lastRunId: null, findings: [], attachments: [], forgotten: [], exemptions: [] });
  });

  test("a committed state reads back exactly; the next generation reports untouched findings as unchanged", async () => {
    const store = await newStore();
    const next = estate(12, 3);
    const { run } = await commit(store, "tenant", next);
    const phases = store.lastCommitPhases()!;
    expect(phases.dirtyGroups).toBeGreaterThan(0);
    expect(phases.totalMs).toBeGreaterThanOrEqual(phases.planMs + phases.packMs + phases.writeMs - 3);
    const s1 = await store.loadState("tenant");
    expect(s1.generation).toBe(1);
    expect(s1.lastRunId).toBe(run.id);
    expect(comparable(s1)).toEqual(comparable(next));

    // Same content, now unchanged: nothing but the pointer and the run record is written.
    const unchanged: NextState = { findings: next.findings.map(asUnchanged), attachments: next.attachments };
    const before = store.entityWrites();
    const { run: run2 } = await commit(store, "tenant", unchanged);
    // startRun (1) + pointer (1) + final run record (1)
    expect(store.entityWrites() - before).toBe(3);
    expect(store.lastCommitPhases()).toMatchObject({ dirtyGroups: 0, readMs: 0 });
    const s2 = await store.loadState("tenant");
    expect(s2.generation).toBe(2);
    expect(s2.lastRunId).toBe(run2.id);
    expect(comparable(s2)).toEqual(comparable(unchanged));
    expect(await store.listChanges("tenant", run2.id)).toEqual([]);
    expect(sortFindings(await store.listChanges("tenant", run.id))).toEqual(sortFindings(next.findings));
  });

  test("changes, moves between status partitions, removals and content-only updates", async () => {
    const store = await newStore();
    const c = clusterId(1);
    const r = registryId(1);
    const a = finding({ ruleId: "pull.granted", status: "fail", severity: "high", clusterId: c, registryId: r, reason: "no-pull-role" });
    const b = finding({ ruleId: "network.path", status: "pass", clusterId: c, registryId: r });
    const d = finding({ ruleId: "registry.admin-user", status: "fail", severity: "medium", registryId: r });
    const e = finding({ ruleId: "identity.kubelet-managed", status: "pass", severity: "low", clusterId: c });
    await commit(store, "tenant", { findings: [a, b, d, e], attachments: [{ clusterId: c, registryId: r, sources: ["granted"] }] });

    const a2: Finding = { ...a, status: "pass", reason: null, change: "changed", previousStatus: "fail" };
    const b2: Finding = { ...b, message: "reworded", change: "unchanged", previousStatus: null };
    const d2: Finding = { ...d, change: "removed" };
    const f = finding({ ruleId: "registry.anonymous-pull", status: "fail", severity: "medium", registryId: r });
    // e disappears altogether; the attachment gains a source.
    const next: NextState = { findings: [a2, b2, d2, f], attachments: [{ clusterId: c, registryId: r, sources: ["granted", "declared"] }] };
    const { run } = await commit(store, "tenant", next);
    const s = await store.loadState("tenant");
    expect(comparable(s)).toEqual(comparable(next));
    expect(sortFindings(await store.listChanges("tenant", run.id))).toEqual(sortFindings([a2, d2, f]));

    // The fail/high partition no longer lists a; pass/high lists it.
    const failHigh = await store.queryFindings("tenant", { status: "fail", severity: "high" }, 50);
    expect(failHigh.items).toEqual([]);
    const passHigh = await store.queryFindings("tenant", { status: "pass", severity: "high" }, 50);
    expect(sortFindings(passHigh.items)).toEqual(sortFindings([a2, b2]));
    const byCluster = await store.queryFindings("tenant", { clusterId: c }, 50);
    expect(sortFindings(byCluster.items)).toEqual(sortFindings([a2, b2]));
    const byRegistry = await store.queryFindings("tenant", { registryId: r }, 50);
    expect(sortFindings(byRegistry.items)).toEqual(sortFindings([a2, b2, d2, f]));

    // Next run: the removed finding is gone, the rest unchanged; tombstones of the previous run are collected.
    const next3: NextState = { findings: [a2, b2, f].map(asUnchanged), attachments: next.attachments };
    await commit(store, "tenant", next3);
    expect(comparable(await store.loadState("tenant"))).toEqual(comparable(next3));
    const raw = await rawEntities(rawTable(store, "findings"));
    const tombstoneAt = (x: Record<string, unknown>, g: number) => (x.g1 === g && x.n1 === 0) || (x.g0 === g && x.n0 === 0);
    // e's status group (pass/low) was emptied in run 2 and its tombstone deleted in run 3; so was the
    // fail/high group that a moved out of. d left the fail/medium group in run 3, which f still fills:
    // rewritten, not tombstoned.
    expect(raw.some((x) => tombstoneAt(x, 2))).toBe(false);
    expect(raw.some((x) => String(x.partitionKey).endsWith("|s|pass|low"))).toBe(false);
    expect(raw.some((x) => String(x.partitionKey).endsWith("|s|fail|high"))).toBe(false);
    expect(raw.filter((x) => tombstoneAt(x, 3))).toEqual([]);
    expect(raw.filter((x) => String(x.partitionKey).endsWith("|s|fail|medium")).map((x) => x.g1)).toEqual([3]);
  });

  test("evidence over the property size limit is truncated with a marker, and does not force rewrites", async () => {
    const store = await newStore();
    const big = finding({
      ruleId: "pull.granted",
      clusterId: clusterId(2),
      registryId: registryId(2),
      evidence: {
        assignments: Array.from({ length: 3000 }, (_, i) => `/subscriptions/x/providers/Microsoft.Authorization/roleAssignments/${i}`),
      },
    });
    expect(JSON.stringify(big).length).toBeGreaterThan(64 * 1024);
    await commit(store, "tenant", { findings: [big], attachments: [] });
    const [stored] = (await store.loadState("tenant")).findings;
    expect(stored.evidence[TRUNCATION_MARKER]).toBeTruthy();
    expect(JSON.stringify(stored).length).toBeLessThanOrEqual(MAX_STRING_CHARS);
    expect(stored.message).toBe(big.message);
    const before = store.entityWrites();
    await commit(store, "tenant", { findings: [asUnchanged(big)], attachments: [] });
    expect(store.entityWrites() - before).toBe(3);
  });

  test("a finding within a few characters of the limit is cut (or not) whatever its change, so an unchanged run does not rewrite it", async () => {
    const base = finding({ ruleId: "pull.granted", clusterId: clusterId(3), registryId: registryId(3), evidence: { pad: "" } });
    // Pad the evidence so that the "new" form is just under the limit and the "unchanged" form just over.
    const asNew: Finding = { ...base, change: "new", previousStatus: null };
    const pad = MAX_STRING_CHARS - encodeFinding(asNew).length - 2;
    const near: Finding = { ...asNew, evidence: { pad: "x".repeat(pad) } };
    expect(canonicalJson(near).length).toBeLessThanOrEqual(MAX_STRING_CHARS);
    expect(canonicalJson({ ...near, change: "unchanged" }).length).toBeGreaterThan(MAX_STRING_CHARS);
    const storedNew = JSON.parse(encodeFinding(near)) as Finding;
    const storedUnchanged = JSON.parse(encodeFinding({ ...near, change: "unchanged" })) as Finding;
    expect(storedNew.evidence[TRUNCATION_MARKER]).toBeTruthy();
    expect({ ...storedNew, change: "unchanged" }).toEqual(storedUnchanged);
    const under = JSON.parse(encodeFinding({ ...near, evidence: { pad: "x".repeat(pad - 30) } })) as Finding;
    expect(under.evidence[TRUNCATION_MARKER]).toBeUndefined(); // under the limit whatever its change: kept whole
    expect(under.evidence.pad).toHaveLength(pad - 30);
    // Through the store: the first commit ("new"), then the same finding unchanged: no group rewritten.
    const store = await newStore();
    await commit(store, "tenant", { findings: [near], attachments: [] });
    const before = store.entityWrites();
    await commit(store, "tenant", { findings: [asUnchanged(near)], attachments: [] });
    expect(store.entityWrites() - before).toBe(3);
  });

  test("a group too big for one slot spans rows; shrinking it tombstones the rows it no longer needs", async () => {
    const store = await newStore();
    const c = clusterId(7);
    // 40 findings of one cluster with ~24 KB of barely compressible evidence each: several slots' worth.
    const noise = (i: number) => Array.from({ length: 560 }, (_, k) => createHash("sha256").update(`${i}/${k}`).digest("base64")).join("");
    const many = Array.from({ length: 40 }, (_, j) =>
      finding({ ruleId: "pull.granted", clusterId: c, registryId: registryId(j), evidence: { noise: noise(j).slice(0, 24_000) } }),
    );
    await commit(store, "tenant", { findings: many, attachments: [] });
    expect(comparable(await store.loadState("tenant"))).toEqual(comparable({ findings: many, attachments: [] }));
    const rows = await rawEntities(rawTable(store, "findings"));
    const clusterRows = rows.filter((x) => String(x.partitionKey) === keys.clusterPartition("tenant", c));
    expect(clusterRows.length).toBeGreaterThan(2);
    expect(clusterRows.map((x) => String(x.rowKey).slice(-3))).toEqual(clusterRows.map((_, i) => `|${String(i).padStart(2, "0")}`));
    const seen: Finding[] = [];
    let token: string | undefined;
    do {
      const page = await store.queryFindings("tenant", { clusterId: c }, 7, token);
      seen.push(...page.items);
      token = page.continuation;
    } while (token);
    expect(sortFindings(seen)).toEqual(sortFindings(many));

    const few = many.slice(0, 3).map(asUnchanged);
    await commit(store, "tenant", { findings: few, attachments: [] });
    expect(comparable(await store.loadState("tenant"))).toEqual(comparable({ findings: few, attachments: [] }));
    expect((await store.queryFindings("tenant", { clusterId: c }, 100)).items).toHaveLength(3);
    const after = (await rawEntities(rawTable(store, "findings"))).filter(
      (x) => String(x.partitionKey) === keys.clusterPartition("tenant", c),
    );
    const tombstones = after.filter((x) => x.g1 === 2 && x.n1 === 0);
    expect(tombstones.length).toBe(clusterRows.length - 1);
    // The next commit collects them.
    await commit(store, "tenant", { findings: few, attachments: [] });
    const collected = (await rawEntities(rawTable(store, "findings"))).filter(
      (x) => String(x.partitionKey) === keys.clusterPartition("tenant", c),
    );
    expect(collected).toHaveLength(1);
  });

  test("tables written in the per-finding layout of older versions are refused with a clear error", async () => {
    const store = await newStore();
    await commit(store, "tenant", estate(2, 1));
    const state = rawTable(store, "state");
    const {
      etag: _etag,
      timestamp: _ts,
      layout: _layout,
      ...pointer
    } = await state.getEntity<Record<string, unknown>>(keys.controlPartition("tenant"), "pointer");
    await state.upsertEntity({ ...pointer, partitionKey: keys.controlPartition("tenant"), rowKey: "pointer" }, "Replace");
    await expect(store.loadState("tenant")).rejects.toMatchObject({
      code: "IncompatibleLayout",
      message: expect.stringContaining("AUDIT_TABLE_PREFIX"),
    });
    await expect(store.queryFindings("tenant", {}, 10)).rejects.toMatchObject({ code: "IncompatibleLayout" });
  });

  test("numbers come back as numbers: nothing is a bigint", async () => {
    const store = await newStore();
    const f = finding({
      ruleId: "network.path",
      clusterId: clusterId(3),
      registryId: registryId(3),
      evidence: { big: 2 ** 40, small: 3, ratio: 0.5 },
    });
    await commit(store, "tenant", { findings: [f], attachments: [] });
    const s = await store.loadState("tenant");
    expect(() => JSON.stringify(s)).not.toThrow();
    expect(s.findings[0].evidence).toEqual({ big: 2 ** 40, small: 3, ratio: 0.5 });
    const runs = await store.listRuns("tenant", 5);
    expect(() => JSON.stringify(runs)).not.toThrow();
  });

  test("IDs with upper case, slashes, #, ?, backslashes, quotes, spaces and non-ASCII; very long IDs", async () => {
    const store = await newStore();
    const weirdCluster = "/subscriptions/S/resourceGroups/RG#1?x=y/providers/Microsoft.ContainerService/managedClusters/Clu\\ster 'ü'%2F";
    const longRegistry = `/subscriptions/S/resourceGroups/${"Long".repeat(300)}/providers/Microsoft.ContainerRegistry/registries/acr`;
    const declared = "MyRegistry.azurecr.io#tag?";
    const findings = [
      finding({ ruleId: "pull.granted", clusterId: weirdCluster, registryId: longRegistry }),
      finding({ ruleId: "registry.exists", status: "unknown", reason: "unresolved-name", clusterId: weirdCluster, registryId: declared }),
      finding({ ruleId: "registry.admin-user", severity: "medium", registryId: longRegistry }),
    ];
    const attachments = [
      { clusterId: weirdCluster, registryId: longRegistry, sources: ["granted" as const] },
      { clusterId: weirdCluster, registryId: declared, sources: ["declared" as const] },
    ];
    await commit(store, "mg-Weird/Scope#?", { findings, attachments });
    const s = await store.loadState("mg-Weird/Scope#?");
    expect(comparable(s)).toEqual(comparable({ findings, attachments }));
    const byCluster = await store.queryFindings("mg-Weird/Scope#?", { clusterId: weirdCluster.toUpperCase() }, 10);
    expect(byCluster.items).toHaveLength(2);
    const byRegistry = await store.queryFindings("mg-Weird/Scope#?", { registryId: longRegistry.toLowerCase() }, 10);
    expect(byRegistry.items).toHaveLength(2);
    const byDeclared = await store.queryFindings("mg-Weird/Scope#?", { registryId: declared }, 10);
    expect(byDeclared.items).toHaveLength(1);
    for (const e of await rawEntities(rawTable(store, "findings"))) {
      for (const k of [e.partitionKey, e.rowKey] as string[]) {
        expect(k).not.toMatch(/[/\\#?\u0000-\u001f\u007f-\u009f]/);
        expect(k.length).toBeLessThanOrEqual(500);
      }
    }
  });

  test("scopes sharing a store do not see each other", async () => {
    const store = await newStore();
    const a = estate(2, 1);
    const b = estate(3, 2);
    await commit(store, "tenant", a);
    await commit(store, "mg-platform", b);
    await commit(store, "tenant2", { findings: [], attachments: [] });
    expect(comparable(await store.loadState("tenant"))).toEqual(comparable(a));
    expect(comparable(await store.loadState("mg-platform"))).toEqual(comparable(b));
    expect((await store.loadState("tenant2")).findings).toEqual([]);
    expect((await store.queryFindings("tenant", {}, 1000)).items).toHaveLength(a.findings.length);
  });

  test("a commit based on a stale state is refused", async () => {
    const store = await newStore();
    const previous = await store.loadState("tenant");
    await commit(store, "tenant", estate(1, 1));
    const run = runRecord("tenant");
    await expect(store.commitRun("tenant", run, previous, estate(2, 1))).rejects.toMatchObject({ code: "ConcurrentCommit" });
    expect((await store.loadState("tenant")).generation).toBe(1);
  });
});

describe("prepare (encoding ahead of the commit)", () => {
  test("a commit of prepared findings stores exactly what an unprepared one stores; a finding prepared for another scope is encoded again", async () => {
    const plain = await newStore();
    const ahead = await newStore();
    const next = estate(8, 3);
    ahead.prepare("elsewhere", next.findings.slice(0, 5)); // another scope: its keys would be wrong here
    ahead.prepare("tenant", next.findings.slice(5));
    await commit(plain, "tenant", next);
    await commit(ahead, "tenant", next);
    const rows = async (s: typeof plain) =>
      (await rawEntities(rawTable(s, "findings")))
        .map((e): Record<string, unknown> => ({ ...e, etag: undefined, timestamp: undefined, odata: undefined }))
        .map((e) =>
          JSON.stringify(
            Object.keys(e)
              .sort()
              .map((k) => [k, k.startsWith("b") ? Buffer.from(e[k] as Uint8Array).toString("base64") : e[k]]),
          ),
        );
    const [a, b] = [await rows(plain), await rows(ahead)];
    expect(a.length).toBeGreaterThan(0);
    expect(b.sort()).toEqual(a.sort());
    expect(comparable(await ahead.loadState("tenant"))).toEqual(comparable(next));
  });
});
