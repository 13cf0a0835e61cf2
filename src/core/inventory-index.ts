/** Lookup structures over an inventory, built once per run. All ID lookups are case-insensitive. */
import type { Cloud } from "./clouds.js";
import type {
  Cluster,
  Inventory,
  NatGateway,
  PrivateDnsZoneLink,
  PrivateEndpoint,
  PublicIpAddress,
  PublicIpPrefix,
  Registry,
  Replication,
  RoleAssignment,
  RoleDefinition,
  VirtualNetwork,
} from "./inventory.js";
import { IdMap, normalizeId, resourceGroupIdOf, roleDefinitionGuid, subscriptionOf } from "./resource-id.js";

export type Visibility = "visible" | "not-readable" | "failed";

export class InventoryIndex {
  readonly clusters = new IdMap<Cluster>();
  readonly registries = new IdMap<Registry>();
  readonly registriesByName = new Map<string, Registry>();
  readonly registriesByLoginServer = new Map<string, Registry>();
  readonly registriesByResourceGroup = new Map<string, Registry[]>();
  readonly assignmentsByPrincipal = new Map<string, RoleAssignment[]>();
  readonly roleDefinitions = new Map<string, RoleDefinition>();
  readonly readable = new Set<string>();
  readonly failed = new Set<string>();
  readonly managementGroups = new Map<string, string[]>();
  readonly vnets = new IdMap<VirtualNetwork>();
  readonly subnetOwner = new IdMap<VirtualNetwork>();
  readonly failedQueries: Set<string>;
  readonly publicIps = new IdMap<PublicIpAddress>();
  readonly publicIpPrefixes = new IdMap<PublicIpPrefix>();
  readonly natGateways = new IdMap<NatGateway>();
  readonly privateEndpoints = new IdMap<PrivateEndpoint>();
  /** DNS zone links by `<zone>|<normalised vnet ID>`. */
  readonly dnsLinks = new Map<string, PrivateDnsZoneLink>();
  /** Managed VNets by `<subscription>/<resource group>` (lower-case). */
  readonly vnetsByResourceGroup = new Map<string, VirtualNetwork>();
  readonly replicationsByRegistry = new IdMap<Replication[]>();

  constructor(
    readonly inventory: Inventory,
    readonly cloud: Cloud,
  ) {
    for (const s of inventory.subscriptions) {
      this.readable.add(s.subscriptionId.toLowerCase());
      this.managementGroups.set(s.subscriptionId.toLowerCase(), s.managementGroups);
    }
    for (const f of inventory.failedSubscriptions) this.failed.add(f.toLowerCase());
    this.failedQueries = new Set(inventory.missed);
    for (const c of inventory.clusters) this.clusters.set(c.id, c);
    for (const r of inventory.registries) {
      this.registries.set(r.id, r);
      this.registriesByName.set(r.name.toLowerCase(), r);
      if (r.loginServer) this.registriesByLoginServer.set(r.loginServer.toLowerCase(), r);
      const rg = resourceGroupIdOf(r.id);
      if (rg) {
        const list = this.registriesByResourceGroup.get(rg) ?? [];
        list.push(r);
        this.registriesByResourceGroup.set(rg, list);
      }
    }
    for (const a of inventory.roleAssignments) {
      const k = a.principalId.toLowerCase();
      const list = this.assignmentsByPrincipal.get(k) ?? [];
      list.push(a);
      this.assignmentsByPrincipal.set(k, list);
    }
    for (const d of inventory.roleDefinitions) this.roleDefinitions.set(d.guid, d);
    for (const v of inventory.network.vnets) {
      this.vnets.set(v.id, v);
      for (const s of v.subnets) this.subnetOwner.set(s.id, v);
      const k = `${v.subscriptionId}/${v.resourceGroup}`.toLowerCase();
      if (!this.vnetsByResourceGroup.has(k)) this.vnetsByResourceGroup.set(k, v);
    }
    for (const p of inventory.network.publicIps) this.publicIps.set(p.id, p);
    for (const p of inventory.network.publicIpPrefixes) this.publicIpPrefixes.set(p.id, p);
    for (const n of inventory.network.natGateways) this.natGateways.set(n.id, n);
    for (const p of inventory.network.privateEndpoints) this.privateEndpoints.set(p.id, p);
    for (const l of inventory.network.dnsZoneLinks)
      if (l.vnetId) this.dnsLinks.set(`${l.zoneName.toLowerCase()}|${normalizeId(l.vnetId)}`, l);
    for (const r of inventory.replications) {
      const list = this.replicationsByRegistry.get(r.registryId) ?? [];
      list.push(r);
      this.replicationsByRegistry.set(r.registryId, list);
    }
  }

  /** Whether query `name` missed data of subscription `subscriptionId` (or failed as a whole). */
  missedFor(name: string, subscriptionId: string | undefined): boolean {
    return this.failedQueries.has(name) || (!!subscriptionId && this.failedQueries.has(`${name}:${subscriptionId.toLowerCase()}`));
  }

  /** Whether query `name` missed anything at all. */
  missedAny(name: string): boolean {
    for (const q of this.failedQueries) if (q === name || q.startsWith(name + ":")) return true;
    return false;
  }

  /** Whether the subjects of a subscription can be seen this run. */
  visibility(subscriptionId: string | undefined): Visibility {
    if (!subscriptionId) return "not-readable";
    const s = subscriptionId.toLowerCase();
    if (!this.readable.has(s)) return "not-readable";
    if (this.failed.has(s)) return "failed";
    return "visible";
  }

  visibilityOfId(id: string): Visibility {
    return this.visibility(subscriptionOf(id));
  }

  roleOf(a: RoleAssignment): RoleDefinition | undefined {
    return this.roleDefinitions.get(roleDefinitionGuid(a.roleDefinitionId));
  }

  /**
   * The scopes at or above a registry that can grant on it: the registry, its resource group, its
   * subscription, the subscription's management groups, and root.
   */
  scopesAbove(registryId: string): string[] {
    const id = normalizeId(registryId);
    const out = [id];
    const rg = resourceGroupIdOf(id);
    if (rg) out.push(rg);
    const sub = subscriptionOf(id);
    if (sub) {
      out.push(`/subscriptions/${sub}`);
      for (const mg of this.managementGroups.get(sub) ?? []) {
        out.push(`/providers/microsoft.management/managementgroups/${mg.toLowerCase()}`);
      }
    }
    out.push("/");
    return out;
  }

  /** Role assignments of a principal at or above a registry, with the kind of scope. */
  assignmentsOn(principalId: string, registryId: string): { assignment: RoleAssignment; level: ScopeLevel }[] {
    const scopes = this.scopesAbove(registryId);
    const out: { assignment: RoleAssignment; level: ScopeLevel }[] = [];
    for (const a of this.assignmentsByPrincipal.get(principalId.toLowerCase()) ?? []) {
      const s = normalizeId(a.scope || "/");
      const i = scopes.indexOf(s);
      if (i < 0) continue;
      out.push({ assignment: a, level: levelOf(i, scopes.length) });
    }
    return out;
  }
}

export type ScopeLevel = "registry" | "resourceGroup" | "subscription" | "managementGroup" | "root";

function levelOf(index: number, total: number): ScopeLevel {
  if (index === 0) return "registry";
  if (index === 1) return "resourceGroup";
  if (index === 2) return "subscription";
  if (index === total - 1) return "root";
  return "managementGroup";
}
