/**
 * Paging over the store's access paths. A page is filled from one or more store queries (a plan), filtered
 * in memory; the API continuation says where to resume: which query of the plan, the store's own
 * continuation, and how many items of that store page were already consumed (a store page is re-read with
 * the same continuation and size, which the store answers identically at the same generation).
 */
import type { Finding } from "../core/findings.js";
import type { FindingQuery, Page } from "../core/ports.js";
import { looksLikeResourceId } from "../core/resource-id.js";
import { invalidTokenError, natField, onlyFields, optStringField, signToken, verifyToken } from "./tokens.js";

export type QueryFn = (query: FindingQuery, size: number, continuation?: string, generation?: number) => Promise<Page<Finding>>;

export interface PagerCursor {
  /** Index of the plan's query. */
  i: number;
  /** The store's continuation of the page to read (undefined: the query's first page). */
  c?: string;
  /** Items of that store page already consumed. */
  n: number;
  /** Size of the store page the cursor refers to. */
  s: number;
  /** The plan, when it came from resolving a name (so later pages do not resolve again). */
  p?: FindingQuery[];
  /**
   * The generation the listing read at: a store page read again from its start (a `c`-less resume, the next
   * query of the plan) is pinned to it, so that positions and queries agree across pages (while the store holds it).
   */
  g?: number;
}

/** Store page size when the access path is not exact and results are filtered in memory. */
export const FILTER_PAGE_SIZE = 1000;
/** Store reads one API page may spend; a page can then be short (follow nextLink until there is none). */
export const MAX_STORE_CALLS = 8;

export interface PageResult {
  items: Finding[];
  next?: PagerCursor;
  storeCalls: number;
}

/**
 * Reads up to `top` findings matching `predicate` from `plan`, starting at `cursor`. `exact`: the plan returns
 * only matches, so a store page of exactly the remaining size never needs re-reading.
 */
export async function readPage(
  query: QueryFn,
  plan: FindingQuery[],
  predicate: (f: Finding) => boolean,
  top: number,
  exact: boolean,
  cursor?: PagerCursor,
  maxStoreCalls = MAX_STORE_CALLS,
): Promise<PageResult> {
  const items: Finding[] = [];
  let i = cursor?.i ?? 0;
  let cont = cursor?.c;
  let skip = cursor?.n ?? 0;
  let size = cursor?.s;
  let gen = cursor?.g;
  let calls = 0;
  const withPlan = (c: PagerCursor): PagerCursor => ({
    ...c,
    ...(cursor?.p ? { p: cursor.p } : {}),
    ...(gen !== undefined ? { g: gen } : {}),
  });
  while (i < plan.length) {
    if (calls >= maxStoreCalls) return { items, next: withPlan({ i, c: cont, n: 0, s: 0 }), storeCalls: calls };
    // A resumed store page is re-read at its original size; a fresh one is sized to what is still needed.
    const pageSize = size && size > 0 ? size : exact ? Math.min(FILTER_PAGE_SIZE, top - items.length) : FILTER_PAGE_SIZE;
    size = undefined;
    const page = await query(plan[i], pageSize, cont, cont === undefined ? gen : undefined);
    calls++;
    // Where the store could not keep the listing's generation, it read the committed one: go on with that.
    if (page.generation !== undefined) gen = page.generation;
    for (let k = skip; k < page.items.length; k++) {
      const f = page.items[k];
      if (!predicate(f)) continue;
      items.push(f);
      if (items.length === top) {
        const consumed = k + 1;
        let next: PagerCursor | undefined;
        if (consumed < page.items.length) next = { i, c: cont, n: consumed, s: pageSize };
        else if (page.continuation) next = { i, c: page.continuation, n: 0, s: 0 };
        else if (i + 1 < plan.length) next = { i: i + 1, n: 0, s: 0 };
        return { items, next: next && withPlan(next), storeCalls: calls };
      }
    }
    skip = 0;
    if (page.continuation) cont = page.continuation;
    else {
      i++;
      cont = undefined;
    }
  }
  return { items, storeCalls: calls };
}

const PLAN_FIELDS = ["clusterId", "registryId"];

function planFromToken(v: unknown, param: string): FindingQuery[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 50) throw invalidTokenError(param, "bad plan");
  return v.map((q) => {
    if (!q || typeof q !== "object" || Array.isArray(q)) throw invalidTokenError(param, "bad plan");
    const o = q as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length !== 1 || !PLAN_FIELDS.includes(keys[0])) throw invalidTokenError(param, "bad plan");
    const id = o[keys[0]];
    // eslint-disable-next-line no-control-regex -- control characters are what this rejects
    if (typeof id !== "string" || id.length === 0 || id.length > 1024 || /[\x00-\x1f]/.test(id)) throw invalidTokenError(param, "bad plan");
    if (keys[0] === "clusterId" && !looksLikeResourceId(id)) throw invalidTokenError(param, "bad plan");
    const plan: FindingQuery = { [keys[0]]: id };
    return plan;
  });
}

export function encodeCursor(key: Buffer, binding: string, c: PagerCursor): string {
  const payload: Record<string, unknown> = { v: 1, h: binding, i: c.i, n: c.n, s: c.s };
  if (c.c !== undefined) payload.c = c.c;
  if (c.p !== undefined) payload.p = c.p;
  if (c.g !== undefined) payload.g = c.g;
  return signToken(key, payload);
}

/**
 * Decodes a findings continuation. `planLength`: the length of the plan the request computes itself; a
 * token may instead carry its plan (`allowPlan`: the filters name a cluster or registry by name).
 */
export function decodeCursor(
  key: Buffer,
  binding: string,
  token: string,
  param: string,
  planLength: number,
  allowPlan: boolean,
): PagerCursor {
  const p = verifyToken(key, token, binding, param);
  onlyFields(p, ["v", "h", "i", "n", "s", "c", "p", "g"], param);
  if (p.p !== undefined && !allowPlan) throw invalidTokenError(param, "issued for other filters");
  const plan = p.p === undefined ? undefined : planFromToken(p.p, param);
  const length = plan ? plan.length : planLength;
  if (length === 0) throw invalidTokenError(param, "position out of range");
  const i = natField(p, "i", param, length - 1);
  const s = natField(p, "s", param, FILTER_PAGE_SIZE);
  const n = natField(p, "n", param, Math.max(0, s - 1));
  const c = optStringField(p, "c", param, 8192);
  const g = p.g === undefined ? undefined : natField(p, "g", param, Number.MAX_SAFE_INTEGER);
  return { i, n, s, ...(c !== undefined ? { c } : {}), ...(plan ? { p: plan } : {}), ...(g !== undefined ? { g } : {}) };
}
