/**
 * `AuditStore` over Azure Table Storage (Azurite locally). Design and protocol: docs/storage.md.
 *
 * Readers see one committed generation at a time: every versioned entity carries two (generation, data)
 * slots, a reader reads the committed generation from the scope's pointer entity and uses, per entity, the
 * newest slot whose generation is <= committed and not an aborted one. A commit writes only what changed,
 * each rewritten entity holding what readers saw (old slot) and the new generation (new slot), and switches
 * readers by writing the pointer last, guarded by its ETag. A commit that changes the state also writes a
 * compressed snapshot of it (snapshot.ts) before the switch, and the pointer names it: `loadState` reads
 * the pointer and that snapshot, and scans the entities only when the snapshot does not verify.
 */
import { randomBytes } from "node:crypto";
import { TableClient, odata, type TableEntity } from "@azure/data-tables";
import type { NamedKeyCredential, TokenCredential } from "@azure/core-auth";
import type { HttpClient, PipelineRetryOptions } from "@azure/core-rest-pipeline";
import { findingKey, type Finding, type Severity, type Status } from "../../core/findings.js";
import type {
  ApiExemption,
  AuditStore,
  FindingQuery,
  Lease,
  LeaseResult,
  NextState,
  Page,
  RunRecord,
  StoredAttachment,
  StoredState,
} from "../../core/ports.js";
import {
  canonicalJson,
  copySlot,
  decodeAttachment,
  encodeAttachment,
  encodeFinding,
  encodeFindingParts,
  findingAt,
  getChunked,
  hasSkippedSlot,
  isTombstone,
  putChunked,
  slotText,
  toNumber,
  visibleSlot,
  type View,
} from "./codec.js";
import {
  GROUP_SLOT_BYTES,
  chunkProps,
  groupOfRow,
  groupRange,
  groupRow,
  joinParts,
  packGroup,
  unpackPart,
  type GroupPart,
  type Item,
} from "./groups.js";
import { decodeCursor, encodeCursor, queryHash, type QueryCursor } from "./continuation.js";
import {
  SNAPSHOT_FORMAT,
  buildSnapshot,
  byOrder,
  readSnapshot,
  type SnapshotContent,
  type SnapshotProblem,
  type SnapshotRef,
} from "./snapshot.js";
import { TableStoreError } from "./errors.js";
import { buildFeed, readFeed, type FeedEntry } from "./feed.js";
import { invertedTimeKey, isCanonicalRunId, keys, prefixEnd, runRowKey, type CopyAddress } from "./keys.js";
import { CountedTable, OpCounter, runBounded, statusOf, type RawEntity, type WriteOp } from "./table-access.js";
import { text } from "../../core/text.js";

export interface TableStoreClientOptions {
  /** Table name prefix (letters and digits, starting with a letter); default `acraudit`. */
  tablePrefix?: string;
  /** Required for `http://` endpoints (Azurite). */
  allowInsecureConnection?: boolean;
  /** The SDK's retry policy (transient 5xx/503, 429 with Retry-After) stays on; tune it here. */
  retryOptions?: PipelineRetryOptions;
  /** Transport override (tests, fault injection). */
  httpClient?: HttpClient;
  /** Transactions in flight at once during a commit (default 8). */
  concurrency?: number;
  /**
   * Slots left by an aborted commit are physically cleaned (and their generation dropped from the pointer's
   * skip list) once the abort is this old (default 15 minutes: no stale writer can still be writing).
   */
  repairMinAgeMs?: number;
  /** Clock (ms since epoch), for tests. */
  now?: () => number;
  /**
   * `loadState` reads the committed-state snapshot the pointer names (default true). False always scans
   * every finding entity (tests compare both paths); commits write snapshots either way.
   */
  snapshotReads?: boolean;
  /**
   * Compressed bytes per group row (default and maximum GROUP_SLOT_BYTES, 320,000). Tests set a few KB so
   * that ordinary states pack into groups of many rows.
   */
  groupSlotBytes?: number;
  /**
   * Re-encodes every prepared finding at commit and fails (InvalidArgument) when it no longer matches what
   * `prepare` encoded: a finding changed after it was prepared. For tests; it costs a second encoding.
   */
  verifyPrepared?: boolean;
}

/** Where the last commit's time went (milliseconds), for benchmarks and tuning. */
export interface CommitPhases {
  /** Encoding both states, finding the dirty groups, building their items. */
  planMs: number;
  /** Reading the current rows of the dirty groups (none on a first commit). */
  readMs: number;
  /** Packing and compressing the dirty groups. */
  packMs: number;
  /** Reservation, group transactions, snapshot and feed (compressed meanwhile), up to the switch. */
  writeMs: number;
  /** The whole commitRun, garbage collection included. */
  totalMs: number;
  dirtyGroups: number;
  /** Findings whose encoding `prepare` had made (the rest were encoded in the plan). */
  prepared: number;
}

/** How `loadState` got its states: from the snapshot, or by scanning (and why). */
export interface SnapshotStats {
  loads: number;
  /** Loads answered from the snapshot. */
  snapshotHits: number;
  /** Loads of a committed scope that scanned every entity instead. */
  fallbacks: number;
  /** Fallbacks by cause: `absent` (the pointer names no snapshot), `disabled`, or a snapshot problem. */
  reasons: Partial<Record<SnapshotProblem | "absent" | "disabled", number>>;
  lastFallback?: string;
  /** Snapshots written by commits. */
  written: number;
}

export interface TableStoreOptions extends TableStoreClientOptions {
  /** `https://<account>.table.core.windows.net`, or Azurite's `http://127.0.0.1:<port>/devstoreaccount1`. */
  endpoint: string;
  credential: TokenCredential | NamedKeyCredential;
}

export const DEFAULT_TABLE_PREFIX = "acraudit";

/** Table names derived from a prefix. */
export function tableNames(prefix = DEFAULT_TABLE_PREFIX): { findings: string; runs: string; state: string } {
  if (!/^[A-Za-z][A-Za-z0-9]{0,57}$/.test(prefix)) {
    throw new TableStoreError(
      "InvalidArgument",
      `Invalid table prefix "${prefix}": letters and digits, starting with a letter, at most 58`,
    );
  }
  return { findings: `${prefix}findings`, runs: `${prefix}runs`, state: `${prefix}state` };
}

/** Builds the store over an endpoint and a credential (managed identity in Azure); creates its tables if missing. */
export async function createTableStore(opts: TableStoreOptions): Promise<TableAuditStore> {
  const names = tableNames(opts.tablePrefix);
  const clientOptions = sdkOptions(opts, opts.allowInsecureConnection);
  const make = (table: string) => new TableClient(opts.endpoint, table, opts.credential as TokenCredential, clientOptions);
  return TableAuditStore.open(make(names.findings), make(names.runs), make(names.state), opts);
}

/** Builds the store from a connection string (local development, Azurite); creates its tables if missing. */
export async function createTableStoreFromConnectionString(
  connectionString: string,
  opts: TableStoreClientOptions = {},
): Promise<TableAuditStore> {
  const names = tableNames(opts.tablePrefix);
  const insecure =
    opts.allowInsecureConnection ??
    (/TableEndpoint=http:\/\//i.test(connectionString) || /UseDevelopmentStorage=true/i.test(connectionString));
  const clientOptions = sdkOptions(opts, insecure);
  const make = (table: string) => TableClient.fromConnectionString(connectionString, table, clientOptions);
  return TableAuditStore.open(make(names.findings), make(names.runs), make(names.state), opts);
}

function sdkOptions(opts: TableStoreClientOptions, insecure: boolean | undefined) {
  return {
    ...(insecure ? { allowInsecureConnection: true } : {}),
    ...(opts.retryOptions ? { retryOptions: opts.retryOptions } : {}),
    ...(opts.httpClient ? { httpClient: opts.httpClient } : {}),
  };
}

interface SkipEntry {
  /** An aborted generation: slots carrying it are ignored by readers. */
  g: number;
  /** When it was reserved (ISO). */
  at: string;
}

interface Pointer {
  committed: number;
  reserved: number;
  /** The generation `committed` replaced (readers of it stay consistent until the next commit starts). */
  base: number;
  lastRunId: string | null;
  skip: SkipEntry[];
  reservedAt: string | null;
  /** ID of the commit attempt that wrote it (to recognise our own write after a retried request). */
  attempt?: string;
  /** The snapshot of the committed state (absent before the first snapshot, or from an older writer). */
  snap?: SnapshotRef;
  /** Findings layout of the committed state (STORE_LAYOUT; absent: one entity per finding, before packing). */
  layout?: number;
  etag?: string;
}

/** Findings-table layout this store writes and reads: 2 = items packed into group rows (groups.ts). */
export const STORE_LAYOUT = 2;

/** One group of the findings table that a commit rewrites, with the items it holds at the new generation. */
interface DirtyGroup {
  partitionKey: string;
  group: string;
  items: Item[];
}

/** An item of a decoded group row, with the generation of the slot it came from. */
interface ReadItem extends Item {
  partitionKey: string;
  gen: number;
}

/** A row of the findings table, for garbage collection. */
interface GcTarget {
  partitionKey: string;
  rowKey: string;
}

interface CachedScope {
  generation: number;
  /** Group rows that were tombstones at `generation`. */
  gc: GcTarget[];
  /** False when `loadState` found the pointer's snapshot unusable: the next commit writes a new one. */
  snapshotOk?: boolean;
}

const POINTER_ROW = "pointer";
const LEASE_ROW = "lease";
const STATUS_ORDER: readonly Status[] = ["fail", "unknown", "pass"];
const SEVERITY_ORDER: readonly Severity[] = ["critical", "high", "medium", "low"];

function writeKey(pk: string, rk: string): string {
  return `${pk}\n${rk}`;
}

function isoNow(ms: number): string {
  return new Date(ms).toISOString();
}

export class TableAuditStore implements AuditStore {
  private readonly counter = new OpCounter();
  private readonly findings: CountedTable;
  private readonly runs: CountedTable;
  private readonly state: CountedTable;
  private readonly concurrency: number;
  private readonly repairMinAgeMs: number;
  private readonly now: () => number;
  /** What the last loadState / commitRun of a scope learnt about tombstones, for garbage collection. */
  private readonly cache = new Map<string, CachedScope>();
  private secret: Buffer | undefined;
  private readonly snapshotReads: boolean;
  private readonly groupSlotBytes: number;
  private phases: CommitPhases | undefined;
  private readonly verifyPrepared: boolean;
  private preparedUsed = 0;
  /** Findings encoded ahead of their commit (`prepare`), with the scope they were encoded for. */
  private readonly prepared = new WeakMap<Finding, { scopeKey: string; json: string; copies: CopyAddress[] }>();
  private readonly snapStats: SnapshotStats = { loads: 0, snapshotHits: 0, fallbacks: 0, reasons: {}, written: 0 };

  private constructor(findings: TableClient, runs: TableClient, state: TableClient, opts: TableStoreClientOptions) {
    this.findings = new CountedTable(findings, this.counter);
    this.runs = new CountedTable(runs, this.counter);
    this.state = new CountedTable(state, this.counter);
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.repairMinAgeMs = opts.repairMinAgeMs ?? 15 * 60_000;
    this.now = opts.now ?? Date.now;
    this.snapshotReads = opts.snapshotReads ?? true;
    this.verifyPrepared = opts.verifyPrepared ?? false;
    this.groupSlotBytes = Math.min(GROUP_SLOT_BYTES, Math.max(1_000, opts.groupSlotBytes ?? GROUP_SLOT_BYTES));
  }

  static async open(findings: TableClient, runs: TableClient, state: TableClient, opts: TableStoreClientOptions): Promise<TableAuditStore> {
    await Promise.all(
      [findings, runs, state].map(async (c) => {
        try {
          await c.createTable();
        } catch (e) {
          if (statusOf(e) !== 409) throw e;
        }
      }),
    );
    return new TableAuditStore(findings, runs, state, opts);
  }

  /** Table operations (entity reads, writes, deletes, each entity op of a transaction) since creation. */
  operations(): number {
    return this.counter.operations;
  }

  /** Entities written or deleted since creation. */
  entityWrites(): number {
    return this.counter.entityWrites;
  }

  /** HTTP requests issued (a transaction or a query page is one). */
  requests(): number {
    return this.counter.requests;
  }

  /** Where the last `commitRun` spent its time (undefined before the first). */
  lastCommitPhases(): CommitPhases | undefined {
    return this.phases && { ...this.phases };
  }

  /** Debug counters of `loadState`: snapshot hits and fallbacks to the entity scan. */
  snapshotStats(): SnapshotStats {
    return { ...this.snapStats, reasons: { ...this.snapStats.reasons } };
  }

  tableNames(): { findings: string; runs: string; state: string } {
    return { findings: this.findings.name, runs: this.runs.name, state: this.state.name };
  }

  // ------------------------------------------------------------------------------------------------------
  // Lease

  async acquireLease(scopeKey: string, holder: string, ttlSeconds: number): Promise<LeaseResult> {
    const pk = keys.controlPartition(scopeKey);
    let current: RawEntity | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.now();
      const expiresAt = isoNow(now + Math.max(1, ttlSeconds) * 1000);
      const entity = { partitionKey: pk, rowKey: LEASE_ROW, holder, expiresAt, acquiredAt: isoNow(now) };
      try {
        let etag: string;
        if (!current) {
          etag = await this.state.create(entity);
        } else {
          const curHolder = text(current.holder);
          const curExpires = text(current.expiresAt);
          // The same holder renews its own lease; anyone else waits for expiry.
          if (curHolder !== holder && Date.parse(curExpires) > now) {
            return { acquired: false, holder: curHolder, expiresAt: curExpires };
          }
          etag = await this.state.replace(entity, current.etag);
        }
        return { acquired: true, lease: { scopeKey, holder, etag, expiresAt } };
      } catch (e) {
        // 409: it exists (create lost); 412: replaced by someone else meanwhile; 404: released meanwhile.
        if (statusOf(e) !== 409 && statusOf(e) !== 412 && statusOf(e) !== 404) throw e;
      }
      current = await this.state.get(pk, LEASE_ROW);
    }
    return { acquired: false, holder: text(current?.holder), expiresAt: text(current?.expiresAt) };
  }

  async releaseLease(lease: Lease): Promise<void> {
    try {
      await this.state.delete(keys.controlPartition(lease.scopeKey), LEASE_ROW, lease.etag);
    } catch (e) {
      if (statusOf(e) !== 412 && statusOf(e) !== 404) throw e;
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Pointer

  private async readPointer(scopeKey: string): Promise<Pointer> {
    const e = await this.state.get(keys.controlPartition(scopeKey), POINTER_ROW);
    if (!e) return { committed: 0, reserved: 0, base: 0, lastRunId: null, skip: [], reservedAt: null };
    let skip: SkipEntry[] = [];
    try {
      const parsed = JSON.parse(text(e.skip, "[]")) as unknown;
      if (Array.isArray(parsed)) {
        skip = parsed
          .filter((x): x is SkipEntry => !!x && typeof x === "object" && typeof (x as SkipEntry).g === "number")
          .map((x) => ({ g: x.g, at: text(x.at) }));
      }
    } catch {
      skip = [];
    }
    const committed = toNumber(e.committed) ?? 0;
    const snapGen = toNumber(e.snapGen);
    const snap: SnapshotRef | undefined =
      snapGen !== undefined && snapGen > 0
        ? {
            gen: snapGen,
            chunks: toNumber(e.snapChunks) ?? 0,
            bytes: toNumber(e.snapBytes) ?? 0,
            sha256: text(e.snapSha256),
            format: toNumber(e.snapFormat) ?? 0,
          }
        : undefined;
    return {
      committed,
      reserved: Math.max(committed, toNumber(e.reserved) ?? committed),
      base: toNumber(e.base) ?? 0,
      lastRunId: typeof e.lastRunId === "string" && e.lastRunId !== "" ? e.lastRunId : null,
      skip,
      reservedAt: typeof e.reservedAt === "string" ? e.reservedAt : null,
      attempt: typeof e.attempt === "string" ? e.attempt : undefined,
      ...(snap ? { snap } : {}),
      ...(toNumber(e.layout) !== undefined ? { layout: toNumber(e.layout) } : {}),
      etag: e.etag,
    };
  }

  /**
   * Writes the pointer guarded by `etag` (create when there is none); a lost race is `ConcurrentCommit`.
   * A 412/409 can also be our own write applied by an attempt whose response was lost and then retried
   * by the SDK: the attempt ID tells them apart.
   */
  private async writePointer(scopeKey: string, p: Pointer, etag: string | undefined): Promise<string> {
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey: keys.controlPartition(scopeKey),
      rowKey: POINTER_ROW,
      committed: p.committed,
      reserved: p.reserved,
      base: p.base,
      lastRunId: p.lastRunId ?? "",
      skip: JSON.stringify(p.skip),
      reservedAt: p.reservedAt ?? "",
      attempt: p.attempt ?? "",
      layout: STORE_LAYOUT,
      updatedAt: isoNow(this.now()),
    };
    if (p.snap) {
      entity.snapGen = p.snap.gen;
      entity.snapChunks = p.snap.chunks;
      entity.snapBytes = p.snap.bytes;
      entity.snapSha256 = p.snap.sha256;
      entity.snapFormat = p.snap.format;
    }
    try {
      return etag ? await this.state.replace(entity, etag) : await this.state.create(entity);
    } catch (e) {
      if (statusOf(e) === 412 || statusOf(e) === 409) {
        const now = await this.readPointer(scopeKey);
        if (p.attempt && now.attempt === p.attempt && now.committed === p.committed && now.reserved === p.reserved && now.etag) {
          return now.etag;
        }
        throw new TableStoreError("ConcurrentCommit", `Another writer changed the state of scope ${scopeKey} during this commit`);
      }
      throw e;
    }
  }

  private viewOf(p: Pointer, gen = p.committed): View {
    return { gen, skip: new Set(p.skip.map((s) => s.g)) };
  }

  /** Refuses a committed state written in another findings layout (it would read as corrupt groups). */
  private checkLayout(scopeKey: string, p: Pointer): void {
    if (p.committed > 0 && p.layout !== STORE_LAYOUT) {
      throw new TableStoreError(
        "IncompatibleLayout",
        `The findings of scope ${scopeKey} were written by an older version (layout ${p.layout ?? 1}, this version reads ${STORE_LAYOUT}): ` +
          "point AUDIT_TABLE_PREFIX at new tables, or delete the old ones (locally: the CLI's data directory, .aks-acr-audit by default), and run an audit",
      );
    }
  }

  /**
   * The items of findings-table rows as readers at `view` see them: per group, the visible data slots,
   * checked to be one complete packing. Rows outside a group layout, broken parts: CorruptData.
   */
  private readItems(rows: RawEntity[], view: View, onTombstone?: (e: RawEntity) => void): ReadItem[] {
    const parts = new Map<string, { partitionKey: string; group: string; parts: (GroupPart & { gen: number })[] }>();
    for (const e of rows) {
      const slot = visibleSlot(e, view);
      if (!slot) continue;
      if (isTombstone(slot)) {
        onTombstone?.(e);
        continue;
      }
      const where = `${e.partitionKey} / ${e.rowKey}`;
      const group = groupOfRow(e.rowKey);
      if (group === undefined) throw new TableStoreError("CorruptData", `Findings entity ${where} is not a group row`);
      const id = writeKey(e.partitionKey, group);
      let g = parts.get(id);
      if (!g) parts.set(id, (g = { partitionKey: e.partitionKey, group, parts: [] }));
      g.parts.push({ ...unpackPart(group, slotText(e, slot), where), gen: slot.gen });
    }
    const out: ReadItem[] = [];
    for (const g of parts.values()) {
      const items = joinParts(g.group, g.parts, `${g.partitionKey} / ${g.group}`);
      // One commit writes every part of a packing: parts of different generations are not one packing.
      const gen = g.parts[0].gen;
      if (g.parts.some((p) => p.gen !== gen)) {
        throw new TableStoreError(
          "CorruptData",
          `Findings group ${g.partitionKey} / ${g.group}: its visible parts come from generations ${[...new Set(g.parts.map((p) => p.gen))].join(", ")}`,
        );
      }
      for (const it of items) out.push({ key: it.key, json: it.json, partitionKey: g.partitionKey, gen });
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------------------
  // Reading the committed state

  /**
   * The committed state: from the snapshot the pointer names (pointer + one partition + the forget and
   * exemption partitions) when it verifies, else by scanning every finding and attachment entity.
   */
  async loadState(scopeKey: string): Promise<StoredState> {
    this.snapStats.loads++;
    const ptr = await this.readPointer(scopeKey);
    if (ptr.committed === 0) return this.scanState(scopeKey, ptr); // nothing committed: nothing to scan
    this.checkLayout(scopeKey, ptr);
    let problem: SnapshotProblem | "absent" | "disabled";
    let why: string;
    if (!this.snapshotReads) {
      problem = "disabled";
      why = "snapshot reads are disabled";
    } else if (!ptr.snap) {
      problem = "absent";
      why = "the pointer names no snapshot";
    } else if (ptr.snap.format !== SNAPSHOT_FORMAT) {
      problem = "format";
      why = `snapshot format ${ptr.snap.format}, this store reads ${SNAPSHOT_FORMAT}`;
    } else {
      const snap = ptr.snap;
      const [raw, forgotten, exemptions] = await Promise.all([
        this.state.allInPartition(keys.snapshotPartition(scopeKey, snap.gen)),
        this.readForgotten(scopeKey),
        this.listExemptions(scopeKey),
      ]);
      // The snapshot of a generation is written once, before the switch to it, and the pointer holds its
      // hash: what verifies is that generation's state, so unlike the scan no second pointer read is needed.
      const read = readSnapshot(scopeKey, ptr.committed, snap, raw);
      if (read.ok) {
        this.snapStats.snapshotHits++;
        // Its tombstones were collected by the commit after the snapshot's own.
        this.cache.set(scopeKey, { generation: ptr.committed, gc: snap.gen === ptr.committed ? read.gc : [], snapshotOk: true });
        return {
          generation: ptr.committed,
          lastRunId: ptr.lastRunId,
          findings: read.findings,
          attachments: read.attachments,
          forgotten,
          exemptions,
        };
      }
      problem = read.problem;
      why = `${read.problem}: ${read.detail}`;
    }
    this.snapStats.fallbacks++;
    this.snapStats.reasons[problem] = (this.snapStats.reasons[problem] ?? 0) + 1;
    this.snapStats.lastFallback = `generation ${ptr.committed} of ${scopeKey}: ${why}`;
    return this.scanState(scopeKey, ptr, problem === "disabled" ? undefined : false);
  }

  /** The committed state by scanning every group row of the scope (status copies, attachments, the rest for their tombstones). */
  private async scanState(scopeKey: string, first: Pointer, snapshotOk?: boolean): Promise<StoredState> {
    for (let attempt = 0; ; attempt++) {
      const ptr = attempt === 0 ? first : await this.readPointer(scopeKey);
      if (attempt > 0) this.checkLayout(scopeKey, ptr);
      const view = this.viewOf(ptr);
      const prefix = keys.scopePrefix(scopeKey);
      const [raw, forgotten, exemptions] = await Promise.all([
        ptr.committed > 0 ? this.findings.allWithPrefix(prefix, prefixEnd(prefix)) : Promise.resolve([]),
        this.readForgotten(scopeKey),
        this.listExemptions(scopeKey),
      ]);
      if (ptr.committed > 0 && attempt < 4) {
        // Slots of generation C survive one commit (which keeps them as its old slot) but not two: if a
        // second commit may have started while we read, read again.
        const after = await this.readPointer(scopeKey);
        const stable = after.committed === ptr.committed || (after.base === ptr.committed && after.reserved === after.committed);
        if (!stable) continue;
      }
      const statusPrefix = keys.statusPrefix(scopeKey);
      const attPrefix = keys.attachmentPrefix(scopeKey);
      const gc: GcTarget[] = [];
      const wanted: RawEntity[] = [];
      for (const e of raw) {
        if (e.partitionKey.startsWith(statusPrefix) || e.partitionKey.startsWith(attPrefix)) {
          wanted.push(e);
          continue;
        }
        const slot = visibleSlot(e, view);
        if (slot && isTombstone(slot)) gc.push({ partitionKey: e.partitionKey, rowKey: e.rowKey });
      }
      const items = this.readItems(wanted, view, (e) => gc.push({ partitionKey: e.partitionKey, rowKey: e.rowKey }));
      // The order of a per-item scan: partition, then item key (the snapshot keeps the same order).
      const ordered = items.sort((a, b) =>
        byOrder({ partitionKey: a.partitionKey, rowKey: a.key }, { partitionKey: b.partitionKey, rowKey: b.key }),
      );
      const findings: Finding[] = [];
      const attachments: StoredAttachment[] = [];
      for (const it of ordered) {
        if (it.partitionKey.startsWith(statusPrefix)) findings.push(findingAt(it.json, it.gen, view));
        else attachments.push(decodeAttachment(it.json));
      }
      this.cache.set(scopeKey, { generation: ptr.committed, gc, ...(snapshotOk !== undefined ? { snapshotOk } : {}) });
      return { generation: ptr.committed, lastRunId: ptr.lastRunId, findings, attachments, forgotten, exemptions };
    }
  }

  private async readForgotten(scopeKey: string): Promise<StoredState["forgotten"]> {
    const rows = await this.state.allInPartition(keys.forgottenPartition(scopeKey));
    return rows.map((e) => ({
      clusterId: text(e.clusterId),
      registryId: text(e.registryId),
      requestedAt: text(e.requestedAt),
    }));
  }

  // ------------------------------------------------------------------------------------------------------
  // Commit

  /** Encodes findings and computes their copies' keys ahead of the commit (the audit calls it while discovery waits). */
  prepare(scopeKey: string, findings: readonly Finding[]): void {
    for (const f of findings) this.prepared.set(f, { scopeKey, json: encodeFinding(f), copies: keys.copies(scopeKey, f) });
  }

  private encoded(scopeKey: string, f: Finding): { json: string; copies?: CopyAddress[] } {
    const p = this.prepared.get(f);
    if (p && p.scopeKey === scopeKey) {
      this.preparedUsed++;
      if (this.verifyPrepared && encodeFinding(f) !== p.json) {
        throw new TableStoreError(
          "InvalidArgument",
          `finding ${f.ruleId} of ${f.clusterId ?? f.registryId ?? "?"} changed after it was prepared`,
        );
      }
      return p;
    }
    return { json: encodeFinding(f) };
  }

  async commitRun(scopeKey: string, run: RunRecord, previous: StoredState, next: NextState): Promise<void> {
    const cached = this.cache.get(scopeKey);
    this.cache.delete(scopeKey);
    const ptr = await this.readPointer(scopeKey);
    this.checkLayout(scopeKey, ptr);
    if (ptr.committed !== previous.generation) {
      throw new TableStoreError(
        "ConcurrentCommit",
        `Scope ${scopeKey} is at generation ${ptr.committed}, but this run loaded generation ${previous.generation}`,
      );
    }
    const C = ptr.committed;
    const N = Math.max(ptr.committed, ptr.reserved) + 1;
    const nowMs = this.now();
    const attempt = randomBytes(9).toString("base64url");
    // Generations reserved by attempts that never committed: their slots must be ignored from now on.
    const aborted: SkipEntry[] = [];
    for (let g = C + 1; g <= ptr.reserved; g++) aborted.push({ g, at: ptr.reservedAt ?? isoNow(nowMs) });
    const skipAll = [...ptr.skip, ...aborted];

    const t0 = performance.now();
    this.preparedUsed = 0;
    const feed: FeedEntry[] = [];
    const written = new Set<string>();
    const newTombstones: GcTarget[] = [];
    const content: SnapshotContent = { findings: [], attachments: [], gc: newTombstones };
    const dirty = this.planState(scopeKey, previous, next, feed, content);
    const viewC: View = { gen: C, skip: new Set(skipAll.map((s) => s.g)) };
    const t1 = performance.now();
    const existing = C > 0 && dirty.size > 0 ? await this.readGroups(dirty) : new Map<string, RawEntity[]>();
    const t2 = performance.now();
    const dirtyGroups = dirty.size;
    const findingOps = await this.groupOps(dirty, existing, viewC, N, written, newTombstones);
    const t3 = performance.now();
    // A new snapshot when the state changes; also when the pointer names none (first commit, a state
    // written by an older version) or loadState found it unusable (then it is rebuilt once).
    const stateChanged = findingOps.length > 0;
    const needSnapshot =
      stateChanged ||
      !ptr.snap ||
      ptr.snap.format !== SNAPSHOT_FORMAT ||
      (cached !== undefined && cached.generation === C && cached.snapshotOk === false);
    const stateOps: WriteOp[] = [];

    // Clean slots of old aborted attempts (rare: only after a crash) so the skip list does not grow forever.
    const repairable = skipAll.filter((s) => Date.parse(s.at) <= nowMs - this.repairMinAgeMs);
    let newSkip = skipAll;
    if (repairable.length > 0) {
      const repairSet = new Set(repairable.map((s) => s.g));
      const prefix = keys.scopePrefix(scopeKey);
      const raw = await this.findings.allWithPrefix(prefix, prefixEnd(prefix));
      for (const e of raw) {
        if (!hasSkippedSlot(e, repairSet) || written.has(writeKey(e.partitionKey, e.rowKey))) continue;
        const slot = visibleSlot(e, viewC);
        if (!slot || isTombstone(slot)) {
          findingOps.push({ kind: "delete", partitionKey: e.partitionKey, rowKey: e.rowKey });
        } else {
          findingOps.push({ kind: "upsert", entity: { partitionKey: e.partitionKey, rowKey: e.rowKey, ...copySlot(e, slot, 0) } });
        }
      }
      newSkip = skipAll.filter((s) => !repairSet.has(s.g));
      // Snapshots the aborted attempts wrote (never named by a committed pointer).
      for (const e of await this.listSnapshotEntities(scopeKey)) {
        const g = keys.snapshotGeneration(e.partitionKey);
        if (g !== undefined && repairSet.has(g)) stateOps.push({ kind: "delete", partitionKey: e.partitionKey, rowKey: e.rowKey });
      }
    }

    // The snapshot of N (written before the switch like every other write of N; its partition is N's own)
    // and the change feed (the run's changed findings in a few chunk entities of its partition) compress
    // while the group rows are written.
    let snapshot: SnapshotRef | undefined = ptr.snap;
    let etag = ptr.etag;
    const reservedAt = isoNow(nowMs);
    if (findingOps.length > 0 || feed.length > 0 || stateOps.length > 0 || needSnapshot) {
      const built = needSnapshot ? buildSnapshot(scopeKey, N, content) : Promise.resolve(undefined);
      const feedEntities = buildFeed(scopeKey, run.id, keys.changePartition(scopeKey, run.id), feed);
      const upserts = (entities: Record<string, unknown>[]): WriteOp[] =>
        entities.map((entity) => ({ kind: "upsert", entity: entity as TableEntity<Record<string, unknown>> }));
      // Reserve N first: if this attempt dies, the next one knows N's slots are garbage.
      etag = await this.writePointer(scopeKey, { ...ptr, reserved: N, reservedAt, attempt }, etag);
      // A retried run must not keep feed entries its aborted attempt wrote and this one would not.
      if (aborted.length > 0) await this.deletePartition(this.runs, keys.changePartition(scopeKey, run.id));
      const results = await Promise.allSettled([
        runBounded(
          [
            ...this.findings.batches(findingOps).map((b) => () => this.findings.submit(b)),
            ...this.state.batches(stateOps).map((b) => () => this.state.submitDeletesTolerant(b)),
          ],
          this.concurrency,
        ),
        (async () => {
          const [snap, feedRows] = await Promise.all([built, feedEntities]);
          if (snap) snapshot = snap.ref;
          await runBounded(
            [
              ...this.state.batches(upserts(snap?.entities ?? [])).map((b) => () => this.state.submit(b)),
              ...this.runs.batches(upserts(feedRows)).map((b) => () => this.runs.submit(b)),
            ],
            this.concurrency,
          );
        })(),
      ]);
      for (const r of results) if (r.status === "rejected") throw r.reason;
    }
    const t4 = performance.now();
    // The switch: one conditional write. Before it, readers see C; after it, N.
    await this.writePointer(
      scopeKey,
      {
        committed: N,
        reserved: N,
        base: C,
        lastRunId: run.id,
        skip: newSkip,
        reservedAt,
        attempt,
        ...(snapshot ? { snap: snapshot } : {}),
      },
      etag,
    );
    if (needSnapshot) this.snapStats.written++;
    // The state is N from here on, whatever happens to the run record: one more try (the SDK retried
    // already), then report exactly that, after the rest of the commit's bookkeeping.
    let recordError: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.putRun(scopeKey, run);
        recordError = undefined;
        break;
      } catch (err) {
        recordError = err;
      }
    }

    // After the switch, best effort: consumed forget requests, tombstones that were already invisible at C.
    await this.clearForgotten(scopeKey, run, previous).catch(() => undefined);
    if (cached && cached.generation === C) {
      const gc = cached.gc.filter((t) => !written.has(writeKey(t.partitionKey, t.rowKey)));
      await this.collect(gc).catch(() => undefined);
    }
    // Snapshots no pointer names any more: all but N's and the one readers of C may still be reading.
    if (needSnapshot) await this.pruneSnapshots(scopeKey, new Set([N, ptr.snap?.gen ?? N])).catch(() => undefined);
    this.cache.set(scopeKey, { generation: N, gc: newTombstones });
    const ms = (a: number, b: number) => Math.round(b - a);
    this.phases = {
      planMs: ms(t0, t1),
      readMs: ms(t1, t2),
      packMs: ms(t2, t3),
      writeMs: ms(t3, t4),
      totalMs: ms(t0, performance.now()),
      dirtyGroups,
      prepared: this.preparedUsed,
    };
    if (recordError !== undefined) {
      throw new TableStoreError(
        "RunRecordFailed",
        `generation ${N} of scope ${scopeKey} is committed, but the record of run ${run.id} could not be written: ${text((recordError as Error).message, "unknown error").split("\n")[0]}`,
      );
    }
  }

  /** Keys of every snapshot entity of a scope (a few per snapshot). */
  private async listSnapshotEntities(scopeKey: string): Promise<RawEntity[]> {
    const prefix = keys.snapshotPrefix(scopeKey);
    return this.state.all(odata`PartitionKey ge ${prefix} and PartitionKey lt ${prefixEnd(prefix)}`, ["PartitionKey", "RowKey"]);
  }

  /** Deletes the scope's snapshots of every generation not in `keep`. */
  private async pruneSnapshots(scopeKey: string, keep: ReadonlySet<number>): Promise<void> {
    const ops: WriteOp[] = [];
    for (const e of await this.listSnapshotEntities(scopeKey)) {
      const g = keys.snapshotGeneration(e.partitionKey);
      if (g !== undefined && !keep.has(g)) ops.push({ kind: "delete", partitionKey: e.partitionKey, rowKey: e.rowKey });
    }
    if (ops.length === 0) return;
    await runBounded(
      this.state.batches(ops).map((b) => () => this.state.submitDeletesTolerant(b)),
      this.concurrency,
    );
  }

  /**
   * The groups this commit rewrites, with what they hold at N; fills the change feed and the snapshot's
   * content. A finding is rewritten when it is new, gone, changed in content, or reported with a change; its
   * groups (those of its old copies and of its new ones) are then rewritten whole. Likewise attachments.
   */
  private planState(
    scopeKey: string,
    previous: StoredState,
    next: NextState,
    feed: FeedEntry[],
    content: SnapshotContent,
  ): Map<string, DirtyGroup> {
    // The previous findings as an unchanged run would report them: a next finding reported unchanged
    // whose stored form equals that is left alone (one encoding each, no parse: a large state has
    // hundreds of thousands). The snapshot keeps the whole form for such findings.
    const prev = new Map<string, { f: Finding; stored: string; canonical: string }>();
    for (const f of previous.findings) {
      const e = encodeFindingParts(
        f.change === "unchanged" && f.previousStatus === null ? f : { ...f, change: "unchanged", previousStatus: null },
      );
      prev.set(findingKey(f), { f, stored: e.stored, canonical: e.canonical });
    }
    const nxt = new Map<string, { f: Finding; json: string }>();
    const copiesOf = new Map<string, CopyAddress[]>();
    for (const f of next.findings) {
      const k = findingKey(f);
      const e = this.encoded(scopeKey, f);
      nxt.set(k, { f, json: e.json });
      if (e.copies) copiesOf.set(k, e.copies);
    }
    const dirty = new Map<string, DirtyGroup>();
    const mark = (c: CopyAddress) => {
      const id = writeKey(c.partitionKey, c.group);
      if (!dirty.has(id)) dirty.set(id, { partitionKey: c.partitionKey, group: c.group, items: [] });
    };
    const copies = (k: string, f: Finding) => {
      let c = copiesOf.get(k);
      if (!c) copiesOf.set(k, (c = keys.copies(scopeKey, f)));
      return c;
    };
    // Both sides carry the drift fields of an unchanged run, so equal strings are equal content.
    const same = (p: { stored: string }, n: { f: Finding; json: string }) => n.f.change === "unchanged" && p.stored === n.json;
    for (const [k, n] of nxt) {
      const p = prev.get(k);
      if (n.f.change !== "unchanged") feed.push({ rowKey: copies(k, n.f)[0].rowKey, json: n.json });
      if (p && same(p, n)) continue;
      for (const c of copies(k, n.f)) mark(c);
      if (p) for (const c of keys.copies(scopeKey, p.f)) mark(c);
    }
    for (const [k, p] of prev) if (!nxt.has(k)) for (const c of keys.copies(scopeKey, p.f)) mark(c);

    const prevAtt = new Map(previous.attachments.map((a) => [keys.attachmentRow(a.clusterId, a.registryId), encodeAttachment(a)] as const));
    const nextAtt = new Map(next.attachments.map((a) => [keys.attachmentRow(a.clusterId, a.registryId), encodeAttachment(a)] as const));
    for (const row of new Set([...prevAtt.keys(), ...nextAtt.keys()])) {
      if (prevAtt.get(row) !== nextAtt.get(row)) mark(keys.attachmentCopy(scopeKey, row));
    }

    // What a dirty group holds at N: every next item whose copy lives in it. The snapshot's lines: a
    // finding whose status group is rewritten is written at N; any other is the previous one, unchanged.
    for (const [k, n] of nxt) {
      const cs = dirty.size > 0 ? copies(k, n.f) : undefined;
      const statusPk = cs ? cs[0].partitionKey : keys.statusPartition(scopeKey, n.f.status, n.f.severity);
      const row = cs ? cs[0].rowKey : keys.findingRow(n.f);
      let writtenAtN = false;
      if (cs) {
        for (const c of cs) {
          const g = dirty.get(writeKey(c.partitionKey, c.group));
          if (!g) continue;
          g.items.push({ key: c.rowKey, json: n.json });
          if (c === cs[0]) writtenAtN = true;
        }
      }
      content.findings.push({
        partitionKey: statusPk,
        rowKey: row,
        written: writtenAtN,
        json: writtenAtN ? n.json : prev.get(k)!.canonical,
      });
    }
    for (const [row, json] of nextAtt) {
      const c = keys.attachmentCopy(scopeKey, row);
      dirty.get(writeKey(c.partitionKey, c.group))?.items.push({ key: row, json });
      content.attachments.push({ partitionKey: c.partitionKey, rowKey: row, json });
    }
    return dirty;
  }

  /** The rows of the dirty groups as they are now: a partition read where many of its groups are dirty, else a range per group. */
  private async readGroups(dirty: Map<string, DirtyGroup>): Promise<Map<string, RawEntity[]>> {
    const byPartition = new Map<string, DirtyGroup[]>();
    for (const g of dirty.values()) {
      let list = byPartition.get(g.partitionKey);
      if (!list) byPartition.set(g.partitionKey, (list = []));
      list.push(g);
    }
    const out = new Map<string, RawEntity[]>();
    const keep = (rows: RawEntity[]) => {
      for (const e of rows) {
        const group = groupOfRow(e.rowKey);
        if (group === undefined) continue;
        const id = writeKey(e.partitionKey, group);
        if (!dirty.has(id)) continue;
        let list = out.get(id);
        if (!list) out.set(id, (list = []));
        list.push(e);
      }
    };
    const tasks: (() => Promise<void>)[] = [];
    for (const [pk, groups] of byPartition) {
      if (groups.length >= 4) {
        tasks.push(async () => keep(await this.findings.allInPartition(pk)));
      } else {
        for (const g of groups) {
          const { from, to } = groupRange(g.group);
          tasks.push(async () => keep(await this.findings.all(odata`PartitionKey eq ${pk} and RowKey ge ${from} and RowKey lt ${to}`)));
        }
      }
    }
    await runBounded(tasks, this.concurrency);
    return out;
  }

  /**
   * The writes of the dirty groups: each of the group's new parts as `(C: what readers of C see in that
   * row, copied as it is; N: the part)`, each row readers of C see that N no longer needs as a tombstone at N.
   */
  private async groupOps(
    dirty: Map<string, DirtyGroup>,
    existing: Map<string, RawEntity[]>,
    viewC: View,
    N: number,
    written: Set<string>,
    newTombstones: GcTarget[],
  ): Promise<WriteOp[]> {
    const ops: WriteOp[] = [];
    const tasks = [...dirty].map(([id, g]) => async () => {
      const parts = await packGroup(g.group, g.items, this.groupSlotBytes);
      g.items = []; // the packed bytes are all that is kept
      const rows = new Map((existing.get(id) ?? []).map((e) => [e.rowKey, e] as const));
      const older = (e: RawEntity | undefined) => {
        const slot = e ? visibleSlot(e, viewC) : undefined;
        return e && slot && !isTombstone(slot) ? copySlot(e, slot, 0) : undefined;
      };
      const newRows = new Set<string>();
      parts.forEach((bytes, i) => {
        const rowKey = groupRow(g.group, i);
        newRows.add(rowKey);
        ops.push({
          kind: "upsert",
          entity: { partitionKey: g.partitionKey, rowKey, ...older(rows.get(rowKey)), g1: N, ...chunkProps(1, bytes) },
        });
        written.add(writeKey(g.partitionKey, rowKey));
      });
      for (const [rowKey, e] of rows) {
        const old = newRows.has(rowKey) ? undefined : older(e);
        if (!old) continue;
        ops.push({ kind: "upsert", entity: { partitionKey: g.partitionKey, rowKey, ...old, g1: N, ...chunkProps(1, null) } });
        written.add(writeKey(g.partitionKey, rowKey));
        newTombstones.push({ partitionKey: g.partitionKey, rowKey });
      }
    });
    await runBounded(tasks, Math.max(2, this.concurrency));
    return ops;
  }

  /** Physically removes entities that no reader of the committed generation (or the one before) can see. */
  private async collect(targets: GcTarget[]): Promise<void> {
    if (targets.length === 0) return;
    const ops: WriteOp[] = targets.map((t) => ({ kind: "delete", partitionKey: t.partitionKey, rowKey: t.rowKey }));
    const tasks = this.findings.batches(ops).map((b) => () => this.findings.submitDeletesTolerant(b));
    await runBounded(tasks, this.concurrency);
  }

  private async clearForgotten(scopeKey: string, run: RunRecord, previous: StoredState): Promise<void> {
    const startedAt = Date.parse(run.startedAt);
    const consumed = (requestedAt: unknown) => Date.parse(text(requestedAt)) <= startedAt;
    if (!previous.forgotten.some((f) => consumed(f.requestedAt))) return;
    const rows = await this.state.allInPartition(keys.forgottenPartition(scopeKey));
    for (const e of rows) {
      if (!consumed(e.requestedAt)) continue;
      try {
        // The ETag keeps a request renewed after the run started.
        await this.state.delete(e.partitionKey, e.rowKey, e.etag);
      } catch (err) {
        if (statusOf(err) !== 412) throw err;
      }
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Runs

  async startRun(scopeKey: string, run: RunRecord): Promise<void> {
    await this.putRun(scopeKey, { ...run, status: "running" });
  }

  async failRun(scopeKey: string, run: RunRecord): Promise<void> {
    await this.putRun(scopeKey, { ...run, status: "failed" });
    // A commit that died after writing part of its change feed leaves it behind: drop it, unless the
    // commit did switch the state (then the feed is the run's real one).
    const ptr = await this.readPointer(scopeKey);
    if (ptr.lastRunId !== run.id) await this.deletePartition(this.runs, keys.changePartition(scopeKey, run.id));
  }

  private async putRun(scopeKey: string, run: RunRecord): Promise<void> {
    const rowKey = runRowKey(run.id, run.startedAt);
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey: keys.runPartition(scopeKey),
      rowKey,
      runId: run.id,
      status: run.status,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt ?? "",
    };
    putChunked(entity, "record", runJson(run));
    await this.runs.upsert(entity);
    if (!isCanonicalRunId(run.id)) {
      await this.runs.upsert({ partitionKey: keys.runAliasPartition(scopeKey), rowKey: keys.idRow(run.id), runRowKey: rowKey });
    }
  }

  async listRuns(scopeKey: string, top: number): Promise<RunRecord[]> {
    const want = Math.max(0, Math.floor(top));
    const out: RunRecord[] = [];
    let token: string | undefined;
    while (out.length < want) {
      const page = await this.runs.page(odata`PartitionKey eq ${keys.runPartition(scopeKey)}`, Math.min(1000, want - out.length), token);
      for (const e of page.items) {
        const r = parseRun(e);
        if (r) out.push(r);
      }
      token = page.continuationToken;
      if (!token) break;
    }
    return out.slice(0, want);
  }

  async getRun(scopeKey: string, runId: string): Promise<RunRecord | undefined> {
    let rowKey: string | undefined = isCanonicalRunId(runId) ? runRowKey(runId) : undefined;
    if (!rowKey) {
      const alias = await this.runs.get(keys.runAliasPartition(scopeKey), keys.idRow(runId));
      if (!alias || typeof alias.runRowKey !== "string") return undefined;
      rowKey = alias.runRowKey;
    }
    const e = await this.runs.get(keys.runPartition(scopeKey), rowKey);
    const r = e ? parseRun(e) : undefined;
    return r && r.id === runId ? r : undefined;
  }

  async listChanges(scopeKey: string, runId: string): Promise<Finding[]> {
    const rows = await this.runs.allInPartition(keys.changePartition(scopeKey, runId));
    return readFeed(scopeKey, runId, rows);
  }

  async pruneHistory(scopeKey: string, before: Date): Promise<number> {
    const limit = before.getTime();
    const candidates = await this.runs.all(odata`PartitionKey eq ${keys.runPartition(scopeKey)} and RowKey ge ${invertedTimeKey(before)}`, [
      "RowKey",
      "runId",
      "startedAt",
    ]);
    const old = candidates.filter((e) => Date.parse(text(e.startedAt)) < limit && typeof e.runId === "string");
    let deleted = 0;
    await runBounded(
      old.map((e) => async () => {
        const runId = e.runId as string;
        await this.deletePartition(this.runs, keys.changePartition(scopeKey, runId));
        if (!isCanonicalRunId(runId)) await this.runs.delete(keys.runAliasPartition(scopeKey), keys.idRow(runId));
        if (await this.runs.delete(keys.runPartition(scopeKey), e.rowKey)) deleted++;
      }),
      this.concurrency,
    );
    return deleted;
  }

  private async deletePartition(table: CountedTable, partitionKey: string): Promise<void> {
    const rows = await table.allInPartition(partitionKey, ["PartitionKey", "RowKey"]);
    if (rows.length === 0) return;
    const ops: WriteOp[] = rows.map((e) => ({ kind: "delete", partitionKey, rowKey: e.rowKey }));
    await runBounded(
      table.batches(ops).map((b) => () => table.submitDeletesTolerant(b)),
      this.concurrency,
    );
  }

  // ------------------------------------------------------------------------------------------------------
  // Queries

  async queryFindings(
    scopeKey: string,
    query: FindingQuery,
    top: number,
    continuation?: string,
    generation?: number,
  ): Promise<Page<Finding>> {
    if (!Number.isFinite(top) || top < 1) throw new TableStoreError("InvalidArgument", `top must be at least 1 (got ${top})`);
    const want = Math.min(1000, Math.floor(top));
    const { targets, matches, fingerprint } = this.accessPath(scopeKey, query);
    const hash = queryHash(scopeKey, fingerprint);
    const secret = await this.tokenSecret();
    const cursorIn: QueryCursor | undefined =
      continuation !== undefined ? decodeCursor(continuation, secret, hash, targets.length) : undefined;
    const ptr = await this.readPointer(scopeKey);
    this.checkLayout(scopeKey, ptr);
    // Keep later pages at the first page's generation while that generation is still intact.
    const pin = cursorIn?.generation ?? generation;
    const pinned = pin !== undefined && (pin === ptr.committed || (pin === ptr.base && ptr.reserved === ptr.committed));
    let view = this.viewOf(ptr, pinned ? pin : ptr.committed);
    let current = ptr.committed;
    const items: Finding[] = [];
    if (view.gen === 0) return { items, generation: 0 };
    for (let p = cursorIn?.partition ?? 0; p < targets.length; p++) {
      const t = targets[p];
      let list: ReadItem[] = [];
      for (let attempt = 0; ; attempt++) {
        let failure: Error | undefined;
        try {
          list = this.readItems(await this.findings.all(t.filter), view);
        } catch (e) {
          if (view.gen === current || attempt > 2 || !(e instanceof TableStoreError && e.code === "CorruptData")) throw e;
          failure = e;
        }
        if (view.gen === current) break;
        // A listing pinned to the generation before the committed one reads slots that the next commit's
        // rewrites drop (a group then reads incomplete, or not at all): if that commit started, read again
        // at the committed generation (the resume key keeps the listing in key order).
        const after = await this.readPointer(scopeKey);
        if (after.committed === current && after.reserved === after.committed) {
          if (failure) throw failure;
          break;
        }
        view = this.viewOf(after);
        current = after.committed;
      }
      if (t.items) list = list.filter((it) => it.key >= t.items!.from && it.key < t.items!.to);
      const resume = p === cursorIn?.partition ? cursorIn.after : undefined;
      if (resume !== undefined) list = list.filter((it) => it.key > resume);
      list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      let found = list.map((it) => ({ it, f: undefined as Finding | undefined }));
      if (t.filtered) found = found.map((x) => ({ it: x.it, f: findingAt(x.it.json, x.it.gen, view) })).filter((x) => matches(x.f));
      const take = found.slice(0, want - items.length);
      for (const x of take) items.push(x.f ?? findingAt(x.it.json, x.it.gen, view));
      if (take.length < found.length) {
        return {
          items,
          continuation: encodeCursor(secret, hash, { partition: p, after: take[take.length - 1].it.key, generation: view.gen }),
          generation: view.gen,
        };
      }
      if (items.length >= want && p + 1 < targets.length) {
        return { items, continuation: encodeCursor(secret, hash, { partition: p + 1, generation: view.gen }), generation: view.gen };
      }
    }
    return { items, generation: view.gen };
  }

  /** The key continuation tokens are signed with: one per set of tables, created on first use. */
  private async tokenSecret(): Promise<Buffer> {
    if (this.secret) return this.secret;
    const pk = "~store";
    const rk = "continuation-secret";
    let e = await this.state.get(pk, rk);
    if (!e) {
      try {
        await this.state.create({ partitionKey: pk, rowKey: rk, secret: randomBytes(32).toString("base64") });
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
      }
      e = await this.state.get(pk, rk);
    }
    if (!e || typeof e.secret !== "string") throw new Error("continuation secret missing from the state table");
    this.secret = Buffer.from(e.secret, "base64");
    return this.secret;
  }

  /**
   * The cheapest reads answering a query, in order: one cluster's or one registry's group (its items by key
   * prefix), else one status+severity partition, else the status+severity partitions it spans.
   * `filtered` reads also apply `matches` (e.g. status on a cluster read); a status read needs no filter.
   */
  private accessPath(
    scopeKey: string,
    q: FindingQuery,
  ): {
    targets: { filter: string; items?: { from: string; to: string }; filtered: boolean }[];
    matches: (f: Finding) => boolean;
    fingerprint: string;
  } {
    const cluster = q.clusterId?.toLowerCase();
    const registry = q.registryId?.toLowerCase();
    const matches = (f: Finding) =>
      (cluster === undefined || (f.clusterId ?? "").toLowerCase() === cluster) &&
      (registry === undefined || (f.registryId ?? "").toLowerCase() === registry) &&
      (q.status === undefined || f.status === q.status) &&
      (q.severity === undefined || f.severity === q.severity);
    const fingerprint = canonicalJson({ c: cluster, r: registry, s: q.status, v: q.severity });
    const subject = (partitionKey: string, id: string) => {
      const { from, to } = groupRange(keys.subjectGroup(id));
      return {
        filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${from} and RowKey lt ${to}`,
        items: keys.subjectRange(id),
        filtered: true,
      };
    };
    if (q.clusterId) return { targets: [subject(keys.clusterPartition(scopeKey, q.clusterId), q.clusterId)], matches, fingerprint };
    if (q.registryId) return { targets: [subject(keys.registryPartition(scopeKey, q.registryId), q.registryId)], matches, fingerprint };
    const statuses = q.status ? [q.status] : STATUS_ORDER;
    const severities = q.severity ? [q.severity] : SEVERITY_ORDER;
    const targets = statuses.flatMap((s) =>
      severities.map((v) => ({ filter: odata`PartitionKey eq ${keys.statusPartition(scopeKey, s, v)}`, filtered: false })),
    );
    return { targets, matches, fingerprint };
  }

  // ------------------------------------------------------------------------------------------------------
  // Forget requests and API exemptions (not versioned: they are requests, read by the next run)

  async forgetAttachment(scopeKey: string, clusterId: string, registryId: string): Promise<void> {
    await this.state.upsert({
      partitionKey: keys.forgottenPartition(scopeKey),
      rowKey: keys.attachmentRow(clusterId, registryId),
      clusterId,
      registryId,
      requestedAt: isoNow(this.now()),
    });
  }

  async listExemptions(scopeKey: string): Promise<ApiExemption[]> {
    const rows = await this.state.allInPartition(keys.exemptionPartition(scopeKey));
    return rows.map((e) => {
      const x: ApiExemption = {
        id: text(e.id),
        ruleId: text(e.ruleId),
        clusterId: typeof e.clusterId === "string" ? e.clusterId : null,
        registryId: typeof e.registryId === "string" ? e.registryId : null,
        justification: text(e.justification),
        expiresOn: typeof e.expiresOn === "string" ? e.expiresOn : null,
        createdAt: text(e.createdAt),
      };
      if (typeof e.createdBy === "string") x.createdBy = e.createdBy;
      return x;
    });
  }

  async putExemption(scopeKey: string, x: ApiExemption): Promise<void> {
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey: keys.exemptionPartition(scopeKey),
      rowKey: keys.idRow(x.id),
      id: x.id,
      ruleId: x.ruleId,
      justification: x.justification,
      createdAt: x.createdAt,
    };
    if (x.clusterId !== null) entity.clusterId = x.clusterId;
    if (x.registryId !== null) entity.registryId = x.registryId;
    if (x.expiresOn !== null) entity.expiresOn = x.expiresOn;
    if (x.createdBy !== undefined) entity.createdBy = x.createdBy;
    await this.state.upsert(entity);
  }

  async deleteExemption(scopeKey: string, id: string): Promise<boolean> {
    return this.state.delete(keys.exemptionPartition(scopeKey), keys.idRow(id));
  }
}

/** The run record as JSON; an absurd number of warnings is cut so the entity stays under 1 MiB. */
function runJson(run: RunRecord): string {
  let json = canonicalJson(run);
  if (json.length <= 400_000) return json;
  const warnings = [...run.warnings];
  let kept = warnings.length;
  while (kept > 0 && json.length > 400_000) {
    kept = Math.floor(kept / 2);
    json = canonicalJson({
      ...run,
      warnings: [
        ...warnings.slice(0, kept),
        { code: "warnings-truncated", message: `${warnings.length - kept} more warnings were not stored` },
      ],
    });
  }
  return json;
}

function parseRun(e: RawEntity): RunRecord | undefined {
  const json = getChunked(e, "record");
  if (!json) return undefined;
  return JSON.parse(json) as RunRecord;
}
