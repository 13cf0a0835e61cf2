/**
 * The typed inventory: what discovery adapters hand to the rules. Built from Resource Graph rows by
 * `src/adapters/resource-graph`, never read from the SDK directly by the core.
 */

/** A subscription the auditor can read in this run. */
export interface Subscription {
  /** `/subscriptions/<guid>` */
  id: string;
  subscriptionId: string;
  name: string;
  /** Management group names from the subscription up to the root (`managementGroupAncestorsChain`). */
  managementGroups: string[];
}

export interface NodePool {
  name: string;
  mode?: string;
  /** `vnetSubnetID`; absent when the pool uses the managed VNet of the node resource group. */
  vnetSubnetId?: string;
}

export interface Cluster {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  /** `identityProfile.kubeletidentity.objectId` */
  kubeletObjectId?: string;
  kubeletResourceId?: string;
  /** `servicePrincipalProfile.clientId` (`msi` for managed identity clusters). */
  servicePrincipalClientId?: string;
  nodeResourceGroup?: string;
  nodePools: NodePool[];
  /** `networkProfile.outboundType` */
  outboundType?: string;
  /** Public IP / public IP prefix resource IDs of `loadBalancerProfile.effectiveOutboundIPs`. */
  loadBalancerOutboundIps: string[];
  /** Public IP / public IP prefix resource IDs of `natGatewayProfile.effectiveOutboundIPs`. */
  natGatewayOutboundIps: string[];
}

export interface IpRule {
  action?: string;
  value: string;
}

export interface PrivateEndpointConnection {
  id: string;
  privateEndpointId?: string;
  /** `privateLinkServiceConnectionState.status`: Approved, Pending, Rejected, Disconnected. */
  status?: string;
}

export interface Registry {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  loginServer?: string;
  skuName?: string;
  adminUserEnabled?: boolean;
  anonymousPullEnabled?: boolean;
  publicNetworkAccess?: string;
  defaultAction?: string;
  ipRules: IpRule[];
  /** `LegacyRegistryPermissions` (or absent) or `AbacRepositoryPermissions`. */
  roleAssignmentMode?: string;
  privateEndpointConnections: PrivateEndpointConnection[];
}

export interface Replication {
  id: string;
  registryId: string;
  location: string;
  provisioningState?: string;
}

export interface RoleAssignment {
  id: string;
  scope: string;
  principalId: string;
  roleDefinitionId: string;
  condition?: string;
}

export interface Permission {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface RoleDefinition {
  id: string;
  /** Trailing GUID, lower-case. */
  guid: string;
  roleName: string;
  /** `BuiltInRole` or `CustomRole`. */
  type: string;
  permissions: Permission[];
}

export interface Subnet {
  id: string;
  natGatewayId?: string;
}

export interface Peering {
  id: string;
  name: string;
  remoteVnetId?: string;
  peeringState?: string;
}

export interface VirtualNetwork {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  subnets: Subnet[];
  peerings: Peering[];
  /** `dhcpOptions.dnsServers`; empty means Azure-provided DNS. */
  dnsServers: string[];
}

export interface PrivateEndpoint {
  id: string;
  subnetId?: string;
}

export interface PublicIpAddress {
  id: string;
  ipAddress?: string;
}

export interface PublicIpPrefix {
  id: string;
  ipPrefix?: string;
}

export interface NatGateway {
  id: string;
  publicIpAddressIds: string[];
  publicIpPrefixIds: string[];
}

export interface PrivateDnsZoneLink {
  id: string;
  /** Zone name, e.g. `privatelink.azurecr.io`. */
  zoneName: string;
  vnetId?: string;
  state?: string;
}

/** Network facts fetched for the attachments of a run (only what they reference). */
export interface NetworkFacts {
  vnets: VirtualNetwork[];
  privateEndpoints: PrivateEndpoint[];
  publicIps: PublicIpAddress[];
  publicIpPrefixes: PublicIpPrefix[];
  natGateways: NatGateway[];
  dnsZoneLinks: PrivateDnsZoneLink[];
}

/** Everything the rules read for one run. */
export interface Inventory {
  subscriptions: Subscription[];
  clusters: Cluster[];
  registries: Registry[];
  roleAssignments: RoleAssignment[];
  roleDefinitions: RoleDefinition[];
  replications: Replication[];
  network: NetworkFacts;
  /**
   * Subscriptions (lower-case GUIDs) that are readable by role but whose data could not be read this run
   * (a query kept failing). Subjects in them are *not visible*, never gone.
   */
  failedSubscriptions: string[];
  /** Parts of the estate that could not be read (for the run record), e.g. `network:privateEndpoints`. */
  missed: string[];
}

export function emptyNetworkFacts(): NetworkFacts {
  return { vnets: [], privateEndpoints: [], publicIps: [], publicIpPrefixes: [], natGateways: [], dnsZoneLinks: [] };
}
