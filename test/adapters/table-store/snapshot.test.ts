/**
 * The committed-state snapshot: `loadState` from the snapshot returns exactly what the entity scan returns,
 * falls back to the scan on any problem, never surfaces an uncommitted snapshot, and makes an unchanged
 * run cost a handful of table operations.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import type { TableClient } from "@azure/data-tables";
import { canonicalJson, MAX_STRING_CHARS } from "../../../src/adapters/table-store/codec.js";
import { keys } from "../../../src/adapters/table-store/keys.js";
import { SNAPSHOT_CHUNKS_PER_ENTITY } from "../../../src/adapters/table-store/snapshot.js";
import { TRUNCATION_MARKER, type TableAuditStore } from "../../../src/adapters/table-store/index.js";
import type { Finding } from "../../../src/core/findings.js";
import type { NextState, StoredState } from "../../../src/core/ports.js";
import {
  DyingHttpClient,
  asUnchanged,
  clusterId,
  commit,
  comparable,
  estate,
  finding,
  isBatch,
  isPointerWrite,
  newStore,
  rawEntities,
  rawTable,
  registryId,
  runRecord,
  uniquePrefix,
} from "./fixtures.js";

/** A second store on the same tables that always scans (the reference `loadState`). */
function scanner(store: TableAuditStore): Promise<TableAuditStore> {
  return newStore({ tablePrefix: prefixOf(store), snapshotReads: false });
}

function prefixOf(store: TableAuditStore): string {
  return store.tableNames().findings.replace(/findings$/, "");
}

/** Loads through the snapshot (asserting it was used) and through the scan; both must be identical. */
async function expectSamePaths(store: TableAuditStore, scan: TableAuditStore, scope: string): Promise<StoredState> {
  const hits = store.snapshotStats().snapshotHits;
  const fallbacks = store.snapshotStats().fallbacks;
  const fromSnapshot = await store.loadState(scope);
  // (Before the first commit there is nothing to read either way.)
  expect(store.snapshotStats().snapshotHits).toBe(hits + (fromSnapshot.generation > 0 ? 1 : 0));
  expect(store.snapshotStats().fallbacks).toBe(fallbacks);
  const fromScan = await scan.loadState(scope);
  expect(fromSnapshot).toEqual(fromScan);
  // Same order, same values, same key order.
  expect(JSON.stringify(fromSnapshot)).toBe(JSON.stringify(fromScan));
  return fromSnapshot;
}

/** A finding whose canonical JSON is `chars` long with change `new` (so `unchanged` pushes it over the limit). */
function nearLimit(chars: number): Finding {
  const base = finding({ ruleId: "network.path", clusterId: clusterId(901), registryId: registryId(9), message: "" });
  const pad = chars - canonicalJson(base).length;
  return { ...base, message: "m".repeat(pad) };
}

/** The two findings over (or at) the property size limit, stored differently from what was committed. */
const oversized = (f: Finding) => f.ruleId === "pull.granted" && (f.clusterId === clusterId(900) || f.clusterId === clusterId(901));
const nearLimitFinding = (f: Finding) => f.ruleId === "network.path" && f.clusterId === clusterId(901);

/** Comparable view without the oversized findings (checked on their own). */
function ordinary(s: { findings: Finding[]; attachments: NextState["attachments"] }) {
  return comparable({ findings: s.findings.filter((f) => !oversized(f) && !nearLimitFinding(f)), attachments: s.attachments });
}

function variedFirst(): NextState {
  const s = estate(30, 4);
  const findings: Finding[] = [
    ...s.findings.map((f, i) =>
      i % 6 === 0
        ? {
            ...f,
            exemption: {
              source: "api" as const,
              justification: `accepted ${i}`,
              expiresOn: i % 12 === 0 ? null : "2027-01-31",
              id: `ex-${i}`,
            },
          }
        : f,
    ),
    finding({
      ruleId: "pull.granted",
      clusterId: clusterId(900),
      registryId: registryId(9),
      evidence: {
        assignments: Array.from({ length: 4000 }, (_, i) => `/subscriptions/x/providers/Microsoft.Authorization/roleAssignments/${i}`),
      },
    }),
    nearLimit(MAX_STRING_CHARS - 2),
    finding({
      ruleId: "registry.exists",
      status: "unknown",
      reason: "unresolved-name",
      clusterId: "/subscriptions/S/resourceGroups/RG#1?x=y/providers/Microsoft.ContainerService/managedClusters/Clu\\ster 'ü'",
      registryId: "MyRegistry.azurecr.io#tag?",
    }),
    finding({ ruleId: "tenant.note", status: "pass", severity: "low", message: "no subject at all" }),
    finding({
      ruleId: "registry.admin-user",
      status: "fail",
      severity: "critical",
      registryId: registryId(5),
      evidence: { unicode: "ß→✓", nested: { a: [1, 2.5, null, true] } },
    }),
  ];
  return {
    findings,
    attachments: [...s.attachments, { clusterId: clusterId(900), registryId: registryId(9), sources: ["granted", "declared"] }],
  };
}

/** Status flips, removals (reported and silent), content-only changes, new findings, attachment changes. */
function variedSecond(first: NextState): NextState {
  const findings: Finding[] = [];
  first.findings.forEach((f, i) => {
    if (nearLimitFinding(f)) findings.push(asUnchanged(f));
    else if (i % 5 === 0)
      findings.push({ ...f, status: f.status === "fail" ? "pass" : "fail", change: "changed", previousStatus: f.status });
    else if (i % 11 === 0) findings.push({ ...f, change: "removed" });
    else if (i % 13 === 0) return;
    else if (i % 7 === 0) findings.push({ ...asUnchanged(f), message: `${f.message}, reworded`, exemption: null });
    else findings.push(asUnchanged(f));
  });
  for (let i = 0; i < 6; i++) {
    findings.push(
      finding({
        ruleId: "pull.granted",
        status: "fail",
        severity: "high",
        clusterId: clusterId(1000 + i),
        registryId: registryId(0),
        reason: "no-pull-role",
      }),
    );
  }
  const attachments = [
    ...first.attachments
      .filter((_, i) => i % 4 !== 0)
      .map((a, i) => (i % 3 === 0 ? { ...a, sources: [...a.sources, "remembered" as const] } : a)),
    ...Array.from({ length: 6 }, (_, i) => ({ clusterId: clusterId(1000 + i), registryId: registryId(0), sources: ["granted" as const] })),
  ];
  return { findings, attachments };
}

/** The next run's view when nothing changed: removed findings are gone, the rest unchanged. */
function unchangedAfter(s: NextState): NextState {
  return { findings: s.findings.filter((f) => f.change !== "removed").map(asUnchanged), attachments: s.attachments };
}

/** Generations of the scope's snapshot partitions in the state table. */
async function snapshotPartitions(store: TableAuditStore, scope = "tenant"): Promise<number[]> {
  const rows = await rawEntities(rawTable(store, "state"));
  const gens = rows
    .filter((e) => String(e.partitionKey).startsWith(keys.snapshotPrefix(scope)))
    .map((e) => keys.snapshotGeneration(String(e.partitionKey)))
    .filter((g): g is number => g !== undefined);
  return [...new Set(gens)].sort((a, b) => a - b);
}

/** An entity as read, without the service's own fields, to write back. */
function plain(e: Record<string, unknown>): Record<string, unknown> & { partitionKey: string; rowKey: string } {
  const { etag: _e, timestamp: _t, "odata.metadata": _m, ...rest } = e;
  return { ...rest, partitionKey: String(e.partitionKey), rowKey: String(e.rowKey) };
}

async function pointerOf(store: TableAuditStore, scope = "tenant"): Promise<Record<string, unknown>> {
  const client = rawTable(store, "state");
  return client.getEntity<Record<string, unknown>>(keys.controlPartition(scope), "pointer");
}

describe("committed-state snapshot", () => {
  test("loadState from the snapshot equals the full scan, generation after generation (varied states, crashes)", async () => {
    const store = await newStore();
    const scan = await scanner(store);
    const first = variedFirst();
    await commit(store, "tenant", first);
    const s1 = await expectSamePaths(store, scan, "tenant");
    expect(s1.findings.some((f) => f.evidence[TRUNCATION_MARKER])).toBe(true);
    expect(s1.findings.some((f) => f.exemption?.source === "api")).toBe(true);
    expect(s1.findings).toHaveLength(first.findings.length);
    expect(ordinary(s1)).toEqual(ordinary(first));
    // Within the limit as "new", over it as "unchanged": cut from the first commit on, so its stored form
    // does not depend on its change (sized with the longest drift values).
    const near1 = s1.findings.find(nearLimitFinding)!;
    expect(canonicalJson(nearLimit(MAX_STRING_CHARS - 2)).length).toBeLessThanOrEqual(MAX_STRING_CHARS);
    expect(near1.evidence[TRUNCATION_MARKER]).toBeTruthy();

    // Changes of every kind; the state the core would pass is the loaded one.
    const second = variedSecond(first);
    await commit(store, "tenant", second);
    const s2 = await expectSamePaths(store, scan, "tenant");
    expect(ordinary(s2)).toEqual(ordinary(second));

    // The findings reported removed are gone (a change), then an unchanged run: the pointer keeps naming
    // generation 3's snapshot, and generation 4 derives `unchanged` for everything.
    const third = unchangedAfter(second);
    await commit(store, "tenant", third);
    const s3 = await expectSamePaths(store, scan, "tenant");
    expect(ordinary(s3)).toEqual(ordinary(third));
    const written = store.snapshotStats().written;
    await commit(store, "tenant", third);
    expect(store.snapshotStats().written).toBe(written);
    const s4 = await expectSamePaths(store, scan, "tenant");
    expect(s4.generation).toBe(4);
    expect(Number((await pointerOf(store)).snapGen)).toBe(3);
    expect(s4.findings.every((f) => f.change === "unchanged" && f.previousStatus === null)).toBe(true);
    expect(ordinary(s4)).toEqual(ordinary(third));
    // The near-limit finding: the same cut form in every generation.
    expect({ ...s4.findings.find(nearLimitFinding)!, change: near1.change, previousStatus: near1.previousStatus }).toEqual(near1);

    // A commit that dies half-way leaves slots nobody may see (and a snapshot nobody names).
    let batches = 0;
    const faulty = await newStore({
      tablePrefix: prefixOf(store),
      httpClient: new DyingHttpClient((req) => isBatch(req) && ++batches === 4),
    });
    const dead = variedSecond(third);
    const prevDead = await faulty.loadState("tenant");
    await expect(faulty.commitRun("tenant", runRecord("tenant"), prevDead, dead)).rejects.toThrow();
    await expectSamePaths(store, scan, "tenant");

    // The next commit skips the dead generation; then one more change and an unchanged run.
    const fourth: NextState = {
      findings: third.findings.map((f, i) =>
        i % 9 === 0 ? { ...f, status: f.status === "pass" ? "unknown" : "pass", change: "changed", previousStatus: f.status } : f,
      ),
      attachments: third.attachments.slice(3),
    };
    await commit(store, "tenant", fourth);
    const s5 = await expectSamePaths(store, scan, "tenant");
    expect(s5.generation).toBe(6); // 5 died
    expect(ordinary(s5)).toEqual(ordinary(fourth));
    await commit(store, "tenant", unchangedAfter(fourth));
    const s6 = await expectSamePaths(store, scan, "tenant");
    expect(ordinary(s6)).toEqual(ordinary(unchangedAfter(fourth)));

    // Removing everything: an empty snapshot.
    await commit(store, "tenant", { findings: [], attachments: [] });
    const s7 = await expectSamePaths(store, scan, "tenant");
    expect(s7.findings).toEqual([]);
    expect(s7.attachments).toEqual([]);
  });

  for (const [label, repairMinAgeMs, initialSeed, groupSlotBytes] of [
    ["", undefined, 20260101, undefined],
    [", repaired at once", 0, 7, undefined],
    [", groups of many rows", undefined, 99, 1_200],
  ] as const) {
    test(`random sequences of commits (and dead attempts${label}): snapshot and scan agree after every one`, async () => {
      let seed: number = initialSeed;
      const rnd = (n: number) => {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        return (seed >>> 8) % n;
      };
      const statuses = ["pass", "fail", "unknown"] as const;
      const severities = ["low", "medium", "high", "critical"] as const;
      const rules = ["pull.granted", "network.path", "registry.exists", "identity.kubelet-managed"];
      const store = await newStore({
        ...(repairMinAgeMs !== undefined ? { repairMinAgeMs } : {}),
        ...(groupSlotBytes ? { groupSlotBytes } : {}),
      });
      const scan = await scanner(store);
      let died = 0;
      let survived = 0;
      for (const scope of ["tenant", "mg-Platform", "mg-other"]) {
        let current: NextState = { findings: [], attachments: [] };
        let serial = 0;
        for (let gen = 0; gen < 10; gen++) {
          const findings: Finding[] = [];
          for (const f of current.findings) {
            if (f.change === "removed") continue;
            const roll = rnd(10);
            if (roll === 0) continue; // silently gone
            if (roll === 1) findings.push({ ...f, change: "removed", previousStatus: f.status });
            else if (roll === 2) findings.push({ ...f, status: statuses[rnd(3)], change: "changed", previousStatus: f.status });
            else if (roll === 3) findings.push({ ...asUnchanged(f), severity: severities[rnd(4)] });
            else if (roll === 4)
              findings.push({
                ...asUnchanged(f),
                message: `reworded ${serial++}`,
                exemption: rnd(2) ? { source: "tag", justification: "tagged", expiresOn: null } : null,
              });
            else findings.push(asUnchanged(f));
          }
          for (let k = rnd(6); k > 0; k--) {
            const c = rnd(3) ? clusterId(rnd(12)) : null;
            const r = rnd(3) || !c ? registryId(rnd(4)) : null;
            const candidate = finding({
              ruleId: rules[rnd(rules.length)],
              status: statuses[rnd(3)],
              severity: severities[rnd(4)],
              clusterId: c,
              registryId: r,
              evidence: { n: serial++ },
            });
            if (
              !findings.some(
                (f) => f.ruleId === candidate.ruleId && f.clusterId === candidate.clusterId && f.registryId === candidate.registryId,
              )
            )
              findings.push(candidate);
          }
          const attachments = current.attachments
            .filter(() => rnd(8) !== 0)
            .map((a) =>
              rnd(6) === 0
                ? { ...a, sources: a.sources.includes("declared") ? ["granted" as const] : [...a.sources, "declared" as const] }
                : a,
            );
          if (rnd(2)) {
            const a = { clusterId: clusterId(rnd(12)), registryId: registryId(rnd(4)), sources: ["granted" as const] };
            if (!attachments.some((x) => x.clusterId === a.clusterId && x.registryId === a.registryId)) attachments.push(a);
          }
          const next: NextState = { findings, attachments };
          if (rnd(3) === 0) {
            // A dead attempt first (dies at its k-th request of the commit: reservation, a transaction, the
            // snapshot, the switch...), then the real commit.
            let sent = 0;
            let armed = false;
            const stop = 1 + rnd(8);
            const faulty = await newStore({
              tablePrefix: prefixOf(store),
              httpClient: new DyingHttpClient(() => armed && ++sent === stop),
              ...(groupSlotBytes ? { groupSlotBytes } : {}),
            });
            const before = await faulty.loadState(scope);
            armed = true;
            await faulty.commitRun(scope, runRecord(scope), before, next).then(
              () => survived++,
              () => died++,
            );
            if (died + survived > 0) await expectSamePaths(store, scan, scope);
          }
          await commit(store, scope, next);
          const loaded = await expectSamePaths(store, scan, scope);
          expect(comparable(loaded)).toEqual(comparable(next));
          if (repairMinAgeMs === 0) {
            // Dead attempts' snapshots are gone with their slots: only the named one and its predecessor remain.
            const parts = await snapshotPartitions(store, scope);
            expect(parts).toContain(Number((await pointerOf(store, scope)).snapGen));
            expect(parts.length).toBeLessThanOrEqual(2);
          }
          current = next;
        }
      }
      expect(died).toBeGreaterThan(3);
    });
  }

  test("forget requests and exemptions are read from their own partitions, not the snapshot", async () => {
    const store = await newStore();
    const scan = await scanner(store);
    await commit(store, "tenant", estate(3, 1));
    await store.forgetAttachment("tenant", clusterId(1), registryId(0));
    await store.putExemption("tenant", {
      id: "x1",
      ruleId: "pull.granted",
      clusterId: clusterId(1),
      registryId: null,
      justification: "j",
      expiresOn: null,
      createdAt: "2026-01-01T00:00:00Z",
    });
    const s = await expectSamePaths(store, scan, "tenant");
    expect(s.forgotten).toHaveLength(1);
    expect(s.exemptions.map((x) => x.id)).toEqual(["x1"]);
  });

  test("a snapshot that is a large multi-entity one (incompressible evidence) round-trips", async () => {
    const store = await newStore();
    const scan = await scanner(store);
    // Random hex evidence compresses ~2:1: about 1.5 MB of snapshot, three entities of 11 chunks.
    const findings = Array.from({ length: 250 }, (_, i) =>
      finding({
        ruleId: "pull.granted",
        clusterId: clusterId(i),
        registryId: registryId(i % 7),
        evidence: { blob: randomBytes(6000).toString("hex") },
      }),
    );
    await commit(store, "tenant", { findings, attachments: [] });
    const ptr = await pointerOf(store);
    expect(Number(ptr.snapChunks)).toBeGreaterThan(SNAPSHOT_CHUNKS_PER_ENTITY);
    const s = await expectSamePaths(store, scan, "tenant");
    expect(comparable(s)).toEqual(comparable({ findings, attachments: [] }));
  });

  describe("a damaged or missing snapshot falls back to the scan (and the next commit rebuilds it)", () => {
    type Damage = (state: TableClient, scope: string, gen: number) => Promise<void>;
    const snapRows = async (state: TableClient, scope: string, gen: number) => {
      const out: Record<string, unknown>[] = [];
      const pk = keys.snapshotPartition(scope, gen);
      for await (const e of state.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${pk}'` } }))
        out.push(e);
      return out;
    };
    const damages: [string, string, Damage][] = [
      [
        "a flipped byte",
        "hash",
        async (state, scope, gen) => {
          const [e] = await snapRows(state, scope, gen);
          const b = Buffer.from(e.b0 as Uint8Array);
          b[Math.floor(b.length / 2)] ^= 0xff;
          await state.upsertEntity({ ...plain(e), b0: b }, "Replace");
        },
      ],
      [
        "a missing snapshot",
        "missing",
        async (state, scope, gen) => {
          for (const e of await snapRows(state, scope, gen)) await state.deleteEntity(String(e.partitionKey), String(e.rowKey));
        },
      ],
      [
        "a truncated chunk",
        "truncated",
        async (state, scope, gen) => {
          const [e] = await snapRows(state, scope, gen);
          const b = Buffer.from(e.b0 as Uint8Array);
          await state.upsertEntity({ ...plain(e), b0: Buffer.from(b.subarray(0, b.length - 10)) }, "Replace");
        },
      ],
      [
        "a chunk property gone",
        "truncated",
        async (state, scope, gen) => {
          const [e] = await snapRows(state, scope, gen);
          const { b0: _gone, ...rest } = plain(e);
          await state.upsertEntity(rest, "Replace");
        },
      ],
      [
        "an older snapshot format in the pointer",
        "format",
        async (state, scope) => {
          await state.updateEntity({ partitionKey: keys.controlPartition(scope), rowKey: "pointer", snapFormat: 0 }, "Merge");
        },
      ],
      [
        "a pointer from a version without snapshots",
        "absent",
        async (state, scope) => {
          const p = await state.getEntity<Record<string, unknown>>(keys.controlPartition(scope), "pointer");
          const { snapGen: _g, snapChunks: _c, snapBytes: _b, snapSha256: _h, snapFormat: _f, ...rest } = plain(p);
          await state.upsertEntity(rest, "Replace");
        },
      ],
      [
        "another scope's snapshot (valid hash) under this one's name",
        "corrupt",
        async (state, scope, gen) => {
          // Scope "other" was committed once (generation 1): copy its snapshot over this one and make the
          // pointer's hash match it. The header names another scope and generation.
          for (const e of await snapRows(state, scope, gen)) await state.deleteEntity(String(e.partitionKey), String(e.rowKey));
          for (const e of await snapRows(state, "other", 1)) {
            await state.upsertEntity({ ...plain(e), partitionKey: keys.snapshotPartition(scope, gen) }, "Replace");
          }
          const other = await state.getEntity<Record<string, unknown>>(keys.controlPartition("other"), "pointer");
          await state.updateEntity(
            {
              partitionKey: keys.controlPartition(scope),
              rowKey: "pointer",
              snapChunks: other.snapChunks,
              snapBytes: other.snapBytes,
              snapSha256: other.snapSha256,
            },
            "Merge",
          );
        },
      ],
    ];
    for (const [what, reason, damage] of damages) {
      test(what, async () => {
        const store = await newStore();
        const scan = await scanner(store);
        const first = estate(8, 2);
        await commit(store, "other", estate(2, 1));
        await commit(store, "tenant", first);
        const second = variedSecond(first);
        await commit(store, "tenant", second);
        const expected = await scan.loadState("tenant");

        await damage(rawTable(store, "state"), "tenant", 2);
        const before = store.snapshotStats();
        const loaded = await store.loadState("tenant");
        expect(loaded).toEqual(expected);
        const after = store.snapshotStats();
        expect(after.fallbacks).toBe(before.fallbacks + 1);
        expect(after.snapshotHits).toBe(before.snapshotHits);
        expect(after.reasons[reason as keyof typeof after.reasons]).toBe((before.reasons[reason as keyof typeof before.reasons] ?? 0) + 1);
        expect(after.lastFallback).toMatch(/generation 2 of tenant/);

        // The next commit, though unchanged, writes a fresh snapshot; loads hit it again.
        await store.startRun("tenant", runRecord("tenant"));
        await store.commitRun("tenant", runRecord("tenant"), loaded, unchangedAfter(second));
        expect(Number((await pointerOf(store)).snapGen)).toBe(3);
        const parts = await snapshotPartitions(store);
        expect(parts).toContain(3);
        expect(parts.every((g) => g >= 2)).toBe(true); // generation 1's was pruned by commit 2
        await expectSamePaths(store, scan, "tenant");
      });
    }
  });

  test("a commit dying after its snapshot is written but before the switch leaves readers on the previous state", async () => {
    const prefix = uniquePrefix("snapcrash");
    const store = await newStore({ tablePrefix: prefix });
    const scan = await scanner(store);
    const first = estate(20, 3);
    await commit(store, "tenant", first);
    const before = await expectSamePaths(store, scan, "tenant");

    // Dies at the switch, i.e. after every write of generation 2, the snapshot included.
    let pointerWrites = 0;
    let snapshotWritten = false;
    const dying = new DyingHttpClient((req) => {
      if (isBatch(req) && typeof req.body === "string" && req.body.includes("|snap|0000000002")) snapshotWritten = true;
      return isPointerWrite(req) && ++pointerWrites === 2;
    });
    const faulty = await newStore({ tablePrefix: prefix, httpClient: dying });
    const second = variedSecond(first);
    const previous = await faulty.loadState("tenant");
    await expect(faulty.commitRun("tenant", runRecord("tenant"), previous, second)).rejects.toThrow();
    expect(snapshotWritten).toBe(true);
    expect(await snapshotPartitions(store)).toEqual([1, 2]);

    // Readers still get generation 1, from its snapshot.
    const after = await expectSamePaths(store, scan, "tenant");
    expect(after).toEqual(before);
    expect(after.generation).toBe(1);
    const ptr = await pointerOf(store);
    expect(Number(ptr.committed)).toBe(1);
    expect(Number(ptr.reserved)).toBe(2);
    expect(Number(ptr.snapGen)).toBe(1);

    // An unchanged run (no snapshot written, so nothing prunes): the dead snapshot stays until repair...
    await commit(store, "tenant", unchangedAfter({ findings: first.findings.map(asUnchanged), attachments: first.attachments }));
    expect(await snapshotPartitions(store)).toEqual([1, 2]);
    await expectSamePaths(store, scan, "tenant");
    // ...which deletes it with the dead generation's slots (here at once).
    const repairing = await newStore({ tablePrefix: prefix, repairMinAgeMs: 0 });
    await commit(repairing, "tenant", { findings: first.findings.map(asUnchanged), attachments: first.attachments });
    expect(await snapshotPartitions(store)).toEqual([1]);
    expect(JSON.parse(String((await pointerOf(store)).skip))).toEqual([]);
    await expectSamePaths(store, scan, "tenant");

    // A changed commit after another crash prunes the dead snapshot right after its switch.
    let pw = 0;
    const dying2 = await newStore({ tablePrefix: prefix, httpClient: new DyingHttpClient((req) => isPointerWrite(req) && ++pw === 2) });
    await expect(dying2.commitRun("tenant", runRecord("tenant"), await dying2.loadState("tenant"), second)).rejects.toThrow();
    expect(await snapshotPartitions(store)).toEqual([1, 5]);
    await commit(store, "tenant", second);
    expect(await snapshotPartitions(store)).toEqual([1, 6]); // 1 is what readers of generation 4 used
    await expectSamePaths(store, scan, "tenant");
    await commit(store, "tenant", variedSecond(unchangedAfter(second)));
    expect(await snapshotPartitions(store)).toEqual([6, 7]);
    await expectSamePaths(store, scan, "tenant");
  });

  test("an unchanged run of 500 clusters x 8 findings costs under 1% of the first run's operations, and few requests", async () => {
    const store = await newStore();
    const scan = await scanner(store);
    const next = estate(500, 50);
    const run = async (n: NextState) => {
      const o = store.operations();
      const r = store.requests();
      const t = performance.now();
      const previous = await store.loadState("tenant");
      const loadMs = performance.now() - t;
      const loadOps = store.operations() - o;
      const loadRequests = store.requests() - r;
      const rec = runRecord("tenant");
      await store.startRun("tenant", rec);
      await store.commitRun("tenant", rec, previous, n);
      return { ops: store.operations() - o, requests: store.requests() - r, loadOps, loadRequests, loadMs, ms: performance.now() - t };
    };
    const first = await run(next);
    const second = await run({ findings: next.findings.map(asUnchanged), attachments: next.attachments });
    expect(store.snapshotStats()).toMatchObject({ snapshotHits: 1, fallbacks: 0 });

    // The same load by the full scan, for comparison.
    const so = scan.operations();
    const sr = scan.requests();
    const ts = performance.now();
    const scanned = await scan.loadState("tenant");
    const scanMs = performance.now() - ts;
    const scanOps = scan.operations() - so;
    const scanRequests = scan.requests() - sr;
    expect(comparable(scanned)).toEqual(comparable({ findings: next.findings.map(asUnchanged), attachments: next.attachments }));
    const t = performance.now();
    const viaSnapshot = await store.loadState("tenant");
    const snapMs = performance.now() - t;
    expect(viaSnapshot).toEqual(scanned);

    console.log(
      `[table-store snapshot] 500x8: first run ${first.ops} ops / ${first.requests} requests (${first.ms.toFixed(0)} ms); ` +
        `unchanged run ${second.ops} ops / ${second.requests} requests (${second.ms.toFixed(0)} ms), of which loadState ` +
        `${second.loadOps} ops / ${second.loadRequests} requests (${second.loadMs.toFixed(0)} ms); ` +
        `loadState by snapshot ${snapMs.toFixed(0)} ms vs by scan ${scanOps} ops / ${scanRequests} requests (${scanMs.toFixed(0)} ms); ` +
        `snapshot ${String((await pointerOf(store)).snapBytes)} bytes`,
    );
    expect(second.ops).toBeLessThan(first.ops * 0.01);
    // pointer + snapshot + forget requests + exemptions; startRun; pointer read, switch, run record
    expect(second.loadOps).toBeLessThanOrEqual(4);
    expect(second.ops).toBeLessThanOrEqual(8);
    expect(second.loadRequests).toBeLessThanOrEqual(4);
    expect(second.requests).toBeLessThanOrEqual(8);
    // The first run is packed into group rows (a few dozen transactions): an unchanged run still costs less.
    expect(second.requests).toBeLessThan(first.requests);
    expect(second.loadRequests).toBeLessThan(scanRequests);
    expect(second.loadOps).toBeLessThan(scanOps * 0.01);
  });
});
