/**
 * A thin layer over `TableClient` that counts table operations (for `operations()` and the run record),
 * splits entity-group transactions (100 operations, one partition, < 4 MiB) and runs them with bounded
 * concurrency.
 */
import type { TableClient, TableEntity, TableEntityResult, TransactionAction } from "@azure/data-tables";
import { odata } from "@azure/data-tables";

export class OpCounter {
  operations = 0;
  entityWrites = 0;
  requests = 0;
}

/** An entity as read: its keys and ETag always present, every other property untyped. */
export type RawEntity = Record<string, unknown> & { partitionKey: string; rowKey: string; etag: string };

function raw(e: TableEntityResult<Record<string, unknown>>): RawEntity {
  return { ...e, partitionKey: e.partitionKey ?? "", rowKey: e.rowKey ?? "", etag: e.etag };
}

/** One write of a commit plan: an upsert (Replace) or a delete, addressed by table, partition and row. */
export type WriteOp =
  { kind: "upsert"; entity: TableEntity<Record<string, unknown>> } | { kind: "delete"; partitionKey: string; rowKey: string };

export function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown })?.statusCode;
  return typeof s === "number" ? s : undefined;
}

/** Entity group transactions must stay under 4 MiB; keep a margin for the multipart framing and escaping. */
const MAX_BATCH_BYTES = 3 * 1024 * 1024;
const MAX_BATCH_OPS = 100;

function opSize(op: WriteOp): number {
  if (op.kind === "delete") return 300 + op.partitionKey.length + op.rowKey.length;
  // Binary properties travel as base64 (with a type annotation); JSON.stringify would size them as objects.
  let binary = 0;
  let rest: Record<string, unknown> = op.entity;
  for (const [k, v] of Object.entries(op.entity)) {
    if (!(v instanceof Uint8Array)) continue;
    if (rest === op.entity) rest = { ...op.entity };
    delete rest[k];
    binary += 2 * k.length + 40 + Math.ceil(v.byteLength / 3) * 4;
  }
  // JSON escaping of JSON-in-strings can nearly double quotes; 1.3 covers typical findings.
  return 400 + Math.ceil(JSON.stringify(rest).length * 1.3) + binary;
}

/** Runs `tasks` at most `limit` at a time; stops starting new ones after the first failure and rethrows it. */
export async function runBounded(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  let failed: unknown;
  let hasFailed = false;
  const worker = async () => {
    while (!hasFailed && next < tasks.length) {
      const task = tasks[next++];
      try {
        await task();
      } catch (e) {
        if (!hasFailed) {
          hasFailed = true;
          failed = e;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  if (hasFailed) throw failed;
}

export class CountedTable {
  constructor(
    readonly client: TableClient,
    private readonly counter: OpCounter,
  ) {}

  get name(): string {
    return this.client.tableName;
  }

  async get(partitionKey: string, rowKey: string): Promise<RawEntity | undefined> {
    this.counter.operations++;
    this.counter.requests++;
    try {
      return raw(await this.client.getEntity<Record<string, unknown>>(partitionKey, rowKey));
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  /** One page of a query; `continuationToken` is the SDK's token. */
  async page(
    filter: string,
    maxPageSize: number,
    continuationToken?: string,
    select?: string[],
  ): Promise<{ items: RawEntity[]; continuationToken?: string }> {
    this.counter.requests++;
    const iter = this.client
      .listEntities<Record<string, unknown>>({ queryOptions: { filter, ...(select ? { select } : {}) } })
      .byPage({ maxPageSize, ...(continuationToken ? { continuationToken } : {}) });
    const r = await iter.next();
    const items = r.done ? [] : r.value.map(raw);
    const token = r.done ? undefined : r.value.continuationToken;
    // An entity read is one operation; an empty page still cost a round trip.
    this.counter.operations += Math.max(1, items.length);
    return { items, continuationToken: token || undefined };
  }

  /** Every entity matching `filter`, page by page. */
  async all(filter: string, select?: string[]): Promise<RawEntity[]> {
    const out: RawEntity[] = [];
    let token: string | undefined;
    do {
      const p = await this.page(filter, 1000, token, select);
      out.push(...p.items);
      token = p.continuationToken;
    } while (token);
    return out;
  }

  async allInPartition(partitionKey: string, select?: string[]): Promise<RawEntity[]> {
    return this.all(odata`PartitionKey eq ${partitionKey}`, select);
  }

  async allWithPrefix(prefix: string, end: string): Promise<RawEntity[]> {
    return this.all(odata`PartitionKey ge ${prefix} and PartitionKey lt ${end}`);
  }

  async create(entity: TableEntity<Record<string, unknown>>): Promise<string> {
    this.counter.operations++;
    this.counter.entityWrites++;
    this.counter.requests++;
    const r = await this.client.createEntity(entity);
    return r.etag ?? "";
  }

  async upsert(entity: TableEntity<Record<string, unknown>>): Promise<string> {
    this.counter.operations++;
    this.counter.entityWrites++;
    this.counter.requests++;
    const r = await this.client.upsertEntity(entity, "Replace");
    return r.etag ?? "";
  }

  /** Replace guarded by ETag (412 when someone else wrote it first). */
  async replace(entity: TableEntity<Record<string, unknown>>, etag: string): Promise<string> {
    this.counter.operations++;
    this.counter.entityWrites++;
    this.counter.requests++;
    const r = await this.client.updateEntity(entity, "Replace", { etag });
    return r.etag ?? "";
  }

  /** Deletes; returns false when it did not exist. With `etag`, 412 propagates. */
  async delete(partitionKey: string, rowKey: string, etag?: string): Promise<boolean> {
    this.counter.operations++;
    this.counter.entityWrites++;
    this.counter.requests++;
    try {
      await this.client.deleteEntity(partitionKey, rowKey, etag ? { etag } : {});
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw e;
    }
  }

  /** Groups ops by partition into transactions of at most 100 operations and ~3 MiB. */
  batches(ops: WriteOp[]): WriteOp[][] {
    const byPartition = new Map<string, WriteOp[]>();
    for (const op of ops) {
      const pk = op.kind === "delete" ? op.partitionKey : op.entity.partitionKey;
      let list = byPartition.get(pk);
      if (!list) byPartition.set(pk, (list = []));
      list.push(op);
    }
    const out: WriteOp[][] = [];
    for (const list of byPartition.values()) {
      let cur: WriteOp[] = [];
      let bytes = 0;
      for (const op of list) {
        const size = opSize(op);
        if (cur.length > 0 && (cur.length >= MAX_BATCH_OPS || bytes + size > MAX_BATCH_BYTES)) {
          out.push(cur);
          cur = [];
          bytes = 0;
        }
        cur.push(op);
        bytes += size;
      }
      if (cur.length) out.push(cur);
    }
    return out;
  }

  /** Submits one partition's batch as an entity group transaction. */
  async submit(batch: WriteOp[]): Promise<void> {
    const actions: TransactionAction[] = batch.map((op) =>
      op.kind === "delete" ? ["delete", { partitionKey: op.partitionKey, rowKey: op.rowKey }] : ["upsert", op.entity, "Replace"],
    );
    this.counter.operations += batch.length;
    this.counter.entityWrites += batch.length;
    this.counter.requests++;
    await this.client.submitTransaction(actions);
  }

  /**
   * Deletes that may target entities already gone (garbage collection): a transaction fails as a whole on
   * one missing entity, so a failed batch is retried entity by entity, ignoring 404.
   */
  async submitDeletesTolerant(batch: WriteOp[]): Promise<void> {
    try {
      await this.submit(batch);
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
      for (const op of batch) if (op.kind === "delete") await this.delete(op.partitionKey, op.rowKey);
    }
  }
}
