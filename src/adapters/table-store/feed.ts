/**
 * The change feed of a run, stored compactly: the run's changed findings (every finding whose `change` is
 * not "unchanged") as Brotli-compressed JSON lines (gzip in format 1, still read) in Binary chunks (the snapshot's chunking, 11 x 64,000
 * bytes per entity), rows `~feed|00000`, `~feed|00001`... of the run's feed partition `<scope>|chg|<run>`
 * in the runs table. The first entity also carries the header: format, finding count, chunk count, byte
 * count and SHA-256 of the compressed bytes. A first run of 40,000 new findings is then a handful of
 * entities instead of 40,000 in one partition (which Azurite scans per write). Design: docs/storage.md.
 *
 * Payload (UTF-8 lines, before compression):
 *   {"count":n,"run":"<run ID>","scope":"...","v":1}   header
 *   <finding JSON>                                      one per changed finding, in feed row-key order
 *
 * Feeds written by earlier versions (one entity per finding, row `<rule>|<c>|<r>`, the JSON in `d`) are
 * still read: row keys of findings never start with `~` (it is percent-encoded in key parts).
 */
import zlib from "node:zlib";
import type { Finding } from "../../core/findings.js";
import { TableStoreError } from "./errors.js";
import { compressLines, decompress } from "./compression.js";
import { chunkEntities, joinChunks, sha256Hex } from "./snapshot.js";
import { toNumber } from "./codec.js";
import type { RawEntity } from "./table-access.js";
import { text } from "../../core/text.js";

/** 2: Brotli (compression.ts). Feeds of format 1 (gzip) are still read. */
export const FEED_FORMAT = 2;
const GZIP_FEED_FORMAT = 1;
const FEED_ROW_PREFIX = "~feed|";

export function feedRow(i: number): string {
  return FEED_ROW_PREFIX + String(i).padStart(5, "0");
}

export function isFeedChunkRow(rowKey: string): boolean {
  return rowKey.startsWith(FEED_ROW_PREFIX);
}

export interface FeedEntry {
  /** The row key the finding had as a per-finding feed entity (`keys.findingRow`): the feed's order. */
  rowKey: string;
  /** The finding as stored (codec `encodeFinding`). */
  json: string;
}

/**
 * The feed entities of `entries` for `runId` in `partitionKey`: none when there are no entries. Entries
 * are ordered by row key and, like upserts of one row, a later entry with the same row key wins.
 */
export async function buildFeed(
  scopeKey: string,
  runId: string,
  partitionKey: string,
  entries: FeedEntry[],
): Promise<Record<string, unknown>[]> {
  if (entries.length === 0) return [];
  const byRow = new Map<string, string>();
  for (const e of entries) byRow.set(e.rowKey, e.json);
  const rows = [...byRow.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const header = JSON.stringify({ count: rows.length, run: runId, scope: scopeKey, v: FEED_FORMAT });
  function* lines(): Generator<string> {
    yield header;
    for (const r of rows) yield byRow.get(r)!;
  }
  const compressed = await compressLines(lines());
  const { entities, chunks } = chunkEntities(compressed, partitionKey, feedRow);
  Object.assign(entities[0], {
    feedFormat: FEED_FORMAT,
    count: rows.length,
    chunks,
    bytes: compressed.length,
    sha256: sha256Hex(compressed),
  });
  return entities;
}

function corrupt(scopeKey: string, runId: string, detail: string): TableStoreError {
  return new TableStoreError("CorruptData", `Change feed of run ${runId} in scope ${scopeKey} is unreadable: ${detail}`);
}

/** The findings of a feed partition's entities (chunked or per-finding), in feed order. */
export function readFeed(scopeKey: string, runId: string, rows: RawEntity[]): Finding[] {
  const chunked = rows.filter((e) => isFeedChunkRow(e.rowKey));
  if (chunked.length === 0) {
    // Written by an earlier version: one entity per finding, already in row-key order.
    return rows.filter((e) => typeof e.d === "string").map((e) => JSON.parse(e.d as string) as Finding);
  }
  const head = chunked.find((e) => e.rowKey === feedRow(0));
  if (!head) throw corrupt(scopeKey, runId, "no header entity");
  const format = toNumber(head.feedFormat);
  if (format !== FEED_FORMAT && format !== GZIP_FEED_FORMAT) throw corrupt(scopeKey, runId, `format ${String(head.feedFormat)}`);
  const count = toNumber(head.count) ?? -1;
  const expected = { chunks: toNumber(head.chunks) ?? -1, bytes: toNumber(head.bytes) ?? -1, sha256: text(head.sha256) };
  const joined = joinChunks(chunked, expected, feedRow);
  if (!joined.ok) throw corrupt(scopeKey, runId, `${joined.problem}: ${joined.detail}`);
  let payload: Buffer;
  try {
    payload = format === GZIP_FEED_FORMAT ? zlib.gunzipSync(joined.compressed) : decompress(joined.compressed);
  } catch (e) {
    throw corrupt(scopeKey, runId, `decompress: ${(e as Error).message}`);
  }
  const out: Finding[] = [];
  type Header = { count?: unknown; run?: unknown; scope?: unknown; v?: unknown };
  let header: Header | undefined;
  let start = 0;
  while (start < payload.length) {
    let end = payload.indexOf(0x0a, start);
    if (end < 0) end = payload.length;
    if (end > start) {
      const line = payload.toString("utf8", start, end);
      if (!header) {
        const h = JSON.parse(line) as Header | null;
        if (!h || typeof h !== "object" || h.v !== format || h.scope !== scopeKey || h.run !== runId || h.count !== count) {
          throw corrupt(scopeKey, runId, "header does not match");
        }
        header = h;
      } else {
        out.push(JSON.parse(line) as Finding);
      }
    }
    start = end + 1;
  }
  if (!header || out.length !== count) throw corrupt(scopeKey, runId, `${out.length} findings, expected ${count}`);
  return out;
}
