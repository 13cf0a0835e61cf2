/**
 * Role definition permissions, decided from actions and dataActions (never from role names), with ARM
 * wildcard semantics: `*` matches any run of characters, case-insensitively; `notActions` remove.
 */
import type { Permission, RoleDefinition } from "./inventory.js";

export const PULL_ACTION = "Microsoft.ContainerRegistry/registries/pull/read";
export const CONTENT_READ_DATA_ACTION = "Microsoft.ContainerRegistry/registries/repositories/content/read";

/** Operations that change or delete something in a registry: holding any of them is more than pull. */
export const WRITE_ACTIONS = [
  "Microsoft.ContainerRegistry/registries/write",
  "Microsoft.ContainerRegistry/registries/delete",
  "Microsoft.ContainerRegistry/registries/push/write",
  "Microsoft.ContainerRegistry/registries/artifacts/delete",
  "Microsoft.ContainerRegistry/registries/quarantine/write",
  "Microsoft.ContainerRegistry/registries/sign/write",
  "Microsoft.ContainerRegistry/registries/importImage/action",
  "Microsoft.ContainerRegistry/registries/listCredentials/action",
  "Microsoft.ContainerRegistry/registries/regenerateCredential/action",
  "Microsoft.ContainerRegistry/registries/generateCredentials/action",
  "Microsoft.ContainerRegistry/registries/tokens/write",
  "Microsoft.ContainerRegistry/registries/scopeMaps/write",
  "Microsoft.ContainerRegistry/registries/webhooks/write",
  "Microsoft.ContainerRegistry/registries/replications/write",
  "Microsoft.ContainerRegistry/registries/tasks/write",
  "Microsoft.ContainerRegistry/registries/scheduleRun/action",
  "Microsoft.Authorization/roleAssignments/write",
];
export const WRITE_DATA_ACTIONS = [
  "Microsoft.ContainerRegistry/registries/repositories/content/write",
  "Microsoft.ContainerRegistry/registries/repositories/content/delete",
  "Microsoft.ContainerRegistry/registries/repositories/metadata/write",
  "Microsoft.ContainerRegistry/registries/repositories/metadata/delete",
];

const regexCache = new Map<string, RegExp>();

/** ARM wildcard match of an operation against a permission pattern, case-insensitive. */
export function matchesPattern(pattern: string, operation: string): boolean {
  const p = pattern.trim();
  let re = regexCache.get(p);
  if (!re) {
    const body = p
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    re = new RegExp(`^${body}$`, "i");
    if (regexCache.size > 10_000) regexCache.clear();
    regexCache.set(p, re);
  }
  return re.test(operation.trim());
}

export type Grant = "literal" | "wildcard" | "none";

/**
 * Whether `allowed` minus `denied` grants `operation`: `literal` when an entry names it exactly,
 * `wildcard` when only a pattern with `*` reaches it, `none` otherwise.
 */
export function grantOf(allowed: readonly string[], denied: readonly string[], operation: string): Grant {
  if (denied.some((d) => matchesPattern(d, operation))) return "none";
  let result: Grant = "none";
  for (const a of allowed) {
    if (!matchesPattern(a, operation)) continue;
    if (!a.includes("*")) return "literal";
    result = "wildcard";
  }
  return result;
}

function best(a: Grant, b: Grant): Grant {
  if (a === "literal" || b === "literal") return "literal";
  if (a === "wildcard" || b === "wildcard") return "wildcard";
  return "none";
}

/** Strongest grant of an operation over every permission block (actions or dataActions). */
export function roleGrants(role: RoleDefinition, operation: string, data: boolean): Grant {
  let g: Grant = "none";
  for (const p of role.permissions) {
    g = best(g, data ? grantOf(p.dataActions, p.notDataActions, operation) : grantOf(p.actions, p.notActions, operation));
  }
  return g;
}

export type RegistryMode = "legacy" | "abac";

export function registryMode(roleAssignmentMode: string | undefined): RegistryMode {
  return (roleAssignmentMode ?? "").toLowerCase() === "abacrepositorypermissions" ? "abac" : "legacy";
}

export function isCustomRole(role: RoleDefinition): boolean {
  return role.type.toLowerCase() === "customrole";
}

export type PullDecision = "grants" | "wildcard-only" | "no";

/**
 * Whether a role grants pull on a registry in `mode`. Custom roles reach pull through a wildcard only in
 * tenants with ARM private link (`armPrivateLink`); elsewhere ACR needs the action listed literally.
 */
export function pullDecision(role: RoleDefinition, mode: RegistryMode, armPrivateLink: boolean): PullDecision {
  const grants: Grant[] =
    mode === "abac"
      ? [roleGrants(role, CONTENT_READ_DATA_ACTION, true)]
      : [roleGrants(role, PULL_ACTION, false), roleGrants(role, CONTENT_READ_DATA_ACTION, true)];
  const g = grants.reduce(best, "none");
  if (g === "literal") return "grants";
  if (g === "wildcard") return !isCustomRole(role) || armPrivateLink ? "grants" : "wildcard-only";
  return "no";
}

/** Whether a role could pull in either registry mode (what makes a granted attachment). */
export function couldPull(role: RoleDefinition): boolean {
  return roleGrants(role, PULL_ACTION, false) !== "none" || roleGrants(role, CONTENT_READ_DATA_ACTION, true) !== "none";
}

/** Any registry operation that writes or deletes (`.../write`, `.../delete`), listed or not above. */
const REGISTRY_WRITE = /^microsoft\.containerregistry\/.+\/(write|delete)$/i;

/**
 * The write or delete operations a role reaches in a registry (empty when it only reads): the known ones
 * (also through wildcards), and any other registry `write` / `delete` action or data action the role
 * lists (cache rules, credential sets, webhooks ...), not removed by its `notActions` / `notDataActions`.
 */
export function writeOperations(role: RoleDefinition): string[] {
  const out: string[] = [];
  for (const op of WRITE_ACTIONS) if (roleGrants(role, op, false) !== "none") out.push(op);
  for (const op of WRITE_DATA_ACTIONS) if (roleGrants(role, op, true) !== "none") out.push(op);
  const seen = new Set(out.map((o) => o.toLowerCase()));
  for (const p of role.permissions) {
    for (const [allowed, denied] of [
      [p.actions, p.notActions],
      [p.dataActions, p.notDataActions],
    ] as const) {
      for (const a of allowed) {
        const op = a.trim();
        if (op.includes("*") || !REGISTRY_WRITE.test(op) || seen.has(op.toLowerCase())) continue;
        if (denied.some((d) => matchesPattern(d, op))) continue;
        seen.add(op.toLowerCase());
        out.push(op);
      }
    }
  }
  return out;
}

export function normalizePermissions(raw: unknown): Permission[] {
  if (!Array.isArray(raw)) return [];
  const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  return raw
    .filter((p): p is Record<string, unknown> => p !== null && typeof p === "object")
    .map((p) => ({
      actions: strs(p.actions),
      notActions: strs(p.notActions),
      dataActions: strs(p.dataActions),
      notDataActions: strs(p.notDataActions),
    }));
}
