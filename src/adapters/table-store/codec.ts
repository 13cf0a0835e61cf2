/**
 * Entity encoding: findings and attachments as JSON strings inside versioned two-slot entities, and the
 * rules a reader applies to pick the slot of its generation.
 */
import type { Finding } from "../../core/findings.js";
import type { StoredAttachment } from "../../core/ports.js";

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

/** `encodeFinding`, and the finding's whole canonical JSON (computed on the way: equal unless cut). */
export function encodeFindingParts(f: Finding): { stored: string; canonical: string } {
  const json = canonicalJson(f);
  return { stored: json.length <= MAX_STRING_CHARS ? json : cutFinding(f), canonical: json };
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

/** The part of a finding that decides whether it must be rewritten (drift fields excluded). */
export function findingContent(storedJson: string): string {
  const f = JSON.parse(storedJson) as Record<string, unknown>;
  delete f.change;
  delete f.previousStatus;
  return canonicalJson(f);
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
// Versioned entities: two slots (g0, d0) and (g1, d1). A reader at generation G, given the skipped
// (aborted) generations, uses the slot with the highest gen <= G that is not skipped. `d = ""` is a
// tombstone. Slot order carries no meaning.

export const TOMBSTONE = "";

export interface Slot {
  gen: number;
  /** JSON, or TOMBSTONE. */
  data: string;
}

export interface View {
  gen: number;
  skip: ReadonlySet<number>;
}

export function slotsOf(e: Record<string, unknown>): Slot[] {
  const out: Slot[] = [];
  for (const i of [0, 1]) {
    const g = toNumber(e[`g${i}`]);
    const d = e[`d${i}`];
    if (g !== undefined && typeof d === "string") out.push({ gen: g, data: d });
  }
  return out;
}

/** The slot a reader at `view` uses, or undefined when the entity does not exist for it. */
export function visibleSlot(e: Record<string, unknown>, view: View): Slot | undefined {
  let best: Slot | undefined;
  for (const s of slotsOf(e)) {
    if (s.gen <= view.gen && !view.skip.has(s.gen) && (!best || s.gen > best.gen)) best = s;
  }
  return best;
}

/** True when the entity has a slot written by a skipped generation. */
export function hasSkippedSlot(e: Record<string, unknown>, skip: ReadonlySet<number>): boolean {
  return slotsOf(e).some((s) => skip.has(s.gen));
}

/**
 * The properties of a versioned entity holding `older` (what readers of the committed generation see, or
 * nothing) and `newer` (the generation being written). Written with Replace, so whatever else the entity
 * held (older slots, slots of aborted attempts) is gone.
 */
export function slotProperties(older: Slot | undefined, newer: Slot | undefined): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (older) {
    p.g0 = older.gen;
    p.d0 = older.data;
  }
  if (newer) {
    p.g1 = newer.gen;
    p.d1 = newer.data;
  }
  return p;
}

/** A finding read at `view`: stored in an earlier generation means it did not change in that run. */
export function findingAt(slot: Slot, view: View): Finding {
  const f = decodeFinding(slot.data);
  if (slot.gen < view.gen) {
    f.change = "unchanged";
    f.previousStatus = null;
  }
  return f;
}
