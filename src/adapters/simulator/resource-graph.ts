/**
 * Simulated `POST /providers/Microsoft.ResourceGraph/resources`: request validation, scoping by
 * subscriptions or management groups, the KQL subset, and paging through `$skipToken`.
 */
import type { TableName } from "./estate.js";
import type { EstateIndex, IndexedRow } from "./estate-index.js";
import { compileQuery, KqlError, MAX_QUERY_LENGTH, queryTable, runQuery, type CompiledQuery } from "./kql.js";
import { armError, bindingOf, decodeToken, encodeToken, type SimResponse } from "./responses.js";

const SCOPE_FILTERS = ["AtScopeAndBelow", "AtScopeAndAbove", "AtScopeExact", "AtScopeAboveAndBelow"] as const;
type ScopeFilter = (typeof SCOPE_FILTERS)[number];

export interface RgRequest {
  query: string;
  subscriptions?: string[];
  managementGroups?: string[];
  top?: number;
  skip?: number;
  skipToken?: string;
  scopeFilter: ScopeFilter;
  /** Readable subscriptions in scope (lower-case). */
  scopeSubs: Set<string>;
  /** Lower-case management groups of a management-group scoped request. */
  groups: string[];
  table?: TableName;
}

function badRequest(message: string): SimResponse {
  return armError(400, "BadRequest", message, [{ code: "InvalidRequestContent", message }]);
}

function invalidQuery(problem: string): SimResponse {
  return armError(400, "BadRequest", `Query is invalid: ${problem}`, [{ code: "InvalidQuery", message: problem }]);
}

function stringList(v: unknown, name: string): string[] | SimResponse | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || s.trim() === ""))
    return badRequest(`'${name}' must be an array of non-empty strings.`);
  if (v.length === 0) return badRequest(`'${name}' must not be empty.`);
  return v as string[];
}

const isResponse = (v: unknown): v is SimResponse => v !== null && typeof v === "object" && "status" in v;

/** Parses and validates the request body; the result feeds fault matching before the query is answered. */
export function prepareResourceGraph(bodyText: string | undefined, index: EstateIndex): RgRequest | SimResponse {
  let body: unknown;
  try {
    body = JSON.parse(bodyText ?? "");
  } catch {
    return badRequest("The request content was invalid and could not be deserialized: expected a JSON object.");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) return badRequest("The request content must be a JSON object.");
  const b = body as Record<string, unknown>;
  if (typeof b.query !== "string" || b.query.trim() === "") return badRequest("'query' is required and must be a non-empty string.");
  const subscriptions = stringList(b.subscriptions, "subscriptions");
  if (isResponse(subscriptions)) return subscriptions;
  const managementGroups = stringList(b.managementGroups, "managementGroups");
  if (isResponse(managementGroups)) return managementGroups;
  if (subscriptions && managementGroups) return badRequest("Give either 'subscriptions' or 'managementGroups', not both.");
  if (Array.isArray(b.facets) && b.facets.length > 0) return badRequest("Facets are not supported by the ARM simulator.");

  const o = b.options ?? {};
  if (o === null || typeof o !== "object" || Array.isArray(o)) return badRequest("'options' must be an object.");
  const opts = o as Record<string, unknown>;
  const req: RgRequest = { query: b.query, scopeFilter: "AtScopeAndBelow", scopeSubs: new Set(), groups: [] };
  if (subscriptions) req.subscriptions = subscriptions;
  if (managementGroups) req.managementGroups = managementGroups;
  if (opts.$top !== undefined && opts.$top !== null) {
    if (!Number.isInteger(opts.$top) || (opts.$top as number) < 1 || (opts.$top as number) > 1000)
      return badRequest("'$top' must be an integer from 1 to 1000.");
    req.top = opts.$top as number;
  }
  if (opts.$skip !== undefined && opts.$skip !== null) {
    if (!Number.isInteger(opts.$skip) || (opts.$skip as number) < 0) return badRequest("'$skip' must be an integer >= 0.");
    req.skip = opts.$skip as number;
  }
  if (opts.$skipToken !== undefined && opts.$skipToken !== null) {
    if (typeof opts.$skipToken !== "string") return badRequest("'$skipToken' must be a string.");
    req.skipToken = opts.$skipToken;
  }
  if (opts.resultFormat !== undefined && opts.resultFormat !== null) {
    if (typeof opts.resultFormat !== "string" || !["objectarray", "table"].includes(opts.resultFormat.toLowerCase()))
      return badRequest("'resultFormat' must be 'objectArray' or 'table'.");
    if (opts.resultFormat.toLowerCase() === "table")
      return badRequest("resultFormat 'table' is not supported by the ARM simulator; use 'objectArray'.");
  }
  if (opts.authorizationScopeFilter !== undefined && opts.authorizationScopeFilter !== null) {
    const f = SCOPE_FILTERS.find(
      (s) => typeof opts.authorizationScopeFilter === "string" && s.toLowerCase() === opts.authorizationScopeFilter.toLowerCase(),
    );
    if (!f) return badRequest(`'authorizationScopeFilter' must be one of ${SCOPE_FILTERS.join(", ")}.`);
    req.scopeFilter = f;
  }
  if (opts.allowPartialScopes !== undefined && typeof opts.allowPartialScopes !== "boolean")
    return badRequest("'allowPartialScopes' must be a boolean.");

  if (subscriptions) {
    for (const s of subscriptions) if (index.isReadable(s)) req.scopeSubs.add(s.toLowerCase());
  } else if (managementGroups) {
    req.groups = managementGroups.map((g) => g.toLowerCase());
    // As Azure answers a management group that does not exist (or that the caller cannot see).
    const known = index.knownGroups();
    const unknown = managementGroups.find((g) => !known.has(g.toLowerCase()));
    if (unknown !== undefined) {
      const message = `The provided management groups must be valid. Given: '${unknown}'.`;
      return armError(400, "BadRequest", message, [{ code: "ManagementGroupsContainInvalidIds", message }]);
    }
    for (const sub of index.subscriptions.keys()) if (req.groups.some((g) => index.subscriptionUnder(sub, g))) req.scopeSubs.add(sub);
  } else {
    for (const sub of index.subscriptions.keys()) req.scopeSubs.add(sub);
  }
  req.table = queryTable(req.query);
  return req;
}

function inScope(r: IndexedRow, req: RgRequest, index: EstateIndex): boolean {
  const p = r.place;
  const above = req.scopeFilter === "AtScopeAndAbove" || req.scopeFilter === "AtScopeAboveAndBelow";
  switch (p.k) {
    case "subscription":
      return req.scopeSubs.has(p.sub);
    case "tenant-roledefinition":
      return true;
    case "root-assignment":
      return above;
    case "mg-assignment": {
      if (!above) return false;
      if (req.managementGroups) {
        return req.groups.some(
          (g) =>
            g === p.group ||
            index.ancestorsOf(g).includes(p.group) ||
            (req.scopeFilter === "AtScopeAboveAndBelow" && index.groupWithin(p.group, g)),
        );
      }
      for (const sub of req.scopeSubs) if (index.groupsAbove(sub).includes(p.group)) return true;
      return false;
    }
    case "management-group":
      if (req.managementGroups) return req.groups.some((g) => index.groupWithin(p.group, g));
      return !req.subscriptions;
    case "tenant":
      return !req.subscriptions && !req.managementGroups;
  }
}

/** Evaluates a prepared request and returns one page of results. */
export function answerResourceGraph(
  req: RgRequest,
  index: EstateIndex,
  pageSize: number,
  cache?: Map<string, { columns: string[]; rows: Record<string, unknown>[] }>,
): { response: SimResponse; rows: number } {
  if (req.query.length > MAX_QUERY_LENGTH)
    return { response: invalidQuery(`the query is ${req.query.length} characters long; the limit is ${MAX_QUERY_LENGTH}`), rows: 0 };
  const binding = bindingOf([
    req.query,
    req.subscriptions ? [...req.subscriptions].map((s) => s.toLowerCase()).sort() : null,
    req.managementGroups ? [...req.groups].sort() : null,
    req.scopeFilter,
  ]);
  // The estate never changes, so the pages of one query and scope can share one evaluation.
  let evaluated = cache?.get(binding);
  if (!evaluated) {
    let compiled: CompiledQuery;
    try {
      compiled = compileQuery(req.query, (t) => index.columns[t]);
    } catch (err) {
      if (err instanceof KqlError) return { response: invalidQuery(err.message), rows: 0 };
      throw err;
    }
    const source = index.rows[compiled.table].filter((r) => inScope(r, req, index)).map((r) => r.row);
    evaluated = { columns: compiled.columns, rows: runQuery(compiled, source) };
    if (cache) {
      if (cache.size >= 16) cache.delete(cache.keys().next().value as string);
      cache.set(binding, evaluated);
    }
  }
  const result = evaluated.rows;
  let start = req.skip ?? 0;
  if (req.skipToken !== undefined) {
    const decoded = decodeToken(req.skipToken, binding);
    if ("problem" in decoded || decoded.offset > result.length) {
      const problem = "problem" in decoded ? decoded.problem : "the continuation token points past the end of the results";
      const message = `The $skipToken is invalid: ${problem}. Send the same query and scopes that returned it.`;
      return { response: armError(400, "BadRequest", message, [{ code: "InvalidSkipToken", message }]), rows: 0 };
    }
    start = decoded.offset;
  }
  const size = Math.min(pageSize, req.top ?? Number.POSITIVE_INFINITY);
  const page = result.slice(start, start + size);
  const more = start + page.length < result.length;
  // Azure pages only results that carry `id`; without it a long result is cut off and flagged truncated.
  const pageable = evaluated.columns.includes("id");
  const body: Record<string, unknown> = {
    totalRecords: result.length,
    count: page.length,
    resultTruncated: more && !pageable ? "true" : "false",
  };
  if (more && pageable) body.$skipToken = encodeToken(start + page.length, binding);
  body.data = page;
  body.facets = [];
  return { response: { status: 200, body }, rows: page.length };
}
