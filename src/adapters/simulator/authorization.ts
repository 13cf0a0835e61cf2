/**
 * Simulated Microsoft.Authorization (api-version 2022-04-01), answered from the estate's
 * `authorizationresources` rows: role definitions (estate rows, else the built-in copy) and role
 * assignments listed at, above and below a scope with ARM's `$filter` semantics.
 */
import { normalizeId, subscriptionOf } from "../../core/resource-id.js";
import { BUILTIN_ROLES, findBuiltinRole, type BuiltinRole } from "./builtin-roles.js";
import type { Row } from "./estate.js";
import type { AssignmentEntry, EstateIndex } from "./estate-index.js";
import { armError, bindingOf, decodeToken, encodeToken, type SimResponse } from "./responses.js";
import { text } from "../../core/text.js";

const MARKER = "/providers/microsoft.authorization/";

export interface AuthorizationRoute {
  /** Scope as written in the path (`/` for the root). */
  scope: string;
  collection: "roleDefinitions" | "roleAssignments";
  /** Role definition GUID or role assignment name, for single-item routes. */
  item?: string;
}

/** Recognises `{scope}/providers/Microsoft.Authorization/{roleDefinitions|roleAssignments}[/{name}]`. */
export function matchAuthorizationRoute(path: string): AuthorizationRoute | undefined {
  const at = path.toLowerCase().lastIndexOf(MARKER);
  if (at < 0) return undefined;
  const scope = path.slice(0, at) || "/";
  const rest = path.slice(at + MARKER.length).split("/");
  const collection = rest[0].toLowerCase();
  if (rest.length > 2 || (collection !== "roledefinitions" && collection !== "roleassignments")) return undefined;
  return {
    scope,
    collection: collection === "roledefinitions" ? "roleDefinitions" : "roleAssignments",
    item: rest.length === 2 && rest[1] !== "" ? rest[1] : undefined,
  };
}

/** The subscription a route's scope lies in, if any (lower-case). */
export function routeSubscription(route: AuthorizationRoute): string | undefined {
  return subscriptionOf(route.scope);
}

type Clause = { k: "atScope" } | { k: "principalId"; v: string } | { k: "roleName"; v: string } | { k: "type"; v: string };

/** Parses an OData `$filter` of `and`-joined clauses the authorization API supports. */
function parseFilter(filter: string, allowed: Clause["k"][]): Clause[] | string {
  const parts: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i];
    if (c === "'") quoted = !quoted;
    if (!quoted && /\s/.test(c) && /^\s+and\s+/i.test(filter.slice(i))) {
      parts.push(cur);
      i += (/^\s+and\s+/i.exec(filter.slice(i)) as RegExpExecArray)[0].length - 1;
      cur = "";
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  const out: Clause[] = [];
  const str = "'((?:[^']|'')*)'";
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpExecArray | null;
    let clause: Clause | undefined;
    if (/^atScope\(\s*\)$/i.test(p)) clause = { k: "atScope" };
    else if ((m = new RegExp(`^assignedTo\\(\\s*${str}\\s*\\)$`, "i").exec(p))) clause = { k: "principalId", v: m[1].replace(/''/g, "'") };
    else if ((m = new RegExp(`^principalId\\s+eq\\s+${str}$`, "i").exec(p))) clause = { k: "principalId", v: m[1].replace(/''/g, "'") };
    else if ((m = new RegExp(`^roleName\\s+eq\\s+${str}$`, "i").exec(p))) clause = { k: "roleName", v: m[1].replace(/''/g, "'") };
    else if ((m = new RegExp(`^type\\s+eq\\s+${str}$`, "i").exec(p))) clause = { k: "type", v: m[1].replace(/''/g, "'") };
    if (!clause || !allowed.includes(clause.k)) return p;
    out.push(clause);
  }
  return out;
}

function props(row: Row): Record<string, unknown> {
  const p = row.properties;
  return p !== null && typeof p === "object" && !Array.isArray(p) ? { ...(p as Record<string, unknown>) } : {};
}

function nameOfRow(row: Row): string {
  return typeof row.name === "string" && row.name !== "" ? row.name : (row.id.split("/").pop() ?? "");
}

function assignmentResource(a: AssignmentEntry): Record<string, unknown> {
  return {
    properties: { ...props(a.row), scope: a.scope },
    id: a.row.id,
    type: "Microsoft.Authorization/roleAssignments",
    name: nameOfRow(a.row),
  };
}

function scopePrefix(scope: string): string {
  const s = scope.replace(/\/+$/, "");
  return s === "" ? "" : s;
}

function definitionResource(scope: string, guid: string, row: Row | undefined, builtin: BuiltinRole | undefined): Record<string, unknown> {
  const properties = row
    ? props(row)
    : {
        roleName: builtin!.roleName,
        type: builtin!.type,
        description: builtin!.description,
        assignableScopes: [...builtin!.assignableScopes],
        permissions: builtin!.permissions.map((p) => ({
          actions: [...p.actions],
          notActions: [...p.notActions],
          dataActions: [...p.dataActions],
          notDataActions: [...p.notDataActions],
        })),
      };
  return {
    properties,
    id: `${scopePrefix(scope)}/providers/Microsoft.Authorization/roleDefinitions/${guid}`,
    type: "Microsoft.Authorization/roleDefinitions",
    name: guid,
  };
}

export interface AuthorizationContext {
  index: EstateIndex;
  pageSize: number;
  /** `https://host` of the request, for nextLink. */
  origin: string;
  /** Normalised request path, original case. */
  path: string;
  search: URLSearchParams;
}

function unsupportedFilter(clause: string, supported: string): SimResponse {
  return armError(400, "BadRequest", `The filter '${clause}' is not supported by the ARM simulator. Supported: ${supported}.`);
}

/** Answers a GET on an authorization route. */
export function answerAuthorization(route: AuthorizationRoute, ctx: AuthorizationContext): SimResponse {
  const { index } = ctx;
  const sub = routeSubscription(route);
  if (sub && !index.isReadable(sub)) {
    const action = `Microsoft.Authorization/${route.collection}/read`;
    return armError(
      403,
      "AuthorizationFailed",
      `The client does not have authorization to perform action '${action}' over scope '${route.scope}' or the scope is invalid.`,
    );
  }
  const filterText = ctx.search.get("$filter") ?? "";

  if (route.collection === "roleDefinitions") {
    if (route.item !== undefined) {
      const guid = route.item.toLowerCase();
      const row = index.roleDefinitions.get(guid);
      const builtin = row ? undefined : findBuiltinRole(guid);
      if (!row && !builtin)
        return armError(404, "RoleDefinitionDoesNotExist", `The specified role definition with ID '${route.item}' does not exist.`);
      return { status: 200, body: definitionResource(route.scope, guid, row, builtin) };
    }
    const clauses = filterText ? parseFilter(filterText, ["roleName", "type"]) : [];
    if (typeof clauses === "string") return unsupportedFilter(clauses, "roleName eq '...', type eq 'BuiltInRole' or 'CustomRole'");
    const all: Record<string, unknown>[] = [];
    for (const [guid, row] of index.roleDefinitions) all.push(definitionResource(route.scope, guid, row, undefined));
    for (const b of BUILTIN_ROLES) if (!index.roleDefinitions.has(b.name)) all.push(definitionResource(route.scope, b.name, undefined, b));
    const items = all.filter((d) => {
      const p = d.properties as Record<string, unknown>;
      return clauses.every((c) =>
        c.k === "roleName"
          ? text(p.roleName).toLowerCase() === c.v.toLowerCase()
          : c.k === "type"
            ? text(p.type).toLowerCase() === c.v.toLowerCase()
            : true,
      );
    });
    return page(items, ctx, filterText);
  }

  if (route.item !== undefined) {
    const id = normalizeId(`${scopePrefix(route.scope)}/providers/Microsoft.Authorization/roleAssignments/${route.item}`);
    const found = index.roleAssignments.find((a) => normalizeId(a.row.id) === id && visible(a, index));
    if (!found) return armError(404, "RoleAssignmentNotFound", `The role assignment '${route.item}' is not found.`);
    return { status: 200, body: assignmentResource(found) };
  }
  const clauses = filterText ? parseFilter(filterText, ["atScope", "principalId"]) : [];
  if (typeof clauses === "string")
    return unsupportedFilter(clauses, "atScope(), principalId eq '...', assignedTo('...'), joined with 'and'");
  const atScopeOnly = clauses.some((c) => c.k === "atScope");
  const principals = clauses.filter((c) => c.k === "principalId").map((c) => (c as { v: string }).v.toLowerCase());
  const items = index.roleAssignments
    .filter((a) => visible(a, index))
    .filter((a) => index.assignmentAtOrAbove(a, route.scope) || (!atScopeOnly && index.assignmentAtOrBelow(a, route.scope)))
    .filter((a) => principals.every((p) => text(props(a.row).principalId).toLowerCase() === p))
    .map(assignmentResource);
  return page(items, ctx, filterText);
}

/** Assignments inside a subscription the auditor cannot read are never shown. */
function visible(a: AssignmentEntry, index: EstateIndex): boolean {
  return a.place.k !== "subscription" || index.isReadable(a.place.sub);
}

function page(items: Record<string, unknown>[], ctx: AuthorizationContext, filter: string): SimResponse {
  const binding = bindingOf([normalizeId(ctx.path), filter]);
  let start = 0;
  const token = ctx.search.get("$skipToken");
  if (token !== null) {
    const decoded = decodeToken(token, binding);
    if ("problem" in decoded || decoded.offset > items.length) {
      const problem = "problem" in decoded ? decoded.problem : "the continuation token points past the end of the list";
      return armError(400, "InvalidSkipToken", `The $skipToken is invalid: ${problem}.`);
    }
    start = decoded.offset;
  }
  const value = items.slice(start, start + ctx.pageSize);
  const body: Record<string, unknown> = { value };
  if (start + value.length < items.length) {
    const params = new URLSearchParams();
    if (filter) params.set("$filter", filter);
    params.set("api-version", ctx.search.get("api-version") ?? "2022-04-01");
    params.set("$skipToken", encodeToken(start + value.length, binding));
    body.nextLink = `${ctx.origin}${ctx.path}?${params.toString().replace(/\+/g, "%20")}`;
  }
  return { status: 200, body };
}
