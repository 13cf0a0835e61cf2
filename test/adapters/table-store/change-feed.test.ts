import { expect, test } from "vitest";
import { startEmbeddedAzurite } from "../../../src/adapters/table-store/embedded-azurite.js";
import { keys } from "../../../src/adapters/table-store/index.js";
import type { Finding } from "../../../src/core/findings.js";
import { commit, estate, finding, newStore, rawEntities, rawTable, sortFindings } from "./fixtures.js";

test("a commit of 20,000 changed findings writes its change feed as a handful of chunk entities; listChanges round-trips it", async () => {
  // The ~50,000 finding-copy writes keep an Azurite busy for half a minute: an Azurite of its own, so the
  // other test files' (no-retry) requests to the shared one are not starved meanwhile.
  const azurite = await startEmbeddedAzurite();
  try {
    await twentyThousand(azurite.tableUrl);
  } finally {
    await azurite.stop();
  }
}, 240_000);

async function twentyThousand(endpoint: string): Promise<void> {
  const store = await newStore({ endpoint, retryOptions: { maxRetries: 3, retryDelayInMs: 200 } });
  const all = estate(2_500, 10);
  const findings = all.findings.slice(0, 20_000);
  expect(findings.length).toBe(20_000);
  const { run } = await commit(store, "tenant", { findings, attachments: all.attachments });

  const runsRows = await rawEntities(rawTable(store, "runs", endpoint));
  const feedPk = keys.changePartition("tenant", run.id);
  const feedRows = runsRows.filter((e) => e.partitionKey === feedPk);
  // 20,000 entities before; now a few (11 x 64,000 bytes of gzip each), the first with the header.
  expect(feedRows.length).toBeGreaterThan(0);
  expect(feedRows.length).toBeLessThanOrEqual(3);
  expect(feedRows.every((e) => String(e.rowKey).startsWith("~feed|"))).toBe(true);
  const head = feedRows.find((e) => e.rowKey === "~feed|00000")!;
  expect(Number(head.count)).toBe(20_000);
  expect(String(head.sha256)).toMatch(/^[0-9a-f]{64}$/);
  // The runs table holds the feed and the run record, nothing else.
  expect(runsRows.length).toBe(feedRows.length + 1);

  const o = store.operations();
  const r = store.requests();
  const changes = await store.listChanges("tenant", run.id);
  expect(store.requests() - r).toBe(1);
  expect(store.operations() - o).toBe(feedRows.length);
  expect(sortFindings(changes)).toEqual(sortFindings(findings));
  // Same order as the per-finding feed had: by feed row key.
  const rows = changes.map((f) => keys.findingRow(f));
  expect(rows).toEqual([...rows].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
}

test("listChanges still reads old per-finding feeds, and refuses a chunked feed that fails its SHA-256 check", async () => {
  const store = await newStore();
  const runs = rawTable(store, "runs");
  const a = finding({ ruleId: "registry.admin-user", status: "fail", severity: "medium", registryId: "/subscriptions/s/x/registries/b" });
  const b = finding({ ruleId: "network.path", status: "pass", clusterId: "/subscriptions/s/x/managedClusters/a" });
  const legacy: Finding[] = [a, b];
  const pk = keys.changePartition("tenant", "legacy-run");
  for (const f of legacy) {
    await runs.createEntity({
      partitionKey: pk,
      rowKey: keys.findingRow(f),
      change: f.change,
      status: f.status,
      severity: f.severity,
      d: JSON.stringify(f),
    });
  }
  expect(sortFindings(await store.listChanges("tenant", "legacy-run"))).toEqual(sortFindings(legacy));

  // A chunked feed that does not match its SHA-256 fails its checks instead of returning doubtful data.
  const big = estate(300, 10);
  const { run } = await commit(store, "tenant", big);
  const feedPk = keys.changePartition("tenant", run.id);
  const feedRows = (await rawEntities(runs)).filter((e) => e.partitionKey === feedPk);
  expect(feedRows.length).toBe(1);
  const head = feedRows[0];
  await runs.updateEntity({ partitionKey: feedPk, rowKey: "~feed|00000", sha256: "0".repeat(64) }, "Merge");
  await expect(store.listChanges("tenant", run.id)).rejects.toMatchObject({ code: "CorruptData" });
  await runs.updateEntity({ partitionKey: feedPk, rowKey: "~feed|00000", sha256: head.sha256 }, "Merge");
  expect(sortFindings(await store.listChanges("tenant", run.id))).toEqual(sortFindings(big.findings));
}, 180_000);
