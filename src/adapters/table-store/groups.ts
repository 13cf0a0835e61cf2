/**
 * Packed group rows of the findings table. A finding (or attachment) is an *item* with a key (its row key
 * in the per-item layout, e.g. `<rule>|<c>|<r>` for the status copy); items are packed by *group* (a bucket
 * of subjects inside one partition) into a few rows `<group>|00`, `<group>|01`... whose versioned slots hold
 * the Brotli-compressed lines of the group. A first audit of 10,000 clusters then writes a few thousand entities
 * instead of about 3.7 per finding (~560,000), and a changed finding rewrites its groups only. Design:
 * docs/storage.md "Packed groups".
 *
 * Part payload (UTF-8 lines, before compression):
 *   {"g":"<group>","i":i,"n":count,"of":parts,"v":1}   header
 *   <item key> <item JSON>                              one per item, by key (keys contain no space)
 */
import { compress } from "./compression.js";
import { TableStoreError } from "./errors.js";

export const GROUP_FORMAT = 1;
/** Bytes per Binary property (Table Storage allows 64 KiB). */
export const GROUP_CHUNK_BYTES = 64_000;
/**
 * Compressed bytes one slot may hold: 5 chunks. An entity holds two slots (the old and the new
 * generation), 640,000 bytes, ~850 KB as base64: under the 1 MiB entity limit, also as Azurite counts it.
 */
export const GROUP_SLOT_BYTES = 5 * GROUP_CHUNK_BYTES;

export interface Item {
  key: string;
  json: string;
}

export interface GroupPart {
  index: number;
  of: number;
  items: Item[];
}

const byKey = (a: Item, b: Item) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export function groupRow(group: string, index: number): string {
  return `${group}|${String(index).padStart(2, "0")}`;
}

/** The group a row belongs to (`<group>|NN`), or undefined for a row key of another shape. */
export function groupOfRow(rowKey: string): string | undefined {
  const m = /^(.*)\|(\d{2,})$/.exec(rowKey);
  return m ? m[1] : undefined;
}

/** Row-key range `[from, to)` of one group's rows. */
export function groupRange(group: string): { from: string; to: string } {
  return { from: `${group}|`, to: `${group}}` };
}

function payload(group: string, index: number, of: number, items: Item[]): Buffer {
  // Written straight into one buffer: a joined string of a large group would be copied again by Buffer.from.
  const header = JSON.stringify({ g: group, i: index, n: items.length, of, v: GROUP_FORMAT });
  let bytes = Buffer.byteLength(header);
  for (const it of items) bytes += 2 + it.key.length + Buffer.byteLength(it.json); // keys are ASCII
  const buf = Buffer.allocUnsafe(bytes);
  let at = buf.write(header, 0, "utf8");
  for (const it of items) {
    buf[at++] = 0x0a;
    at += buf.write(it.key, at, "latin1");
    buf[at++] = 0x20;
    at += buf.write(it.json, at, "utf8");
  }
  return buf;
}

/**
 * The compressed parts of a group holding `items` (sorted by key here): one part unless its compressed
 * size passes `maxBytes` (GROUP_SLOT_BYTES; tests pass less to exercise groups of many rows), then the items are cut into consecutive runs of about equal raw size.
 * Deterministic for the same items. An empty group has no parts.
 */
export async function packGroup(group: string, items: Item[], maxBytes = GROUP_SLOT_BYTES): Promise<Buffer[]> {
  if (items.length === 0) return [];
  const sorted = [...items].sort(byKey);
  for (let parts = 1; ; parts *= 2) {
    const runs = splitRuns(sorted, parts);
    const out = await Promise.all(runs.map((run, i) => compress(payload(group, i, runs.length, run))));
    if (out.every((b) => b.length <= maxBytes)) return out;
    // An item too large alone can never fit; once parts reach the item count every run is one item.
    if (runs.some((run, i) => run.length === 1 && out[i].length > maxBytes)) {
      throw new TableStoreError(
        "InvalidArgument",
        `an item of group ${group} is too large to store (${Math.max(...out.map((b) => b.length))} bytes compressed)`,
      );
    }
  }
}

function splitRuns(items: Item[], parts: number): Item[][] {
  if (parts <= 1) return [items];
  if (parts >= items.length) return items.map((it) => [it]);
  const total = items.reduce((n, it) => n + it.key.length + it.json.length + 2, 0);
  const target = total / Math.min(parts, items.length);
  const out: Item[][] = [];
  let cur: Item[] = [];
  let size = 0;
  for (const it of items) {
    const s = it.key.length + it.json.length + 2;
    if (cur.length > 0 && size + s > target && out.length < parts - 1) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(it);
    size += s;
  }
  if (cur.length) out.push(cur);
  return out;
}

/** Decodes one part (the decompressed slot payload) of `group`; CorruptData when it is not one. */
export function unpackPart(group: string, text: string, where: string): GroupPart {
  const lines = text.split("\n");
  let h: { g?: unknown; i?: unknown; n?: unknown; of?: unknown; v?: unknown };
  try {
    h = JSON.parse(lines[0]) as typeof h;
  } catch {
    throw corrupt(where, "no header");
  }
  if (!h || h.v !== GROUP_FORMAT || h.g !== group || typeof h.i !== "number" || typeof h.of !== "number" || typeof h.n !== "number") {
    throw corrupt(where, "header does not name this group");
  }
  if (h.n !== lines.length - 1) throw corrupt(where, `${lines.length - 1} items, header says ${h.n}`);
  const items: Item[] = [];
  for (let i = 1; i < lines.length; i++) {
    const sp = lines[i].indexOf(" ");
    if (sp <= 0) throw corrupt(where, `malformed item line ${i}`);
    items.push({ key: lines[i].slice(0, sp), json: lines[i].slice(sp + 1) });
  }
  return { index: h.i, of: h.of, items };
}

/** The items of a group from its visible parts, checked to be parts 0..of-1 of one packing. */
export function joinParts(group: string, parts: GroupPart[], where: string): Item[] {
  if (parts.length === 0) return [];
  const sorted = [...parts].sort((a, b) => a.index - b.index);
  const of = sorted[0].of;
  if (sorted.length !== of || sorted.some((p, i) => p.index !== i || p.of !== of)) {
    throw corrupt(where, `group ${group}: parts ${sorted.map((p) => `${p.index}/${p.of}`).join(",")} are not one complete packing`);
  }
  return sorted.length === 1 ? sorted[0].items : sorted.flatMap((p) => p.items);
}

function corrupt(where: string, why: string): TableStoreError {
  return new TableStoreError("CorruptData", `Findings entity ${where} is not a packed group: ${why}`);
}

/** Splits compressed bytes into Binary chunk properties `b<slot>_<j>` with the count in `n<slot>`. */
export function chunkProps(slot: 0 | 1, bytes: Buffer | null): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (!bytes) {
    p[`n${slot}`] = 0; // a tombstone
    return p;
  }
  let j = 0;
  for (let at = 0; at < bytes.length; at += GROUP_CHUNK_BYTES, j++) {
    p[`b${slot}_${j}`] = Buffer.from(bytes.subarray(at, at + GROUP_CHUNK_BYTES));
  }
  p[`n${slot}`] = j;
  return p;
}
