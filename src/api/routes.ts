/**
 * The route table: every HTTP function, its route (relative to the host's `api` prefix), method and auth
 * level. The function files register from it (`registrationOf`), and the local server (src/server.ts) routes
 * with it, so both serve exactly the same routes.
 *
 * 405: the Functions host answers 404 for a method no function registered on a route. So the first
 * function of each route also registers the methods nobody else on that route handles, and answers them
 * with 405 and an `Allow` header.
 */

export type AuthLevel = "anonymous" | "function" | "admin";
export type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface Operation {
  /** Registered function name = file name in src/functions. */
  name: string;
  method: Method;
  /** Route template as the host knows it (`{name}` one segment, `{*name}` the rest of the path). */
  route: string;
  authLevel: AuthLevel;
}

/** Methods registered on every route (the host 404s anything else; our server answers 405). */
export const ROUTED_METHODS: readonly Method[] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

export const OPERATIONS: readonly Operation[] = [
  { name: "findings-list", method: "GET", route: "findings", authLevel: "function" },
  { name: "findings-summary", method: "GET", route: "findings/summary", authLevel: "function" },
  { name: "runs-list", method: "GET", route: "runs", authLevel: "function" },
  { name: "runs-start", method: "POST", route: "runs", authLevel: "admin" },
  { name: "runs-get", method: "GET", route: "runs/{runId}", authLevel: "function" },
  { name: "runs-changes", method: "GET", route: "runs/{runId}/changes", authLevel: "function" },
  // One segment (`clusters/<URL-encoded ID or name>/attachments`) or the raw ID (`clusters/subscriptions/...
  // /attachments`): a catch-all covers both; the handler requires the `/attachments` suffix.
  { name: "cluster-attachments", method: "GET", route: "clusters/{*clusterId}", authLevel: "function" },
  { name: "attachments-forget", method: "POST", route: "attachments/forget", authLevel: "admin" },
  { name: "health", method: "GET", route: "health", authLevel: "anonymous" },
  { name: "openapi", method: "GET", route: "openapi.json", authLevel: "function" },
  { name: "exemptions-list", method: "GET", route: "exemptions", authLevel: "function" },
  { name: "exemptions-create", method: "POST", route: "exemptions", authLevel: "admin" },
  { name: "exemptions-delete", method: "DELETE", route: "exemptions/{id}", authLevel: "admin" },
  { name: "triage", method: "GET", route: "triage", authLevel: "function" },
];

export type OperationName =
  | "findings-list"
  | "findings-summary"
  | "runs-list"
  | "runs-start"
  | "runs-get"
  | "runs-changes"
  | "cluster-attachments"
  | "attachments-forget"
  | "health"
  | "openapi"
  | "exemptions-list"
  | "exemptions-create"
  | "exemptions-delete"
  | "triage";

export function operation(name: OperationName): Operation {
  const op = OPERATIONS.find((o) => o.name === name);
  if (!op) throw new Error(`no operation ${name}`);
  return op;
}

/** Methods served on a route by some function (for `Allow`). */
export function allowedMethods(route: string): Method[] {
  return OPERATIONS.filter((o) => o.route === route).map((o) => o.method);
}

/** What a function registers: its own method, plus (for the route's first function) the unclaimed ones. */
export function registrationOf(name: OperationName): { route: string; methods: Method[]; authLevel: AuthLevel } {
  const op = operation(name);
  const onRoute = OPERATIONS.filter((o) => o.route === op.route);
  const methods: Method[] = [op.method];
  if (onRoute[0].name === op.name) {
    const claimed = new Set(onRoute.map((o) => o.method));
    for (const m of ROUTED_METHODS) if (!claimed.has(m)) methods.push(m);
  }
  return { route: op.route, methods, authLevel: op.authLevel };
}

export interface RouteMatch {
  op: Operation;
  params: Record<string, string>;
}

interface Segment {
  literal?: string;
  param?: string;
  catchAll?: boolean;
}

function parseTemplate(route: string): Segment[] {
  return route.split("/").map((s) => {
    const m = /^\{(\*?)([A-Za-z]\w*)\}$/.exec(s);
    if (!m) return { literal: s.toLowerCase() };
    return { param: m[2], catchAll: m[1] === "*" };
  });
}

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Matches a path relative to the prefix (`findings`, `runs/abc/changes`) against one template. */
export function matchTemplate(route: string, rawSegments: string[]): Record<string, string> | undefined {
  const tpl = parseTemplate(route);
  const params: Record<string, string> = {};
  for (let i = 0; i < tpl.length; i++) {
    const t = tpl[i];
    if (t.catchAll) {
      const rest = rawSegments.slice(i);
      if (rest.length === 0 || rest.every((s) => s === "")) return undefined;
      // Like ASP.NET Core's `{*x}`: decoded, slashes kept as they came.
      const decoded = rest.map(decodeSegment);
      if (decoded.some((d) => d === undefined)) return undefined;
      params[t.param!] = decoded.join("/");
      return params;
    }
    const raw = rawSegments[i];
    if (raw === undefined || raw === "") return undefined;
    if (t.literal !== undefined) {
      if (raw.toLowerCase() !== t.literal) return undefined;
    } else {
      const d = decodeSegment(raw);
      if (d === undefined) return undefined;
      params[t.param!] = d;
    }
  }
  // One trailing slash is no segment (ASP.NET Core's router, which the host uses, ignores it too).
  const n = rawSegments.length === tpl.length + 1 && rawSegments[tpl.length] === "" ? tpl.length : rawSegments.length;
  return n === tpl.length ? params : undefined;
}

/** Literal segments first, then parameters, catch-alls last (as the host's router ranks them). */
function rank(route: string): number[] {
  return parseTemplate(route).map((s) => (s.literal !== undefined ? 0 : s.catchAll ? 2 : 1));
}

function compareRank(a: string, b: string): number {
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
    const x = ra[i] ?? -1;
    const y = rb[i] ?? -1;
    if (x !== y) return x - y;
  }
  return 0;
}

const ROUTES_BY_RANK = [...new Set(OPERATIONS.map((o) => o.route))].sort(compareRank);

/**
 * The function the host would invoke for `method` on `path` (relative to the `api` prefix, raw, still
 * percent-encoded), or `{ route }` when the route exists but nothing registered the method, or undefined.
 */
export function resolveRoute(method: string, path: string): RouteMatch | { route: string; params: Record<string, string> } | undefined {
  const segments = path.replace(/^\/+/, "").split("/");
  for (const route of ROUTES_BY_RANK) {
    const params = matchTemplate(route, segments);
    if (!params) continue;
    const fns = OPERATIONS.filter((o) => o.route === route);
    const upper = method.toUpperCase();
    const op = fns.find((o) => registrationOf(o.name as OperationName).methods.includes(upper as Method));
    return op ? { op, params } : { route, params };
  }
  return undefined;
}
