/**
 * The discovery adapter: Resource Graph for inventory (and the authorization API for built-in role
 * definitions), behind the core's DiscoveryPort. The same code runs against Azure and the simulator.
 */
import type { AuthorizationManagementClient } from "@azure/arm-authorization";
import type { ResourceGraphClient } from "@azure/arm-resourcegraph";
import { emptyNetworkFacts, type NetworkFacts, type RoleDefinition } from "../../core/inventory.js";
import type { AuditScope, DiscoveryPort, DiscoveryStats, NetworkNeeds, Partial as PartialResult, SubjectFilter } from "../../core/ports.js";
import { normalizeId, parentOf, roleDefinitionGuid, uniqueIds } from "../../core/resource-id.js";
import { ArgQueryRunner, chunk, kql, kqlList, mapLimit, type QueryResult } from "./arg-client.js";
import * as rows from "./rows.js";

/** IDs per `in~` list: keeps each query well under Resource Graph's query size limit. */
export const IDS_PER_QUERY = 400;

export const QUERIES = {
  subscriptions:
    "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' | project id, name, subscriptionId, managementGroups = properties.managementGroupAncestorsChain",
  clusters:
    "resources | where type =~ 'microsoft.containerservice/managedclusters' | project id, name, location, resourceGroup, subscriptionId, tags, identityProfile = properties.identityProfile, servicePrincipalProfile = properties.servicePrincipalProfile, nodeResourceGroup = properties.nodeResourceGroup, agentPoolProfiles = properties.agentPoolProfiles, networkProfile = properties.networkProfile",
  registries:
    "resources | where type =~ 'microsoft.containerregistry/registries' | project id, name, location, resourceGroup, subscriptionId, tags, sku, loginServer = properties.loginServer, adminUserEnabled = properties.adminUserEnabled, anonymousPullEnabled = properties.anonymousPullEnabled, publicNetworkAccess = properties.publicNetworkAccess, networkRuleSet = properties.networkRuleSet, roleAssignmentMode = properties.roleAssignmentMode, privateEndpointConnections = properties.privateEndpointConnections",
  roleAssignments: (principals: string[]): string =>
    `authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | where tostring(properties.principalId) in~ ${kqlList(principals)} | project id, scope = tostring(properties.scope), principalId = tostring(properties.principalId), roleDefinitionId = tostring(properties.roleDefinitionId), condition = tostring(properties.condition)`,
  roleDefinitions: (guids: string[]): string =>
    `authorizationresources | where type =~ 'microsoft.authorization/roledefinitions' | where name in~ ${kqlList(guids)} | project id, name, roleName = tostring(properties.roleName), roleType = tostring(properties.type), permissions = properties.permissions`,
  vnetsById: (ids: string[]): string =>
    `resources | where type =~ 'microsoft.network/virtualnetworks' | where id in~ ${kqlList(ids)} | project id, name, subscriptionId, resourceGroup, subnets = properties.subnets, peerings = properties.virtualNetworkPeerings, dnsServers = properties.dhcpOptions.dnsServers`,
  vnetsByResourceGroup: (groups: string[]): string =>
    `resources | where type =~ 'microsoft.network/virtualnetworks' | where resourceGroup in~ ${kqlList(groups)} | project id, name, subscriptionId, resourceGroup, subnets = properties.subnets, peerings = properties.virtualNetworkPeerings, dnsServers = properties.dhcpOptions.dnsServers`,
  privateEndpoints: (ids: string[]): string =>
    `resources | where type =~ 'microsoft.network/privateendpoints' | where id in~ ${kqlList(ids)} | project id, subnetId = tostring(properties.subnet.id)`,
  natGateways: (ids: string[]): string =>
    `resources | where type =~ 'microsoft.network/natgateways' | where id in~ ${kqlList(ids)} | project id, publicIpAddresses = properties.publicIpAddresses, publicIpPrefixes = properties.publicIpPrefixes`,
  publicIps: (ids: string[]): string =>
    `resources | where type in~ ('microsoft.network/publicipaddresses', 'microsoft.network/publicipprefixes') | where id in~ ${kqlList(ids)} | project id, type, ipAddress = tostring(properties.ipAddress), ipPrefix = tostring(properties.ipPrefix)`,
  dnsZoneLinks: (zone: string, vnetIds: string[]): string =>
    `resources | where type =~ 'microsoft.network/privatednszones/virtualnetworklinks' | where id contains ${kql(`/privateDnsZones/${zone}/`)} | where tostring(properties.virtualNetwork.id) in~ ${kqlList(vnetIds)} | project id, vnetId = tostring(properties.virtualNetwork.id), state = tostring(properties.virtualNetworkLinkState)`,
  replications: (registryIds: string[]): string =>
    `resources | where type =~ 'microsoft.containerregistry/registries/replications' | where ${registryIds.map((id) => `id startswith ${kql(id + "/replications/")}`).join(" or ")} | project id, location, provisioningState = tostring(properties.provisioningState)`,
};

/**
 * Inserts a `where` after the type filter of a subject query, narrowing it to IDs, names, login servers
 * or resource groups (a scoped audit). An empty filter matches nothing.
 */
export function withFilter(query: string, filter?: SubjectFilter): string {
  if (!filter) return query;
  const terms: string[] = [];
  if (filter.ids?.length) terms.push(`id in~ ${kqlList(filter.ids)}`);
  if (filter.names?.length) terms.push(`name in~ ${kqlList(filter.names)}`);
  if (filter.loginServers?.length) terms.push(`tostring(properties.loginServer) in~ ${kqlList(filter.loginServers)}`);
  for (const rg of filter.resourceGroupIds ?? []) {
    const m = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)$/i.exec(normalizeId(rg));
    if (m) terms.push(`(subscriptionId =~ ${kql(m[1])} and resourceGroup =~ ${kql(m[2])})`);
  }
  const where = `| where ${terms.length ? terms.join(" or ") : "id == ''"}`;
  const i = query.indexOf(" | project ");
  return `${query.slice(0, i)} ${where}${query.slice(i)}`;
}

export interface DiscoveryClients {
  resourceGraph: ResourceGraphClient;
  authorization: AuthorizationManagementClient;
  /** Requests the authorization client made (counted by its pipeline policy). */
  authorizationStats?: { requests: number; throttled: number };
  limiterStats?: () => { throttled: number };
}

export class ResourceGraphDiscovery implements DiscoveryPort {
  private readonly runner: ArgQueryRunner;
  private readonly roleCache = new Map<string, RoleDefinition | null>();

  constructor(private readonly clients: DiscoveryClients, opts: { concurrency?: number } = {}) {
    this.runner = new ArgQueryRunner(clients.resourceGraph, { concurrency: opts.concurrency ?? 4 });
  }

  stats(): DiscoveryStats {
    return {
      resourceGraphRequests: this.runner.requests,
      armRequests: this.clients.authorizationStats?.requests ?? 0,
      throttled: (this.clients.limiterStats?.().throttled ?? 0) + (this.clients.authorizationStats?.throttled ?? 0),
      rows: this.runner.rows,
    };
  }

  async listSubscriptions(scope: AuditScope) {
    const managementGroups = scope.kind === "managementGroup" && scope.managementGroup ? [scope.managementGroup] : undefined;
    const data = await this.runner.allPages(QUERIES.subscriptions, { managementGroups });
    const seen = new Set<string>();
    return data
      .map(rows.toSubscription)
      .filter((s): s is NonNullable<typeof s> => !!s && !seen.has(s.subscriptionId) && !!seen.add(s.subscriptionId));
  }

  private async parsed<T>(query: string, scope: AuditScope, subs: string[], parse: (r: Record<string, unknown>) => T | undefined, name: string, filter?: "AtScopeAboveAndBelow"): Promise<PartialResult<T>> {
    const res = await this.runner.run(query, scope, subs, filter);
    return this.toPartial(res, parse, name);
  }

  private toPartial<T>(res: QueryResult, parse: (r: Record<string, unknown>) => T | undefined, name: string): PartialResult<T> {
    const items: T[] = [];
    const seen = new Set<string>();
    for (const r of res.rows) {
      const id = typeof r.id === "string" ? normalizeId(r.id) : undefined;
      if (id) {
        if (seen.has(id)) continue; // rows above the subscription come back with every batch
        seen.add(id);
      }
      const t = parse(r);
      if (t !== undefined) items.push(t);
    }
    return { items, failedSubscriptions: res.failedSubscriptions, failedQueries: res.error && !res.failedSubscriptions.length ? [name] : [] };
  }

  listClusters(scope: AuditScope, subs: string[], filter?: SubjectFilter) {
    return this.parsed(withFilter(QUERIES.clusters, filter), scope, subs, rows.toCluster, "clusters");
  }

  listRegistries(scope: AuditScope, subs: string[], filter?: SubjectFilter) {
    return this.parsed(withFilter(QUERIES.registries, filter), scope, subs, rows.toRegistry, "registries");
  }

  /** Batches of IDs, each batch one query over the scope; results merged. */
  private async batched<T>(name: string, ids: string[], build: (batch: string[]) => string, scope: AuditScope, subs: string[], parse: (r: Record<string, unknown>) => T | undefined, filter?: "AtScopeAboveAndBelow"): Promise<PartialResult<T>> {
    const batches = chunk(uniqueIds(ids), IDS_PER_QUERY);
    const results = await mapLimit(batches, 2, (b) => this.runner.run(build(b), scope, subs, filter));
    return this.toPartial(
      {
        rows: results.flatMap((r) => r.rows),
        failedSubscriptions: [...new Set(results.flatMap((r) => r.failedSubscriptions))],
        error: results.find((r) => r.error)?.error,
      },
      parse,
      name,
    );
  }

  listRoleAssignments(scope: AuditScope, subs: string[], principalIds: string[]) {
    return this.batched("roleAssignments", principalIds, QUERIES.roleAssignments, scope, subs, rows.toRoleAssignment, "AtScopeAboveAndBelow");
  }

  async getRoleDefinitions(scope: AuditScope, subs: string[], guids: string[]): Promise<PartialResult<RoleDefinition>> {
    const wanted = [...new Set(guids.map((g) => g.toLowerCase()))].filter((g) => !this.roleCache.has(g));
    const failedQueries: string[] = [];
    if (wanted.length) {
      // Custom (and any listed built-in) definitions through Resource Graph, the rest by ID.
      const fromGraph = await this.batched("roleDefinitions", wanted, QUERIES.roleDefinitions, scope, subs, rows.toRoleDefinition);
      for (const d of fromGraph.items) this.roleCache.set(d.guid, d);
      const missing = wanted.filter((g) => !this.roleCache.has(g));
      await mapLimit(missing, 4, async (guid) => {
        try {
          const d = await this.clients.authorization.roleDefinitions.getById(`/providers/Microsoft.Authorization/roleDefinitions/${guid}`);
          const def = rows.toRoleDefinition({ id: d.id, roleName: d.roleName, roleType: d.roleType, permissions: d.permissions });
          this.roleCache.set(guid, def ?? null);
        } catch (err) {
          const status = (err as { statusCode?: number }).statusCode;
          if (status === 404) this.roleCache.set(guid, null);
          else failedQueries.push(`roleDefinitions:${guid}`);
        }
      });
      if (fromGraph.failedQueries.length || fromGraph.failedSubscriptions.length) failedQueries.push("roleDefinitions");
    }
    const items = guids.map((g) => this.roleCache.get(g.toLowerCase())).filter((d): d is RoleDefinition => !!d);
    return { items, failedSubscriptions: [], failedQueries: [...new Set(failedQueries)] };
  }

  async listNetworkFacts(scope: AuditScope, subs: string[], needs: NetworkNeeds): Promise<PartialResult<NetworkFacts>> {
    const facts = emptyNetworkFacts();
    const failedQueries: string[] = [];
    const failedSubs = new Set<string>();
    const note = (name: string, r: PartialResult<unknown>): void => {
      if (r.failedQueries.length) failedQueries.push(name);
      for (const s of r.failedSubscriptions) {
        failedSubs.add(s);
        failedQueries.push(`${name}:${s}`);
      }
    };
    const groups = [...new Set(needs.nodeResourceGroups.map((g) => g.resourceGroup.toLowerCase()))];
    const wantedGroups = new Set(needs.nodeResourceGroups.map((g) => `${g.subscriptionId}/${g.resourceGroup}`.toLowerCase()));
    const [byId, byGroup, pes] = await Promise.all([
      needs.vnetIds.length ? this.batched("network:vnets", needs.vnetIds, QUERIES.vnetsById, scope, subs, rows.toVnet) : null,
      groups.length ? this.batched("network:vnets", groups, QUERIES.vnetsByResourceGroup, scope, subs, rows.toVnet) : null,
      needs.privateEndpointIds.length ? this.batched("network:privateEndpoints", needs.privateEndpointIds, QUERIES.privateEndpoints, scope, subs, rows.toPrivateEndpoint) : null,
    ]);
    if (byId) note("network:vnets", byId);
    if (byGroup) note("network:vnets", byGroup);
    if (pes) note("network:privateEndpoints", pes);
    const vnets = [...(byId?.items ?? []), ...(byGroup?.items ?? []).filter((v) => wantedGroups.has(`${v.subscriptionId}/${v.resourceGroup}`.toLowerCase()))];
    const seenVnet = new Set<string>();
    facts.vnets = vnets.filter((v) => (seenVnet.has(normalizeId(v.id)) ? false : (seenVnet.add(normalizeId(v.id)), true)));
    facts.privateEndpoints = pes?.items ?? [];

    // NAT gateways of node subnets, then every public IP / prefix they or the clusters use.
    const natIds = uniqueIds(facts.vnets.flatMap((v) => v.subnets.map((s) => s.natGatewayId).filter((x): x is string => !!x)));
    const nats = natIds.length ? await this.batched("network:natGateways", natIds, QUERIES.natGateways, scope, subs, rows.toNatGateway) : null;
    if (nats) note("network:natGateways", nats);
    facts.natGateways = nats?.items ?? [];
    const ipIds = uniqueIds([...needs.outboundIpIds, ...facts.natGateways.flatMap((n) => [...n.publicIpAddressIds, ...n.publicIpPrefixIds])]);
    const vnetIdsForDns = uniqueIds(facts.vnets.map((v) => v.id));
    const [ips, links] = await Promise.all([
      ipIds.length ? this.batched("network:publicIps", ipIds, QUERIES.publicIps, scope, subs, rows.toPublicIp) : null,
      vnetIdsForDns.length
        ? this.batched("network:dnsZoneLinks", vnetIdsForDns, (b) => QUERIES.dnsZoneLinks(needs.privateLinkZone, b), scope, subs, rows.toDnsZoneLink)
        : null,
    ]);
    if (ips) note("network:publicIps", ips);
    if (links) note("network:dnsZoneLinks", links);
    for (const ip of ips?.items ?? []) {
      if ("ipPrefix" in ip) facts.publicIpPrefixes.push(ip);
      else facts.publicIps.push(ip);
    }
    facts.dnsZoneLinks = links?.items ?? [];
    return { items: [facts], failedSubscriptions: [], failedQueries: [...new Set(failedQueries)] };
  }

  listReplications(scope: AuditScope, subs: string[], registryIds: string[]) {
    const wanted = new Set(registryIds.map(normalizeId));
    return this.batched("replications", registryIds, (b) => QUERIES.replications(b), scope, subs, (r) => {
      const rep = rows.toReplication(r);
      return rep && wanted.has(normalizeId(parentOf(rep.id))) ? rep : undefined;
    });
  }
}

export { roleDefinitionGuid };
