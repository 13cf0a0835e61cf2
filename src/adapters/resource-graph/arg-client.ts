/**
 * Resource Graph queries through the real SDK client: every page followed through `skipToken`, at most
 * 1000 subscriptions a request (or a management group), failing subscription batches bisected so one
 * unreadable subscription costs only its own rows, and a client-side quota limiter.
 */
import type { ResourceGraphClient } from "@azure/arm-resourcegraph";
import type { AuditScope } from "../../core/ports.js";

export const MAX_SUBSCRIPTIONS_PER_REQUEST = 1000;

export type ScopeFilter = "AtScopeAndBelow" | "AtScopeAndAbove" | "AtScopeExact" | "AtScopeAboveAndBelow";

export interface QueryResult {
  rows: Record<string, unknown>[];
  failedSubscriptions: string[];
  /** Set when the query failed without a subscription to blame (e.g. a management group request). */
  error?: Error;
}

export class QueryRejectedError extends Error {
  readonly code = "QueryRejected";
}

/** A single-quoted KQL string literal. */
export function kql(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\r/g, "\\r").replace(/\n/g, "\\n")}'`;
}

/** `('a', 'b')` for `in~`. */
export function kqlList(values: readonly string[]): string {
  return `(${values.map(kql).join(", ")})`;
}

/**
 * Longest query text the adapter builds. Resource Graph rejects very long queries (the simulator above
 * 100,000 characters); ID lists are packed up to this budget.
 */
export const MAX_QUERY_CHARS = 80_000;
/** Rows in a full Resource Graph page. */
export const PAGE_ROWS = 1000;

/**
 * Greedy packing: consecutive items into batches of at most `maxChars` (sum of `chars`) and at most
 * `maxRows` (sum of `rows`, the rows each item is expected to return). Every batch has at least one item.
 */
export function pack<T>(items: readonly T[], chars: (t: T) => number, rows: (t: T) => number, maxChars: number, maxRows: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let c = 0;
  let r = 0;
  for (const it of items) {
    const ci = chars(it);
    const ri = rows(it);
    if (cur.length && (c + ci > maxChars || r + ri > maxRows)) {
      out.push(cur);
      cur = [];
      c = 0;
      r = 0;
    }
    cur.push(it);
    c += ci;
    r += ri;
  }
  if (cur.length) out.push(cur);
  return out;
}

const RESOURCE_ID = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/.+\/([^/]+)$/i;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A part of a compact ID predicate: one or more IDs and how they are written. */
export interface IdTerm {
  ids: string[];
  /** `name`: a globally unique (GUID) name; `id`: the whole ID; `group`: names within one resource group. */
  kind: "name" | "id" | "group";
  /** Characters it adds to a query. */
  chars: number;
  subscriptionId?: string;
  resourceGroup?: string;
  names: string[];
}

/**
 * Splits resource IDs into terms of a compact predicate. An `id in~` list costs the whole ID (about 150
 * characters) per resource; IDs of one resource group are written once as `(subscriptionId =~ S and
 * resourceGroup =~ G and name in~ (...))`, and GUID-named resources (AKS outbound IPs) by name only. Both
 * forms may match more rows than asked for (a name reused by another resource of the queried types):
 * callers keep only the IDs they asked for.
 */
export function idTerms(ids: readonly string[]): IdTerm[] {
  const groups = new Map<string, { sub: string; rg: string; items: { id: string; name: string }[] }>();
  const out: IdTerm[] = [];
  for (const id of ids) {
    const m = RESOURCE_ID.exec(id.trim());
    if (!m) {
      out.push({ ids: [id], kind: "id", chars: kql(id).length + 2, names: [] });
      continue;
    }
    const [, sub, rg, name] = m;
    if (GUID.test(name)) {
      out.push({ ids: [id], kind: "name", chars: kql(name).length + 2, names: [name] });
      continue;
    }
    const k = `${sub}/${rg}`.toLowerCase();
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { sub, rg, items: [] }));
    g.items.push({ id, name });
  }
  for (const g of groups.values()) {
    if (g.items.length === 1) {
      const id = g.items[0].id;
      out.push({ ids: [id], kind: "id", chars: kql(id).length + 2, names: [] });
      continue;
    }
    // Long groups are split so that one term never exceeds a page of rows.
    for (const part of chunk(g.items, PAGE_ROWS)) {
      const names = part.map((x) => x.name);
      const term: IdTerm = { ids: part.map((x) => x.id), kind: "group", chars: 0, subscriptionId: g.sub, resourceGroup: g.rg, names };
      term.chars = renderIdTerms([term]).length + 4;
      out.push(term);
    }
  }
  return out;
}

/** The predicate of some ID terms (OR-ed). */
export function renderIdTerms(terms: readonly IdTerm[]): string {
  const names = terms.filter((t) => t.kind === "name").flatMap((t) => t.names);
  const ids = terms.filter((t) => t.kind === "id").flatMap((t) => t.ids);
  const parts: string[] = [];
  if (ids.length) parts.push(`id in~ ${kqlList(ids)}`);
  if (names.length) parts.push(`name in~ ${kqlList(names)}`);
  for (const t of terms) {
    if (t.kind === "group")
      parts.push(
        `(subscriptionId =~ ${kql(t.subscriptionId!)} and resourceGroup =~ ${kql(t.resourceGroup!)} and name in~ ${kqlList(t.names)})`,
      );
  }
  return parts.join(" or ");
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs async tasks with at most `limit` in flight, results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

function isRejection(err: unknown): boolean {
  const e = err as { statusCode?: number };
  return e?.statusCode === 400;
}

export class ArgQueryRunner {
  requests = 0;
  rows = 0;
  /** Failed requests left to spend on bisection before a failing batch is given up whole. */
  private failureBudget: number;

  constructor(
    private readonly client: ResourceGraphClient,
    private readonly opts: { concurrency?: number; onPage?: (rows: number) => void; failureBudget?: number } = {},
  ) {
    this.failureBudget = opts.failureBudget ?? 24;
  }

  /** All pages of one request scope. Throws on failure. */
  async allPages(
    query: string,
    scope: { subscriptions?: string[]; managementGroups?: string[] },
    scopeFilter?: ScopeFilter,
  ): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    let skipToken: string | undefined;
    let pages = 0;
    do {
      this.requests++;
      const res = await this.client.resources({
        query,
        subscriptions: scope.subscriptions,
        managementGroups: scope.managementGroups,
        options: { resultFormat: "objectArray", skipToken, ...(scopeFilter ? { authorizationScopeFilter: scopeFilter } : {}) },
      });
      const data = Array.isArray(res.data) ? (res.data as Record<string, unknown>[]) : [];
      for (const r of data) rows.push(r);
      this.rows += data.length;
      this.opts.onPage?.(data.length);
      skipToken = res.skipToken || undefined;
      if (++pages > 100_000) throw new Error("Resource Graph paging did not end");
    } while (skipToken);
    return rows;
  }

  /**
   * Runs `query` over the audit scope. For a management group, one scope; if it fails, falls back to
   * subscription batches. Subscription batches that fail are bisected down to single subscriptions.
   * A 400 (the query was rejected) is a bug, not a missing subscription: it is thrown.
   */
  async run(query: string, scope: AuditScope, subscriptions: string[], scopeFilter?: ScopeFilter): Promise<QueryResult> {
    if (scope.kind === "managementGroup" && scope.managementGroup) {
      try {
        return { rows: await this.allPages(query, { managementGroups: [scope.managementGroup] }, scopeFilter), failedSubscriptions: [] };
      } catch (err) {
        if (isRejection(err)) throw new QueryRejectedError(`Resource Graph rejected a query: ${(err as Error).message}`);
        if (!subscriptions.length) return { rows: [], failedSubscriptions: [], error: err as Error };
      }
    }
    if (!subscriptions.length) return { rows: [], failedSubscriptions: [] };
    const batches = chunk(subscriptions, MAX_SUBSCRIPTIONS_PER_REQUEST);
    const results = await mapLimit(batches, this.opts.concurrency ?? 4, (b) => this.bisect(query, b, scopeFilter));
    return {
      rows: results.flatMap((r) => r.rows),
      failedSubscriptions: results.flatMap((r) => r.failedSubscriptions),
    };
  }

  private async bisect(query: string, subs: string[], scopeFilter?: ScopeFilter): Promise<QueryResult> {
    try {
      return { rows: await this.allPages(query, { subscriptions: subs }, scopeFilter), failedSubscriptions: [] };
    } catch (err) {
      if (isRejection(err)) throw new QueryRejectedError(`Resource Graph rejected a query: ${(err as Error).message}`);
      // Give up on the whole batch when it is one subscription, or when failures look tenant-wide.
      if (subs.length === 1 || --this.failureBudget < 0) {
        return { rows: [], failedSubscriptions: subs.map((s) => s.toLowerCase()), error: err as Error };
      }
      const mid = Math.ceil(subs.length / 2);
      const [a, b] = await Promise.all([
        this.bisect(query, subs.slice(0, mid), scopeFilter),
        this.bisect(query, subs.slice(mid), scopeFilter),
      ]);
      return { rows: [...a.rows, ...b.rows], failedSubscriptions: [...a.failedSubscriptions, ...b.failedSubscriptions] };
    }
  }
}
