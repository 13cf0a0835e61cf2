/**
 * Entity encoding: findings and attachments as canonical JSON (packed into group rows by groups.ts), the
 * two-slot versioned entities that hold them, and the rules a reader applies to pick the slot of its
 * generation.
 */
import type { Finding } from "../../core/findings.js";
import type { StoredAttachment } from "../../core/ports.js";
import { decompress } from "./compression.js";
import { TableStoreError } from "./errors.js";
import { text } from "../../core/text.js";

/**
 * Longest string property written (UTF-16 code units). Table Storage allows 64 KiB per string property,
 * i.e. 32 Ki code units; the margin leaves room for the service's own accounting.
 */
export const MAX_STRING_CHARS = 30_000;

/** JSON with object keys sorted, `undefined` members dropped and bigint turned into a number: a stable form. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortValue(value));
}

function sortValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : sortValue(x)));
  if (v instanceof Date) return v.toISOString();
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined && typeof x !== "function") out[k] = sortValue(x);
  }
  return out;
}

export const TRUNCATION_MARKER = "_truncated";

function truncateText(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max) + "…[truncated]";
}

/**
 * The finding as stored: canonical JSON no longer than MAX_STRING_CHARS. When it is longer, `evidence` is
 * replaced by `{ _truncated, _originalChars, _preview }` (then, in the unlikely case that is still too long,
 * the message and remediation texts are cut) instead of failing the write.
 */
export function encodeFinding(f: Finding): string {
  return encodeFindingParts(f).stored;
}

/** Characters the longest drift values (`change` "unchanged", `previousStatus` "unknown") take in the JSON. */
const LONGEST_DRIFT_CHARS = JSON.stringify("unchanged").length + JSON.stringify("unknown").length;

/**
 * Length of the finding's JSON with the longest drift values. Whether a finding is cut depends on this, not
 * on its own drift values: a finding near the limit is then stored the same whatever its `change`, and an
 * unchanged run does not rewrite it because its change went from "new" to "unchanged".
 */
function sizedWithLongestDrift(f: Finding, json: string): number {
  if (typeof f.change !== "string" || (f.previousStatus !== null && typeof f.previousStatus !== "string")) {
    return canonicalJson({ ...f, change: "unchanged", previousStatus: "unknown" }).length;
  }
  return json.length - JSON.stringify(f.change).length - JSON.stringify(f.previousStatus).length + LONGEST_DRIFT_CHARS;
}

/** `encodeFinding`, and the finding's whole canonical JSON (computed on the way: equal unless cut). */
export function encodeFindingParts(f: Finding): { stored: string; canonical: string } {
  const json = canonicalJson(f);
  return { stored: sizedWithLongestDrift(f, json) <= MAX_STRING_CHARS ? json : cutFinding(f), canonical: json };
}

function cutFinding(f: Finding): string {
  // Size the cut on the longest drift values, so the stored content does not depend on `change`: an
  // unchanged finding must encode to what the previous run stored, or it would be rewritten every run.
  const sized = (x: Finding) => canonicalJson({ ...x, change: "unchanged", previousStatus: "unknown" }).length;
  const evidenceJson = canonicalJson(f.evidence ?? {});
  const marker = (preview: string) => ({
    [TRUNCATION_MARKER]: "evidence exceeded the Table Storage property size limit",
    _originalChars: evidenceJson.length,
    _preview: preview,
  });
  let budget = Math.max(0, MAX_STRING_CHARS - (sized(f) - evidenceJson.length) - 300);
  for (let i = 0; i < 20; i++) {
    const candidate: Finding = { ...f, evidence: marker(evidenceJson.slice(0, budget)) };
    if (sized(candidate) <= MAX_STRING_CHARS) return canonicalJson(candidate);
    if (budget === 0) break;
    budget = Math.floor(budget * 0.7);
  }
  const slim: Finding = {
    ...f,
    message: truncateText(f.message, 2000),
    evidence: marker(""),
    remediation: f.remediation
      ? {
          summary: truncateText(f.remediation.summary, 2000),
          commands: f.remediation.commands.slice(0, 20).map((c) => truncateText(c, 500)),
          docs: truncateText(f.remediation.docs, 1000),
          ...(f.remediation.bicep !== undefined ? { bicep: truncateText(f.remediation.bicep, 4000) } : {}),
        }
      : f.remediation,
  };
  if (sized(slim) > MAX_STRING_CHARS) throw new Error(`finding ${f.ruleId} cannot be reduced below the property size limit`);
  return canonicalJson(slim);
}

export function decodeFinding(json: string): Finding {
  return JSON.parse(json) as Finding;
}

export function encodeAttachment(a: StoredAttachment): string {
  return canonicalJson({ clusterId: a.clusterId, registryId: a.registryId, sources: a.sources });
}

export function decodeAttachment(json: string): StoredAttachment {
  const a = JSON.parse(json) as StoredAttachment;
  return { clusterId: a.clusterId, registryId: a.registryId, sources: a.sources ?? [] };
}

/** Splits a long JSON value over `name`, `name_1`, `name_2`... properties (each under the size limit). */
export function putChunked(entity: Record<string, unknown>, name: string, json: string, maxChunks = 15): void {
  const chunks = Math.max(1, Math.ceil(json.length / MAX_STRING_CHARS));
  if (chunks > maxChunks) throw new Error(`${name} is too large for one entity (${json.length} characters)`);
  for (let i = 0; i < chunks; i++) {
    entity[i === 0 ? name : `${name}_${i}`] = json.slice(i * MAX_STRING_CHARS, (i + 1) * MAX_STRING_CHARS);
  }
}

export function getChunked(entity: Record<string, unknown>, name: string): string | undefined {
  const first = entity[name];
  if (typeof first !== "string") return undefined;
  let out = first;
  for (let i = 1; typeof entity[`${name}_${i}`] === "string"; i++) out += entity[`${name}_${i}`] as string;
  return out;
}

/** Numbers come back as number, or bigint for Int64: never let a bigint through. */
export function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Versioned entities: two slots, 0 and 1, each a generation `g<i>` and either a tombstone (`n<i>` = 0) or
// the compressed bytes of a packed group part in Binary chunks `b<i>_0`... (`n<i>` chunks; groups.ts). A reader at
// generation G, given the skipped (aborted) generations, uses the slot with the highest gen <= G that is
// not skipped. Slot order carries no meaning.

export interface SlotRef {
  gen: number;
  index: 0 | 1;
  /** Chunks of compressed data; 0 for a tombstone. */
  chunks: number;
}

export interface View {
  gen: number;
  skip: ReadonlySet<number>;
}

export function slotsOf(e: Record<string, unknown>): SlotRef[] {
  const out: SlotRef[] = [];
  for (const index of [0, 1] as const) {
    const gen = toNumber(e[`g${index}`]);
    const chunks = toNumber(e[`n${index}`]);
    if (gen !== undefined && chunks !== undefined && chunks >= 0) out.push({ gen, index, chunks });
  }
  return out;
}

/** The slot a reader at `view` uses, or undefined when the entity does not exist for it. */
export function visibleSlot(e: Record<string, unknown>, view: View): SlotRef | undefined {
  let best: SlotRef | undefined;
  for (const s of slotsOf(e)) {
    if (s.gen <= view.gen && !view.skip.has(s.gen) && (!best || s.gen > best.gen)) best = s;
  }
  return best;
}

export function isTombstone(slot: SlotRef): boolean {
  return slot.chunks === 0;
}

/** True when the entity has a slot written by a skipped generation. */
export function hasSkippedSlot(e: Record<string, unknown>, skip: ReadonlySet<number>): boolean {
  return slotsOf(e).some((s) => skip.has(s.gen));
}

/** The decompressed payload of a data slot; CorruptData when a chunk is missing or the data does not decompress. */
export function slotText(e: RawEntityLike, slot: SlotRef): string {
  const parts: Buffer[] = [];
  for (let j = 0; j < slot.chunks; j++) {
    const b = e[`b${slot.index}_${j}`];
    if (!(b instanceof Uint8Array)) throw new TableStoreError("CorruptData", `${where(e)} lacks chunk ${j} of slot ${slot.index}`);
    parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  try {
    return decompress(parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString("utf8");
  } catch (err) {
    throw new TableStoreError("CorruptData", `${where(e)}: slot ${slot.index} does not decompress (${(err as Error).message})`);
  }
}

type RawEntityLike = Record<string, unknown> & { partitionKey?: unknown; rowKey?: unknown };

function where(e: RawEntityLike): string {
  return `${text(e.partitionKey, "?")} / ${text(e.rowKey, "?")}`;
}

/** The properties of slot `slot` of `e` as slot `to` of a new entity (its bytes copied as they are). */
export function copySlot(e: Record<string, unknown>, slot: SlotRef, to: 0 | 1): Record<string, unknown> {
  const p: Record<string, unknown> = { [`g${to}`]: slot.gen, [`n${to}`]: slot.chunks };
  for (let j = 0; j < slot.chunks; j++) p[`b${to}_${j}`] = e[`b${slot.index}_${j}`];
  return p;
}

/** A finding read at `view` from a slot of generation `gen`: an earlier one means it did not change in that run. */
export function findingAt(json: string, gen: number, view: View): Finding {
  const f = decodeFinding(json);
  if (gen < view.gen) {
    f.change = "unchanged";
    f.previousStatus = null;
  }
  return f;
}
