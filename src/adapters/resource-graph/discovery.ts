/**
 * The discovery adapter: Resource Graph for inventory (and the authorization API for built-in role
 * definitions), behind the core's DiscoveryPort. The same code runs against Azure and the simulator.
 */
import type { AuthorizationManagementClient } from "@azure/arm-authorization";
import type { ResourceGraphClient } from "@azure/arm-resourcegraph";
import { emptyNetworkFacts, type NetworkFacts, type RoleDefinition } from "../../core/inventory.js";
import type { AuditScope, DiscoveryPort, DiscoveryStats, NetworkNeeds, Partial as PartialResult, SubjectFilter } from "../../core/ports.js";
import { normalizeId, parentOf, roleDefinitionGuid, uniqueIds } from "../../core/resource-id.js";
import {
  ArgQueryRunner,
  idTerms,
  kql,
  kqlList,
  mapLimit,
  MAX_QUERY_CHARS,
  pack,
  renderIdTerms,
  type IdTerm,
  type QueryResult,
} from "./arg-client.js";
import * as rows from "./rows.js";
import { text } from "../../core/text.js";

/** Queries longer than this are split before they are sent (the packing budget is `MAX_QUERY_CHARS`). */
const MAX_QUERY_LENGTH = 95_000;
/** Batches of one lookup in flight at once (the quota limiter paces them). */
export const LOOKUP_CONCURRENCY = 8;
/** Rows a batch aims at: a page, less a margin for the estimate's error. */
const TARGET_ROWS = 950;

const T = {
  vnet: "microsoft.network/virtualnetworks",
  privateEndpoint: "microsoft.network/privateendpoints",
  natGateway: "microsoft.network/natgateways",
  publicIp: "microsoft.network/publicipaddresses",
  publicIpPrefix: "microsoft.network/publicipprefixes",
  registry: "microsoft.containerregistry/registries",
  replication: "microsoft.containerregistry/registries/replications",
};

/** Columns each network type needs (a packed query projects the union for the types it reads). */
const NETWORK_COLUMNS: Record<string, string[]> = {
  [T.vnet]: [
    "name",
    "subscriptionId",
    "resourceGroup",
    "subnets = properties.subnets",
    "peerings = properties.virtualNetworkPeerings",
    "dnsServers = properties.dhcpOptions.dnsServers",
  ],
  [T.privateEndpoint]: ["subnetId = tostring(properties.subnet.id)"],
  [T.natGateway]: ["publicIpAddresses = properties.publicIpAddresses", "publicIpPrefixes = properties.publicIpPrefixes"],
  [T.publicIp]: ["ipAddress = tostring(properties.ipAddress)", "ipPrefix = tostring(properties.ipPrefix)"],
  [T.publicIpPrefix]: ["ipAddress = tostring(properties.ipAddress)", "ipPrefix = tostring(properties.ipPrefix)"],
};

/** Network lookups by ID of several types in one query; VNets may also be looked up by resource group. */
export function networkQuery(types: readonly string[], where: string): string {
  const cols = ["id", "type"];
  for (const t of types) for (const c of NETWORK_COLUMNS[t] ?? []) if (!cols.includes(c)) cols.push(c);
  const typeFilter = types.length === 1 ? `type =~ ${kql(types[0])}` : `type in~ ${kqlList(types)}`;
  return `resources | where ${typeFilter} | where ${where} | project ${cols.join(", ")}`;
}

const REGISTRY_COLUMNS =
  "id, name, location, resourceGroup, subscriptionId, tags, sku, loginServer = properties.loginServer, adminUserEnabled = properties.adminUserEnabled, anonymousPullEnabled = properties.anonymousPullEnabled, publicNetworkAccess = properties.publicNetworkAccess, networkRuleSet = properties.networkRuleSet, roleAssignmentMode = properties.roleAssignmentMode, privateEndpointConnections = properties.privateEndpointConnections";

export const QUERIES = {
  subscriptions:
    "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' | project id, name, subscriptionId, managementGroups = properties.managementGroupAncestorsChain",
  clusters:
    "resources | where type =~ 'microsoft.containerservice/managedclusters' | project id, name, location, resourceGroup, subscriptionId, tags, identityProfile = properties.identityProfile, servicePrincipalProfile = properties.servicePrincipalProfile, nodeResourceGroup = properties.nodeResourceGroup, agentPoolProfiles = properties.agentPoolProfiles, networkProfile = properties.networkProfile",
  registries: `resources | where type =~ 'microsoft.containerregistry/registries' | project ${REGISTRY_COLUMNS}`,
  /** A full audit reads every registry and the replications of nearly all: one result for both. */
  registriesWithReplications: `resources | where type in~ ('microsoft.containerregistry/registries', 'microsoft.containerregistry/registries/replications') | project ${REGISTRY_COLUMNS.replace("id, name, location,", "id, name, type, location,")}, provisioningState = tostring(properties.provisioningState)`,
  roleAssignments: (principals: string[]): string =>
    `authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | where tostring(properties.principalId) in~ ${kqlList(principals)} | project id, scope = tostring(properties.scope), principalId = tostring(properties.principalId), roleDefinitionId = tostring(properties.roleDefinitionId), condition = tostring(properties.condition)`,
  /**
   * Role assignments of principals and, in the same result, role definitions already known to be
   * referenced (a full audit then needs no separate definitions query on its critical path).
   */
  roleAssignmentsWithDefinitions: (principals: string[], guids: string[]): string =>
    `authorizationresources | where (type =~ 'microsoft.authorization/roleassignments' and tostring(properties.principalId) in~ ${kqlList(principals)}) or (type =~ 'microsoft.authorization/roledefinitions' and name in~ ${kqlList(guids)}) | project id, type, name, scope = tostring(properties.scope), principalId = tostring(properties.principalId), roleDefinitionId = tostring(properties.roleDefinitionId), condition = tostring(properties.condition), roleName = tostring(properties.roleName), roleType = tostring(properties.type), permissions = properties.permissions`,
  roleDefinitions: (guids: string[]): string =>
    `authorizationresources | where type =~ 'microsoft.authorization/roledefinitions' | where name in~ ${kqlList(guids)} | project id, name, roleName = tostring(properties.roleName), roleType = tostring(properties.type), permissions = properties.permissions`,
  /** VNets, private endpoints, NAT gateways and public IPs / prefixes by ID in one query (see `networkQuery`). */
  network: networkQuery,
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

type Row = Record<string, unknown>;

/** Results of several batches of one lookup. */
interface Batched {
  rows: Row[];
  /** Batches that failed as a whole (no subscription to blame), with the families they carried. */
  failedFamilies: Set<string>;
  /** family -> lower-case subscriptions whose part failed. */
  failedSubscriptions: Map<string, Set<string>>;
}

function emptyBatched(): Batched {
  return { rows: [], failedFamilies: new Set(), failedSubscriptions: new Map() };
}

function mergeResult(into: Batched, r: QueryResult, families: Iterable<string>): void {
  for (const row of r.rows) into.rows.push(row);
  for (const f of families) {
    if (r.error && !r.failedSubscriptions.length) into.failedFamilies.add(f);
    if (r.failedSubscriptions.length) {
      let set = into.failedSubscriptions.get(f);
      if (!set) into.failedSubscriptions.set(f, (set = new Set()));
      r.failedSubscriptions.forEach((x) => set.add(x.toLowerCase()));
    }
  }
}

/** One item of a packed network lookup. */
interface NetworkItem {
  family: "vnets" | "privateEndpoints" | "natGateways" | "publicIps";
  types: string[];
  /** A resource ID, or (VNets only) a resource group name whose VNets are wanted. */
  id?: string;
  resourceGroup?: string;
}

function typesOfIpId(id: string): string[] {
  if (/\/publicipprefixes\//i.test(id)) return [T.publicIpPrefix];
  if (/\/publicipaddresses\//i.test(id)) return [T.publicIp];
  return [T.publicIp, T.publicIpPrefix];
}

export class ResourceGraphDiscovery implements DiscoveryPort {
  private readonly runner: ArgQueryRunner;
  private readonly roleCache = new Map<string, RoleDefinition | null>();
  /** Replication rows read with the registries of a full audit, for the `listReplications` that follows. */
  private replicationsRead: { scopeKey: string; rows: Row[]; failedSubscriptions: string[]; error: boolean } | undefined;

  constructor(
    private readonly clients: DiscoveryClients,
    opts: { concurrency?: number } = {},
  ) {
    this.runner = new ArgQueryRunner(clients.resourceGraph, { concurrency: opts.concurrency ?? 4 });
  }

  /** The quota limiter's counters and what it learned (diagnostics, benchmark). */
  limiter(): unknown {
    return this.clients.limiterStats?.();
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

  private async parsed<T>(
    query: string,
    scope: AuditScope,
    subs: string[],
    parse: (r: Row) => T | undefined,
    name: string,
    filter?: "AtScopeAboveAndBelow",
  ): Promise<PartialResult<T>> {
    const res = await this.runner.run(query, scope, subs, filter);
    return this.toPartial(res, parse, name);
  }

  private toPartial<T>(res: QueryResult, parse: (r: Row) => T | undefined, name: string): PartialResult<T> {
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
    return {
      items,
      failedSubscriptions: res.failedSubscriptions,
      failedQueries: res.error && !res.failedSubscriptions.length ? [name] : [],
    };
  }

  private batchedToPartial<T>(b: Batched, parse: (r: Row) => T | undefined, name: string): PartialResult<T> {
    const subs = new Set<string>();
    for (const set of b.failedSubscriptions.values()) set.forEach((x) => subs.add(x));
    return this.toPartial(
      { rows: b.rows, failedSubscriptions: [...subs], error: b.failedFamilies.size ? new Error(name) : undefined },
      parse,
      name,
    );
  }

  listClusters(scope: AuditScope, subs: string[], filter?: SubjectFilter) {
    return this.parsed(withFilter(QUERIES.clusters, filter), scope, subs, rows.toCluster, "clusters");
  }

  async listRegistries(scope: AuditScope, subs: string[], filter?: SubjectFilter) {
    this.replicationsRead = undefined;
    if (filter) return this.parsed(withFilter(QUERIES.registries, filter), scope, subs, rows.toRegistry, "registries");
    // A full audit: registries and their replications in one result (fewer pages than two queries).
    const res = await this.runner.run(QUERIES.registriesWithReplications, scope, subs);
    const registries: Row[] = [];
    const replications: Row[] = [];
    for (const r of res.rows) (text(r.type).toLowerCase() === T.replication ? replications : registries).push(r);
    this.replicationsRead = {
      scopeKey: JSON.stringify([scope, subs]),
      rows: replications,
      failedSubscriptions: res.failedSubscriptions,
      error: !!res.error && !res.failedSubscriptions.length,
    };
    return this.toPartial({ ...res, rows: registries }, rows.toRegistry, "registries");
  }

  /**
   * Runs `query(batch)` for batches of `items`, packed by characters and expected rows, at most
   * `LOOKUP_CONCURRENCY` at once. With `learnRows`, a first small batch measures the rows an item
   * returns and the others are sized to about a page each.
   */
  private async lookup<I>(
    items: readonly I[],
    o: {
      chars: (i: I) => number;
      rows: (i: I) => number;
      fixedChars: number;
      query: (batch: I[]) => string;
      families: (batch: I[]) => Iterable<string>;
      scope: AuditScope;
      subs: string[];
      filter?: "AtScopeAboveAndBelow";
      learnRows?: { first: number };
      /** Called with the rows of the learning batch, before the others are built. */
      afterFirst?: (rows: Row[]) => void;
    },
  ): Promise<Batched> {
    const out = emptyBatched();
    if (!items.length) return out;
    const budget = MAX_QUERY_CHARS - o.fixedChars;
    const run = async (batch: I[]): Promise<number> => {
      const query = o.query(batch);
      if (query.length > MAX_QUERY_LENGTH && batch.length > 1) {
        // The estimate was off (long names): halve rather than send a query Resource Graph rejects.
        const mid = Math.ceil(batch.length / 2);
        const [a, b] = await Promise.all([run(batch.slice(0, mid)), run(batch.slice(mid))]);
        return a + b;
      }
      const r = await this.runner.run(query, o.scope, o.subs, o.filter);
      mergeResult(out, r, o.families(batch));
      return r.rows.length;
    };
    let rest = items;
    let perItem = 1;
    if (o.learnRows && items.length > o.learnRows.first) {
      const first = items.slice(0, o.learnRows.first);
      rest = items.slice(o.learnRows.first);
      const seen = out.rows.length;
      const got = await run(first);
      const expected = first.reduce((n, i) => n + o.rows(i), 0);
      perItem = Math.max(0.02, got / Math.max(1, expected));
      o.afterFirst?.(out.rows.slice(seen));
    }
    const batches = pack(rest, o.chars, (i) => o.rows(i) * perItem, budget, TARGET_ROWS);
    await mapLimit(batches, LOOKUP_CONCURRENCY, run);
    return out;
  }

  /** Batches of values in one `in~` list, each batch one query over the scope; results merged. */
  private async batched<T>(
    name: string,
    values: string[],
    build: (batch: string[]) => string,
    scope: AuditScope,
    subs: string[],
    parse: (r: Row) => T | undefined,
    o: { filter?: "AtScopeAboveAndBelow"; learnRows?: boolean; chars?: (v: string) => number } = {},
  ): Promise<PartialResult<T>> {
    const unique = uniqueIds(values);
    const b = await this.lookup(unique, {
      chars: o.chars ?? ((v) => kql(v).length + 2),
      rows: () => 1,
      fixedChars: build([]).length,
      query: build,
      families: () => [name],
      scope,
      subs,
      filter: o.filter,
      learnRows: o.learnRows ? { first: Math.min(250, Math.ceil(unique.length / 8)) } : undefined,
    });
    return this.batchedToPartial(b, parse, name);
  }

  /**
   * Role assignments of the principals, in batches of about a page each (a first small batch measures the
   * assignments per principal). The definitions that first batch references ride along in the next
   * batch, so that `getRoleDefinitions` usually has nothing left to ask.
   */
  async listRoleAssignments(scope: AuditScope, subs: string[], principalIds: string[]) {
    const unique = uniqueIds(principalIds);
    let guids: string[] = [];
    const b = await this.lookup(unique, {
      chars: (v) => kql(v).length + 2,
      rows: () => 1,
      fixedChars: QUERIES.roleAssignmentsWithDefinitions([], []).length + 400,
      query: (batch) => {
        const extra = guids;
        guids = [];
        return extra.length ? QUERIES.roleAssignmentsWithDefinitions(batch, extra) : QUERIES.roleAssignments(batch);
      },
      families: () => ["roleAssignments"],
      scope,
      subs,
      filter: "AtScopeAboveAndBelow",
      learnRows: { first: Math.min(250, Math.ceil(unique.length / 8)) },
      afterFirst: (rs) => {
        guids = [...new Set(rs.map((r) => roleDefinitionGuid(text(r.roleDefinitionId))).filter((g) => g && !this.roleCache.has(g)))];
      },
    });
    const assignments: Row[] = [];
    for (const r of b.rows) {
      if (text(r.type).toLowerCase() === "microsoft.authorization/roledefinitions") {
        const d = rows.toRoleDefinition(r);
        if (d) this.roleCache.set(d.guid, d);
      } else assignments.push(r);
    }
    return this.batchedToPartial({ ...b, rows: assignments }, rows.toRoleAssignment, "roleAssignments");
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

  /**
   * Network objects by ID (and VNets by resource group), all types packed into the same queries: each
   * query carries IDs for about a page of rows, written compactly (`idTerms`).
   */
  private networkLookup(items: NetworkItem[], scope: AuditScope, subs: string[]): Promise<Batched> {
    const ids = items.filter((i) => i.id);
    const byId = new Map<string, NetworkItem>();
    for (const i of ids) byId.set(normalizeId(i.id!), i);
    type Unit = { term?: IdTerm; groups?: string[]; chars: number; rows: number };
    const units: Unit[] = idTerms(ids.map((i) => i.id!)).map((term) => ({ term, chars: term.chars, rows: term.ids.length }));
    for (const i of items) if (i.resourceGroup) units.push({ groups: [i.resourceGroup], chars: kql(i.resourceGroup).length + 2, rows: 1 });
    const itemsOf = (batch: Unit[]): NetworkItem[] =>
      batch.flatMap((u) => (u.term ? u.term.ids.map((id) => byId.get(normalizeId(id))!) : [{ family: "vnets" as const, types: [T.vnet] }]));
    return this.lookup(units, {
      chars: (u) => u.chars,
      rows: (u) => u.rows,
      fixedChars: networkQuery(Object.values(T).slice(0, 5), "").length + 200,
      scope,
      subs,
      families: (batch) => new Set(itemsOf(batch).map((i) => `network:${i.family}`)),
      query: (batch) => {
        const types = [...new Set(itemsOf(batch).flatMap((i) => i.types))].sort();
        const terms = batch.filter((u) => u.term).map((u) => u.term!);
        const groups = batch.flatMap((u) => u.groups ?? []);
        const parts: string[] = [];
        if (terms.length) parts.push(renderIdTerms(terms));
        if (groups.length)
          parts.push(
            types.length === 1
              ? `resourceGroup in~ ${kqlList(groups)}`
              : `(type =~ ${kql(T.vnet)} and resourceGroup in~ ${kqlList(groups)})`,
          );
        return networkQuery(types, parts.join(" or "));
      },
    });
  }

  async listNetworkFacts(scope: AuditScope, subs: string[], needs: NetworkNeeds): Promise<PartialResult<NetworkFacts>> {
    const facts = emptyNetworkFacts();
    const failedQueries = new Set<string>();
    const note = (b: Batched): void => {
      b.failedFamilies.forEach((f) => failedQueries.add(f));
      for (const [f, set] of b.failedSubscriptions) for (const s of set) failedQueries.add(`${f}:${s}`);
    };
    const vnetIds = new Set(needs.vnetIds.map(normalizeId));
    const wantedGroups = new Set(needs.nodeResourceGroups.map((g) => `${g.subscriptionId}/${g.resourceGroup}`.toLowerCase()));
    const peIds = new Set(needs.privateEndpointIds.map(normalizeId));
    const ipIds = new Set(needs.outboundIpIds.map(normalizeId));
    const dnsLinks = (ids: string[]): Promise<Batched> => {
      const build = (b: string[]) => QUERIES.dnsZoneLinks(needs.privateLinkZone, b);
      return this.lookup(uniqueIds(ids), {
        chars: (v) => kql(v).length + 2,
        rows: () => 1,
        fixedChars: build([]).length,
        query: build,
        families: () => ["network:dnsZoneLinks"],
        scope,
        subs,
      });
    };
    const addLinks = (b: Batched): void => {
      note(b);
      const seen = new Set(facts.dnsZoneLinks.map((l) => normalizeId(l.id)));
      for (const r of b.rows) {
        const l = rows.toDnsZoneLink(r);
        if (l && !seen.has(normalizeId(l.id))) {
          seen.add(normalizeId(l.id));
          facts.dnsZoneLinks.push(l);
        }
      }
    };

    // Round 1: what the clusters and registries reference (node VNets, managed VNets of node resource
    // groups, private endpoints, outbound IPs).
    const round1: NetworkItem[] = [
      ...uniqueIds(needs.vnetIds).map((id) => ({ family: "vnets" as const, types: [T.vnet], id })),
      ...[...new Set(needs.nodeResourceGroups.map((g) => g.resourceGroup.toLowerCase()))].map((resourceGroup) => ({
        family: "vnets" as const,
        types: [T.vnet],
        resourceGroup,
      })),
      ...uniqueIds(needs.privateEndpointIds).map((id) => ({ family: "privateEndpoints" as const, types: [T.privateEndpoint], id })),
      ...uniqueIds(needs.outboundIpIds).map((id) => ({ family: "publicIps" as const, types: typesOfIpId(id), id })),
    ];
    const first = await this.networkLookup(round1, scope, subs);
    note(first);
    const seenVnet = new Set<string>();
    const seenOther = new Set<string>();
    const natIds = new Set<string>();
    const take = (r: Row): void => {
      const type = text(r.type).toLowerCase();
      const id = typeof r.id === "string" ? normalizeId(r.id) : "";
      if (!id) return;
      if (type === T.vnet) {
        const v = rows.toVnet(r);
        if (!v || seenVnet.has(id)) return;
        if (!vnetIds.has(id) && !wantedGroups.has(`${v.subscriptionId}/${v.resourceGroup}`.toLowerCase())) return;
        seenVnet.add(id);
        facts.vnets.push(v);
      } else if (seenOther.has(id)) {
        return;
      } else if (type === T.privateEndpoint && peIds.has(id)) {
        const pe = rows.toPrivateEndpoint(r);
        if (pe) facts.privateEndpoints.push(pe);
        seenOther.add(id);
      } else if ((type === T.publicIp || type === T.publicIpPrefix) && ipIds.has(id)) {
        const ip = rows.toPublicIp(r);
        if (ip && "ipPrefix" in ip) facts.publicIpPrefixes.push(ip);
        else if (ip) facts.publicIps.push(ip);
        seenOther.add(id);
      } else if (type === T.natGateway && natIds.has(id)) {
        const n = rows.toNatGateway(r);
        if (n) facts.natGateways.push(n);
        seenOther.add(id);
      }
    };
    first.rows.forEach(take);

    // Round 2: NAT gateways of the VNets' subnets, and the private DNS zone links of the node VNets that
    // have a private path: network.private-dns is decided only for a pool whose VNet holds, or is peered
    // (Connected) with the VNet of, a registry's private endpoint, and a VNet with custom DNS servers is
    // `unknown` without its links (rules.md). Other node VNets' links are never read by the rules.
    const nats = uniqueIds(facts.vnets.flatMap((v) => v.subnets.map((s) => s.natGatewayId).filter((x): x is string => !!x)));
    nats.forEach((n) => natIds.add(normalizeId(n)));
    const endpointVnets = new Set(facts.privateEndpoints.filter((p) => p.subnetId).map((p) => normalizeId(parentOf(p.subnetId!))));
    const privatePath = facts.vnets
      .filter((v) => !v.dnsServers.length)
      .filter(
        (v) =>
          endpointVnets.has(normalizeId(v.id)) ||
          v.peerings.some(
            (p) => p.remoteVnetId && (p.peeringState ?? "").toLowerCase() === "connected" && endpointVnets.has(normalizeId(p.remoteVnetId)),
          ),
      )
      .map((v) => v.id);
    const [second, links] = await Promise.all([
      this.networkLookup(
        nats.map((id) => ({ family: "natGateways" as const, types: [T.natGateway], id })),
        scope,
        subs,
      ),
      dnsLinks(privatePath),
    ]);
    note(second);
    addLinks(links);
    second.rows.forEach(take);

    // Round 3: the public IPs and prefixes of those NAT gateways not read yet.
    const natIps = uniqueIds(facts.natGateways.flatMap((n) => [...n.publicIpAddressIds, ...n.publicIpPrefixIds])).filter(
      (id) => !ipIds.has(normalizeId(id)),
    );
    natIps.forEach((id) => ipIds.add(normalizeId(id)));
    const third = await this.networkLookup(
      natIps.map((id) => ({ family: "publicIps" as const, types: typesOfIpId(id), id })),
      scope,
      subs,
    );
    note(third);
    third.rows.forEach(take);
    return { items: [facts], failedSubscriptions: [], failedQueries: [...failedQueries] };
  }

  async listReplications(scope: AuditScope, subs: string[], registryIds: string[]) {
    const wanted = new Set(registryIds.map(normalizeId));
    const parse = (r: Row) => {
      const rep = rows.toReplication(r);
      return rep && wanted.has(normalizeId(parentOf(rep.id))) ? rep : undefined;
    };
    const read = this.replicationsRead;
    this.replicationsRead = undefined;
    if (read) {
      // Read with the registries: the same scope covered every subscription asked for now.
      const covered = new Set((JSON.parse(read.scopeKey) as [AuditScope, string[]])[1].map((s) => s.toLowerCase()));
      if (
        JSON.stringify((JSON.parse(read.scopeKey) as [AuditScope, string[]])[0]) === JSON.stringify(scope) &&
        subs.every((s) => covered.has(s.toLowerCase()))
      ) {
        const failed = new Set(read.failedSubscriptions.map((s) => s.toLowerCase()));
        const res = this.toPartial(
          { rows: read.rows, failedSubscriptions: subs.filter((s) => failed.has(s.toLowerCase())) },
          parse,
          "replications",
        );
        if (read.error) res.failedQueries.push("replications");
        return res;
      }
    }
    return this.batched("replications", registryIds, (b) => QUERIES.replications(b.length ? b : ["/none"]), scope, subs, parse, {
      chars: (id) => kql(`${id}/replications/`).length + 18,
    });
  }
}

export { roleDefinitionGuid };
