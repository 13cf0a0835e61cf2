/**
 * Lookups over an estate that both simulated services need: which subscriptions are readable, the
 * management-group hierarchy, and what scope each row belongs to.
 */
import { normalizeId, scopeContains, subscriptionOf } from "../../core/resource-id.js";
import type { Estate, Row, TableName } from "./estate.js";

const MG_SCOPE = /^\/providers\/microsoft\.management\/managementgroups\/([^/]+)$/;
const ASSIGNMENT_SUFFIX = /\/providers\/microsoft\.authorization\/roleassignments\/[^/]+$/i;

export type RowPlace =
  /** Belongs to a subscription (lower-case GUID). */
  | { k: "subscription"; sub: string }
  /** A role definition outside any subscription: visible to every scope. */
  | { k: "tenant-roledefinition" }
  /** A role assignment at a management group (lower-case name). */
  | { k: "mg-assignment"; group: string }
  /** A role assignment at the root scope `/`. */
  | { k: "root-assignment" }
  /** A management group row (lower-case name). */
  | { k: "management-group"; group: string }
  /** Anything else outside subscriptions. */
  | { k: "tenant" };

export interface IndexedRow {
  row: Row;
  place: RowPlace;
}

export interface AssignmentEntry {
  row: Row;
  /** Scope as stored (or derived from the id). */
  scope: string;
  /** Normalised scope. */
  scopeKey: string;
  place: RowPlace;
}

/** The management group named by a scope (lower-case), or undefined. */
export function managementGroupOfScope(scope: string): string | undefined {
  const m = MG_SCOPE.exec(normalizeId(scope));
  return m ? m[1] : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v : undefined;
}

function propertiesOf(row: Row): Record<string, unknown> {
  const p = row.properties;
  return p !== null && typeof p === "object" && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
}

function chainNames(chain: unknown): string[] {
  if (!Array.isArray(chain)) return [];
  return chain
    .map((c) => (c !== null && typeof c === "object" ? str((c as Record<string, unknown>).name) : str(c)))
    .filter((n): n is string => n !== undefined)
    .map((n) => n.toLowerCase());
}

export class EstateIndex {
  /** Readable subscriptions: lower-case GUID -> management group names, nearest first. */
  readonly subscriptions = new Map<string, string[]>();
  /** Management group -> parent (lower-case names). */
  private readonly parents = new Map<string, string>();
  readonly rows: Record<TableName, IndexedRow[]>;
  /** Table columns: Resource Graph's standard columns plus any other top-level field seen in rows. */
  readonly columns: Record<TableName, string[]>;
  readonly roleAssignments: AssignmentEntry[] = [];
  /** Role definition rows by lower-case GUID, in estate order. */
  readonly roleDefinitions = new Map<string, Row>();

  constructor(readonly estate: Estate) {
    const t = estate.tables;
    for (const row of t.resourcecontainers) {
      const props = propertiesOf(row);
      if (row.type === "microsoft.resources/subscriptions") {
        const sub = (str(row.subscriptionId) ?? subscriptionOf(row.id))?.toLowerCase();
        if (!sub) continue;
        const chain = chainNames(props.managementGroupAncestorsChain);
        this.subscriptions.set(sub, chain);
        for (let i = 0; i + 1 < chain.length; i++) if (!this.parents.has(chain[i])) this.parents.set(chain[i], chain[i + 1]);
      } else if (row.type === "microsoft.management/managementgroups") {
        const name = (str(row.name) ?? row.id.split("/").pop() ?? "").toLowerCase();
        const details = (props.details ?? {}) as Record<string, unknown>;
        const parent = (details.parent ?? {}) as Record<string, unknown>;
        const parentName = str(parent.name) ?? str(parent.id)?.split("/").pop();
        if (parentName) this.parents.set(name, parentName.toLowerCase());
        const chain = chainNames(details.managementGroupAncestorsChain ?? props.managementGroupAncestorsChain);
        const full = [name, ...chain];
        for (let i = 0; i + 1 < full.length; i++) if (!this.parents.has(full[i])) this.parents.set(full[i], full[i + 1]);
      }
    }

    const index = (table: TableName): IndexedRow[] => t[table].map((row) => ({ row, place: this.placeOf(table, row) }));
    this.rows = {
      resources: index("resources"),
      resourcecontainers: index("resourcecontainers"),
      authorizationresources: index("authorizationresources"),
    };

    const standard = [
      "id",
      "name",
      "type",
      "tenantId",
      "kind",
      "location",
      "resourceGroup",
      "subscriptionId",
      "managedBy",
      "sku",
      "plan",
      "properties",
      "tags",
      "identity",
      "zones",
      "extendedLocation",
    ];
    const columnsOf = (table: TableName): string[] => {
      const cols = new Set(standard);
      for (const row of t[table]) for (const k of Object.keys(row)) cols.add(k);
      return [...cols];
    };
    this.columns = {
      resources: columnsOf("resources"),
      resourcecontainers: columnsOf("resourcecontainers"),
      authorizationresources: columnsOf("authorizationresources"),
    };

    for (const { row, place } of this.rows.authorizationresources) {
      if (row.type === "microsoft.authorization/roleassignments") {
        const scope = this.assignmentScope(row);
        this.roleAssignments.push({ row, scope, scopeKey: normalizeId(scope), place });
      } else if (row.type === "microsoft.authorization/roledefinitions") {
        const guid = (str(row.name) ?? row.id.split("/").pop() ?? "").toLowerCase();
        if (!this.roleDefinitions.has(guid)) this.roleDefinitions.set(guid, row);
      }
    }
  }

  private assignmentScope(row: Row): string {
    const s = str(propertiesOf(row).scope);
    if (s) return s;
    const derived = row.id.replace(ASSIGNMENT_SUFFIX, "");
    return derived === "" ? "/" : derived;
  }

  private placeOf(table: TableName, row: Row): RowPlace {
    if (table === "authorizationresources" && row.type === "microsoft.authorization/roleassignments") {
      const scope = this.assignmentScope(row);
      const group = managementGroupOfScope(scope);
      if (group) return { k: "mg-assignment", group };
      if (normalizeId(scope) === "/") return { k: "root-assignment" };
    }
    if (table === "resourcecontainers" && row.type === "microsoft.management/managementgroups")
      return { k: "management-group", group: (str(row.name) ?? row.id.split("/").pop() ?? "").toLowerCase() };
    const sub = (str(row.subscriptionId) ?? subscriptionOf(row.id))?.toLowerCase();
    if (sub) return { k: "subscription", sub };
    if (row.type === "microsoft.authorization/roledefinitions") return { k: "tenant-roledefinition" };
    return { k: "tenant" };
  }

  isReadable(sub: string): boolean {
    return this.subscriptions.has(sub.toLowerCase());
  }

  /** Ancestors of a management group, nearest first (lower-case). */
  ancestorsOf(group: string): string[] {
    const out: string[] = [];
    let g = this.parents.get(group.toLowerCase());
    while (g !== undefined && !out.includes(g) && out.length < 64) {
      out.push(g);
      g = this.parents.get(g);
    }
    return out;
  }

  /** Management groups above a subscription, nearest first. */
  groupsAbove(sub: string): string[] {
    return this.subscriptions.get(sub.toLowerCase()) ?? [];
  }

  /** True when `group` is `ancestor` or below it. */
  groupWithin(group: string, ancestor: string): boolean {
    const g = group.toLowerCase();
    const a = ancestor.toLowerCase();
    return g === a || this.ancestorsOf(g).includes(a);
  }

  /** True when a readable subscription sits (at any depth) under the management group. */
  subscriptionUnder(sub: string, group: string): boolean {
    const chain = this.subscriptions.get(sub.toLowerCase());
    if (!chain) return false;
    const g = group.toLowerCase();
    return chain.includes(g) || chain.some((c) => this.ancestorsOf(c).includes(g));
  }

  /** Every management group this index knows of. */
  knownGroups(): Set<string> {
    const out = new Set<string>();
    for (const chain of this.subscriptions.values()) chain.forEach((g) => out.add(g));
    for (const [g, p] of this.parents) {
      out.add(g);
      out.add(p);
    }
    return out;
  }

  /**
   * Management groups (lower-case) above or at a scope: for a scope in a subscription, that
   * subscription's ancestors; for a management group, itself and its ancestors; for `/`, none.
   */
  groupsAtOrAboveScope(scope: string): string[] {
    const group = managementGroupOfScope(scope);
    if (group) return [group, ...this.ancestorsOf(group)];
    const sub = subscriptionOf(scope);
    return sub ? this.groupsAbove(sub) : [];
  }

  /** True when an assignment's place is at or above `scope`. */
  assignmentAtOrAbove(a: AssignmentEntry, scope: string): boolean {
    switch (a.place.k) {
      case "root-assignment":
        return true;
      case "mg-assignment":
        return this.groupsAtOrAboveScope(scope).includes(a.place.group);
      default:
        return scopeContains(a.scope, scope);
    }
  }

  /** True when an assignment's place is at or below `scope`. */
  assignmentAtOrBelow(a: AssignmentEntry, scope: string): boolean {
    const key = normalizeId(scope);
    if (key === "/") return true;
    const group = managementGroupOfScope(scope);
    switch (a.place.k) {
      case "root-assignment":
        return false;
      case "mg-assignment":
        return group !== undefined && this.groupWithin(a.place.group, group);
      case "subscription":
        if (group !== undefined) return this.subscriptionUnder(a.place.sub, group);
        return scopeContains(scope, a.scope);
      default:
        return scopeContains(scope, a.scope);
    }
  }
}
