/**
 * Synthetic estate generator for the scale benchmark (issue 8) and the scale tests.
 *
 * Deterministic: the same `clusters`, `seed` and options give byte-identical output. Rows have the shapes
 * Resource Graph returns (`resultFormat: objectArray`, as in ../shared/estates and
 * ../shared/reference/arm-examples): IDs keep ARM casing (`resourceGroups`, `Microsoft.Network`), `type`
 * is lower-case, and references sometimes use another casing (`resourcegroups`), as real tenants do.
 *
 * Default ratios for N clusters:
 * - N/20 subscriptions (at least 2) under a small management-group tree;
 * - N/3 registries: 40% public (Basic/Standard), 30% Premium firewalled with IP rules, 30% Premium behind a
 *   private endpoint in the subscription's hub VNet (a few with a Pending connection); Premium ones have
 *   0-2 replications; a few with the admin user, anonymous pull or ABAC mode;
 * - clusters in hub-and-spoke VNets (one hub and about one spoke per 7 clusters per subscription, peered
 *   both ways, a few Disconnected, a few spokes with custom DNS), 10% on a managed VNet in the node
 *   resource group; outbound through a load balancer (60%), a user-assigned NAT gateway on the subnet
 *   (25%), a managed NAT gateway (10%) or UDR (5%); 5% service-principal clusters;
 * - about 5 role assignments per cluster, most for other principals (users, groups, the control-plane
 *   identity, monitoring); the kubelet identity holds AcrPull on its registry (some at the registry's
 *   resource group, some AcrPush, some none), 20% also on a shared platform registry;
 * - unrelated resources: the AKS infrastructure of each node resource group (VMSS, load balancer, NSG,
 *   route table, managed identity) and about `unrelatedPerCluster` standalone VMs, disks, NICs, storage
 *   accounts, VNets and public IPs;
 * - `extraNetwork`: that many more unrelated network resources (VNets with peerings, private endpoints,
 *   public IPs, NAT gateways, DNS zone links), for "cost does not grow with the tenant's network".
 *
 * CLI: node dist/scripts/generate-estate.js --clusters 1000 [--seed 1] [--extra-network 0]
 *      [--unrelated-per-cluster 2] [--out FILE] (JSON on stdout without --out)
 */
import fs from "node:fs";
import path from "node:path";

export interface GenerateOptions {
  clusters: number;
  seed?: number;
  /** Standalone unrelated resources per cluster (VMs with disk and NIC count as 3). Default 2. */
  unrelatedPerCluster?: number;
  /** Extra unrelated network resources (VNets, private endpoints, public IPs, NAT gateways, DNS links). */
  extraNetwork?: number;
  /** Include the AKS infrastructure rows of node resource groups (VMSS, LB, NSG, route table). Default true. */
  nodeResourceGroupRows?: boolean;
}

export interface GeneratedEstate {
  version: 1;
  description: string;
  tenantId: string;
  tables: { resources: Row[]; resourcecontainers: Row[]; authorizationresources: Row[] };
}

type Row = { id: string; type: string; [k: string]: unknown };

/** What the generator knows about a cluster (for tests and the benchmark's triage). */
export interface GeneratedCluster {
  id: string;
  name: string;
  subscriptionId: string;
  /** True when the generator made at least one of its attachments fail. */
  broken: boolean;
}

export interface GenerateResult {
  estate: GeneratedEstate;
  clusters: GeneratedCluster[];
  counts: Record<string, number>;
}

// ------------------------------------------------------------------------------------------------ PRNG

/** mulberry32: small, fast, good enough for synthetic data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rand {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = prng(seed);
  }
  next(): number {
    return this.r();
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  hex(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += "0123456789abcdef"[this.int(16)];
    return s;
  }
  guid(): string {
    // Version-5-looking GUIDs, like the ones in ../shared/estates.
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${"89ab"[this.int(4)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

// ------------------------------------------------------------------------------------------------ constants

const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const REGIONS = ["westeurope", "northeurope", "eastus", "eastus2", "westus3", "uksouth", "swedencentral", "germanywestcentral"];
const ROLE = {
  acrPull: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
  acrPush: "8311e382-0749-4cb8-b61a-304f252e45ec",
  reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  aksClusterUser: "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
  networkContributor: "4d97b98b-1d4f-4787-a291-c67834d212e7",
};
/** Built-in definitions the estate carries (Resource Graph lists built-in roles in authorizationresources). */
const BUILTIN_DEFS: { guid: string; roleName: string; actions: string[]; notActions?: string[]; dataActions?: string[] }[] = [
  { guid: ROLE.acrPull, roleName: "AcrPull", actions: ["Microsoft.ContainerRegistry/registries/pull/read"] },
  {
    guid: ROLE.acrPush,
    roleName: "AcrPush",
    actions: ["Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/push/write"],
  },
  { guid: ROLE.reader, roleName: "Reader", actions: ["*/read"] },
  {
    guid: ROLE.contributor,
    roleName: "Contributor",
    actions: ["*"],
    notActions: [
      "Microsoft.Authorization/*/Delete",
      "Microsoft.Authorization/*/Write",
      "Microsoft.Authorization/elevateAccess/Action",
      "Microsoft.Blueprint/blueprintAssignments/write",
      "Microsoft.Blueprint/blueprintAssignments/delete",
      "Microsoft.Compute/galleries/share/action",
      "Microsoft.Purview/consents/write",
      "Microsoft.Purview/consents/delete",
      "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
      "Microsoft.Subscription/cancel/action",
      "Microsoft.Subscription/enable/action",
    ],
  },
  { guid: ROLE.owner, roleName: "Owner", actions: ["*"] },
  {
    guid: ROLE.aksClusterUser,
    roleName: "Azure Kubernetes Service Cluster User Role",
    actions: [
      "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
      "Microsoft.ContainerService/managedClusters/read",
    ],
  },
  {
    guid: ROLE.monitoringMetricsPublisher,
    roleName: "Monitoring Metrics Publisher",
    actions: ["Microsoft.Insights/Register/Action", "Microsoft.Support/*", "Microsoft.Resources/subscriptions/resourceGroups/read"],
    dataActions: ["Microsoft.Insights/Metrics/Write", "Microsoft.Insights/Telemetry/Write"],
  },
  {
    guid: ROLE.networkContributor,
    roleName: "Network Contributor",
    actions: [
      "Microsoft.Authorization/*/read",
      "Microsoft.Insights/alertRules/*",
      "Microsoft.Network/*",
      "Microsoft.ResourceHealth/availabilityStatuses/read",
      "Microsoft.Resources/deployments/*",
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.Support/*",
    ],
  },
];
const CUSTOM_PULL_ROLE = "0f3e1d2c-5b4a-5c6d-8e7f-a1b2c3d4e5f6";

// ------------------------------------------------------------------------------------------------ row helpers

function base(id: string, type: string, name: string, sub: string, rg: string, location: string, extra: Partial<Row> = {}): Row {
  return {
    id,
    name,
    type,
    tenantId: TENANT,
    kind: "",
    location,
    resourceGroup: rg.toLowerCase(),
    subscriptionId: sub,
    managedBy: "",
    sku: {},
    plan: {},
    properties: {},
    tags: {},
    identity: {},
    zones: [],
    extendedLocation: {},
    ...extra,
  };
}

const rgId = (sub: string, rg: string) => `/subscriptions/${sub}/resourceGroups/${rg}`;
const netId = (sub: string, rg: string, kind: string, name: string) => `${rgId(sub, rg)}/providers/Microsoft.Network/${kind}/${name}`;

/** A unique public IPv4 address for the n-th public IP of the estate (20.0.0.0/8 and up). */
function publicAddress(n: number): string {
  const a = 20 + Math.floor(n / 65025);
  const b = Math.floor(n / 255) % 255;
  const c = n % 255;
  return `${a}.${b}.${c}.${4 + (n % 200)}`;
}

// ------------------------------------------------------------------------------------------------ generator

export function generateEstate(opts: GenerateOptions): GenerateResult {
  const N = Math.max(1, Math.floor(opts.clusters));
  const rnd = new Rand(opts.seed ?? 1);
  const unrelatedPerCluster = opts.unrelatedPerCluster ?? 2;
  const withNodeRgRows = opts.nodeResourceGroupRows ?? true;
  const resources: Row[] = [];
  const containers: Row[] = [];
  const auth: Row[] = [];
  const counts: Record<string, number> = {};
  const count = (k: string, n = 1) => (counts[k] = (counts[k] ?? 0) + n);
  let ipCounter = 0;
  const nextIp = () => publicAddress(ipCounter++);

  // Management groups: root -> platform, landingzones -> corp, online.
  const groups: [string, string | null][] = [
    ["root-mg", null],
    ["platform", "root-mg"],
    ["landingzones", "root-mg"],
    ["corp", "landingzones"],
    ["online", "landingzones"],
  ];
  for (const [g, parent] of groups) {
    const chain: { name: string; displayName: string }[] = [];
    for (let p = parent; p; p = groups.find((x) => x[0] === p)![1]) chain.push({ name: p, displayName: p });
    containers.push({
      id: `/providers/Microsoft.Management/managementGroups/${g}`,
      name: g,
      type: "microsoft.management/managementgroups",
      tenantId: TENANT,
      kind: "",
      location: "",
      resourceGroup: "",
      subscriptionId: "",
      managedBy: "",
      sku: null,
      plan: null,
      tags: {},
      identity: null,
      zones: null,
      extendedLocation: null,
      properties: {
        displayName: g,
        tenantId: TENANT,
        details: {
          parent: parent ? { id: `/providers/Microsoft.Management/managementGroups/${parent}`, name: parent } : null,
          managementGroupAncestorsChain: chain,
        },
      },
    });
  }

  // Role definitions: built-in ones plus a custom pull role.
  for (const d of BUILTIN_DEFS) {
    auth.push({
      id: `/providers/Microsoft.Authorization/RoleDefinitions/${d.guid}`,
      name: d.guid,
      type: "microsoft.authorization/roledefinitions",
      tenantId: "",
      kind: "",
      location: "",
      resourceGroup: "",
      subscriptionId: "",
      managedBy: "",
      sku: null,
      plan: null,
      tags: null,
      identity: null,
      zones: null,
      extendedLocation: null,
      properties: {
        roleName: d.roleName,
        type: "BuiltInRole",
        description: d.roleName,
        permissions: [{ actions: d.actions, notActions: d.notActions ?? [], dataActions: d.dataActions ?? [], notDataActions: [] }],
        assignableScopes: ["/"],
      },
    });
  }

  const S = Math.max(2, Math.round(N / 20));
  const R = Math.max(1, Math.ceil(N / 3));
  const subs: { id: string; name: string; region: string; mg: string }[] = [];
  for (let s = 0; s < S; s++) {
    const sub = rnd.guid();
    const mg = s === 0 ? "platform" : s % 3 === 0 ? "online" : "corp";
    const region = REGIONS[s % REGIONS.length];
    const name = s === 0 ? "platform-shared" : `lz-${mg}-${String(s).padStart(4, "0")}`;
    subs.push({ id: sub, name, region, mg });
    const chain: { name: string; displayName: string }[] = [];
    for (let p: string | null = mg; p; p = groups.find((x) => x[0] === p)![1]) chain.push({ name: p, displayName: p });
    containers.push({
      id: `/subscriptions/${sub}`,
      name,
      type: "microsoft.resources/subscriptions",
      tenantId: TENANT,
      kind: "",
      location: "",
      resourceGroup: "",
      subscriptionId: sub,
      managedBy: "",
      sku: null,
      plan: null,
      tags: {},
      identity: null,
      zones: null,
      extendedLocation: null,
      properties: {
        state: "Enabled",
        subscriptionPolicies: { locationPlacementId: "Public_2014-09-01", quotaId: "EnterpriseAgreement_2014-09-01", spendingLimit: "Off" },
        managementGroupAncestorsChain: chain,
      },
    });
    count("subscriptions");
  }
  // The custom role, assignable in every subscription.
  auth.push({
    id: `/subscriptions/${subs[0].id}/providers/Microsoft.Authorization/roleDefinitions/${CUSTOM_PULL_ROLE}`,
    name: CUSTOM_PULL_ROLE,
    type: "microsoft.authorization/roledefinitions",
    tenantId: TENANT,
    kind: "",
    location: "",
    resourceGroup: "",
    subscriptionId: subs[0].id,
    managedBy: "",
    sku: null,
    plan: null,
    tags: null,
    identity: null,
    zones: null,
    extendedLocation: null,
    properties: {
      roleName: "Image Puller (custom)",
      type: "CustomRole",
      description: "Pull images from any registry",
      permissions: [
        {
          actions: ["Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/read"],
          notActions: [],
          dataActions: [],
          notDataActions: [],
        },
      ],
      assignableScopes: subs.map((s) => `/subscriptions/${s.id}`),
    },
  });

  const resourceGroup = (sub: string, rg: string, location: string, managedBy = "") => {
    containers.push({
      id: rgId(sub, rg),
      name: rg,
      type: "microsoft.resources/subscriptions/resourcegroups",
      tenantId: TENANT,
      kind: "",
      location,
      resourceGroup: rg.toLowerCase(),
      subscriptionId: sub,
      managedBy,
      sku: null,
      plan: null,
      tags: {},
      identity: null,
      zones: null,
      extendedLocation: null,
      properties: { provisioningState: "Succeeded" },
    });
  };

  const assignment = (
    scope: string,
    principalId: string,
    principalType: string,
    roleGuid: string,
    sub: string | undefined,
    rg: string,
    roleDefSub?: string,
  ) => {
    const name = rnd.guid();
    const roleDefinitionId = roleDefSub
      ? `/subscriptions/${roleDefSub}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`
      : `/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`;
    auth.push({
      id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
      name,
      type: "microsoft.authorization/roleassignments",
      tenantId: TENANT,
      kind: "",
      location: "",
      resourceGroup: rg.toLowerCase(),
      subscriptionId: sub ?? "",
      managedBy: "",
      sku: null,
      plan: null,
      tags: null,
      identity: null,
      zones: null,
      extendedLocation: null,
      properties: {
        roleDefinitionId,
        principalId,
        principalType,
        scope,
        createdOn: "2025-06-01T08:00:00.0000000Z",
        updatedOn: "2025-06-01T08:00:00.0000000Z",
        createdBy: "1df0b9b8-fd23-5d4c-a76d-8cde4737ec9c",
        updatedBy: "1df0b9b8-fd23-5d4c-a76d-8cde4737ec9c",
      },
    });
    count("roleAssignments");
  };

  const publicIp = (sub: string, rg: string, name: string, location: string): { id: string; ip: string } => {
    const id = netId(sub, rg, "publicIPAddresses", name);
    const ip = nextIp();
    resources.push(
      base(id, "microsoft.network/publicipaddresses", name, sub, rg, location, {
        sku: { name: "Standard", tier: "Regional" },
        properties: {
          provisioningState: "Succeeded",
          resourceGuid: rnd.guid(),
          ipAddress: ip,
          publicIPAddressVersion: "IPv4",
          publicIPAllocationMethod: "Static",
          idleTimeoutInMinutes: 4,
          ipTags: [],
        },
      }),
    );
    count("publicIps");
    return { id, ip };
  };

  const publicIpPrefix = (sub: string, rg: string, name: string, location: string): { id: string; prefix: string } => {
    const id = netId(sub, rg, "publicIPPrefixes", name);
    // Four consecutive addresses on a /30 boundary.
    let n = ipCounter;
    while (n % 4 !== 0) n++;
    ipCounter = n + 4;
    const first = publicAddress(n).split(".");
    first[3] = String(Math.floor(Number(first[3]) / 4) * 4);
    const prefix = `${first.join(".")}/30`;
    resources.push(
      base(id, "microsoft.network/publicipprefixes", name, sub, rg, location, {
        sku: { name: "Standard", tier: "Regional" },
        properties: {
          provisioningState: "Succeeded",
          resourceGuid: rnd.guid(),
          prefixLength: 30,
          publicIPAddressVersion: "IPv4",
          ipPrefix: prefix,
          ipTags: [],
        },
      }),
    );
    count("publicIpPrefixes");
    return { id, prefix };
  };

  const natGateway = (sub: string, rg: string, name: string, location: string, ipIds: string[], prefixIds: string[]): string => {
    const id = netId(sub, rg, "natGateways", name);
    resources.push(
      base(id, "microsoft.network/natgateways", name, sub, rg, location, {
        sku: { name: "Standard" },
        properties: {
          provisioningState: "Succeeded",
          resourceGuid: rnd.guid(),
          idleTimeoutInMinutes: 4,
          publicIpAddresses: ipIds.map((x) => ({ id: x })),
          publicIpPrefixes: prefixIds.map((x) => ({ id: x })),
          subnets: [],
        },
      }),
    );
    count("natGateways");
    return id;
  };

  interface Subnet {
    name: string;
    prefix: string;
    natGatewayId?: string;
  }
  interface Peering {
    name: string;
    remote: string;
    state: string;
  }
  const vnet = (
    sub: string,
    rg: string,
    name: string,
    location: string,
    space: string,
    subnets: Subnet[],
    peerings: Peering[],
    dnsServers: string[] = [],
  ): string => {
    const id = netId(sub, rg, "virtualNetworks", name);
    resources.push(
      base(id, "microsoft.network/virtualnetworks", name, sub, rg, location, {
        properties: {
          provisioningState: "Succeeded",
          resourceGuid: rnd.guid(),
          addressSpace: { addressPrefixes: [space] },
          dhcpOptions: { dnsServers },
          subnets: subnets.map((s) => ({
            name: s.name,
            id: `${id}/subnets/${s.name}`,
            type: "Microsoft.Network/virtualNetworks/subnets",
            properties: {
              provisioningState: "Succeeded",
              addressPrefix: s.prefix,
              ...(s.natGatewayId ? { natGateway: { id: s.natGatewayId } } : {}),
              privateEndpointNetworkPolicies: "Disabled",
              privateLinkServiceNetworkPolicies: "Enabled",
            },
          })),
          virtualNetworkPeerings: peerings.map((p) => ({
            name: p.name,
            id: `${id}/virtualNetworkPeerings/${p.name}`,
            type: "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
            properties: {
              provisioningState: "Succeeded",
              peeringState: p.state,
              peeringSyncLevel: p.state === "Connected" ? "FullyInSync" : "RemoteNotInSync",
              remoteVirtualNetwork: { id: p.remote },
              allowVirtualNetworkAccess: true,
              allowForwardedTraffic: true,
              allowGatewayTransit: false,
              useRemoteGateways: false,
            },
          })),
          enableDdosProtection: false,
        },
      }),
    );
    count("vnets");
    return id;
  };

  const dnsLink = (sub: string, zoneId: string, name: string, vnetId: string) => {
    resources.push(
      base(
        `${zoneId}/virtualNetworkLinks/${name}`,
        "microsoft.network/privatednszones/virtualnetworklinks",
        name,
        sub,
        "rg-dns",
        "global",
        {
          properties: {
            provisioningState: "Succeeded",
            registrationEnabled: false,
            resolutionPolicy: "Default",
            virtualNetwork: { id: vnetId },
            virtualNetworkLinkState: "Completed",
          },
        },
      ),
    );
    count("dnsZoneLinks");
  };

  const privateEndpoint = (
    sub: string,
    rg: string,
    name: string,
    location: string,
    subnetId: string,
    target: string,
    status: string,
  ): string => {
    const id = netId(sub, rg, "privateEndpoints", name);
    resources.push(
      base(id, "microsoft.network/privateendpoints", name, sub, rg, location, {
        properties: {
          provisioningState: "Succeeded",
          privateLinkServiceConnections: [
            {
              name: `${name}-conn`,
              id: `${id}/privateLinkServiceConnections/${name}-conn`,
              properties: {
                provisioningState: "Succeeded",
                privateLinkServiceId: target,
                groupIds: ["registry"],
                privateLinkServiceConnectionState: { status, description: "", actionsRequired: "None" },
              },
            },
          ],
          manualPrivateLinkServiceConnections: [],
          subnet: { id: subnetId },
          networkInterfaces: [{ id: netId(sub, rg, "networkInterfaces", `${name}.nic.${rnd.hex(8)}`) }],
          customDnsConfigs: [],
          ipConfigurations: [],
        },
      }),
    );
    count("privateEndpoints");
    return id;
  };

  // ---------------------------------------------------------------- per subscription: network and registries
  interface SubNet {
    hubId: string;
    endpointsSubnet: string;
    zoneId: string;
    spokes: {
      id: string;
      name: string;
      index: number;
      natGatewayId: string;
      egress: string[];
      nextSubnet: number;
      subnets: Subnet[];
      peerings: Peering[];
      dns: string[];
      linked: boolean;
    }[];
  }
  const clustersPerSub: number[] = subs.map((_, s) => Math.floor(N / S) + (s < N % S ? 1 : 0));
  const subNets: SubNet[] = [];
  interface Reg {
    id: string;
    name: string;
    sub: string;
    rg: string;
    mode: "public" | "firewall" | "private";
    ipRules: string[];
    row: Row;
  }
  const registries: Reg[] = [];
  // Registries are spread over subscriptions in proportion to their clusters; subscription 0 holds the
  // shared platform registries.
  const regsPerSub: number[] = clustersPerSub.map((c) => Math.max(0, Math.round((c / N) * R)));
  const platformRegs = Math.max(1, Math.ceil(R / 100));

  for (let s = 0; s < S; s++) {
    const { id: sub, region } = subs[s];
    resourceGroup(sub, "rg-network", region);
    resourceGroup(sub, "rg-dns", "global");
    resourceGroup(sub, "rg-acr", region);
    const hubName = "vnet-hub";
    const hubId = netId(sub, "rg-network", "virtualNetworks", hubName);
    const spokesCount = Math.max(1, Math.ceil(clustersPerSub[s] / 7));
    const spokes: SubNet["spokes"] = [];
    for (let k = 0; k < spokesCount; k++) {
      const name = `vnet-spoke-${k + 1}`;
      const id = netId(sub, "rg-network", "virtualNetworks", name);
      const ip = publicIp(sub, "rg-network", `pip-nat-spoke-${k + 1}`, region);
      const prefixes = rnd.chance(0.3) ? [publicIpPrefix(sub, "rg-network", `ippre-nat-spoke-${k + 1}`, region)] : [];
      const natId = natGateway(
        sub,
        "rg-network",
        `nat-spoke-${k + 1}`,
        region,
        [ip.id],
        prefixes.map((p) => p.id),
      );
      spokes.push({
        id,
        name,
        index: k,
        natGatewayId: natId,
        egress: [ip.ip, ...prefixes.map((p) => p.prefix)],
        nextSubnet: 0,
        subnets: [],
        peerings: [{ name: "to-hub", remote: hubId, state: rnd.chance(0.03) ? "Disconnected" : "Connected" }],
        dns: rnd.chance(0.05) ? ["10.0.0.4", "10.0.0.5"] : [],
        linked: rnd.chance(0.95),
      });
    }
    const zoneId = `${rgId(sub, "rg-dns")}/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io`;
    subNets.push({ hubId, endpointsSubnet: `${hubId}/subnets/endpoints`, zoneId, spokes });

    // Registries of this subscription.
    const n = s === 0 ? Math.max(platformRegs, regsPerSub[s]) : regsPerSub[s];
    for (let i = 0; i < n; i++) {
      const name =
        s === 0 && i < platformRegs
          ? `platformacr${String(i).padStart(3, "0")}${rnd.hex(4)}`
          : `acr${String(s).padStart(4, "0")}${String(i).padStart(2, "0")}${rnd.hex(6)}`;
      const id = `${rgId(sub, "rg-acr")}/providers/Microsoft.ContainerRegistry/registries/${name}`;
      const roll = rnd.next();
      const mode: Reg["mode"] = s === 0 && i < platformRegs ? "firewall" : roll < 0.4 ? "public" : roll < 0.7 ? "firewall" : "private";
      const premium = mode !== "public" || rnd.chance(0.1);
      const pecs: unknown[] = [];
      if (mode === "private") {
        const status = rnd.chance(0.05) ? "Pending" : "Approved";
        const peId = privateEndpoint(sub, "rg-network", `pe-${name}`, region, `${hubId}/subnets/endpoints`, id, status);
        pecs.push({
          id: `${id}/privateEndpointConnections/pe-${name}.${rnd.hex(8)}`,
          name: `pe-${name}.${rnd.hex(8)}`,
          type: "Microsoft.ContainerRegistry/registries/privateEndpointConnections",
          properties: {
            privateEndpoint: { id: peId },
            privateLinkServiceConnectionState: { status, description: "", actionsRequired: "None" },
            provisioningState: "Succeeded",
          },
        });
      }
      const row = base(id, "microsoft.containerregistry/registries", name, sub, "rg-acr", region, {
        sku: premium
          ? { name: "Premium", tier: "Premium" }
          : rnd.chance(0.5)
            ? { name: "Standard", tier: "Standard" }
            : { name: "Basic", tier: "Basic" },
        properties: {
          loginServer: `${name}.azurecr.io`,
          creationDate: "2025-03-02T10:11:12.1234567Z",
          provisioningState: "Succeeded",
          adminUserEnabled: rnd.chance(0.1),
          networkRuleSet: { defaultAction: mode === "firewall" ? "Deny" : "Allow", ipRules: [] as unknown[] },
          policies: {
            quarantinePolicy: { status: "disabled" },
            trustPolicy: { type: "Notary", status: "disabled" },
            retentionPolicy: { days: 7, status: "disabled" },
            exportPolicy: { status: "enabled" },
            azureADAuthenticationAsArmPolicy: { status: "enabled" },
          },
          encryption: { status: "disabled" },
          dataEndpointEnabled: false,
          dataEndpointHostNames: [],
          privateEndpointConnections: pecs,
          publicNetworkAccess: mode === "private" ? "Disabled" : "Enabled",
          networkRuleBypassOptions: "AzureServices",
          networkRuleBypassAllowedForTasks: false,
          zoneRedundancy: "Disabled",
          anonymousPullEnabled: rnd.chance(0.02),
          roleAssignmentMode: rnd.chance(0.03) ? "AbacRepositoryPermissions" : "LegacyRegistryPermissions",
        },
      });
      resources.push(row);
      count("registries");
      registries.push({ id, name, sub, rg: "rg-acr", mode, ipRules: [], row });
      if (premium) {
        const reps = rnd.int(3);
        for (let k = 0; k < reps; k++) {
          const loc = REGIONS[(REGIONS.indexOf(region) + 1 + k) % REGIONS.length];
          resources.push(
            base(`${id}/replications/${loc}`, "microsoft.containerregistry/registries/replications", loc, sub, "rg-acr", loc, {
              properties: {
                provisioningState: rnd.chance(0.95) ? "Succeeded" : "Failed",
                status: { displayStatus: "Ready" },
                regionEndpointEnabled: true,
                zoneRedundancy: "Disabled",
              },
            }),
          );
          count("replications");
        }
      }
    }
  }
  const platform = registries.slice(0, platformRegs);
  const regsBySub = new Map<string, Reg[]>();
  for (const r of registries) {
    let l = regsBySub.get(r.sub);
    if (!l) regsBySub.set(r.sub, (l = []));
    l.push(r);
  }

  // ---------------------------------------------------------------- clusters
  const generated: GeneratedCluster[] = [];
  let clusterIndex = 0;
  for (let s = 0; s < S; s++) {
    const { id: sub, region, name: subName } = subs[s];
    const net = subNets[s];
    const localRegs = regsBySub.get(sub)?.length ? regsBySub.get(sub)! : registries;
    for (let c = 0; c < clustersPerSub[s]; c++, clusterIndex++) {
      const name = `aks-${subName.replace(/^lz-/, "")}-${String(c).padStart(2, "0")}`;
      const rg = `rg-aks-${String(c).padStart(2, "0")}`;
      const location = rnd.chance(0.9) ? region : rnd.pick(REGIONS);
      const nodeRg = `MC_${rg}_${name}_${location}`;
      const id = `${rgId(sub, rg)}/providers/Microsoft.ContainerService/managedClusters/${name}`;
      resourceGroup(sub, rg, location);
      resourceGroup(sub, nodeRg, location, id);
      let broken = false;

      // Networking: spoke subnet, or the managed VNet of the node resource group.
      const managedVnet = rnd.chance(0.1);
      const spoke = net.spokes[c % net.spokes.length];
      const outRoll = rnd.next();
      const outbound =
        outRoll < 0.6
          ? "loadBalancer"
          : outRoll < 0.85
            ? "userAssignedNATGateway"
            : outRoll < 0.95
              ? "managedNATGateway"
              : "userDefinedRouting";
      const pools: Record<string, unknown>[] = [];
      const poolCount = 1 + rnd.int(3);
      let subnetId: string | undefined;
      if (!managedVnet) {
        const sn = `snet-${name}`;
        spoke.subnets.push({
          name: sn,
          prefix: `10.${100 + spoke.index}.${spoke.nextSubnet++ % 256}.0/24`,
          natGatewayId: outbound === "userAssignedNATGateway" ? spoke.natGatewayId : undefined,
        });
        subnetId = `${spoke.id}/subnets/${sn}`;
      }
      for (let p = 0; p < poolCount; p++) {
        pools.push({
          name: p === 0 ? "system" : `user${p}`,
          count: 3,
          vmSize: rnd.pick(["Standard_D4ds_v5", "Standard_D8ds_v5", "Standard_E8ds_v5"]),
          osDiskSizeGB: 128,
          osDiskType: "Ephemeral",
          maxPods: 110,
          type: "VirtualMachineScaleSets",
          mode: p === 0 ? "System" : "User",
          osType: "Linux",
          osSKU: "AzureLinux",
          orchestratorVersion: "1.32.7",
          provisioningState: "Succeeded",
          powerState: { code: "Running" },
          ...(subnetId ? { vnetSubnetID: subnetId } : {}),
        });
      }
      const egress: string[] = [];
      const networkProfile: Record<string, unknown> = {
        networkPlugin: "azure",
        networkPluginMode: "overlay",
        networkPolicy: "cilium",
        networkDataplane: "cilium",
        loadBalancerSku: "Standard",
        podCidr: "10.244.0.0/16",
        serviceCidr: "10.0.0.0/16",
        dnsServiceIP: "10.0.0.10",
        outboundType: managedVnet && outbound === "userAssignedNATGateway" ? "loadBalancer" : outbound,
        podCidrs: ["10.244.0.0/16"],
        serviceCidrs: ["10.0.0.0/16"],
        ipFamilies: ["IPv4"],
      };
      const effective = networkProfile.outboundType as string;
      if (effective === "loadBalancer") {
        const ip = publicIp(sub, nodeRg, `${rnd.guid()}`, location);
        egress.push(ip.ip);
        networkProfile.loadBalancerProfile = {
          managedOutboundIPs: { count: 1 },
          effectiveOutboundIPs: [{ id: ip.id }],
          backendPoolType: "nodeIPConfiguration",
        };
      } else if (effective === "managedNATGateway") {
        const ip = publicIp(sub, nodeRg, `${rnd.guid()}`, location);
        egress.push(ip.ip);
        networkProfile.natGatewayProfile = {
          managedOutboundIPProfile: { count: 1 },
          effectiveOutboundIPs: [{ id: ip.id }],
          idleTimeoutInMinutes: 4,
        };
      } else if (effective === "userAssignedNATGateway") {
        egress.push(...spoke.egress);
      }
      if (managedVnet) {
        const vnetName = `aks-vnet-${rnd.int(1e8).toString().padStart(8, "0")}`;
        vnet(sub, nodeRg, vnetName, location, "10.224.0.0/12", [{ name: "aks-subnet", prefix: "10.224.0.0/16" }], []);
      }

      // Identity.
      const sp = rnd.chance(0.05);
      const kubeletObjectId = rnd.guid();
      const controlPlanePrincipal = rnd.guid();
      const properties: Record<string, unknown> = {
        provisioningState: "Succeeded",
        powerState: { code: "Running" },
        kubernetesVersion: "1.32.7",
        currentKubernetesVersion: "1.32.7",
        dnsPrefix: `${name}-dns`,
        fqdn: `${name}-dns-${rnd.hex(8)}.hcp.${location}.azmk8s.io`,
        azurePortalFQDN: `${name}-dns-${rnd.hex(8)}.portal.hcp.${location}.azmk8s.io`,
        agentPoolProfiles: pools,
        servicePrincipalProfile: { clientId: sp ? rnd.guid() : "msi" },
        nodeResourceGroup: nodeRg,
        enableRBAC: true,
        supportPlan: "KubernetesOfficial",
        networkProfile,
        maxAgentPools: 100,
        disableLocalAccounts: true,
        oidcIssuerProfile: { enabled: true },
      };
      if (!sp) {
        properties.identityProfile = {
          kubeletidentity: {
            resourceId: `/subscriptions/${sub}/resourcegroups/${nodeRg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}-agentpool`,
            clientId: rnd.guid(),
            objectId: kubeletObjectId,
          },
        };
      }

      // Attachments: the cluster's own registry (about three clusters per registry), sometimes a platform one.
      const own = localRegs[Math.floor(c / 3) % localRegs.length];
      const attached: Reg[] = [own];
      if (rnd.chance(0.2) && !platform.includes(own)) attached.push(rnd.pick(platform));
      const tags: Record<string, string> = { env: rnd.pick(["prod", "staging", "dev"]), owner: `team-${rnd.int(200)}` };
      if (rnd.chance(0.1))
        tags["aks-acr-audit-registries"] = attached.map((r) => (rnd.chance(0.5) ? `${r.name}.azurecr.io` : r.name)).join(",");

      if (!sp) {
        for (const reg of attached) {
          const roll = rnd.next();
          if (roll < 0.75) assignment(reg.id, kubeletObjectId, "ServicePrincipal", ROLE.acrPull, reg.sub, reg.rg);
          else if (roll < 0.85) assignment(rgId(reg.sub, reg.rg), kubeletObjectId, "ServicePrincipal", ROLE.acrPull, reg.sub, reg.rg);
          else if (roll < 0.9) assignment(reg.id, kubeletObjectId, "ServicePrincipal", ROLE.acrPush, reg.sub, reg.rg);
          else if (roll < 0.94) assignment(reg.id, kubeletObjectId, "ServicePrincipal", CUSTOM_PULL_ROLE, reg.sub, reg.rg, subs[0].id);
          else if (tags["aks-acr-audit-registries"])
            broken = true; // declared, never granted
          else assignment(reg.id, kubeletObjectId, "ServicePrincipal", ROLE.acrPull, reg.sub, reg.rg);
          // Firewalled registries allow most of their clusters' egress addresses.
          if (reg.mode === "firewall") {
            if (rnd.chance(0.9)) reg.ipRules.push(...egress);
            else if (egress.length) broken = true;
          }
          if (reg.mode === "private" && (managedVnet || spoke.peerings[0].state !== "Connected")) broken = true;
        }
      } else broken = true;

      // Role assignments of other principals (most of the ~5 per cluster).
      assignment(id, rnd.guid(), "Group", ROLE.aksClusterUser, sub, rg);
      assignment(rgId(sub, rg), rnd.guid(), "User", ROLE.contributor, sub, rg);
      assignment(id, rnd.guid(), "ServicePrincipal", ROLE.monitoringMetricsPublisher, sub, rg);
      if (subnetId) assignment(spoke.id, controlPlanePrincipal, "ServicePrincipal", ROLE.networkContributor, sub, "rg-network");
      else assignment(rgId(sub, rg), controlPlanePrincipal, "ServicePrincipal", ROLE.reader, sub, rg);

      resources.push(
        base(id, "microsoft.containerservice/managedclusters", name, sub, rg, location, {
          sku: { name: "Base", tier: rnd.pick(["Free", "Standard"]) },
          properties,
          tags,
          identity: { type: "SystemAssigned", principalId: controlPlanePrincipal, tenantId: TENANT },
        }),
      );
      count("clusters");
      generated.push({ id, name, subscriptionId: sub, broken });

      // AKS infrastructure in the node resource group (unrelated to the audit).
      if (withNodeRgRows) {
        for (let p = 0; p < poolCount; p++) {
          const vmss = `aks-${p === 0 ? "system" : `user${p}`}-${rnd.int(1e8)}-vmss`;
          resources.push(
            base(
              `${rgId(sub, nodeRg)}/providers/Microsoft.Compute/virtualMachineScaleSets/${vmss}`,
              "microsoft.compute/virtualmachinescalesets",
              vmss,
              sub,
              nodeRg,
              location,
              {
                sku: { name: "Standard_D4ds_v5", tier: "Standard", capacity: 3 },
                properties: {
                  provisioningState: "Succeeded",
                  orchestrationMode: "Uniform",
                  upgradePolicy: { mode: "Manual" },
                  singlePlacementGroup: false,
                  uniqueId: rnd.guid(),
                },
                tags: { "aks-managed-poolName": p === 0 ? "system" : `user${p}`, "aks-managed-orchestrator": "Kubernetes:1.32.7" },
              },
            ),
          );
          count("unrelated");
        }
        resources.push(
          base(netId(sub, nodeRg, "loadBalancers", "kubernetes"), "microsoft.network/loadbalancers", "kubernetes", sub, nodeRg, location, {
            sku: { name: "Standard", tier: "Regional" },
            properties: {
              provisioningState: "Succeeded",
              resourceGuid: rnd.guid(),
              frontendIPConfigurations: [],
              backendAddressPools: [],
              loadBalancingRules: [],
              probes: [],
              outboundRules: [],
            },
          }),
          base(
            netId(sub, nodeRg, "networkSecurityGroups", `aks-agentpool-${rnd.int(1e8)}-nsg`),
            "microsoft.network/networksecuritygroups",
            "aks-agentpool-nsg",
            sub,
            nodeRg,
            location,
            {
              properties: { provisioningState: "Succeeded", resourceGuid: rnd.guid(), securityRules: [], defaultSecurityRules: [] },
            },
          ),
          base(
            `/subscriptions/${sub}/resourceGroups/${nodeRg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}-agentpool`,
            "microsoft.managedidentity/userassignedidentities",
            `${name}-agentpool`,
            sub,
            nodeRg,
            location,
            {
              properties: { tenantId: TENANT, principalId: kubeletObjectId, clientId: rnd.guid() },
            },
          ),
        );
        count("unrelated", 3);
      }
    }

    // The subscription's hub, spokes, peerings, DNS zone and links (spokes collected their subnets above).
    const { hubId, zoneId, spokes } = net;
    vnet(
      sub,
      "rg-network",
      "vnet-hub",
      region,
      "10.0.0.0/16",
      [
        { name: "AzureFirewallSubnet", prefix: "10.0.0.0/26" },
        { name: "GatewaySubnet", prefix: "10.0.0.64/27" },
        { name: "endpoints", prefix: "10.0.1.0/24" },
      ],
      spokes.map((k) => ({ name: `to-${k.name}`, remote: k.id, state: "Connected" })),
    );
    for (const k of spokes) vnet(sub, "rg-network", k.name, region, `10.${100 + k.index}.0.0/16`, k.subnets, k.peerings, k.dns);
    resources.push(
      base(zoneId, "microsoft.network/privatednszones", "privatelink.azurecr.io", sub, "rg-dns", "global", {
        properties: {
          maxNumberOfRecordSets: 25000,
          numberOfRecordSets: 1 + (regsBySub.get(sub)?.length ?? 0),
          numberOfVirtualNetworkLinks: 1 + spokes.length,
          provisioningState: "Succeeded",
        },
      }),
    );
    dnsLink(sub, zoneId, "link-vnet-hub", hubId);
    for (const k of spokes) if (k.linked) dnsLink(sub, zoneId, `link-${k.name}`, k.id);
  }

  // Firewall rules: the allowed egress addresses plus a few office ranges.
  for (const r of registries) {
    if (r.mode !== "firewall") continue;
    const values = [...new Set(r.ipRules)];
    values.push(`${rnd.int(200) + 20}.${rnd.int(255)}.${rnd.int(255)}.0/24`);
    const set = (r.row.properties as Record<string, unknown>).networkRuleSet as { ipRules: unknown[] };
    set.ipRules = values.map((value) => ({ action: "Allow", value }));
  }

  // ---------------------------------------------------------------- unrelated resources
  const unrelated = Math.round(N * unrelatedPerCluster);
  for (let i = 0; i < unrelated;) {
    const s = subs[rnd.int(S)];
    const rg = `rg-app-${rnd.int(20)}`;
    const roll = rnd.next();
    if (roll < 0.35) {
      const vm = `vm-${rnd.hex(6)}`;
      const nicId = netId(s.id, rg, "networkInterfaces", `${vm}-nic`);
      const diskId = `${rgId(s.id, rg)}/providers/Microsoft.Compute/disks/${vm}_OsDisk_1_${rnd.hex(32)}`;
      resources.push(
        base(
          `${rgId(s.id, rg)}/providers/Microsoft.Compute/virtualMachines/${vm}`,
          "microsoft.compute/virtualmachines",
          vm,
          s.id,
          rg,
          s.region,
          {
            properties: {
              provisioningState: "Succeeded",
              vmId: rnd.guid(),
              hardwareProfile: { vmSize: "Standard_D2s_v5" },
              storageProfile: {
                osDisk: { osType: "Linux", name: `${vm}_OsDisk_1`, managedDisk: { id: diskId, storageAccountType: "Premium_LRS" } },
              },
              networkProfile: { networkInterfaces: [{ id: nicId }] },
            },
          },
        ),
        base(diskId, "microsoft.compute/disks", diskId.split("/").pop()!, s.id, rg, s.region, {
          sku: { name: "Premium_LRS", tier: "Premium" },
          properties: { provisioningState: "Succeeded", diskSizeGB: 64, diskState: "Attached", osType: "Linux" },
        }),
        base(nicId, "microsoft.network/networkinterfaces", `${vm}-nic`, s.id, rg, s.region, {
          properties: {
            provisioningState: "Succeeded",
            ipConfigurations: [
              {
                name: "ipconfig1",
                properties: { privateIPAddress: `10.50.${rnd.int(255)}.${rnd.int(255)}`, privateIPAllocationMethod: "Dynamic" },
              },
            ],
          },
        }),
      );
      i += 3;
    } else if (roll < 0.6) {
      const name = `st${rnd.hex(12)}`;
      resources.push(
        base(
          `${rgId(s.id, rg)}/providers/Microsoft.Storage/storageAccounts/${name}`,
          "microsoft.storage/storageaccounts",
          name,
          s.id,
          rg,
          s.region,
          {
            kind: "StorageV2",
            sku: { name: "Standard_LRS", tier: "Standard" },
            properties: {
              provisioningState: "Succeeded",
              minimumTlsVersion: "TLS1_2",
              allowBlobPublicAccess: false,
              publicNetworkAccess: "Enabled",
              networkAcls: { defaultAction: "Allow", ipRules: [] },
            },
          },
        ),
      );
      i += 1;
    } else if (roll < 0.8) {
      vnet(s.id, rg, `vnet-app-${rnd.hex(6)}`, s.region, "172.16.0.0/16", [{ name: "default", prefix: "172.16.0.0/24" }], []);
      count("vnets", -1);
      i += 1;
    } else {
      publicIp(s.id, rg, `pip-${rnd.hex(6)}`, s.region);
      count("publicIps", -1);
      i += 1;
    }
    count("unrelated");
  }
  addExtraNetwork(opts.extraNetwork ?? 0);

  function addExtraNetwork(n: number): void {
    // A separate stream, so that the rest of the estate is identical with and without the extra rows.
    const x = new Rand(((opts.seed ?? 1) * 7919 + 17) >>> 0);
    const saved = ipCounter;
    ipCounter = 5_000_000;
    for (let i = 0; i < n; i++) {
      const s = subs[x.int(S)];
      const rg = `rg-net-extra-${x.int(50)}`;
      const kind = i % 5;
      const tag = `${String(i).padStart(6, "0")}${x.hex(4)}`;
      if (kind === 0) {
        const id = netId(s.id, rg, "virtualNetworks", `vnet-extra-${tag}`);
        resources.push(
          base(id, "microsoft.network/virtualnetworks", `vnet-extra-${tag}`, s.id, rg, s.region, {
            properties: {
              provisioningState: "Succeeded",
              addressSpace: { addressPrefixes: ["192.168.0.0/16"] },
              dhcpOptions: { dnsServers: [] },
              subnets: [{ name: "default", id: `${id}/subnets/default`, properties: { addressPrefix: "192.168.0.0/24" } }],
              virtualNetworkPeerings: [
                {
                  name: "to-hub",
                  id: `${id}/virtualNetworkPeerings/to-hub`,
                  properties: { peeringState: "Connected", remoteVirtualNetwork: { id: subNets[subs.indexOf(s)].hubId } },
                },
              ],
            },
          }),
        );
      } else if (kind === 1) {
        const id = netId(s.id, rg, "privateEndpoints", `pe-extra-${tag}`);
        resources.push(
          base(id, "microsoft.network/privateendpoints", `pe-extra-${tag}`, s.id, rg, s.region, {
            properties: {
              provisioningState: "Succeeded",
              subnet: { id: subNets[subs.indexOf(s)].endpointsSubnet },
              privateLinkServiceConnections: [],
              manualPrivateLinkServiceConnections: [],
            },
          }),
        );
      } else if (kind === 2) {
        resources.push(
          base(
            netId(s.id, rg, "publicIPAddresses", `pip-extra-${tag}`),
            "microsoft.network/publicipaddresses",
            `pip-extra-${tag}`,
            s.id,
            rg,
            s.region,
            {
              sku: { name: "Standard", tier: "Regional" },
              properties: {
                provisioningState: "Succeeded",
                ipAddress: publicAddress(ipCounter++),
                publicIPAddressVersion: "IPv4",
                publicIPAllocationMethod: "Static",
              },
            },
          ),
        );
      } else if (kind === 3) {
        resources.push(
          base(
            netId(s.id, rg, "natGateways", `nat-extra-${tag}`),
            "microsoft.network/natgateways",
            `nat-extra-${tag}`,
            s.id,
            rg,
            s.region,
            {
              sku: { name: "Standard" },
              properties: { provisioningState: "Succeeded", publicIpAddresses: [], publicIpPrefixes: [] },
            },
          ),
        );
      } else {
        const zone = subNets[subs.indexOf(s)].zoneId;
        resources.push(
          base(
            `${zone}/virtualNetworkLinks/link-extra-${tag}`,
            "microsoft.network/privatednszones/virtualnetworklinks",
            `link-extra-${tag}`,
            s.id,
            "rg-dns",
            "global",
            {
              properties: {
                provisioningState: "Succeeded",
                registrationEnabled: false,
                virtualNetwork: { id: netId(s.id, rg, "virtualNetworks", `vnet-extra-${tag}`) },
                virtualNetworkLinkState: "Completed",
              },
            },
          ),
        );
      }
      count("extraNetwork");
    }
    ipCounter = saved;
  }

  counts.rows = resources.length + containers.length + auth.length;
  return {
    estate: {
      version: 1,
      description: `Synthetic estate: ${N} clusters, seed ${opts.seed ?? 1} (scripts/generate-estate.ts)`,
      tenantId: TENANT,
      tables: { resources, resourcecontainers: containers, authorizationresources: auth },
    },
    clusters: generated,
    counts,
  };
}

// ------------------------------------------------------------------------------------------------ relevant rows

/**
 * The rows an audit must read, per query family, computed from the estate alone (not from the auditor):
 * readable subscriptions, clusters, registries, role assignments of kubelet identities, the definitions
 * they reference, the network objects attached clusters and registries reference (node VNets and managed
 * VNets, private endpoints, NAT gateways of node subnets, outbound public IPs and prefixes, private DNS
 * zone links of node VNets on a private path), and replications of attached registries.
 */
export function relevantRows(
  estate: { tables: GeneratedEstate["tables"] },
  privateLinkZone = "privatelink.azurecr.io",
): Record<string, number> {
  const lc = (s: unknown) => (typeof s === "string" ? s.toLowerCase() : "");
  const obj = (v: unknown): Record<string, unknown> =>
    v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const parent = (id: string) => id.split("/").slice(0, -2).join("/");
  const t = estate.tables;
  const subs = t.resourcecontainers.filter((r) => r.type === "microsoft.resources/subscriptions");
  const byType = new Map<string, Row[]>();
  for (const r of t.resources) {
    let l = byType.get(r.type);
    if (!l) byType.set(r.type, (l = []));
    l.push(r);
  }
  const clusters = byType.get("microsoft.containerservice/managedclusters") ?? [];
  const registries = byType.get("microsoft.containerregistry/registries") ?? [];
  const regById = new Map(registries.map((r) => [lc(r.id), r]));
  const regByName = new Map(registries.map((r) => [lc(r.name), r]));
  const regsByRg = new Map<string, Row[]>();
  for (const r of registries) {
    const k = lc(r.id).split("/providers/")[0];
    let l = regsByRg.get(k);
    if (!l) regsByRg.set(k, (l = []));
    l.push(r);
  }
  const kubelets = new Map<string, Row>();
  for (const c of clusters) {
    const oid = lc(obj(obj(obj(c.properties).identityProfile).kubeletidentity).objectId);
    if (oid) kubelets.set(oid, c);
  }
  const assignments = t.authorizationresources.filter(
    (r) => r.type === "microsoft.authorization/roleassignments" && kubelets.has(lc(obj(r.properties).principalId)),
  );
  const defGuids = new Set(assignments.map((a) => lc(obj(a.properties).roleDefinitionId).split("/").pop()));
  const attachedClusters = new Set<string>();
  const attachedRegs = new Set<string>();
  for (const a of assignments) {
    const scope = lc(obj(a.properties).scope);
    const hits = regById.has(scope) ? [regById.get(scope)!] : (regsByRg.get(scope) ?? []);
    for (const r of hits) {
      attachedRegs.add(lc(r.id));
      attachedClusters.add(lc(kubelets.get(lc(obj(a.properties).principalId))!.id));
    }
  }
  for (const c of clusters) {
    const tags = obj(c.tags);
    const v = Object.entries(tags).find(([k]) => k.toLowerCase() === "aks-acr-audit-registries")?.[1];
    if (typeof v !== "string") continue;
    for (const e of v
      .split(/[,;]/)
      .map((x) => x.trim().toLowerCase())
      .filter(Boolean)) {
      const r = regById.get(e) ?? regByName.get(e.split(".")[0]);
      attachedClusters.add(lc(c.id));
      if (r) attachedRegs.add(lc(r.id));
    }
  }
  const vnetsById = new Map((byType.get("microsoft.network/virtualnetworks") ?? []).map((v) => [lc(v.id), v]));
  const vnetsByRg = new Map<string, string[]>();
  for (const v of vnetsById.keys()) {
    const k = v.split("/providers/")[0];
    let l = vnetsByRg.get(k);
    if (!l) vnetsByRg.set(k, (l = []));
    l.push(v);
  }
  const nodeVnets = new Set<string>();
  const ips = new Set<string>();
  for (const c of clusters) {
    if (!attachedClusters.has(lc(c.id))) continue;
    const p = obj(c.properties);
    for (const pool of arr(p.agentPoolProfiles)) {
      const sn = lc(obj(pool).vnetSubnetID);
      if (sn) nodeVnets.add(parent(sn));
      else
        for (const v of vnetsByRg.get(`/subscriptions/${lc(c.subscriptionId)}/resourcegroups/${lc(p.nodeResourceGroup)}`) ?? [])
          nodeVnets.add(v);
    }
    const net = obj(p.networkProfile);
    for (const x of [...arr(obj(net.loadBalancerProfile).effectiveOutboundIPs), ...arr(obj(net.natGatewayProfile).effectiveOutboundIPs)])
      ips.add(lc(obj(x).id));
  }
  const nats = new Set<string>();
  for (const v of nodeVnets)
    for (const s of arr(obj(vnetsById.get(v)?.properties).subnets)) {
      const n = lc(obj(obj(obj(s).properties).natGateway).id);
      if (n) nats.add(n);
    }
  for (const n of byType.get("microsoft.network/natgateways") ?? []) {
    if (!nats.has(lc(n.id))) continue;
    for (const x of [...arr(obj(n.properties).publicIpAddresses), ...arr(obj(n.properties).publicIpPrefixes)]) ips.add(lc(obj(x).id));
  }
  const pes = new Set<string>();
  for (const id of attachedRegs)
    for (const c of arr(obj(regById.get(id)!.properties).privateEndpointConnections)) {
      const pe = lc(obj(obj(obj(c).properties).privateEndpoint).id);
      if (pe) pes.add(pe);
    }
  const has = (type: string, set: Set<string>) => (byType.get(type) ?? []).filter((r) => set.has(lc(r.id))).length;
  // Zone links matter only for node VNets on a private path (rules.md, network.private-dns): the VNet holds,
  // or is peered (Connected) with the VNet of, a referenced private endpoint, and uses Azure DNS.
  const endpointVnets = new Set(
    (byType.get("microsoft.network/privateendpoints") ?? [])
      .filter((p) => pes.has(lc(p.id)))
      .map((p) => parent(lc(obj(obj(p.properties).subnet).id))),
  );
  const privatePath = new Set(
    [...nodeVnets].filter((v) => {
      const p = obj(vnetsById.get(v)?.properties);
      if (arr(obj(p.dhcpOptions).dnsServers).length) return false;
      return (
        endpointVnets.has(v) ||
        arr(p.virtualNetworkPeerings).some(
          (x) =>
            lc(obj(obj(x).properties).peeringState) === "connected" &&
            endpointVnets.has(lc(obj(obj(obj(x).properties).remoteVirtualNetwork).id)),
        )
      );
    }),
  );
  const links = (byType.get("microsoft.network/privatednszones/virtualnetworklinks") ?? []).filter(
    (l) => lc(l.id).includes(`/privatednszones/${privateLinkZone}/`) && privatePath.has(lc(obj(obj(l.properties).virtualNetwork).id)),
  ).length;
  const network = {
    vnets: [...nodeVnets].filter((v) => vnetsById.has(v)).length,
    privateEndpoints: has("microsoft.network/privateendpoints", pes),
    natGateways: has("microsoft.network/natgateways", nats),
    publicIps: has("microsoft.network/publicipaddresses", ips) + has("microsoft.network/publicipprefixes", ips),
    dnsZoneLinks: links,
  };
  const replications = (byType.get("microsoft.containerregistry/registries/replications") ?? []).filter((r) =>
    attachedRegs.has(parent(lc(r.id))),
  ).length;
  return {
    subscriptions: subs.length,
    clusters: clusters.length,
    registries: registries.length,
    roleAssignments: assignments.length,
    roleDefinitions:
      t.authorizationresources.filter((r) => r.type === "microsoft.authorization/roledefinitions" && defGuids.has(lc(r.name))).length ||
      defGuids.size,
    network: network.vnets + network.privateEndpoints + network.natGateways + network.publicIps + network.dnsZoneLinks,
    replications,
    ...Object.fromEntries(Object.entries(network).map(([k, v]) => [`network.${k}`, v])),
  };
}

/** The families the quota bound sums pages over (the `network.*` details are one family, `network`). */
export const BOUND_FAMILIES = [
  "subscriptions",
  "clusters",
  "registries",
  "roleAssignments",
  "roleDefinitions",
  "network",
  "replications",
] as const;

/**
 * The quota lower bound in seconds: pages = sum over families of ceil(rows / pageSize) (at least one page
 * for a family with no rows is not needed, so empty families count 0); the quota lets `requests` pages
 * through per `windowSeconds`, the last page still costs one round trip of `latencySeconds`.
 */
export function quotaLowerBound(
  rows: Record<string, number>,
  q: { requests: number; windowSeconds: number; latencySeconds: number; pageSize?: number },
): { pages: number; seconds: number } {
  const size = q.pageSize ?? 1000;
  const pages = BOUND_FAMILIES.reduce((n, f) => n + Math.ceil((rows[f] ?? 0) / size), 0);
  return { pages, seconds: q.windowSeconds * Math.floor(Math.max(0, pages - 1) / q.requests) + q.latencySeconds };
}

// ------------------------------------------------------------------------------------------------ CLI

function parseArgs(argv: string[]): GenerateOptions & { out?: string } {
  const o: GenerateOptions & { out?: string } = { clusters: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === "--clusters") o.clusters = Number(v());
    else if (a === "--seed") o.seed = Number(v());
    else if (a === "--extra-network") o.extraNetwork = Number(v());
    else if (a === "--unrelated-per-cluster") o.unrelatedPerCluster = Number(v());
    else if (a === "--no-node-rg-rows") o.nodeResourceGroupRows = false;
    else if (a === "--out") o.out = v();
    else if (a === "--help" || a === "-h") {
      process.stdout.write(
        "usage: generate-estate --clusters N [--seed S] [--extra-network N] [--unrelated-per-cluster X] [--no-node-rg-rows] [--out FILE]\n",
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.clusters) || o.clusters < 1) throw new Error("--clusters must be a positive integer");
  return o;
}

/** Writes the estate as JSON, one row a line (streams, so large estates do not need one huge string). */
export function writeEstate(estate: GeneratedEstate, file: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const fd = fs.openSync(file, "w");
  try {
    const w = (s: string) => fs.writeSync(fd, s);
    w(
      `{\n"version": 1,\n"description": ${JSON.stringify(estate.description)},\n"tenantId": ${JSON.stringify(estate.tenantId)},\n"tables": {\n`,
    );
    const names = Object.keys(estate.tables) as (keyof GeneratedEstate["tables"])[];
    names.forEach((t, ti) => {
      w(`${JSON.stringify(t)}: [\n`);
      const rows = estate.tables[t];
      let buf = "";
      rows.forEach((r, i) => {
        buf += JSON.stringify(r) + (i + 1 < rows.length ? ",\n" : "\n");
        if (buf.length > 1 << 20) {
          w(buf);
          buf = "";
        }
      });
      w(buf);
      w(`]${ti + 1 < names.length ? "," : ""}\n`);
    });
    w("}\n}\n");
  } finally {
    fs.closeSync(fd);
  }
}

if (require.main === module) {
  try {
    const o = parseArgs(process.argv.slice(2));
    const { estate, counts } = generateEstate(o);
    if (o.out) {
      writeEstate(estate, o.out);
      process.stderr.write(`wrote ${o.out}: ${JSON.stringify(counts)}\n`);
    } else process.stdout.write(JSON.stringify(estate) + "\n");
  } catch (err) {
    process.stderr.write(`generate-estate: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
