/**
 * The read operations of the API over the AuditStore port (with the read cache): findings pages, the
 * subject index (names -> IDs, attachments), the summary, and a run's change feed.
 */
import type { Finding } from "../core/findings.js";
import type { AuditStore, FindingQuery, RunRecord } from "../core/ports.js";
import { cached } from "./cache.js";
import { ApiError } from "./errors.js";
import { accessPlan, canonicalFilter, matchesFilter, SKIP_TOKEN, type AccessPlan, type FindingsFilter } from "./findings-query.js";
import { decodeCursor, encodeCursor, readPage, type PagerCursor, type QueryFn } from "./pager.js";
import { computeSummary, type Summary } from "./summary.js";
import { resolveClusterName, resolveRegistryName, subjectIndexOf, type SubjectIndex } from "./subjects.js";
import { bindingHash, invalidTokenError, natField, onlyFields, signToken, stableJson, tokenKey, verifyToken } from "./tokens.js";

export interface ReadDeps {
  store: AuditStore;
  scopeKey: string;
  /** HMAC key of continuation tokens (tokenKey()). */
  tokenKey: Buffer;
}

/** Store page reads through the cache (pages of one generation never change). */
export function cachedQuery(store: AuditStore, scopeKey: string): QueryFn {
  return (query, size, continuation, generation) =>
    cached(store, `q|${scopeKey}|${stableJson(query)}|${size}|${continuation ?? ""}|${generation ?? ""}`, () =>
      store.queryFindings(scopeKey, query, size, continuation, generation),
    );
}

/** The subjects of the current state; `fresh` bypasses the cache (before a write that depends on it). */
export function subjectIndex(store: AuditStore, scopeKey: string, opts: { fresh?: boolean } = {}): Promise<SubjectIndex> {
  const load = async () => subjectIndexOf(await store.loadState(scopeKey));
  return opts.fresh ? load() : cached(store, `subjects|${scopeKey}`, load);
}

export function summary(store: AuditStore, scopeKey: string): Promise<Summary> {
  return cached(store, `summary|${scopeKey}`, async () => {
    const state = await store.loadState(scopeKey);
    const run = state.lastRunId ? await store.getRun(scopeKey, state.lastRunId) : undefined;
    return computeSummary(state.findings, run);
  });
}

/** The most recent run record (any status), or undefined before the first run. */
export async function latestRun(store: AuditStore, scopeKey: string): Promise<RunRecord | undefined> {
  return (await store.listRuns(scopeKey, 1))[0];
}

/** A run by ID or `latest`; 404 when there is none. */
export async function findRun(store: AuditStore, scopeKey: string, runId: string): Promise<RunRecord> {
  const run = runId.toLowerCase() === "latest" ? await latestRun(store, scopeKey) : await store.getRun(scopeKey, runId);
  if (!run) {
    throw new ApiError(
      "RunNotFound",
      runId.toLowerCase() === "latest" ? "No audit has run yet." : `There is no run '${runId}' (runs are kept for the retention period).`,
      "runId",
    );
  }
  return run;
}

function namesSomething(filter: FindingsFilter): boolean {
  return filter.cluster?.kind === "name" || (!filter.cluster && filter.registry?.kind === "name");
}

/** The most plan IDs a name may resolve to before the listing scans every finding instead. */
const MAX_RESOLVED = 20;

export interface FindingsPage {
  items: Finding[];
  /** Continuation token of the next page. */
  next?: string;
}

/**
 * One page of findings matching `filter`: the best access path, filtered in memory, resumed from `skipToken`.
 */
export async function findingsPage(deps: ReadDeps, filter: FindingsFilter, top: number, skipToken?: string): Promise<FindingsPage> {
  const binding = bindingHash({ scope: deps.scopeKey, filter: canonicalFilter(filter) });
  const byName = namesSomething(filter);
  let plan: AccessPlan;
  let cursor: PagerCursor | undefined;
  if (skipToken !== undefined) {
    // A name was resolved on the first page; later pages keep that plan (it travels in the token).
    plan = byName ? { queries: [{}], exact: false, resolved: false } : accessPlan(filter);
    cursor = decodeCursor(deps.tokenKey, binding, skipToken, SKIP_TOKEN, plan.queries.length, byName);
    if (cursor.p) plan = { queries: cursor.p, exact: accessPlan(filter).exact, resolved: true };
  } else if (byName) {
    const idx = await subjectIndex(deps.store, deps.scopeKey);
    const ids = filter.cluster
      ? resolveClusterName(idx, (filter.cluster as { name: string }).name)
      : resolveRegistryName(idx, (filter.registry as { name: string }).name);
    const resolvedPlan = accessPlan(filter, filter.cluster ? { clusterIds: ids } : { registryIds: ids });
    if (ids.length === 0) return { items: [] };
    if (ids.length > MAX_RESOLVED) plan = { queries: [{}], exact: false, resolved: false };
    else {
      plan = resolvedPlan;
      cursor = { i: 0, n: 0, s: 0, p: plan.queries };
    }
  } else {
    plan = accessPlan(filter);
  }
  if (plan.queries.length === 0) return { items: [] };
  const r = await readPage(cachedQuery(deps.store, deps.scopeKey), plan.queries, (f) => matchesFilter(f, filter), top, plan.exact, cursor);
  return { items: r.items, next: r.next ? encodeCursor(deps.tokenKey, binding, r.next) : undefined };
}

/** One page of a run's change feed (offset paging; the feed of a finished run does not change). */
export async function changesPage(deps: ReadDeps, run: RunRecord, top: number, skipToken?: string): Promise<FindingsPage> {
  const binding = bindingHash({ scope: deps.scopeKey, changes: run.id });
  let offset = 0;
  if (skipToken !== undefined) {
    const p = verifyToken(deps.tokenKey, skipToken, binding, SKIP_TOKEN);
    onlyFields(p, ["v", "h", "o"], SKIP_TOKEN);
    offset = natField(p, "o", SKIP_TOKEN, 10_000_000);
  }
  const all = await cached(deps.store, `changes|${deps.scopeKey}|${run.id}|${run.status}`, () =>
    deps.store.listChanges(deps.scopeKey, run.id),
  );
  if (offset > all.length) throw invalidTokenError(SKIP_TOKEN, "position out of range");
  const items = all.slice(offset, offset + top);
  const end = offset + items.length;
  return { items, next: end < all.length ? signToken(deps.tokenKey, { v: 1, h: binding, o: end }) : undefined };
}

export type { FindingQuery };

/** What the read operations need from the runtime (the token key from AUDIT_API_TOKEN_SECRET, when set). */
export function readDepsOf(rt: {
  store: AuditStore;
  scopeKey: string;
  config: { tableEndpoint?: string; tablePrefix: string; apiTokenSecret?: string };
}): ReadDeps {
  const storeIdentity = `${rt.config.tableEndpoint ?? "local"}|${rt.config.tablePrefix}`;
  return { store: rt.store, scopeKey: rt.scopeKey, tokenKey: tokenKey(rt.config.apiTokenSecret, storeIdentity, rt.scopeKey) };
}
