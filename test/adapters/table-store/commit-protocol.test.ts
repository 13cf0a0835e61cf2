import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { createDefaultHttpClient, createHttpHeaders, type HttpClient, type PipelineRequest } from "@azure/core-rest-pipeline";
import { startEmbeddedAzurite } from "../../../src/adapters/table-store/embedded-azurite.js";
import type { TableAuditStore } from "../../../src/adapters/table-store/index.js";
import type { Finding } from "../../../src/core/findings.js";
import type { FindingQuery, NextState, StoredState } from "../../../src/core/ports.js";
import {
  DyingHttpClient,
  asUnchanged,
  clusterId,
  commit,
  comparable,
  estate,
  isBatch,
  isPointerWrite,
  newStore,
  rawEntities,
  rawTable,
  registryId,
  runRecord,
  sortFindings,
  uniquePrefix,
} from "./fixtures.js";

/** Generation 2 of the test estate: status flips, removals, additions, attachment changes. */
function secondState(first: NextState): NextState {
  const findings: Finding[] = [];
  first.findings.forEach((f, i) => {
    if (i % 5 === 0) findings.push({ ...f, status: f.status === "fail" ? "pass" : "fail", change: "changed", previousStatus: f.status });
    else if (i % 11 === 0) findings.push({ ...f, change: "removed" });
    else if (i % 13 === 0)
      return; // gone
    else if (i % 7 === 0) findings.push({ ...asUnchanged(f), message: `${f.message}, reworded` });
    else findings.push(asUnchanged(f));
  });
  for (let i = 0; i < 10; i++) {
    findings.push({
      ruleId: "pull.granted",
      status: "fail",
      severity: "high",
      clusterId: clusterId(1000 + i),
      registryId: registryId(0),
      reason: "no-pull-role",
      message: "new cluster",
      evidence: {},
      change: "new",
      previousStatus: null,
      subscriptionId: null,
    });
  }
  const attachments = [
    ...first.attachments
      .filter((_, i) => i % 4 !== 0)
      .map((a, i) => (i % 3 === 0 ? { ...a, sources: [...a.sources, "declared" as const] } : a)),
    ...Array.from({ length: 10 }, (_, i) => ({ clusterId: clusterId(1000 + i), registryId: registryId(0), sources: ["granted" as const] })),
  ];
  return { findings, attachments };
}

const QUERIES: FindingQuery[] = [
  {},
  { clusterId: clusterId(5) },
  { registryId: registryId(1) },
  { status: "fail", severity: "high" },
  { status: "pass" },
];

/** Everything a reader can observe of a scope. */
async function observe(store: TableAuditStore, scope: string) {
  const state = await store.loadState(scope);
  const queries: Finding[][] = [];
  for (const q of QUERIES) {
    const items: Finding[] = [];
    let token: string | undefined;
    do {
      const page = await store.queryFindings(scope, q, 40, token);
      items.push(...page.items);
      token = page.continuation;
    } while (token);
    queries.push(sortFindings(items));
  }
  return { state: { ...state, ...comparable(state) }, queries };
}

function expectedQueries(s: { findings: Finding[] }): Finding[][] {
  return QUERIES.map((q) =>
    sortFindings(
      s.findings.filter(
        (f) =>
          (q.clusterId === undefined || f.clusterId?.toLowerCase() === q.clusterId.toLowerCase()) &&
          (q.registryId === undefined || f.registryId?.toLowerCase() === q.registryId.toLowerCase()) &&
          (q.status === undefined || f.status === q.status) &&
          (q.severity === undefined || f.severity === q.severity),
      ),
    ),
  );
}

type Trigger = () => (req: PipelineRequest, index: number) => boolean;

const CRASHES: [string, Trigger][] = [
  ["at the reservation of the new generation", () => (req) => isPointerWrite(req)],
  [
    "after the first transaction",
    () => {
      let batches = 0;
      return (req) => isBatch(req) && ++batches === 2;
    },
  ],
  [
    "half-way through the transactions",
    () => {
      let batches = 0;
      return (req) => isBatch(req) && ++batches === 12;
    },
  ],
  [
    "at the pointer switch (every data write done)",
    () => {
      let pointerWrites = 0;
      return (req) => isPointerWrite(req) && ++pointerWrites === 2;
    },
  ],
];

describe("commit protocol: all or nothing for readers", () => {
  // Also with group rows of 1,200 bytes, so that every group is packed into many rows (the path of very large groups).
  for (const [when, trigger, groupSlotBytes] of CRASHES.flatMap(
    ([w, t]) =>
      [
        [w, t, undefined],
        [`${w} (groups of many rows)`, t, 1_200],
      ] as const,
  )) {
    test(`a commit dying ${when} leaves readers on the previous state; the next commit succeeds`, async () => {
      const prefix = uniquePrefix("crash");
      const healthy = await newStore({ tablePrefix: prefix, groupSlotBytes });
      const first = estate(40, 4);
      await commit(healthy, "tenant", first);
      const before = await observe(healthy, "tenant");
      expect(before.queries).toEqual(expectedQueries(first));
      const rowsOfGroups = (await rawEntities(rawTable(healthy, "findings"))).filter((e) => !String(e.rowKey).endsWith("|00"));
      expect(rowsOfGroups.length > 0).toBe(groupSlotBytes !== undefined);

      const dying = new DyingHttpClient(trigger());
      const faulty = await newStore({ tablePrefix: prefix, httpClient: dying, groupSlotBytes });
      const second = secondState(first);
      const previous = await faulty.loadState("tenant");
      const run2 = runRecord("tenant");
      await faulty.startRun("tenant", run2);
      await expect(faulty.commitRun("tenant", run2, previous, second)).rejects.toThrow();
      expect(dying.dead).toBe(true);

      // Readers (another instance, as the API would be) still see generation 1 exactly.
      const after = await observe(healthy, "tenant");
      expect(after).toEqual(before);
      expect(after.state.generation).toBe(1);

      // The core records the failure; the feed the dead attempt may have written goes with it.
      await healthy.failRun("tenant", { ...run2, status: "failed", error: "store died" });
      expect((await healthy.getRun("tenant", run2.id))?.status).toBe("failed");
      expect(await healthy.listChanges("tenant", run2.id)).toEqual([]);

      // The next run commits something else than the dead attempt (nothing changed since generation 1, one
      // finding reworded): none of the dead attempt's writes may surface, even where this run writes nothing.
      const retry: NextState = {
        findings: first.findings.map((f, i) => (i === 3 ? { ...asUnchanged(f), message: "retry" } : asUnchanged(f))),
        attachments: first.attachments,
      };
      await commit(healthy, "tenant", retry);
      const sRetry = await observe(healthy, "tenant");
      expect(comparable(sRetry.state)).toEqual(comparable(retry));
      expect(sRetry.queries).toEqual(expectedQueries(retry));

      // Then the changes the dead attempt carried.
      const { run: run3 } = await commit(healthy, "tenant", second);
      const s3 = await observe(healthy, "tenant");
      expect(comparable(s3.state)).toEqual(comparable(second));
      expect(s3.queries).toEqual(expectedQueries(second));
      expect(sortFindings(await healthy.listChanges("tenant", run3.id))).toEqual(
        sortFindings(second.findings.filter((f) => f.change !== "unchanged")),
      );

      // And the one after, unchanged, still reads right (no leftover slot surfaces).
      const third: NextState = {
        findings: second.findings.filter((f) => f.change !== "removed").map(asUnchanged),
        attachments: second.attachments,
      };
      await commit(healthy, "tenant", third);
      const s4 = await observe(healthy, "tenant");
      expect(comparable(s4.state)).toEqual(comparable(third));
      expect(s4.queries).toEqual(expectedQueries(third));
    });
  }

  test("a commit dying after the pointer switch has committed: readers see the new state at once", async () => {
    const prefix = uniquePrefix("late");
    const healthy = await newStore({ tablePrefix: prefix });
    const first = estate(10, 2);
    await commit(healthy, "tenant", first);
    let switched = 0;
    const dying = new DyingHttpClient((req) => {
      if (isPointerWrite(req)) switched++;
      return switched === 2 && !isPointerWrite(req);
    });
    const faulty = await newStore({ tablePrefix: prefix, httpClient: dying });
    const second = secondState(first);
    const previous = await faulty.loadState("tenant");
    const run2 = runRecord("tenant");
    // Said as it is: committed, without its run record (the core then does not report a failed run).
    await expect(faulty.commitRun("tenant", run2, previous, second)).rejects.toMatchObject({ code: "RunRecordFailed" });
    const s = await observe(healthy, "tenant");
    expect(comparable(s.state)).toEqual(comparable(second));
    expect(s.state.lastRunId).toBe(run2.id);
    // failRun keeps the feed of a run whose state did switch.
    await healthy.failRun("tenant", { ...run2, status: "failed" });
    expect((await healthy.listChanges("tenant", run2.id)).length).toBeGreaterThan(0);
  });

  test("slots of an aborted generation are repaired and its generation leaves the skip list", async () => {
    const prefix = uniquePrefix("repair");
    const healthy = await newStore({ tablePrefix: prefix });
    const first = estate(20, 3);
    await commit(healthy, "tenant", first);
    let batches = 0;
    const faulty = await newStore({ tablePrefix: prefix, httpClient: new DyingHttpClient((req) => isBatch(req) && ++batches === 6) });
    const second = secondState(first);
    const previous = await faulty.loadState("tenant");
    await expect(faulty.commitRun("tenant", runRecord("tenant"), previous, second)).rejects.toThrow();
    const abortedGen = 2;
    const slotGens = async () =>
      (await rawEntities(rawTable(healthy, "findings"))).flatMap((e) => [e.g0, e.g1].filter((g) => g !== undefined).map(Number));
    expect(await slotGens()).toContain(abortedGen);

    // A store that repairs at once (default: aborts older than 15 minutes).
    const repairing = await newStore({ tablePrefix: prefix, repairMinAgeMs: 0 });
    // First commit after the abort: generation 3; 2 is skipped.
    const third: NextState = { findings: first.findings.map(asUnchanged), attachments: first.attachments };
    const before = repairing.entityWrites();
    await commit(repairing, "tenant", third);
    expect(repairing.entityWrites() - before).toBeGreaterThan(3); // the repairs
    expect(await slotGens()).not.toContain(abortedGen);
    const pointer = (await rawEntities(rawTable(healthy, "state"))).find((e) => e.rowKey === "pointer")!;
    expect(pointer.committed).toBe(3);
    expect(JSON.parse(String(pointer.skip))).toEqual([]);
    expect(comparable(await healthy.loadState("tenant"))).toEqual(comparable(third));
    expect((await observe(healthy, "tenant")).queries).toEqual(expectedQueries(third));
  });

  test("an Azurite that dies mid-commit and restarts on its data keeps the previous state; the next commit succeeds", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "acraudit-azurite-"));
    let azurite = await startEmbeddedAzurite({ dataDir });
    const port = azurite.port;
    const prefix = uniquePrefix("die");
    try {
      const open = (httpClient?: DyingHttpClient) =>
        newStore({ endpoint: azurite.tableUrl, tablePrefix: prefix, ...(httpClient ? { httpClient } : {}) });
      const store = await open();
      const first = estate(30, 3);
      await commit(store, "tenant", first);
      const before = await observe(store, "tenant");

      let batches = 0;
      let stopping: Promise<void> | undefined;
      const killer = new DyingHttpClient(() => false);
      const faulty = await open(killer);
      // Stop the emulator itself while transactions are in flight.
      const origSend = killer.sendRequest.bind(killer);
      killer.sendRequest = async (req) => {
        if (isBatch(req) && ++batches === 8 && !stopping) stopping = azurite.stop();
        if (stopping) {
          await stopping;
        }
        return origSend(req);
      };
      const previous = await faulty.loadState("tenant");
      await expect(faulty.commitRun("tenant", runRecord("tenant"), previous, secondState(first))).rejects.toThrow();
      await stopping;

      azurite = await startEmbeddedAzurite({ dataDir, port });
      const restarted = await open();
      expect(await observe(restarted, "tenant")).toEqual(before);
      const second = secondState(first);
      await commit(restarted, "tenant", second);
      expect(comparable(await restarted.loadState("tenant"))).toEqual(comparable(second));
    } finally {
      await azurite.stop().catch(() => undefined);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  for (const which of [1, 2]) {
    test(`a pointer write (${which === 1 ? "reservation" : "switch"}) applied but answered 503 is retried and recognised as ours`, async () => {
      const prefix = uniquePrefix("lost");
      const first = estate(5, 1);
      await commit(await newStore({ tablePrefix: prefix }), "tenant", first);
      const inner = createDefaultHttpClient();
      let pointerWrites = 0;
      const lossy: HttpClient = {
        async sendRequest(req) {
          const res = await inner.sendRequest(req);
          if (isPointerWrite(req) && ++pointerWrites === which) {
            return { request: req, status: 503, headers: createHttpHeaders({ "retry-after": "0" }), bodyAsText: "" };
          }
          return res;
        },
      };
      const store = await newStore({
        tablePrefix: prefix,
        httpClient: lossy,
        retryOptions: { maxRetries: 2, retryDelayInMs: 5, maxRetryDelayInMs: 10 },
      });
      const second = secondState(first);
      const { run } = await commit(store, "tenant", second);
      expect(pointerWrites).toBe(3); // reservation, switch, and the retry of one of them
      const s = await store.loadState("tenant");
      expect(comparable(s)).toEqual(comparable(second));
      expect(s.lastRunId).toBe(run.id);
    });
  }

  test("two writers: the one whose state went stale is refused, the committed state is the winner's", async () => {
    const prefix = uniquePrefix("race");
    const a = await newStore({ tablePrefix: prefix });
    const b = await newStore({ tablePrefix: prefix });
    const first = estate(5, 1);
    await commit(a, "tenant", first);
    const pa: StoredState = await a.loadState("tenant");
    const pb: StoredState = await b.loadState("tenant");
    const second = secondState(first);
    await a.commitRun("tenant", runRecord("tenant"), pa, second);
    await expect(b.commitRun("tenant", runRecord("tenant"), pb, first)).rejects.toMatchObject({ code: "ConcurrentCommit" });
    expect(comparable(await b.loadState("tenant"))).toEqual(comparable(second));
  });
});
