/**
 * GET /api/findings: the query parameters, the store access plan they allow, and the in-memory filter for
 * whatever the access path does not decide.
 */
import { RULE_IDS } from "../core/catalog.js";
import { CHANGES, SEVERITIES, STATUSES, severityRank, type Change, type Finding, type Severity, type Status } from "../core/findings.js";
import type { FindingQuery } from "../core/ports.js";
import { looksLikeResourceId, nameOf, normalizeId, sameId, subscriptionOf } from "../core/resource-id.js";
import { ApiError } from "./errors.js";
import { boolValue, enumValue, intValue, quote, readQuery } from "./params.js";

/** The continuation parameter (ARM's name). */
export const SKIP_TOKEN = "$skipToken";

export const FINDINGS_PARAMS = [
  "status",
  "severity",
  "ruleId",
  "cluster",
  "registry",
  "subscription",
  "change",
  "exempted",
  "top",
  SKIP_TOKEN,
  "format",
] as const;

export const DEFAULT_TOP = 100;
export const MAX_TOP = 1000;

/** A cluster or registry named by resource ID, or by name (resolved through the current state). */
export type SubjectRef = { kind: "id"; id: string } | { kind: "name"; name: string };

export interface FindingsFilter {
  status?: Status;
  /** Minimum severity. */
  severity?: Severity;
  ruleId?: string;
  cluster?: SubjectRef;
  registry?: SubjectRef;
  /** Lower-case subscription GUID. */
  subscription?: string;
  change?: Change;
  exempted?: boolean;
}

export interface FindingsRequest {
  filter: FindingsFilter;
  top: number;
  /** Whether `top` was given (CSV without `top` or a token streams every match). */
  topGiven: boolean;
  skipToken?: string;
  format?: "json" | "csv";
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Cluster and registry names, login servers and other declared registry entries. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

export function subjectRef(param: string, value: string): SubjectRef {
  const v = value.trim();
  if (v.startsWith("/")) {
    if (!looksLikeResourceId(v) || v.length > 1024) {
      throw new ApiError(
        "InvalidQueryParameter",
        `Query parameter '${param}' must be a resource ID (/subscriptions/...) or a name (got ${quote(value)}).`,
        param,
      );
    }
    // `normalizeId` drops trailing slashes; so does the filter (else `<id>/` would match nothing).
    return { kind: "id", id: v.replace(/\/+$/, "") };
  }
  if (!NAME.test(v)) {
    throw new ApiError(
      "InvalidQueryParameter",
      `Query parameter '${param}' must be a resource ID (/subscriptions/...) or a name of letters, digits, '.', '_' and '-' (got ${quote(value)}).`,
      param,
    );
  }
  return { kind: "name", name: v };
}

export function parseFindingsQuery(query: URLSearchParams): FindingsRequest {
  const q = readQuery(query, FINDINGS_PARAMS);
  const filter: FindingsFilter = {};
  const get = (n: (typeof FINDINGS_PARAMS)[number]) => q.get(n);
  if (get("status") !== undefined) filter.status = enumValue("status", get("status")!, STATUSES);
  if (get("severity") !== undefined) filter.severity = enumValue("severity", get("severity")!, SEVERITIES);
  if (get("ruleId") !== undefined) filter.ruleId = enumValue("ruleId", get("ruleId")!, RULE_IDS);
  if (get("change") !== undefined) filter.change = enumValue("change", get("change")!, CHANGES);
  if (get("exempted") !== undefined) filter.exempted = boolValue("exempted", get("exempted")!);
  if (get("cluster") !== undefined) filter.cluster = subjectRef("cluster", get("cluster")!);
  if (get("registry") !== undefined) filter.registry = subjectRef("registry", get("registry")!);
  if (get("subscription") !== undefined) {
    const s = get("subscription")!.trim();
    if (!GUID.test(s))
      throw new ApiError(
        "InvalidQueryParameter",
        `Query parameter 'subscription' must be a subscription ID (a GUID) (got ${quote(s)}).`,
        "subscription",
      );
    filter.subscription = s.toLowerCase();
  }
  const topRaw = get("top");
  const top = topRaw === undefined ? DEFAULT_TOP : intValue("top", topRaw, 1, MAX_TOP);
  const format = get("format") === undefined ? undefined : enumValue("format", get("format")!, ["json", "csv"] as const);
  const skipToken = get(SKIP_TOKEN);
  if (skipToken !== undefined && skipToken.trim() === "") {
    throw new ApiError("InvalidContinuationToken", `Query parameter '${SKIP_TOKEN}' is empty.`, SKIP_TOKEN);
  }
  return { filter, top, topGiven: topRaw !== undefined, skipToken, format };
}

/** The filters in canonical form: what a continuation token is bound to. */
export function canonicalFilter(f: FindingsFilter): Record<string, unknown> {
  const ref = (r?: SubjectRef) =>
    r === undefined ? undefined : r.kind === "id" ? { id: normalizeId(r.id) } : { name: r.name.toLowerCase() };
  return {
    status: f.status,
    severity: f.severity,
    ruleId: f.ruleId,
    cluster: ref(f.cluster),
    registry: ref(f.registry),
    subscription: f.subscription,
    change: f.change,
    exempted: f.exempted,
  };
}

const LOGIN_SERVER = /^([a-z0-9]+)\.azurecr\.[a-z.]+$/i;

/** Whether a registry ID (or declared text) is the one a name, login server or declared entry refers to. */
export function registryNameMatches(registryId: string, name: string): boolean {
  const n = name.toLowerCase();
  if (registryId.toLowerCase() === n) return true; // declared text of an unresolved entry
  const idName = nameOf(registryId).toLowerCase();
  if (idName === n) return true;
  const ls = LOGIN_SERVER.exec(n);
  return !!ls && idName === ls[1];
}

export function clusterNameMatches(clusterId: string, name: string): boolean {
  return nameOf(clusterId).toLowerCase() === name.toLowerCase();
}

function refMatches(id: string | null, ref: SubjectRef | undefined, byName: (id: string, name: string) => boolean): boolean {
  if (ref === undefined) return true;
  if (!id) return false;
  return ref.kind === "id" ? sameId(id, ref.id) : byName(id, ref.name);
}

/** The full filter, applied to what the store returns (cheap, and safe when the access path already decided). */
export function matchesFilter(f: Finding, filter: FindingsFilter): boolean {
  if (filter.status !== undefined && f.status !== filter.status) return false;
  if (filter.severity !== undefined && severityRank(f.severity) < severityRank(filter.severity)) return false;
  if (filter.ruleId !== undefined && f.ruleId !== filter.ruleId) return false;
  if (filter.change !== undefined && f.change !== filter.change) return false;
  if (filter.exempted !== undefined && Boolean(f.exemption) !== filter.exempted) return false;
  if (!refMatches(f.clusterId, filter.cluster, clusterNameMatches)) return false;
  if (!refMatches(f.registryId, filter.registry, registryNameMatches)) return false;
  if (filter.subscription !== undefined) {
    const sub = (f.subscriptionId ?? subscriptionOf(f.clusterId ?? f.registryId ?? "") ?? "").toLowerCase();
    if (sub !== filter.subscription) return false;
  }
  return true;
}

export interface AccessPlan {
  /** Store queries read one after another. */
  queries: FindingQuery[];
  /** True when the queries return exactly the matches (no finding is dropped by `matchesFilter`). */
  exact: boolean;
  /** True when the queries came from resolving a name (they travel in the continuation token). */
  resolved: boolean;
}

const STATUS_ORDER: readonly Status[] = ["fail", "unknown", "pass"];

/**
 * The cheapest access path: a cluster's partition(s), a registry's, or the status + severity partitions
 * (a minimum severity reads each severity at or above it). Names need `resolve` (name -> IDs from the
 * current state); a name that matches nothing gives an empty plan.
 */
export function accessPlan(filter: FindingsFilter, resolved: { clusterIds?: string[]; registryIds?: string[] } = {}): AccessPlan {
  const others = (skip: (keyof FindingsFilter)[]) =>
    (Object.keys(filter) as (keyof FindingsFilter)[]).filter((k) => filter[k] !== undefined && !skip.includes(k)).length === 0;
  if (filter.cluster) {
    const ids = filter.cluster.kind === "id" ? [filter.cluster.id] : (resolved.clusterIds ?? []);
    return { queries: ids.map((clusterId) => ({ clusterId })), exact: others(["cluster"]), resolved: filter.cluster.kind === "name" };
  }
  if (filter.registry) {
    const ids = filter.registry.kind === "id" ? [filter.registry.id] : (resolved.registryIds ?? []);
    return { queries: ids.map((registryId) => ({ registryId })), exact: others(["registry"]), resolved: filter.registry.kind === "name" };
  }
  if (filter.status !== undefined || filter.severity !== undefined) {
    const statuses = filter.status !== undefined ? [filter.status] : STATUS_ORDER;
    const min = filter.severity;
    const severities = [...SEVERITIES].reverse().filter((s) => min === undefined || severityRank(s) >= severityRank(min));
    // One query per partition when the severity is a minimum; the store reads all severities itself otherwise.
    const queries: FindingQuery[] =
      min === undefined
        ? statuses.map((status) => ({ status }))
        : statuses.flatMap((status) => severities.map((severity) => ({ status, severity })));
    return { queries, exact: others(["status", "severity"]), resolved: false };
  }
  return { queries: [{}], exact: others([]), resolved: false };
}
