/**
 * The committed-state snapshot: the state a generation's readers see (findings and attachments as
 * `loadState` returns them, plus the tombstones that generation left for garbage collection), as
 * Brotli-compressed lines split into Binary chunks over a few entities of one partition of the state table
 * (`<scope>|snap|<generation>`). The pointer names the snapshot (generation, chunk count, byte count,
 * SHA-256 of the compressed bytes), so `loadState` reads the pointer and one partition instead of every
 * finding entity, and falls back to the entity scan on any mismatch. Design: docs/storage.md "Snapshot".
 *
 * Payload (UTF-8 lines, before compression):
 *   {"attachments":m,"findings":n,"gc":k,"gen":G,"scope":"...","v":1}   header
 *   N<finding JSON>   a finding written in generation G (its `change` holds while G is committed)
 *   O<finding JSON>   a finding written in an earlier generation (read back as `unchanged`)
 *   A<attachment JSON>
 *   G["<partitionKey>","<rowKey>"]   a tombstone written in generation G (collected by the next commit)
 * Findings and attachments are in the order the entity scan returns them.
 */
import { createHash } from "node:crypto";
import { compressLines, decompress } from "./compression.js";
import type { Finding } from "../../core/findings.js";
import type { StoredAttachment } from "../../core/ports.js";
import { canonicalJson, decodeAttachment, decodeFinding, toNumber } from "./codec.js";
import { keys } from "./keys.js";
import type { RawEntity } from "./table-access.js";

/** Format of the snapshot and of its reference in the pointer; a pointer naming another one is not read. */
/** 2: Brotli (compression.ts); 1 was gzip, read no more (a pointer naming it makes `loadState` scan once). */
export const SNAPSHOT_FORMAT = 2;
/** Bytes per Binary property (Table Storage allows 64 KiB). */
export const SNAPSHOT_CHUNK_BYTES = 64_000;
/**
 * Chunks per entity: 11 x 64,000 = 704,000 bytes, about 940 KB as base64 on the wire. Azure limits an
 * entity to 1 MiB counting binary as bytes; Azurite counts the request body (base64), hence 11, not 16.
 */
export const SNAPSHOT_CHUNKS_PER_ENTITY = 11;

/** What the pointer records of the snapshot of its state. */
export interface SnapshotRef {
  /** Generation the snapshot was written by (<= committed: unchanged commits keep pointing at it). */
  gen: number;
  /** Binary chunks in all. */
  chunks: number;
  /** Compressed bytes in all. */
  bytes: number;
  /** SHA-256 (hex) of the compressed bytes. */
  sha256: string;
  format: number;
}

export interface SnapshotFinding {
  /** Scan order: status partition key, then item key. */
  partitionKey: string;
  rowKey: string;
  /** True when the finding's entity was written in the snapshot's generation. */
  written: boolean;
  /** The finding as stored (codec `encodeFinding`). */
  json: string;
}

export interface SnapshotAttachment {
  /** Scan order: attachment partition key, then item key. */
  partitionKey: string;
  rowKey: string;
  /** The attachment as stored (codec `encodeAttachment`). */
  json: string;
}

export interface SnapshotAddress {
  partitionKey: string;
  rowKey: string;
}

export interface SnapshotContent {
  findings: SnapshotFinding[];
  attachments: SnapshotAttachment[];
  /** Tombstones written by the snapshot's generation. */
  gc: SnapshotAddress[];
}

export interface BuiltSnapshot {
  ref: SnapshotRef;
  entities: Record<string, unknown>[];
}

type Keyed = { partitionKey: string; rowKey: string };
/** The order of a scan: by partition key, then row key. */
export const byOrder = (a: Keyed, b: Keyed): number =>
  a.partitionKey < b.partitionKey ? -1 : a.partitionKey > b.partitionKey ? 1 : a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0;

/** The snapshot of `content` as generation `gen` of `scopeKey`: its pointer reference and its entities. */
export async function buildSnapshot(scopeKey: string, gen: number, content: SnapshotContent): Promise<BuiltSnapshot> {
  const findings = [...content.findings].sort(byOrder);
  const attachments = [...content.attachments].sort(byOrder);
  const header = canonicalJson({
    v: SNAPSHOT_FORMAT,
    scope: scopeKey,
    gen,
    findings: findings.length,
    attachments: attachments.length,
    gc: content.gc.length,
  });
  function* lines(): Generator<string | readonly string[]> {
    yield header;
    for (const f of findings) yield [f.written ? "N" : "O", f.json];
    for (const a of attachments) yield ["A", a.json];
    for (const t of content.gc) yield "G" + JSON.stringify([t.partitionKey, t.rowKey]);
  }
  const compressed = await compressLines(lines());
  const { entities, chunks } = chunkEntities(compressed, keys.snapshotPartition(scopeKey, gen), snapshotRow);
  return {
    ref: { gen, chunks, bytes: compressed.length, sha256: sha256Hex(compressed), format: SNAPSHOT_FORMAT },
    entities,
  };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Compressed bytes as entities of one partition: Binary properties `b0`...`b<n-1>` of
 * SNAPSHOT_CHUNK_BYTES each (the last one shorter), SNAPSHOT_CHUNKS_PER_ENTITY per entity, `n` the count,
 * rows named by `rowOf(entity index)`. Shared by snapshots and change feeds.
 */
export function chunkEntities(
  compressed: Buffer,
  partitionKey: string,
  rowOf: (i: number) => string,
): { entities: Record<string, unknown>[]; chunks: number } {
  const chunks: Buffer[] = [];
  for (let at = 0; at < compressed.length; at += SNAPSHOT_CHUNK_BYTES) {
    chunks.push(Buffer.from(compressed.subarray(at, at + SNAPSHOT_CHUNK_BYTES)));
  }
  const entities: Record<string, unknown>[] = [];
  for (let i = 0; i * SNAPSHOT_CHUNKS_PER_ENTITY < chunks.length; i++) {
    const part = chunks.slice(i * SNAPSHOT_CHUNKS_PER_ENTITY, (i + 1) * SNAPSHOT_CHUNKS_PER_ENTITY);
    const e: Record<string, unknown> = { partitionKey, rowKey: rowOf(i), n: part.length };
    part.forEach((b, k) => (e[`b${k}`] = b));
    entities.push(e);
  }
  return { entities, chunks: chunks.length };
}

/**
 * The inverse of `chunkEntities`: the compressed bytes the entities hold, checked against the expected
 * chunk count, byte count and SHA-256; a "truncated" or "hash" problem instead of anything doubtful.
 */
export function joinChunks(
  entities: RawEntity[],
  expected: { chunks: number; bytes: number; sha256: string },
  rowOf: (i: number) => string,
): { ok: true; compressed: Buffer } | { ok: false; problem: "truncated" | "hash"; detail: string } {
  const want = Math.ceil(expected.chunks / SNAPSHOT_CHUNKS_PER_ENTITY);
  if (entities.length !== want) return { ok: false, problem: "truncated", detail: `${entities.length} chunk entities, expected ${want}` };
  const sorted = [...entities].sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0));
  const parts: Buffer[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i];
    if (e.rowKey !== rowOf(i)) return { ok: false, problem: "truncated", detail: `unexpected chunk row ${e.rowKey}` };
    const n = toNumber(e.n);
    const wantN = Math.min(SNAPSHOT_CHUNKS_PER_ENTITY, expected.chunks - i * SNAPSHOT_CHUNKS_PER_ENTITY);
    if (n !== wantN) return { ok: false, problem: "truncated", detail: `chunk row ${e.rowKey} holds ${n} chunks, expected ${wantN}` };
    for (let k = 0; k < n; k++) {
      const b = e[`b${k}`];
      if (!(b instanceof Uint8Array)) return { ok: false, problem: "truncated", detail: `chunk row ${e.rowKey} lacks chunk ${k}` };
      parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    }
  }
  const compressed = Buffer.concat(parts);
  if (compressed.length !== expected.bytes) {
    return { ok: false, problem: "truncated", detail: `${compressed.length} bytes, expected ${expected.bytes}` };
  }
  if (sha256Hex(compressed) !== expected.sha256) return { ok: false, problem: "hash", detail: "SHA-256 mismatch" };
  return { ok: true, compressed };
}

export function snapshotRow(i: number): string {
  return String(i).padStart(5, "0");
}

export type SnapshotProblem = "missing" | "format" | "truncated" | "hash" | "corrupt";

export type SnapshotRead =
  | { ok: true; findings: Finding[]; attachments: StoredAttachment[]; gc: SnapshotAddress[] }
  | { ok: false; problem: SnapshotProblem; detail: string };

function fail(problem: SnapshotProblem, detail: string): SnapshotRead {
  return { ok: false, problem, detail };
}

/**
 * The state of generation `committed` from the snapshot `ref` names, given the entities of its partition;
 * a problem (missing, truncated, hash mismatch, undecodable, another format) instead of anything doubtful.
 * A finding keeps its stored `change` only when it was written in `committed` itself; otherwise it reads
 * back `unchanged` with no previous status, exactly as the entity scan derives it from slot generations.
 */
export function readSnapshot(scopeKey: string, committed: number, ref: SnapshotRef, entities: RawEntity[]): SnapshotRead {
  if (ref.format !== SNAPSHOT_FORMAT) return fail("format", `format ${ref.format}`);
  if (!(ref.gen > 0 && ref.gen <= committed) || !(ref.chunks > 0) || !(ref.bytes > 0) || !/^[0-9a-f]{64}$/.test(ref.sha256)) {
    return fail("format", "invalid reference in the pointer");
  }
  if (entities.length === 0) return fail("missing", `no snapshot entities for generation ${ref.gen}`);
  const joined = joinChunks(entities, ref, snapshotRow);
  if (!joined.ok) return fail(joined.problem, joined.detail);
  const compressed = joined.compressed;
  let payload: Buffer;
  try {
    payload = decompress(compressed);
  } catch (e) {
    return fail("corrupt", `decompress: ${(e as Error).message}`);
  }
  try {
    return parsePayload(scopeKey, committed, ref, payload);
  } catch (e) {
    return fail("corrupt", `parse: ${(e as Error).message}`);
  }
}

function parsePayload(scopeKey: string, committed: number, ref: SnapshotRef, payload: Buffer): SnapshotRead {
  const findings: Finding[] = [];
  const attachments: StoredAttachment[] = [];
  const gc: SnapshotAddress[] = [];
  type Header = { v?: unknown; scope?: unknown; gen?: unknown; findings?: unknown; attachments?: unknown; gc?: unknown };
  let header: Header | undefined;
  const keepChange = ref.gen === committed;
  let start = 0;
  while (start < payload.length) {
    let end = payload.indexOf(0x0a, start);
    if (end < 0) end = payload.length;
    if (end > start) {
      const line = payload.toString("utf8", start, end);
      if (!header) {
        const h = JSON.parse(line) as Header | null;
        if (!h || typeof h !== "object" || h.v !== SNAPSHOT_FORMAT || h.scope !== scopeKey || h.gen !== ref.gen) {
          return fail("corrupt", "header does not match the pointer");
        }
        header = h;
      } else {
        const tag = line[0];
        const body = line.slice(1);
        if (tag === "N" || tag === "O") {
          const f = decodeFinding(body);
          if (!(tag === "N" && keepChange)) {
            f.change = "unchanged";
            f.previousStatus = null;
          }
          findings.push(f);
        } else if (tag === "A") {
          attachments.push(decodeAttachment(body));
        } else if (tag === "G") {
          const [partitionKey, rowKey] = JSON.parse(body) as [string, string];
          gc.push({ partitionKey, rowKey });
        } else {
          return fail("corrupt", `unknown line tag ${JSON.stringify(tag)}`);
        }
      }
    }
    start = end + 1;
  }
  if (!header) return fail("corrupt", "empty payload");
  if (header.findings !== findings.length || header.attachments !== attachments.length || header.gc !== gc.length) {
    return fail("corrupt", "line counts differ from the header");
  }
  return { ok: true, findings, attachments, gc };
}
