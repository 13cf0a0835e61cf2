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
  TOMBSTONE,
  canonicalJson,
  decodeAttachment,
  encodeAttachment,
  encodeFinding,
  encodeFindingParts,
  findingAt,
  findingContent,
  getChunked,
  hasSkippedSlot,
  putChunked,
  slotProperties,
  slotsOf,
  toNumber,
  visibleSlot,
  type Slot,
  type View,
} from "./codec.js";
import { decodeCursor, encodeCursor, queryHash, type QueryCursor } from "./continuation.js";
import {
  SNAPSHOT_FORMAT,
  buildSnapshot,
  readSnapshot,
  type SnapshotAttachment,
  type SnapshotContent,
  type SnapshotFinding,
  type SnapshotProblem,
  type SnapshotRef,
} from "./snapshot.js";
import { TableStoreError } from "./errors.js";
import { buildFeed, readFeed, type FeedEntry } from "./feed.js";
import { invertedTimeKey, isCanonicalRunId, keys, prefixEnd, runRowKey } from "./keys.js";
import { CountedTable, OpCounter, runBounded, statusOf, type RawEntity, type WriteOp } from "./table-access.js";

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
    throw new TableStoreError("InvalidArgument", `Invalid table prefix "${prefix}": letters and digits, starting with a letter, at most 58`);
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
    opts.allowInsecureConnection ?? (/TableEndpoint=http:\/\//i.test(connectionString) || /UseDevelopmentStorage=true/i.test(connectionString));
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
  etag?: string;
}

/** A raw entity of the findings table with the table it lives in, for garbage collection. */
interface GcTarget {
  partitionKey: string;
  rowKey: string;
}

interface CachedScope {
  generation: number;
  /** Entities that were tombstones (or invisible copies of removed findings) at `generation`. */
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

/** Sort key giving the order of a scan (by PartitionKey, then RowKey; keys are ASCII, so NUL sorts first). */
function scanOrder(pk: string, rk: string): string {
  return `${pk}\u0000${rk}`;
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
  private readonly snapStats: SnapshotStats = { loads: 0, snapshotHits: 0, fallbacks: 0, reasons: {}, written: 0 };

  private constructor(findings: TableClient, runs: TableClient, state: TableClient, opts: TableStoreClientOptions) {
    this.findings = new CountedTable(findings, this.counter);
    this.runs = new CountedTable(runs, this.counter);
    this.state = new CountedTable(state, this.counter);
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.repairMinAgeMs = opts.repairMinAgeMs ?? 15 * 60_000;
    this.now = opts.now ?? Date.now;
    this.snapshotReads = opts.snapshotReads ?? true;
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
          const curHolder = String(current.holder ?? "");
          const curExpires = String(current.expiresAt ?? "");
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
    return { acquired: false, holder: String(current?.holder ?? ""), expiresAt: String(current?.expiresAt ?? "") };
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
      const parsed = JSON.parse(String(e.skip ?? "[]")) as unknown;
      if (Array.isArray(parsed)) {
        skip = parsed
          .filter((x): x is SkipEntry => !!x && typeof x === "object" && typeof (x as SkipEntry).g === "number")
          .map((x) => ({ g: x.g, at: String(x.at ?? "") }));
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
            sha256: String(e.snapSha256 ?? ""),
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
        return { generation: ptr.committed, lastRunId: ptr.lastRunId, findings: read.findings, attachments: read.attachments, forgotten, exemptions };
      }
      problem = read.problem;
      why = `${read.problem}: ${read.detail}`;
    }
    this.snapStats.fallbacks++;
    this.snapStats.reasons[problem] = (this.snapStats.reasons[problem] ?? 0) + 1;
    this.snapStats.lastFallback = `generation ${ptr.committed} of ${scopeKey}: ${why}`;
    return this.scanState(scopeKey, ptr, problem === "disabled" ? undefined : false);
  }

  /** The committed state by scanning every finding and attachment entity of the scope. */
  private async scanState(scopeKey: string, first: Pointer, snapshotOk?: boolean): Promise<StoredState> {
    for (let attempt = 0; ; attempt++) {
      const ptr = attempt === 0 ? first : await this.readPointer(scopeKey);
      const view = this.viewOf(ptr);
      const statusPrefix = keys.statusPrefix(scopeKey);
      const attPrefix = keys.attachmentPrefix(scopeKey);
      const [statusRaw, attRaw, forgotten, exemptions] = await Promise.all([
        ptr.committed > 0 ? this.findings.allWithPrefix(statusPrefix, prefixEnd(statusPrefix)) : Promise.resolve([]),
        ptr.committed > 0 ? this.findings.allWithPrefix(attPrefix, prefixEnd(attPrefix)) : Promise.resolve([]),
        this.readForgotten(scopeKey),
        this.listExemptions(scopeKey),
      ]);
      if (ptr.committed > 0 && attempt < 4) {
        // Slots of generation C survive one commit (which keeps them as its old slot) but not two: if a
        // second commit may have started while we read, read again.
        const after = await this.readPointer(scopeKey);
        const stable =
          after.committed === ptr.committed || (after.base === ptr.committed && after.reserved === after.committed);
        if (!stable) continue;
      }
      const findings: Finding[] = [];
      const gc: GcTarget[] = [];
      const visibleKeys = new Set<string>();
      const tombstoned: RawEntity[] = [];
      for (const e of statusRaw) {
        const slot = visibleSlot(e, view);
        if (!slot) continue;
        if (slot.data === TOMBSTONE) {
          tombstoned.push(e);
          gc.push({ partitionKey: e.partitionKey, rowKey: e.rowKey });
        } else {
          findings.push(findingAt(slot, view));
          visibleKeys.add(e.rowKey);
        }
      }
      // A finding removed altogether left tombstones in its cluster and registry copies too.
      for (const e of tombstoned) {
        if (visibleKeys.has(e.rowKey)) continue;
        visibleKeys.add(e.rowKey); // once per finding
        const id = identityOf(e);
        if (id) for (const copy of keys.copies(scopeKey, id).slice(1)) gc.push(copy);
      }
      const attachments: StoredAttachment[] = [];
      for (const e of attRaw) {
        const slot = visibleSlot(e, view);
        if (!slot) continue;
        if (slot.data === TOMBSTONE) gc.push({ partitionKey: e.partitionKey, rowKey: e.rowKey });
        else attachments.push(decodeAttachment(slot.data));
      }
      this.cache.set(scopeKey, { generation: ptr.committed, gc, ...(snapshotOk !== undefined ? { snapshotOk } : {}) });
      return { generation: ptr.committed, lastRunId: ptr.lastRunId, findings, attachments, forgotten, exemptions };
    }
  }

  private async readForgotten(scopeKey: string): Promise<StoredState["forgotten"]> {
    const rows = await this.state.allInPartition(keys.forgottenPartition(scopeKey));
    return rows.map((e) => ({
      clusterId: String(e.clusterId ?? ""),
      registryId: String(e.registryId ?? ""),
      requestedAt: String(e.requestedAt ?? ""),
    }));
  }

  // ------------------------------------------------------------------------------------------------------
  // Commit

  async commitRun(scopeKey: string, run: RunRecord, previous: StoredState, next: NextState): Promise<void> {
    const cached = this.cache.get(scopeKey);
    this.cache.delete(scopeKey);
    const ptr = await this.readPointer(scopeKey);
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

    const findingOps: WriteOp[] = [];
    const feed: FeedEntry[] = [];
    const written = new Set<string>();
    const newTombstones: GcTarget[] = [];
    const content: SnapshotContent = { findings: [], attachments: [], gc: newTombstones };
    this.planFindings(scopeKey, C, N, previous.findings, next.findings, findingOps, feed, written, newTombstones, content.findings);
    this.planAttachments(scopeKey, C, N, previous.attachments, next.attachments, findingOps, written, newTombstones, content.attachments);
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
      const viewC: View = { gen: C, skip: new Set(skipAll.map((s) => s.g)) };
      const prefix = keys.scopePrefix(scopeKey);
      const raw = await this.findings.allWithPrefix(prefix, prefixEnd(prefix));
      for (const e of raw) {
        if (!hasSkippedSlot(e, repairSet) || written.has(writeKey(e.partitionKey, e.rowKey))) continue;
        const slot = visibleSlot(e, viewC);
        if (!slot || slot.data === TOMBSTONE) {
          findingOps.push({ kind: "delete", partitionKey: e.partitionKey, rowKey: e.rowKey });
        } else {
          findingOps.push({ kind: "upsert", entity: { partitionKey: e.partitionKey, rowKey: e.rowKey, ...slotProperties(slot, undefined) } });
        }
      }
      newSkip = skipAll.filter((s) => !repairSet.has(s.g));
      // Snapshots the aborted attempts wrote (never named by a committed pointer).
      for (const e of await this.listSnapshotEntities(scopeKey)) {
        const g = keys.snapshotGeneration(e.partitionKey);
        if (g !== undefined && repairSet.has(g)) stateOps.push({ kind: "delete", partitionKey: e.partitionKey, rowKey: e.rowKey });
      }
    }

    // The snapshot of N, written before the switch like every other write of N (its partition is N's own).
    let snapshot: SnapshotRef | undefined = ptr.snap;
    const snapshotOps: WriteOp[] = [];
    if (needSnapshot) {
      const built = await buildSnapshot(scopeKey, N, content);
      snapshot = built.ref;
      for (const entity of built.entities) snapshotOps.push({ kind: "upsert", entity: entity as TableEntity<Record<string, unknown>> });
    }

    // The change feed: the run's changed findings, compressed into a few chunk entities of its partition.
    const feedOps: WriteOp[] = (await buildFeed(scopeKey, run.id, keys.changePartition(scopeKey, run.id), feed)).map((entity) => ({
      kind: "upsert",
      entity: entity as TableEntity<Record<string, unknown>>,
    }));

    let etag = ptr.etag;
    const reservedAt = isoNow(nowMs);
    if (findingOps.length > 0 || feedOps.length > 0 || stateOps.length > 0 || snapshotOps.length > 0) {
      // Reserve N first: if this attempt dies, the next one knows N's slots are garbage.
      etag = await this.writePointer(scopeKey, { ...ptr, reserved: N, reservedAt, attempt }, etag);
      // A retried run must not keep feed entries its aborted attempt wrote and this one would not.
      if (aborted.length > 0) await this.deletePartition(this.runs, keys.changePartition(scopeKey, run.id));
      const tasks = [
        ...this.state.batches(snapshotOps).map((b) => () => this.state.submit(b)),
        ...this.findings.batches(findingOps).map((b) => () => this.findings.submit(b)),
        ...this.runs.batches(feedOps).map((b) => () => this.runs.submit(b)),
        ...this.state.batches(stateOps).map((b) => () => this.state.submitDeletesTolerant(b)),
      ];
      await runBounded(tasks, this.concurrency);
    }
    // The switch: one conditional write. Before it, readers see C; after it, N.
    await this.writePointer(
      scopeKey,
      { committed: N, reserved: N, base: C, lastRunId: run.id, skip: newSkip, reservedAt, attempt, ...(snapshot ? { snap: snapshot } : {}) },
      etag,
    );
    if (needSnapshot) this.snapStats.written++;
    await this.putRun(scopeKey, run);

    // After the switch, best effort: consumed forget requests, tombstones that were already invisible at C.
    await this.clearForgotten(scopeKey, run, previous).catch(() => undefined);
    if (cached && cached.generation === C) {
      const gc = cached.gc.filter((t) => !written.has(writeKey(t.partitionKey, t.rowKey)));
      await this.collect(gc).catch(() => undefined);
    }
    // Snapshots no pointer names any more: all but N's and the one readers of C may still be reading.
    if (needSnapshot) await this.pruneSnapshots(scopeKey, new Set([N, ptr.snap?.gen ?? N])).catch(() => undefined);
    this.cache.set(scopeKey, { generation: N, gc: newTombstones });
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

  private planFindings(
    scopeKey: string,
    C: number,
    N: number,
    previous: Finding[],
    next: Finding[],
    ops: WriteOp[],
    feed: FeedEntry[],
    written: Set<string>,
    newTombstones: GcTarget[],
    snapshot: SnapshotFinding[],
  ): void {
    const prev = new Map<string, Finding>();
    for (const f of previous) prev.set(findingKey(f), f);
    const nxt = new Map<string, Finding>();
    for (const f of next) nxt.set(findingKey(f), f);
    const address = (c: { partitionKey: string; rowKey: string }) => writeKey(c.partitionKey, c.rowKey);
    for (const k of new Set([...prev.keys(), ...nxt.keys()])) {
      const p = prev.get(k);
      const n = nxt.get(k);
      const pe = p ? encodeFindingParts(p) : undefined;
      const pj = pe?.stored;
      const nj = n ? encodeFinding(n) : undefined;
      if (n && nj && n.change !== "unchanged") {
        feed.push({ rowKey: keys.findingRow(n), json: nj });
      }
      if (pj && nj && n!.change === "unchanged" && findingContent(pj) === findingContent(nj)) {
        // Not rewritten: readers of N see the entity's C-visible data, i.e. `p` (whole, even where the
        // stored form of `p` would now be cut), read back as unchanged.
        snapshot.push({ order: scanOrder(keys.statusPartition(scopeKey, p!.status, p!.severity), keys.findingRow(p!)), written: false, json: pe!.canonical });
        continue;
      }
      // Every copy either finding had: kept ones get (C: old, N: new), dropped ones a tombstone at N.
      const pCopies = p ? keys.copies(scopeKey, p) : [];
      const nCopies = n ? keys.copies(scopeKey, n) : [];
      if (nj) snapshot.push({ order: scanOrder(nCopies[0].partitionKey, nCopies[0].rowKey), written: true, json: nj });
      const inP = new Set(pCopies.map(address));
      const inN = new Set(nCopies.map(address));
      const all = new Map([...pCopies, ...nCopies].map((c) => [address(c), c] as const));
      for (const [addr, c] of all) {
        const older: Slot | undefined = pj && inP.has(addr) ? { gen: C, data: pj } : undefined;
        const newer: Slot = nj && inN.has(addr) ? { gen: N, data: nj } : { gen: N, data: TOMBSTONE };
        if (newer.data === TOMBSTONE) newTombstones.push(c);
        ops.push({ kind: "upsert", entity: { partitionKey: c.partitionKey, rowKey: c.rowKey, ...slotProperties(older, newer) } });
        written.add(addr);
      }
    }
  }

  private planAttachments(
    scopeKey: string,
    C: number,
    N: number,
    previous: StoredAttachment[],
    next: StoredAttachment[],
    ops: WriteOp[],
    written: Set<string>,
    newTombstones: GcTarget[],
    snapshot: SnapshotAttachment[],
  ): void {
    const rowOf = (a: StoredAttachment) => keys.attachmentRow(a.clusterId, a.registryId);
    const prev = new Map(previous.map((a) => [rowOf(a), a] as const));
    const nxt = new Map(next.map((a) => [rowOf(a), a] as const));
    for (const rowKey of new Set([...prev.keys(), ...nxt.keys()])) {
      const pa = prev.get(rowKey);
      const na = nxt.get(rowKey);
      const pj = pa ? encodeAttachment(pa) : undefined;
      const nj = na ? encodeAttachment(na) : undefined;
      const partitionKey = keys.attachmentPartition(scopeKey, rowKey);
      if (nj !== undefined) snapshot.push({ order: scanOrder(partitionKey, rowKey), json: nj });
      if (pj !== undefined && pj === nj) continue;
      const newer: Slot = { gen: N, data: nj ?? TOMBSTONE };
      if (newer.data === TOMBSTONE) newTombstones.push({ partitionKey, rowKey });
      ops.push({ kind: "upsert", entity: { partitionKey, rowKey, ...slotProperties(pj ? { gen: C, data: pj } : undefined, newer) } });
      written.add(writeKey(partitionKey, rowKey));
    }
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
    const consumed = (requestedAt: unknown) => Date.parse(String(requestedAt ?? "")) <= startedAt;
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
    const candidates = await this.runs.all(
      odata`PartitionKey eq ${keys.runPartition(scopeKey)} and RowKey ge ${invertedTimeKey(before)}`,
      ["RowKey", "runId", "startedAt"],
    );
    const old = candidates.filter((e) => Date.parse(String(e.startedAt ?? "")) < limit && typeof e.runId === "string");
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

  async queryFindings(scopeKey: string, query: FindingQuery, top: number, continuation?: string): Promise<Page<Finding>> {
    if (!Number.isFinite(top) || top < 1) throw new TableStoreError("InvalidArgument", `top must be at least 1 (got ${top})`);
    const want = Math.min(1000, Math.floor(top));
    const { targets, matches, fingerprint } = this.accessPath(scopeKey, query);
    const hash = queryHash(scopeKey, fingerprint);
    const secret = await this.tokenSecret();
    const cursorIn: QueryCursor | undefined = continuation !== undefined ? decodeCursor(continuation, secret, hash, targets.length) : undefined;
    const ptr = await this.readPointer(scopeKey);
    // Keep later pages at the first page's generation while that generation is still intact.
    const pinned =
      cursorIn &&
      (cursorIn.generation === ptr.committed || (cursorIn.generation === ptr.base && ptr.reserved === ptr.committed));
    const view = this.viewOf(ptr, pinned ? cursorIn.generation : ptr.committed);
    const items: Finding[] = [];
    if (view.gen === 0) return { items };
    let p = cursorIn?.partition ?? 0;
    let token = cursorIn?.token;
    for (; p < targets.length; p++, token = undefined) {
      for (;;) {
        const page = await this.findings.page(targets[p].filter, want - items.length, token);
        for (const e of page.items) {
          const slot = visibleSlot(e, view);
          if (!slot || slot.data === TOMBSTONE) continue;
          const f = findingAt(slot, view);
          if (matches(f)) items.push(f);
        }
        token = page.continuationToken;
        if (!token) break;
        if (items.length >= want) {
          return { items, continuation: encodeCursor(secret, hash, { partition: p, token, generation: view.gen }) };
        }
      }
      if (items.length >= want && p + 1 < targets.length) {
        return { items, continuation: encodeCursor(secret, hash, { partition: p + 1, generation: view.gen }) };
      }
    }
    return { items };
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
   * The cheapest reads answering a query, in order: one cluster's or one registry's row range in its bucket,
   * else one status+severity partition, else the status+severity partitions it spans. `matches` applies
   * what the read itself does not (e.g. status on a cluster read).
   */
  private accessPath(
    scopeKey: string,
    q: FindingQuery,
  ): { targets: { partitionKey: string; filter: string }[]; matches: (f: Finding) => boolean; fingerprint: string } {
    const cluster = q.clusterId?.toLowerCase();
    const registry = q.registryId?.toLowerCase();
    const matches = (f: Finding) =>
      (cluster === undefined || (f.clusterId ?? "").toLowerCase() === cluster) &&
      (registry === undefined || (f.registryId ?? "").toLowerCase() === registry) &&
      (q.status === undefined || f.status === q.status) &&
      (q.severity === undefined || f.severity === q.severity);
    const fingerprint = canonicalJson({ c: cluster, r: registry, s: q.status, v: q.severity });
    const range = (partitionKey: string, id: string) => {
      const { from, to } = keys.subjectRange(id);
      return { partitionKey, filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${from} and RowKey lt ${to}` };
    };
    if (q.clusterId) return { targets: [range(keys.clusterPartition(scopeKey, q.clusterId), q.clusterId)], matches, fingerprint };
    if (q.registryId) return { targets: [range(keys.registryPartition(scopeKey, q.registryId), q.registryId)], matches, fingerprint };
    const statuses = q.status ? [q.status] : STATUS_ORDER;
    const severities = q.severity ? [q.severity] : SEVERITY_ORDER;
    const targets = statuses.flatMap((s) =>
      severities.map((v) => {
        const partitionKey = keys.statusPartition(scopeKey, s, v);
        return { partitionKey, filter: odata`PartitionKey eq ${partitionKey}` };
      }),
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
        id: String(e.id ?? ""),
        ruleId: String(e.ruleId ?? ""),
        clusterId: typeof e.clusterId === "string" ? e.clusterId : null,
        registryId: typeof e.registryId === "string" ? e.registryId : null,
        justification: String(e.justification ?? ""),
        expiresOn: typeof e.expiresOn === "string" ? e.expiresOn : null,
        createdAt: String(e.createdAt ?? ""),
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

/**
 * The subject of a finding entity, from whichever slot holds data (a tombstone is always written next to
 * the data it replaces); undefined for an entity with no data left.
 */
function identityOf(e: RawEntity): { ruleId: string; clusterId: string | null; registryId: string | null; status: string; severity: string } | undefined {
  for (const slot of slotsOf(e)) {
    if (slot.data === TOMBSTONE) continue;
    try {
      const f = JSON.parse(slot.data) as Finding;
      return { ruleId: f.ruleId, clusterId: f.clusterId ?? null, registryId: f.registryId ?? null, status: f.status, severity: f.severity };
    } catch {
      return undefined;
    }
  }
  return undefined;
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
