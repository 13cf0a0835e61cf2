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
  async allPages(query: string, scope: { subscriptions?: string[]; managementGroups?: string[] }, scopeFilter?: ScopeFilter): Promise<Record<string, unknown>[]> {
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
      const [a, b] = await Promise.all([this.bisect(query, subs.slice(0, mid), scopeFilter), this.bisect(query, subs.slice(mid), scopeFilter)]);
      return { rows: [...a.rows, ...b.rows], failedSubscriptions: [...a.failedSubscriptions, ...b.failedSubscriptions] };
    }
  }
}
