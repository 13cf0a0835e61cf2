/**
 * Resource Graph rows -> typed inventory. Defensive: rows come from a tenant (or an estate file), so a
 * wrong type becomes "absent", never a crash.
 */
import type {
  Cluster,
  IpRule,
  NatGateway,
  NodePool,
  PrivateDnsZoneLink,
  PrivateEndpoint,
  PrivateEndpointConnection,
  PublicIpAddress,
  PublicIpPrefix,
  Registry,
  Replication,
  RoleAssignment,
  RoleDefinition,
  Subscription,
  VirtualNetwork,
} from "../../core/inventory.js";
import { normalizePermissions } from "../../core/permissions.js";
import { nameOf, parentOf, roleDefinitionGuid, subscriptionOf } from "../../core/resource-id.js";

type Row = Record<string, unknown>;

export const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
const bool = (v: unknown): boolean | undefined =>
  typeof v === "boolean"
    ? v
    : typeof v === "string"
      ? v.toLowerCase() === "true"
        ? true
        : v.toLowerCase() === "false"
          ? false
          : undefined
      : undefined;
const obj = (v: unknown): Row => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Row) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const ids = (v: unknown): string[] =>
  arr(v)
    .map((x) => str(obj(x).id))
    .filter((x): x is string => !!x);

export function tagsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v))) if (typeof val === "string") out[k] = val;
  return out;
}

export function toSubscription(r: Row): Subscription | undefined {
  const id = str(r.id);
  const subscriptionId = str(r.subscriptionId) ?? (id ? subscriptionOf(id) : undefined);
  if (!id || !subscriptionId) return undefined;
  const chain = arr(r.managementGroups ?? obj(r.properties).managementGroupAncestorsChain);
  return {
    id,
    subscriptionId: subscriptionId.toLowerCase(),
    name: str(r.name) ?? subscriptionId,
    managementGroups: chain.map((m) => str(obj(m).name)).filter((x): x is string => !!x),
  };
}

export function toCluster(r: Row): Cluster | undefined {
  const id = str(r.id);
  if (!id) return undefined;
  const kubelet = obj(obj(r.identityProfile).kubeletidentity);
  const net = obj(r.networkProfile);
  const pools: NodePool[] = arr(r.agentPoolProfiles)
    .map(obj)
    .map((p, i) => ({ name: str(p.name) ?? `pool${i}`, mode: str(p.mode), vnetSubnetId: str(p.vnetSubnetID) }));
  return {
    id,
    name: str(r.name) ?? nameOf(id),
    subscriptionId: (str(r.subscriptionId) ?? subscriptionOf(id) ?? "").toLowerCase(),
    resourceGroup: str(r.resourceGroup) ?? "",
    location: str(r.location) ?? "",
    tags: tagsOf(r.tags),
    kubeletObjectId: str(kubelet.objectId),
    kubeletResourceId: str(kubelet.resourceId),
    servicePrincipalClientId: str(obj(r.servicePrincipalProfile).clientId),
    nodeResourceGroup: str(r.nodeResourceGroup),
    nodePools: pools,
    outboundType: str(net.outboundType),
    loadBalancerOutboundIps: ids(obj(net.loadBalancerProfile).effectiveOutboundIPs),
    natGatewayOutboundIps: ids(obj(net.natGatewayProfile).effectiveOutboundIPs),
  };
}

export function toRegistry(r: Row): Registry | undefined {
  const id = str(r.id);
  if (!id) return undefined;
  const rules = obj(r.networkRuleSet);
  const ipRules: IpRule[] = arr(rules.ipRules)
    .map(obj)
    .filter((x) => x.value !== undefined)
    .map((x) => ({ action: str(x.action), value: typeof x.value === "string" ? x.value : JSON.stringify(x.value) }));
  const pecs: PrivateEndpointConnection[] = arr(r.privateEndpointConnections)
    .map(obj)
    .map((p) => {
      const props = obj(p.properties);
      return {
        id: str(p.id) ?? "",
        privateEndpointId: str(obj(props.privateEndpoint).id),
        status: str(obj(props.privateLinkServiceConnectionState).status),
      };
    });
  return {
    id,
    name: str(r.name) ?? nameOf(id),
    subscriptionId: (str(r.subscriptionId) ?? subscriptionOf(id) ?? "").toLowerCase(),
    resourceGroup: str(r.resourceGroup) ?? "",
    location: str(r.location) ?? "",
    tags: tagsOf(r.tags),
    loginServer: str(r.loginServer),
    skuName: str(obj(r.sku).name),
    adminUserEnabled: bool(r.adminUserEnabled),
    anonymousPullEnabled: bool(r.anonymousPullEnabled),
    publicNetworkAccess: str(r.publicNetworkAccess),
    defaultAction: str(rules.defaultAction),
    ipRules,
    roleAssignmentMode: str(r.roleAssignmentMode),
    privateEndpointConnections: pecs,
  };
}

export function toRoleAssignment(r: Row): RoleAssignment | undefined {
  const id = str(r.id);
  const principalId = str(r.principalId);
  const roleDefinitionId = str(r.roleDefinitionId);
  if (!id || !principalId || !roleDefinitionId) return undefined;
  // An assignment's ID is `<scope>/providers/Microsoft.Authorization/roleAssignments/<name>`: where the
  // row has no scope, the ID has it (never assume root: that would grant everywhere). Neither: unusable.
  const scope = str(r.scope) ?? scopeOfAssignmentId(id);
  if (scope === undefined) return undefined;
  return { id, scope, principalId, roleDefinitionId, condition: str(r.condition) };
}

/** The scope part of a role assignment ID (`/` for a root-scope assignment); undefined when it is not one. */
export function scopeOfAssignmentId(id: string): string | undefined {
  const m = /^(.*)\/providers\/microsoft\.authorization\/roleassignments\/[^/]+\/?$/i.exec(id.trim());
  if (!m) return undefined;
  return m[1] === "" ? "/" : m[1];
}

export function toRoleDefinition(r: Row): RoleDefinition | undefined {
  const id = str(r.id);
  if (!id) return undefined;
  const props = obj(r.properties);
  // Without its permissions a definition decides nothing: leave it out, so that its assignments are
  // `unknown` (role-definition-unresolved) rather than read as granting nothing.
  const permissions = r.permissions ?? props.permissions;
  if (!Array.isArray(permissions) || permissions.some((p) => p === null || typeof p !== "object" || Array.isArray(p))) return undefined;
  return {
    id,
    guid: roleDefinitionGuid(id),
    roleName: str(r.roleName) ?? str(props.roleName) ?? nameOf(id),
    // A definition whose type is missing is taken as custom: its wildcards are then not trusted to grant.
    type: str(r.roleType) ?? str(props.type) ?? "CustomRole",
    permissions: normalizePermissions(permissions),
  };
}

export function toReplication(r: Row): Replication | undefined {
  const id = str(r.id);
  if (!id || !/\/replications\/[^/]+$/i.test(id)) return undefined;
  return { id, registryId: parentOf(id), location: str(r.location) ?? "", provisioningState: str(r.provisioningState) };
}

export function toVnet(r: Row): VirtualNetwork | undefined {
  const id = str(r.id);
  if (!id) return undefined;
  return {
    id,
    name: str(r.name) ?? nameOf(id),
    subscriptionId: (str(r.subscriptionId) ?? subscriptionOf(id) ?? "").toLowerCase(),
    resourceGroup: str(r.resourceGroup) ?? "",
    subnets: arr(r.subnets)
      .map(obj)
      .map((s) => ({ id: str(s.id) ?? "", natGatewayId: str(obj(obj(s.properties).natGateway).id) }))
      .filter((s) => s.id),
    peerings: arr(r.peerings)
      .map(obj)
      .map((p) => {
        const props = obj(p.properties);
        return {
          id: str(p.id) ?? "",
          name: str(p.name) ?? "",
          remoteVnetId: str(obj(props.remoteVirtualNetwork).id),
          peeringState: str(props.peeringState),
        };
      }),
    dnsServers: arr(r.dnsServers).filter((x): x is string => typeof x === "string" && x.length > 0),
  };
}

export function toPrivateEndpoint(r: Row): PrivateEndpoint | undefined {
  const id = str(r.id);
  return id ? { id, subnetId: str(r.subnetId) } : undefined;
}

export function toPublicIp(r: Row): PublicIpAddress | PublicIpPrefix | undefined {
  const id = str(r.id);
  if (!id) return undefined;
  return (str(r.type) ?? "").toLowerCase() === "microsoft.network/publicipprefixes"
    ? { id, ipPrefix: str(r.ipPrefix) }
    : { id, ipAddress: str(r.ipAddress) };
}

export function toNatGateway(r: Row): NatGateway | undefined {
  const id = str(r.id);
  return id ? { id, publicIpAddressIds: ids(r.publicIpAddresses), publicIpPrefixIds: ids(r.publicIpPrefixes) } : undefined;
}

export function toDnsZoneLink(r: Row): PrivateDnsZoneLink | undefined {
  const id = str(r.id);
  if (!id) return undefined;
  const m = /\/privatednszones\/([^/]+)\/virtualnetworklinks\//i.exec(id);
  return { id, zoneName: (m?.[1] ?? "").toLowerCase(), vnetId: str(r.vnetId), state: str(r.state) };
}
