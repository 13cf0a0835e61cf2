#!/usr/bin/env node
/**
 * Builds the estate files of this repository (spec: ../shared/spec/estate.md) from short descriptions:
 * the Contoso sample tenant in samples/ and our own conformance cases in test/estates/.
 *
 *   node scripts/estate-builder.mjs            # (re)writes samples/*.estate.json and test/estates/*.json
 *   node scripts/estate-builder.mjs --check    # exits 1 when a generated file differs from the one on disk
 *
 * Rows are Resource Graph rows (`resultFormat: objectArray`), shaped like the public cases and
 * Microsoft's ARM examples. Everything is deterministic: GUIDs are name-based (SHA-1, version 5 layout),
 * dates are fixed. Plain Node ESM, no dependencies.
 *
 * The expected files are written by hand below (one `expect` block per case): they are the oracle, so
 * nothing in them is computed from the estate.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// ------------------------------------------------------------------------------------------ basics

/** A deterministic GUID (RFC 4122 version-5 layout) named by `parts`. */
export function guid(...parts) {
  const h = createHash("sha1").update(`aks-acr-auditor/${parts.join("/")}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Eight decimal digits named by `parts` (AKS managed VNet names look like aks-vnet-12345678). */
function digits8(...parts) {
  return String(parseInt(guid(...parts).replace(/-/g, "").slice(0, 12), 16) % 100000000).padStart(8, "0");
}

const CLOUDS = {
  AzureCloud: { suffix: "azurecr.io", zone: "privatelink.azurecr.io", aksDomain: "azmk8s.io" },
  AzureChinaCloud: { suffix: "azurecr.cn", zone: "privatelink.azurecr.cn", aksDomain: "cx.prod.service.azk8s.cn" },
  AzureUSGovernment: { suffix: "azurecr.us", zone: "privatelink.azurecr.us", aksDomain: "cx.aks.containerservice.azure.us" },
};

/** `West Europe` -> `westeurope` (what AKS puts in node resource group names). */
const regionKey = (location) => location.toLowerCase().replace(/\s+/g, "");

const ACR = "Microsoft.ContainerRegistry/registries";
export const ROLE = {
  AcrPull: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
  AcrPush: "8311e382-0749-4cb8-b61a-304f252e45ec",
  Reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  Owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  RepositoryReader: "b93aa761-3e63-49ed-ac28-beffa264f7ac",
  RepositoryWriter: "2a1e307c-b015-4ebd-883e-5b7698a07328",
};

/** Built-in role definitions, as Azure documents them (what an exported estate holds). */
const BUILTIN = {
  [ROLE.AcrPull]: { roleName: "AcrPull", description: "acr pull", permissions: [perm([`${ACR}/pull/read`])] },
  [ROLE.AcrPush]: { roleName: "AcrPush", description: "acr push", permissions: [perm([`${ACR}/pull/read`, `${ACR}/push/write`])] },
  [ROLE.Reader]: { roleName: "Reader", description: "View all resources, but does not allow you to make any changes.", permissions: [perm(["*/read"])] },
  [ROLE.Contributor]: {
    roleName: "Contributor",
    description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
    permissions: [
      perm(["*"], [
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
      ]),
    ],
  },
  [ROLE.Owner]: { roleName: "Owner", description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.", permissions: [perm(["*"])] },
  [ROLE.RepositoryReader]: {
    roleName: "Container Registry Repository Reader",
    description: "Container Registry Repository Reader",
    permissions: [perm([], [], [`${ACR}/repositories/metadata/read`, `${ACR}/repositories/content/read`])],
  },
  [ROLE.RepositoryWriter]: {
    roleName: "Container Registry Repository Writer",
    description: "Container Registry Repository Writer",
    permissions: [perm([], [], [`${ACR}/repositories/metadata/read`, `${ACR}/repositories/content/read`, `${ACR}/repositories/metadata/write`, `${ACR}/repositories/content/write`])],
  },
};

function perm(actions = [], notActions = [], dataActions = [], notDataActions = []) {
  return { actions, notActions, dataActions, notDataActions };
}

/** `/subscriptions/S/resourceGroups/G/providers/P/T/N` -> its parts (resource group lower-cased, as Resource Graph does). */
function parseId(id) {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(id)?.[1] ?? "";
  const rg = /^\/subscriptions\/[^/]+\/resourcegroups\/([^/]+)/i.exec(id)?.[1] ?? "";
  return { subscriptionId: sub.toLowerCase(), resourceGroup: rg.toLowerCase(), name: id.split("/").filter(Boolean).pop() ?? "" };
}

const RES_DEFAULTS = { kind: "", managedBy: "", sku: {}, plan: {}, tags: {}, identity: {}, zones: [], extendedLocation: {} };

// ------------------------------------------------------------------------------------------ builder

/** Collects the rows of one estate. Every add method returns a small handle with the IDs callers need. */
export class EstateBuilder {
  constructor({ tenantId, description, cloud, seed }) {
    this.tenantId = tenantId;
    this.description = description;
    this.cloud = cloud;
    this.seed = seed;
    this.c = CLOUDS[cloud ?? "AzureCloud"];
    this.resources = [];
    this.containers = [];
    this.auth = [];
    this.groups = new Map(); // management group name -> { displayName, parent }
    this.rgs = new Map(); // lower-case rg id -> row
    this.vnets = new Map(); // lower-case vnet id -> row
    this.roleDefs = new Set();
    this.hidden = new Set(); // subscriptions whose container row is left out (not readable)
  }

  g(...parts) {
    return guid(this.seed, ...parts);
  }

  // ---- resource containers

  /** A management group under `parent` (null: directly under the tenant root group). */
  managementGroup(name, displayName, parent = null) {
    this.groups.set(name, { displayName, parent });
    const chain = this.chainOf(parent);
    const parentRef = parent
      ? { id: `/providers/Microsoft.Management/managementGroups/${parent}`, name: parent, displayName: this.groups.get(parent).displayName }
      : { id: `/providers/Microsoft.Management/managementGroups/${this.tenantId}`, name: this.tenantId, displayName: "Tenant Root Group" };
    this.containers.push({
      id: `/providers/Microsoft.Management/managementGroups/${name}`,
      name,
      type: "microsoft.management/managementgroups",
      tenantId: this.tenantId,
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
        displayName,
        tenantId: this.tenantId,
        details: {
          version: 2,
          updatedTime: "2025-01-14T09:12:44.8930611Z",
          updatedBy: this.g("platform-team"),
          parent: parentRef,
          managementGroupAncestorsChain: chain,
        },
      },
    });
    return { name, id: `/providers/Microsoft.Management/managementGroups/${name}` };
  }

  /** Ancestors chain of a subscription placed in `group`, nearest first, ending with the tenant root group. */
  chainOf(group) {
    const out = [];
    for (let g = group; g; g = this.groups.get(g)?.parent) out.push({ name: g, displayName: this.groups.get(g)?.displayName ?? g });
    out.push({ name: this.tenantId, displayName: "Tenant Root Group" });
    return out;
  }

  /** A subscription. `readable: false` keeps its row out of resourcecontainers (the auditor cannot read it). */
  subscription(name, { id, group = null, readable = true, quotaId = "EnterpriseAgreement_2014-09-01" } = {}) {
    const subscriptionId = id ?? this.g("subscription", name);
    if (!readable) {
      this.hidden.add(subscriptionId);
      return { id: `/subscriptions/${subscriptionId}`, subscriptionId, name };
    }
    this.containers.push({
      id: `/subscriptions/${subscriptionId}`,
      name,
      type: "microsoft.resources/subscriptions",
      tenantId: this.tenantId,
      kind: "",
      location: "",
      resourceGroup: "",
      subscriptionId,
      managedBy: "",
      sku: null,
      plan: null,
      tags: {},
      identity: null,
      zones: null,
      extendedLocation: null,
      properties: {
        state: "Enabled",
        subscriptionPolicies: { locationPlacementId: "Public_2014-09-01", quotaId, spendingLimit: "Off" },
        managementGroupAncestorsChain: this.chainOf(group),
      },
    });
    return { id: `/subscriptions/${subscriptionId}`, subscriptionId, name };
  }

  /** A resource group row (once per group); `managedBy` for AKS node resource groups. */
  resourceGroup(sub, name, location, { managedBy = "", tags = {} } = {}) {
    const id = `/subscriptions/${sub.subscriptionId}/resourceGroups/${name}`;
    const key = id.toLowerCase();
    const existing = this.rgs.get(key);
    if (existing) {
      // Created earlier by a resource inside it: a later, more specific call adds what it knows.
      if (managedBy) existing.managedBy = managedBy;
      Object.assign(existing.tags, tags);
      return { id, name };
    }
    const row = {
      id,
      name,
      type: "microsoft.resources/subscriptions/resourcegroups",
      tenantId: this.tenantId,
      kind: "",
      location: regionKey(location),
      resourceGroup: name.toLowerCase(),
      subscriptionId: sub.subscriptionId,
      managedBy,
      sku: null,
      plan: null,
      tags,
      identity: null,
      zones: null,
      extendedLocation: null,
      properties: { provisioningState: "Succeeded" },
    };
    this.rgs.set(key, row);
    this.containers.push(row);
    return { id, name };
  }

  /** A `resources` row; subscriptionId and resourceGroup come from the ID. */
  resource(id, type, location, props, extra = {}) {
    const { subscriptionId, resourceGroup, name } = parseId(id);
    const row = {
      id,
      name,
      type: type.toLowerCase(),
      tenantId: this.tenantId,
      kind: extra.kind ?? RES_DEFAULTS.kind,
      location,
      resourceGroup,
      subscriptionId,
      managedBy: extra.managedBy ?? RES_DEFAULTS.managedBy,
      sku: extra.sku ?? {},
      plan: {},
      properties: props,
      tags: extra.tags ?? {},
      identity: extra.identity ?? {},
      zones: extra.zones ?? [],
      extendedLocation: {},
    };
    this.resources.push(row);
    return row;
  }

  rid(sub, rg, provider, ...rest) {
    return `/subscriptions/${sub.subscriptionId}/resourceGroups/${rg}/providers/${provider}/${rest.join("/")}`;
  }

  // ---- network

  publicIp(sub, rg, name, location, ipAddress, { tags = {}, zones = [], ipConfiguration } = {}) {
    this.resourceGroup(sub, rg, location);
    const id = this.rid(sub, rg, "Microsoft.Network", "publicIPAddresses", name);
    const props = {
      provisioningState: "Succeeded",
      resourceGuid: this.g("pip-guid", id),
      ipAddress,
      publicIPAddressVersion: "IPv4",
      publicIPAllocationMethod: "Static",
      idleTimeoutInMinutes: 4,
      ipTags: [],
      ddosSettings: { protectionMode: "VirtualNetworkInherited" },
    };
    if (ipConfiguration) props.ipConfiguration = { id: ipConfiguration };
    this.resource(id, "microsoft.network/publicipaddresses", regionKey(location), props, { sku: { name: "Standard", tier: "Regional" }, tags, zones });
    return { id, ipAddress };
  }

  publicIpPrefix(sub, rg, name, location, ipPrefix, { tags = {} } = {}) {
    this.resourceGroup(sub, rg, location);
    const id = this.rid(sub, rg, "Microsoft.Network", "publicIPPrefixes", name);
    this.resource(id, "microsoft.network/publicipprefixes", regionKey(location), {
      provisioningState: "Succeeded",
      resourceGuid: this.g("prefix-guid", id),
      prefixLength: Number(ipPrefix.split("/")[1]),
      publicIPAddressVersion: "IPv4",
      ipPrefix,
      ipTags: [],
    }, { sku: { name: "Standard", tier: "Regional" }, tags });
    return { id, ipPrefix };
  }

  natGateway(sub, rg, name, location, { publicIps = [], prefixes = [], tags = {} } = {}) {
    this.resourceGroup(sub, rg, location);
    const id = this.rid(sub, rg, "Microsoft.Network", "natGateways", name);
    const row = this.resource(id, "microsoft.network/natgateways", regionKey(location), {
      provisioningState: "Succeeded",
      resourceGuid: this.g("nat-guid", id),
      idleTimeoutInMinutes: 4,
      publicIpAddresses: publicIps.map((p) => ({ id: p.id })),
      publicIpPrefixes: prefixes.map((p) => ({ id: p.id })),
      subnets: [],
    }, { sku: { name: "Standard", tier: "Regional" }, tags });
    return { id, row };
  }

  routeTable(sub, rg, name, location, routes) {
    this.resourceGroup(sub, rg, location);
    const id = this.rid(sub, rg, "Microsoft.Network", "routeTables", name);
    const row = this.resource(id, "microsoft.network/routetables", regionKey(location), {
      provisioningState: "Succeeded",
      resourceGuid: this.g("rt-guid", id),
      disableBgpRoutePropagation: true,
      routes: routes.map((r) => ({
        name: r.name,
        id: `${id}/routes/${r.name}`,
        type: "Microsoft.Network/routeTables/routes",
        properties: { provisioningState: "Succeeded", addressPrefix: r.addressPrefix, nextHopType: r.nextHopType, ...(r.nextHopIpAddress ? { nextHopIpAddress: r.nextHopIpAddress } : {}), hasBgpOverride: false },
      })),
      subnets: [],
    });
    return { id, row };
  }

  /**
   * A virtual network. `subnets`: [{ name, prefix, natGateway, routeTable }] (handles from natGateway /
   * routeTable); `dnsServers` sets properties.dhcpOptions (custom DNS).
   */
  vnet(sub, rg, name, location, { addressPrefixes, subnets, dnsServers, tags = {} }) {
    this.resourceGroup(sub, rg, location);
    const id = this.rid(sub, rg, "Microsoft.Network", "virtualNetworks", name);
    const props = {
      provisioningState: "Succeeded",
      resourceGuid: this.g("vnet-guid", id),
      addressSpace: { addressPrefixes },
      ...(dnsServers ? { dhcpOptions: { dnsServers } } : {}),
      subnets: subnets.map((s) => {
        const sid = `${id}/subnets/${s.name}`;
        const p = {
          provisioningState: "Succeeded",
          addressPrefix: s.prefix,
          privateEndpointNetworkPolicies: "Disabled",
          privateLinkServiceNetworkPolicies: "Enabled",
        };
        if (s.natGateway) {
          p.natGateway = { id: s.natGateway.id };
          s.natGateway.row.properties.subnets.push({ id: sid });
        }
        if (s.routeTable) {
          p.routeTable = { id: s.routeTable.id };
          s.routeTable.row.properties.subnets.push({ id: sid });
        }
        return { name: s.name, id: sid, type: "Microsoft.Network/virtualNetworks/subnets", properties: p };
      }),
      virtualNetworkPeerings: [],
      enableDdosProtection: false,
    };
    const row = this.resource(id, "microsoft.network/virtualnetworks", regionKey(location), props, { tags });
    this.vnets.set(id.toLowerCase(), row);
    const handle = { id, name, row, addressPrefixes, subnet: (n) => `${id}/subnets/${n}` };
    return handle;
  }

  /** A peering on `from`'s side towards `to` (call twice for both sides). */
  peering(from, to, { state = "Connected", name = `peer-${from.name}-to-${to.name}`, sync = "FullyInSync" } = {}) {
    from.row.properties.virtualNetworkPeerings.push({
      name,
      id: `${from.id}/virtualNetworkPeerings/${name}`,
      type: "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
      etag: `W/"${this.g("peering-etag", from.id, name)}"`,
      properties: {
        provisioningState: "Succeeded",
        resourceGuid: this.g("peering-guid", from.id, name),
        peeringState: state,
        peeringSyncLevel: state === "Connected" ? sync : "RemoteNotInSync",
        remoteVirtualNetwork: { id: to.id },
        remoteAddressSpace: { addressPrefixes: to.addressPrefixes },
        remoteVirtualNetworkAddressSpace: { addressPrefixes: to.addressPrefixes },
        allowVirtualNetworkAccess: true,
        allowForwardedTraffic: true,
        allowGatewayTransit: false,
        useRemoteGateways: false,
        doNotVerifyRemoteGateways: false,
        peerCompleteVnets: true,
      },
    });
  }

  /** Both sides of a peering, Connected. */
  peer(a, b) {
    this.peering(a, b);
    this.peering(b, a);
  }

  /** The registries' private link zone of this cloud (privatelink.azurecr.io ...), in resource group `rg`. */
  privateDnsZone(sub, rg, { zoneName = this.c.zone, rgLocation = "westeurope" } = {}) {
    this.resourceGroup(sub, rg, rgLocation);
    const id = this.rid(sub, rg, "Microsoft.Network", "privateDnsZones", zoneName);
    const row = this.resource(id, "microsoft.network/privatednszones", "global", {
      maxNumberOfRecordSets: 25000,
      maxNumberOfVirtualNetworkLinks: 1000,
      maxNumberOfVirtualNetworkLinksWithRegistration: 100,
      numberOfRecordSets: 1,
      numberOfVirtualNetworkLinks: 0,
      numberOfVirtualNetworkLinksWithRegistration: 0,
      provisioningState: "Succeeded",
      internalId: `SUBSCRIPTION;${sub.subscriptionId};${this.g("zone-internal", id)}`,
    });
    return { id, row, zoneName };
  }

  dnsLink(zone, vnet, name = `link-${vnet.name}`) {
    const id = `${zone.id}/virtualNetworkLinks/${name}`;
    this.resource(id, "microsoft.network/privatednszones/virtualnetworklinks", "global", {
      provisioningState: "Succeeded",
      registrationEnabled: false,
      resolutionPolicy: "Default",
      virtualNetwork: { id: vnet.id },
      virtualNetworkLinkState: "Completed",
    });
    zone.row.properties.numberOfVirtualNetworkLinks++;
    return { id };
  }

  // ---- registries

  /**
   * A container registry. Defaults: Premium, public access enabled, firewall `Deny` with `allow` as IP
   * rules, legacy role assignment mode, admin user and anonymous pull off.
   */
  registry(sub, rg, name, location, o = {}) {
    this.resourceGroup(sub, rg, location);
    const id = this.rid(sub, rg, "Microsoft.ContainerRegistry", "registries", name);
    const sku = o.sku ?? "Premium";
    const props = {
      loginServer: `${name}.${this.c.suffix}`,
      creationDate: o.creationDate ?? "2025-03-02T10:11:12.1234567Z",
      provisioningState: "Succeeded",
      adminUserEnabled: o.adminUserEnabled ?? false,
    };
    if (sku === "Premium" || o.networkRuleSet) {
      props.networkRuleSet = o.networkRuleSet ?? {
        defaultAction: o.defaultAction ?? "Deny",
        ipRules: (o.allow ?? []).map((value) => ({ action: "Allow", value })),
      };
    }
    Object.assign(props, {
      policies: {
        quarantinePolicy: { status: "disabled" },
        trustPolicy: { type: "Notary", status: "disabled" },
        retentionPolicy: { days: 7, status: sku === "Premium" ? "enabled" : "disabled" },
        exportPolicy: { status: "enabled" },
        azureADAuthenticationAsArmPolicy: { status: "enabled" },
      },
      encryption: { status: "disabled" },
      dataEndpointEnabled: false,
      dataEndpointHostNames: [],
      privateEndpointConnections: [],
      publicNetworkAccess: o.publicNetworkAccess ?? "Enabled",
      networkRuleBypassOptions: "AzureServices",
      networkRuleBypassAllowedForTasks: false,
      zoneRedundancy: o.zoneRedundancy ?? "Disabled",
      anonymousPullEnabled: o.anonymousPullEnabled ?? false,
      roleAssignmentMode: o.roleAssignmentMode ?? "LegacyRegistryPermissions",
    });
    if (o.omitNetworkRuleSet) delete props.networkRuleSet;
    const row = this.resource(id, "microsoft.containerregistry/registries", regionKey(location), props, {
      sku: { name: sku, tier: sku },
      tags: o.tags ?? {},
    });
    return { id, name, row, loginServer: props.loginServer, location: regionKey(location), sub, rg };
  }

  /**
   * A private endpoint for `registry` in `subnetId`, and the matching connection on the registry.
   * `status`: Approved (auto-approved) or Pending (manual approval requested).
   */
  privateEndpoint(sub, rg, name, location, subnetId, registry, { status = "Approved", description = "" } = {}) {
    this.resourceGroup(sub, rg, location);
    const id = this.rid(sub, rg, "Microsoft.Network", "privateEndpoints", name);
    const manual = status !== "Approved";
    const conn = {
      name: `${name}-conn`,
      id: `${id}/${manual ? "manualPrivateLinkServiceConnections" : "privateLinkServiceConnections"}/${name}-conn`,
      properties: {
        provisioningState: "Succeeded",
        privateLinkServiceId: registry.id,
        groupIds: ["registry"],
        ...(manual ? { requestMessage: description || "Please approve" } : {}),
        privateLinkServiceConnectionState: { status, description: manual ? "Awaiting approval" : "Auto-Approved", actionsRequired: "None" },
      },
    };
    this.resource(id, "microsoft.network/privateendpoints", regionKey(location), {
      provisioningState: "Succeeded",
      resourceGuid: this.g("pe-guid", id),
      privateLinkServiceConnections: manual ? [] : [conn],
      manualPrivateLinkServiceConnections: manual ? [conn] : [],
      subnet: { id: subnetId },
      networkInterfaces: [{ id: this.rid(sub, rg, "Microsoft.Network", "networkInterfaces", `${name}.nic.${this.g("nic", id)}`) }],
      customNetworkInterfaceName: "",
      customDnsConfigs: [],
      ipConfigurations: [],
    });
    registry.row.properties.privateEndpointConnections.push({
      id: `${registry.id}/privateEndpointConnections/${name}.${this.g("pec", id).slice(0, 8)}`,
      name: `${name}.${this.g("pec", id).slice(0, 8)}`,
      type: "Microsoft.ContainerRegistry/registries/privateEndpointConnections",
      properties: {
        privateEndpoint: { id },
        privateLinkServiceConnectionState: { status, description: manual ? "Awaiting approval" : "Auto-Approved", actionsRequired: "None" },
        provisioningState: "Succeeded",
      },
    });
    return { id };
  }

  /** A geo-replication (Premium). The home region has one too, as in Azure. */
  replication(registry, location, provisioningState = "Succeeded") {
    const loc = regionKey(location);
    const id = `${registry.id}/replications/${loc}`;
    this.resource(id, "microsoft.containerregistry/registries/replications", loc, {
      provisioningState,
      status: provisioningState === "Succeeded"
        ? { displayStatus: "Ready", message: "", timestamp: "2025-09-18T07:41:10.2315602Z" }
        : { displayStatus: "Failed", message: `The replication in ${loc} could not be provisioned: the region has no capacity for the requested zone redundancy.`, timestamp: "2025-09-18T07:52:33.5046112Z" },
      regionEndpointEnabled: true,
      zoneRedundancy: "Disabled",
    });
    return { id };
  }

  // ---- identities and clusters

  userAssignedIdentity(sub, rg, name, location, { principalId, clientId }) {
    this.resourceGroup(sub, rg, location);
    const id = this.rid(sub, rg, "Microsoft.ManagedIdentity", "userAssignedIdentities", name);
    this.resource(id, "microsoft.managedidentity/userassignedidentities", regionKey(location), {
      tenantId: this.tenantId,
      principalId,
      clientId,
      isolationScope: "None",
    });
    return { id, principalId, clientId };
  }

  /** A managed outbound IP of the cluster load balancer (GUID name, in the node resource group). */
  aksOutboundIp(sub, nodeRg, location, ipAddress, clusterName, clusterRg) {
    const name = this.g("outbound-ip", nodeRg, ipAddress);
    return this.publicIp(sub, nodeRg, name, location, ipAddress, {
      tags: { "aks-managed-cluster-name": clusterName, "aks-managed-cluster-rg": clusterRg, "aks-managed-type": "aks-slb-managed-outbound-ip" },
      ipConfiguration: this.rid(sub, nodeRg, "Microsoft.Network", "loadBalancers", "kubernetes", "frontendIPConfigurations", name),
      zones: ["1", "2", "3"],
    });
  }

  /** The VNet AKS creates in the node resource group when no pool names a subnet. */
  managedVnet(sub, nodeRg, location, { subnets } = {}) {
    return this.vnet(sub, nodeRg, `aks-vnet-${digits8(this.seed, sub.subscriptionId, nodeRg)}`, location, {
      addressPrefixes: ["10.224.0.0/12"],
      subnets: subnets ?? [{ name: "aks-subnet", prefix: "10.224.0.0/16" }],
    });
  }

  nodeRgOf(rg, name, location) {
    return `MC_${rg}_${name}_${regionKey(location)}`;
  }

  /**
   * A managed cluster. `pools`: [{ name, subnetId?, mode?, count?, vmSize? }] (no subnetId: the managed
   * VNet). Egress: `outboundType` with `lbIps` (loadBalancer: public IP or prefix handles), `natIps`
   * (managedNATGateway). `servicePrincipal`: a client ID makes it a service principal cluster.
   * `kubelet`: { objectId, clientId, identityName } overrides the generated kubelet identity.
   */
  cluster(sub, rg, name, location, o = {}) {
    this.resourceGroup(sub, rg, location, { tags: o.rgTags ?? {} });
    const id = this.rid(sub, rg, "Microsoft.ContainerService", "managedClusters", name);
    const nodeRg = o.nodeResourceGroup ?? this.nodeRgOf(rg, name, location);
    this.resourceGroup(sub, nodeRg, location, { managedBy: id, tags: { "aks-managed-cluster-name": name, "aks-managed-cluster-rg": rg } });
    const version = o.kubernetesVersion ?? "1.33.5";
    const pools = (o.pools ?? [{ name: "system" }]).map((p, i) => {
      const pool = {
        name: p.name,
        count: p.count ?? 3,
        vmSize: p.vmSize ?? "Standard_D4ds_v5",
        osDiskSizeGB: 128,
        osDiskType: "Ephemeral",
        kubeletDiskType: "OS",
        maxPods: p.maxPods ?? 110,
        type: "VirtualMachineScaleSets",
        availabilityZones: p.zones ?? ["1", "2", "3"],
        enableAutoScaling: false,
        provisioningState: "Succeeded",
        powerState: { code: "Running" },
        orchestratorVersion: version,
        currentOrchestratorVersion: version,
        enableNodePublicIP: false,
        mode: p.mode ?? (i === 0 ? "System" : "User"),
        enableEncryptionAtHost: false,
        osType: "Linux",
        osSKU: p.osSKU ?? "AzureLinux",
        nodeImageVersion: "AKSAzureLinux-V3gen2-202510.28.0",
        upgradeSettings: { maxSurge: "10%" },
        enableFIPS: false,
      };
      if (p.subnetId) pool.vnetSubnetID = p.subnetId;
      return pool;
    });
    const net = {
      networkPlugin: o.networkPlugin ?? "azure",
      ...(o.networkPlugin === "kubenet" ? {} : { networkPluginMode: "overlay", networkDataplane: "cilium" }),
      networkPolicy: o.networkPlugin === "kubenet" ? "calico" : "cilium",
      loadBalancerSku: "Standard",
      podCidr: "10.244.0.0/16",
      serviceCidr: "10.0.0.0/16",
      dnsServiceIP: "10.0.0.10",
      outboundType: o.outboundType ?? "loadBalancer",
      podCidrs: ["10.244.0.0/16"],
      serviceCidrs: ["10.0.0.0/16"],
      ipFamilies: ["IPv4"],
    };
    if ((o.outboundType ?? "loadBalancer") === "loadBalancer") {
      const lb = {};
      const prefixes = (o.lbIps ?? []).filter((x) => x.ipPrefix);
      const ips = (o.lbIps ?? []).filter((x) => !x.ipPrefix);
      if (prefixes.length) lb.outboundIPPrefixes = { publicIPPrefixes: prefixes.map((p) => ({ id: p.id })) };
      else if (o.byoOutboundIps) lb.outboundIPs = { publicIPs: ips.map((p) => ({ id: p.id })) };
      else lb.managedOutboundIPs = { count: ips.length || 1 };
      lb.effectiveOutboundIPs = (o.lbIps ?? []).map((p) => ({ id: o.lbIpIdCase ? o.lbIpIdCase(p.id) : p.id }));
      lb.backendPoolType = "nodeIPConfiguration";
      net.loadBalancerProfile = lb;
    }
    if (o.outboundType === "managedNATGateway") {
      net.natGatewayProfile = { managedOutboundIPProfile: { count: (o.natIps ?? []).length || 1 }, effectiveOutboundIPs: (o.natIps ?? []).map((p) => ({ id: p.id })), idleTimeoutInMinutes: 4 };
    }
    const dns = `${name}-dns`;
    const hcp = `${dns}-${this.g("fqdn", id).slice(0, 8)}.hcp.${regionKey(location)}.${this.c.aksDomain}`;
    const props = {
      provisioningState: "Succeeded",
      powerState: { code: "Running" },
      kubernetesVersion: version,
      currentKubernetesVersion: version,
      dnsPrefix: dns,
      fqdn: hcp,
      azurePortalFQDN: hcp.replace(".hcp.", ".portal.hcp."),
      agentPoolProfiles: pools,
      servicePrincipalProfile: { clientId: o.servicePrincipal ?? "msi" },
      nodeResourceGroup: nodeRg,
      enableRBAC: true,
      supportPlan: "KubernetesOfficial",
      networkProfile: net,
      maxAgentPools: 100,
      disableLocalAccounts: !o.servicePrincipal,
      oidcIssuerProfile: { enabled: !o.servicePrincipal },
      securityProfile: {},
      storageProfile: { diskCSIDriver: { enabled: true }, fileCSIDriver: { enabled: true }, snapshotController: { enabled: true } },
    };
    let kubelet = null;
    let identity = {};
    if (!o.servicePrincipal) {
      const idName = o.kubelet?.identityName ?? `${name}-agentpool`;
      const idRg = o.kubelet?.identityRg ?? nodeRg;
      const principalId = o.kubelet?.objectId ?? this.g("kubelet", id, "object");
      const clientId = o.kubelet?.clientId ?? this.g("kubelet", id, "client");
      const uai = this.userAssignedIdentity(sub, idRg, idName, location, { principalId, clientId });
      // Resource Graph reports the kubelet identity's resource ID with a lower-case `resourcegroups`.
      props.identityProfile = {
        kubeletidentity: { resourceId: uai.id.replace("/resourceGroups/", "/resourcegroups/"), clientId, objectId: principalId },
      };
      kubelet = principalId;
      identity = { type: "SystemAssigned", principalId: this.g("cluster-identity", id), tenantId: this.tenantId };
    } else {
      props.networkProfile.networkPlugin = o.networkPlugin ?? "kubenet";
    }
    this.resource(id, "microsoft.containerservice/managedclusters", o.locationAsWritten ?? regionKey(location), props, {
      sku: { name: "Base", tier: o.tier ?? "Standard" },
      tags: o.tags ?? {},
      identity,
    });
    return { id, name, kubelet, nodeRg, location: regionKey(location), sub, rg };
  }

  // ---- authorization

  roleDefinitionRow(roleGuid) {
    if (this.roleDefs.has(roleGuid)) return;
    const def = BUILTIN[roleGuid];
    if (!def) throw new Error(`no built-in role ${roleGuid}`);
    this.roleDefs.add(roleGuid);
    this.auth.push({
      id: `/providers/Microsoft.Authorization/RoleDefinitions/${roleGuid}`,
      name: roleGuid,
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
      properties: { roleName: def.roleName, type: "BuiltInRole", description: def.description, permissions: def.permissions, assignableScopes: ["/"] },
    });
  }

  /** A custom role defined in `sub` (Resource Graph reports it with the subscription prefix). */
  customRole(sub, roleGuid, roleName, description, permissions, assignableScopes = [sub.id]) {
    this.roleDefs.add(roleGuid);
    const id = `/subscriptions/${sub.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`;
    this.auth.push({
      id,
      name: roleGuid,
      type: "microsoft.authorization/roledefinitions",
      tenantId: this.tenantId,
      kind: "",
      location: "",
      resourceGroup: "",
      subscriptionId: sub.subscriptionId,
      managedBy: "",
      sku: null,
      plan: null,
      tags: null,
      identity: null,
      zones: null,
      extendedLocation: null,
      properties: {
        roleName,
        type: "CustomRole",
        description,
        permissions,
        assignableScopes,
        createdOn: "2025-02-11T13:20:05.3342109Z",
        updatedOn: "2025-02-11T13:20:05.3342109Z",
        createdBy: this.g("platform-team"),
        updatedBy: this.g("platform-team"),
      },
    });
    return { guid: roleGuid, id };
  }

  /**
   * A role assignment. `role`: a GUID (built-in or custom); `defIdPrefix`: the subscription whose prefix
   * the roleDefinitionId carries (what `az role assignment create` writes), else the tenant-level form.
   */
  assign({ scope, role, principalId, principalType = "ServicePrincipal", condition, description, defIdPrefix, name, createdOn = "2025-06-01T08:00:00.0000000Z", roleDefinitionId, id: idOverride }) {
    if (BUILTIN[role]) this.roleDefinitionRow(role);
    const aName = name ?? this.g("assignment", scope.toLowerCase(), role, principalId);
    const prefix = scope === "/" ? "" : scope;
    const id = idOverride ?? `${prefix}/providers/Microsoft.Authorization/roleAssignments/${aName}`;
    const { subscriptionId, resourceGroup } = parseId(scope);
    const props = {
      roleDefinitionId: roleDefinitionId ?? (defIdPrefix ? `/subscriptions/${defIdPrefix.subscriptionId}` : "") + `/providers/Microsoft.Authorization/roleDefinitions/${role}`,
      principalId,
      principalType,
      scope,
    };
    if (condition) Object.assign(props, { condition, conditionVersion: "2.0" });
    if (description) props.description = description;
    Object.assign(props, { createdOn, updatedOn: createdOn, createdBy: this.g("platform-team"), updatedBy: this.g("platform-team") });
    this.auth.push({
      id,
      name: aName,
      type: "microsoft.authorization/roleassignments",
      tenantId: this.tenantId,
      kind: "",
      location: "",
      resourceGroup,
      subscriptionId,
      managedBy: "",
      sku: null,
      plan: null,
      tags: null,
      identity: null,
      zones: null,
      extendedLocation: null,
      properties: props,
    });
    return { id };
  }

  /** `az aks update --attach-acr`: AcrPull for the kubelet identity at the registry's scope. */
  attachAcr(cluster, registry, extra = {}) {
    return this.assign({ scope: registry.id, role: ROLE.AcrPull, principalId: cluster.kubelet, defIdPrefix: registry.sub, ...extra });
  }

  build() {
    const out = { version: 1, description: this.description, tenantId: this.tenantId };
    if (this.cloud) out.cloud = this.cloud;
    out.tables = { resources: this.resources, resourcecontainers: this.containers, authorizationresources: this.auth };
    return out;
  }
}

// ------------------------------------------------------------------------------------------ expected files

/** The expected findings of one case (format: estate.md "Conformance cases"). */
class Expect {
  constructor(description, { previous, exhaustive = ["fail", "unknown"], ignoreRules } = {}) {
    this.description = description;
    this.previous = previous;
    this.exhaustive = exhaustive;
    this.ignoreRules = ignoreRules;
    this.findings = [];
  }

  add(status, ruleId, { cluster, registry, reason, change, exempt } = {}) {
    const f = { ruleId, status };
    if (cluster) f.cluster = typeof cluster === "string" ? cluster : cluster.id;
    if (registry) f.registry = typeof registry === "string" ? registry : registry.id;
    if (reason !== undefined) f.reason = reason;
    if (change !== undefined) f.change = change;
    if (exempt !== undefined) f.exempt = exempt;
    this.findings.push(f);
    return this;
  }
  pass(ruleId, o) { return this.add("pass", ruleId, o); }
  fail(ruleId, o) { return this.add("fail", ruleId, o); }
  unknown(ruleId, o) { return this.add("unknown", ruleId, o); }

  build() {
    const out = { description: this.description };
    if (this.previous) out.previous = this.previous;
    out.findings = this.findings;
    if (this.exhaustive) out.exhaustive = this.exhaustive;
    if (this.ignoreRules) out.ignoreRules = this.ignoreRules;
    return out;
  }
}

// ------------------------------------------------------------------------------------------ case kit

const TENANT = guid("tenant", "contoso");
const CN_TENANT = guid("tenant", "contoso-china");

/** A fresh estate for one case: tenant, one readable subscription `apps-prod`. */
function start(seed, description, o = {}) {
  const b = new EstateBuilder({ tenantId: o.tenantId ?? TENANT, description, cloud: o.cloud, seed });
  const sub = o.noDefaultSubscription ? null : b.subscription(o.subscriptionName ?? "apps-prod", o.subscriptionOptions ?? {});
  return { b, sub };
}

/**
 * The usual cluster of a case: a BYO VNet `vnet-<name>` (10.x.0.0/16, subnet `snet-nodes`), outbound
 * through the load balancer with one managed IP `egress`. Returns the cluster handle plus `vnet`.
 */
function kitCluster(b, sub, { name, rg = `rg-${name}`, location = "westeurope", egress = ["20.31.96.17"], octet = 10, tags, clusterOpts = {}, vnetOpts = {} }) {
  const nodeRg = b.nodeRgOf(rg, name, location);
  const vnet = b.vnet(sub, rg, `vnet-${name}`, location, {
    addressPrefixes: [`10.${octet}.0.0/16`],
    subnets: [{ name: "snet-nodes", prefix: `10.${octet}.0.0/20` }, { name: "snet-privateendpoints", prefix: `10.${octet}.16.0/24` }],
    ...vnetOpts,
  });
  const lbIps = egress.map((ip) => b.aksOutboundIp(sub, nodeRg, location, ip, name, rg));
  const c = b.cluster(sub, rg, name, location, { pools: [{ name: "system", subnetId: vnet.subnet("snet-nodes") }], lbIps, tags, ...clusterOpts });
  return { ...c, vnet, lbIps };
}

/** A hardened Premium registry: public access with firewall Deny, IP rules `allow`. */
function kitRegistry(b, sub, name, { rg = "rg-acr", location = "westeurope", allow = ["20.31.96.0/24"], ...o } = {}) {
  return b.registry(sub, rg, name, location, { allow, ...o });
}

// ------------------------------------------------------------------------------------------ cases

const CASES = [];
/** `fn` returns [{ name, estate, expected }] (several for drift chains). */
function defineCase(name, fn) {
  CASES.push({ name, fn });
}
const single = (name, b, e) => [{ name, estate: b.build(), expected: e.build() }];

// ---- network.path and network.private-dns

defineCase("net-pe-same-vnet", (name) => {
  const d = "Registry with public access disabled and an approved private endpoint in the cluster's own VNet (subnet snet-privateendpoints); privatelink.azurecr.io is linked to that VNet: private path, DNS resolves.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod" });
  const r = b.registry(sub, "rg-acr", "crordersprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.privateEndpoint(sub, c.rg, "pe-crordersprod", "westeurope", c.vnet.subnet("snet-privateendpoints"), r);
  const zone = b.privateDnsZone(sub, "rg-dns");
  b.dnsLink(zone, c.vnet);
  b.attachAcr(c, r);
  const e = new Expect(d)
    .pass("network.path", { cluster: c, registry: r })
    .pass("network.private-dns", { cluster: c, registry: r })
    .pass("pull.granted", { cluster: c, registry: r })
    .pass("registry.public-unrestricted", { registry: r });
  return single(name, b, e);
});

/** Hub VNet with a subnet for private endpoints; returns the handle. */
function hub(b, sub, { name = "vnet-hub-weu", rg = "rg-hub-weu", location = "westeurope", octet = 100 } = {}) {
  return b.vnet(sub, rg, name, location, {
    addressPrefixes: [`10.${octet}.0.0/22`],
    subnets: [
      { name: "AzureFirewallSubnet", prefix: `10.${octet}.0.0/26` },
      { name: "snet-dns-inbound", prefix: `10.${octet}.0.64/28` },
      { name: "snet-privateendpoints", prefix: `10.${octet}.1.0/24` },
    ],
  });
}

defineCase("net-pe-peered", (name) => {
  const d = "Hub-and-spoke: the registry's approved private endpoint sits in the hub; the cluster's spoke VNet is peered with the hub (Connected on both sides) and linked to privatelink.azurecr.io: private path, DNS resolves.";
  const { b, sub } = start(name, d);
  const h = hub(b, sub);
  const c = kitCluster(b, sub, { name: "aks-orders-prod" });
  b.peer(c.vnet, h);
  const r = b.registry(sub, "rg-acr", "crordersprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.privateEndpoint(sub, "rg-hub-weu", "pe-crordersprod", "westeurope", h.subnet("snet-privateendpoints"), r);
  const zone = b.privateDnsZone(sub, "rg-dns");
  b.dnsLink(zone, h);
  b.dnsLink(zone, c.vnet);
  b.attachAcr(c, r);
  const e = new Expect(d)
    .pass("network.path", { cluster: c, registry: r })
    .pass("network.private-dns", { cluster: c, registry: r })
    .pass("pull.granted", { cluster: c, registry: r });
  return single(name, b, e);
});

defineCase("net-pe-disconnected-peering", (name) => {
  const d = "The hub side of the spoke-hub peering was deleted: the spoke's peering is Disconnected. The registry (public access disabled) has its only approved private endpoint in the hub, so there is no path: private-endpoint-not-peered. network.private-dns does not apply (no private path).";
  const { b, sub } = start(name, d);
  const h = hub(b, sub);
  const c = kitCluster(b, sub, { name: "aks-orders-prod" });
  b.peering(c.vnet, h, { state: "Disconnected" });
  const r = b.registry(sub, "rg-acr", "crordersprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.privateEndpoint(sub, "rg-hub-weu", "pe-crordersprod", "westeurope", h.subnet("snet-privateendpoints"), r);
  const zone = b.privateDnsZone(sub, "rg-dns");
  b.dnsLink(zone, h);
  b.dnsLink(zone, c.vnet);
  b.attachAcr(c, r);
  const e = new Expect(d)
    .fail("network.path", { cluster: c, registry: r, reason: "private-endpoint-not-peered" })
    .pass("pull.granted", { cluster: c, registry: r });
  return single(name, b, e);
});

defineCase("net-pe-pending", (name) => {
  const d = "Public access disabled; the only private endpoint connection (in the cluster's own VNet) is still Pending manual approval, so the registry has no approved private endpoint at all: public-access-disabled-no-private-endpoint.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod" });
  const r = b.registry(sub, "rg-acr", "crordersprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.privateEndpoint(sub, c.rg, "pe-crordersprod", "westeurope", c.vnet.subnet("snet-privateendpoints"), r, { status: "Pending", description: "AKS orders prod nodes" });
  const zone = b.privateDnsZone(sub, "rg-dns");
  b.dnsLink(zone, c.vnet);
  b.attachAcr(c, r);
  const e = new Expect(d)
    .fail("network.path", { cluster: c, registry: r, reason: "public-access-disabled-no-private-endpoint" })
    .pass("pull.granted", { cluster: c, registry: r });
  return single(name, b, e);
});

defineCase("net-no-pe-public-disabled", (name) => {
  const d = "Public network access disabled and no private endpoint connection at all: public-access-disabled-no-private-endpoint.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-payments-prod" });
  const r = b.registry(sub, "rg-acr", "crpaymentsprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.attachAcr(c, r);
  const e = new Expect(d)
    .fail("network.path", { cluster: c, registry: r, reason: "public-access-disabled-no-private-endpoint" })
    .pass("pull.granted", { cluster: c, registry: r })
    .pass("registry.public-unrestricted", { registry: r });
  return single(name, b, e);
});

defineCase("net-firewall-allowed", (name) => {
  const d = "Premium registry with defaultAction Deny; the cluster's load balancer egress IP 20.31.96.17 falls inside the allowed CIDR 20.31.96.0/24: public path through the firewall.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod", egress: ["20.31.96.17"] });
  const r = kitRegistry(b, sub, "crordersprod", { allow: ["203.0.113.0/24", "20.31.96.0/24"] });
  b.attachAcr(c, r);
  const e = new Expect(d)
    .pass("network.path", { cluster: c, registry: r })
    .pass("registry.public-unrestricted", { registry: r });
  return single(name, b, e);
});

defineCase("net-firewall-blocked", (name) => {
  const d = "Premium registry with defaultAction Deny; its IP rules allow an office range and a neighbouring /28, but not the cluster's load balancer egress IP 20.31.96.17: egress-ips-blocked.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod", egress: ["20.31.96.17"] });
  const r = kitRegistry(b, sub, "crordersprod", { allow: ["203.0.113.0/24", "20.31.97.0/28"] });
  b.attachAcr(c, r);
  const e = new Expect(d).fail("network.path", { cluster: c, registry: r, reason: "egress-ips-blocked" });
  return single(name, b, e);
});

defineCase("net-prefix-half-allowed", (name) => {
  const d = "The cluster's load balancer egresses from a public IP prefix 20.61.12.96/30 (outboundIPPrefixes); the registry firewall allows only 20.61.12.96/31, half of it. A prefix is covered only when all of it is, so the only egress range is blocked: egress-ips-blocked.";
  const { b, sub } = start(name, d);
  const prefix = b.publicIpPrefix(sub, "rg-aks-orders-prod", "ippre-aks-orders-prod-egress", "westeurope", "20.61.12.96/30");
  const vnet = b.vnet(sub, "rg-aks-orders-prod", "vnet-aks-orders-prod", "westeurope", { addressPrefixes: ["10.10.0.0/16"], subnets: [{ name: "snet-nodes", prefix: "10.10.0.0/20" }] });
  const c = b.cluster(sub, "rg-aks-orders-prod", "aks-orders-prod", "westeurope", { pools: [{ name: "system", subnetId: vnet.subnet("snet-nodes") }], lbIps: [prefix] });
  const r = kitRegistry(b, sub, "crordersprod", { allow: ["20.61.12.96/31"] });
  b.attachAcr(c, r);
  const e = new Expect(d).fail("network.path", { cluster: c, registry: r, reason: "egress-ips-blocked" });
  return single(name, b, e);
});

defineCase("net-some-blocked", (name) => {
  const d = "The load balancer has two managed outbound IPs (20.76.41.7, 20.76.41.9); the registry firewall allows only the first: some-egress-ips-blocked (some pulls fail with 403).";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-analytics-prod", egress: ["20.76.41.7", "20.76.41.9"] });
  const r = kitRegistry(b, sub, "cranalyticsprod", { allow: ["20.76.41.7"] });
  b.attachAcr(c, r);
  const e = new Expect(d).fail("network.path", { cluster: c, registry: r, reason: "some-egress-ips-blocked" });
  return single(name, b, e);
});

defineCase("net-nat-overrides-lb", (name) => {
  const d = "outboundType loadBalancer (egress IP 20.50.10.5), but the node subnet has a NAT gateway (public IP 20.50.20.9), which takes precedence. crnatallowed allows only the NAT IP: pass. crlballowed allows only the load balancer IP: egress-ips-blocked.";
  const { b, sub } = start(name, d);
  const rg = "rg-aks-orders-prod";
  const natIp = b.publicIp(sub, rg, "pip-ng-aks-orders-prod", "westeurope", "20.50.20.9");
  const ng = b.natGateway(sub, rg, "ng-aks-orders-prod", "westeurope", { publicIps: [natIp] });
  const vnet = b.vnet(sub, rg, "vnet-aks-orders-prod", "westeurope", { addressPrefixes: ["10.10.0.0/16"], subnets: [{ name: "snet-nodes", prefix: "10.10.0.0/20", natGateway: ng }] });
  const nodeRg = b.nodeRgOf(rg, "aks-orders-prod", "westeurope");
  const lbIp = b.aksOutboundIp(sub, nodeRg, "westeurope", "20.50.10.5", "aks-orders-prod", rg);
  const c = b.cluster(sub, rg, "aks-orders-prod", "westeurope", { pools: [{ name: "system", subnetId: vnet.subnet("snet-nodes") }], lbIps: [lbIp] });
  const ok = kitRegistry(b, sub, "crnatallowed", { allow: ["20.50.20.9"] });
  const bad = kitRegistry(b, sub, "crlballowed", { allow: ["20.50.10.5"] });
  b.attachAcr(c, ok);
  b.attachAcr(c, bad);
  const e = new Expect(d)
    .pass("network.path", { cluster: c, registry: ok })
    .fail("network.path", { cluster: c, registry: bad, reason: "egress-ips-blocked" });
  return single(name, b, e);
});

defineCase("net-udr-unresolvable", (name) => {
  const d = "outboundType userDefinedRouting: the node subnet's route table sends 0.0.0.0/0 to a firewall appliance, whose public IP ARM does not tie to the cluster. The registry is Premium with defaultAction Deny, so the egress IPs would decide: unknown egress-unresolvable.";
  const { b, sub } = start(name, d);
  const rg = "rg-aks-data-prod";
  const rt = b.routeTable(sub, rg, "rt-aks-data-prod", "westeurope", [{ name: "default-to-firewall", addressPrefix: "0.0.0.0/0", nextHopType: "VirtualAppliance", nextHopIpAddress: "10.100.0.4" }]);
  const vnet = b.vnet(sub, rg, "vnet-aks-data-prod", "westeurope", { addressPrefixes: ["10.12.0.0/16"], subnets: [{ name: "snet-nodes", prefix: "10.12.0.0/20", routeTable: rt }] });
  const c = b.cluster(sub, rg, "aks-data-prod", "westeurope", { pools: [{ name: "system", subnetId: vnet.subnet("snet-nodes") }], outboundType: "userDefinedRouting" });
  const r = kitRegistry(b, sub, "crdataprod", { allow: ["20.8.77.10"] });
  b.attachAcr(c, r);
  const e = new Expect(d).unknown("network.path", { cluster: c, registry: r, reason: "egress-unresolvable" });
  return single(name, b, e);
});

defineCase("net-invalid-ip-rule", (name) => {
  const d = "The registry firewall (Premium, Deny) has an IP rule 'not-an-ip' that is neither an IPv4 address nor a CIDR, and the valid rules do not cover the egress IP 20.31.96.17: the invalid rule might have been meant to, so unknown invalid-ip-rule (a reason the project added beyond rules.md).";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod", egress: ["20.31.96.17"] });
  const r = b.registry(sub, "rg-acr", "crordersprod", "westeurope", {
    networkRuleSet: { defaultAction: "Deny", ipRules: [{ action: "Allow", value: "not-an-ip" }, { action: "Allow", value: "203.0.113.0/24" }] },
  });
  b.attachAcr(c, r);
  const e = new Expect(d).unknown("network.path", { cluster: c, registry: r, reason: "invalid-ip-rule" });
  return single(name, b, e);
});

defineCase("net-two-pools-two-vnets", (name) => {
  const d = "Pool 'system' sits in vnet-aks-orders-a, peered (Connected) with the hub that holds the registry's private endpoint; pool 'batch' sits in vnet-aks-orders-b, which is not peered (a migration between VNets). Public access is disabled, so the attachment fails private-endpoint-not-peered and its evidence names pool 'batch'. The zone is linked to every VNet, so network.private-dns cannot fail or be unknown (whether it is evaluated for a failing attachment is left open).";
  const { b, sub } = start(name, d);
  const h = hub(b, sub);
  const rg = "rg-aks-orders-prod";
  const va = b.vnet(sub, rg, "vnet-aks-orders-a", "westeurope", { addressPrefixes: ["10.10.0.0/16"], subnets: [{ name: "snet-nodes", prefix: "10.10.0.0/20" }] });
  const vb = b.vnet(sub, rg, "vnet-aks-orders-b", "westeurope", { addressPrefixes: ["10.11.0.0/16"], subnets: [{ name: "snet-nodes", prefix: "10.11.0.0/20" }] });
  b.peer(va, h);
  const nodeRg = b.nodeRgOf(rg, "aks-orders-prod", "westeurope");
  const lbIp = b.aksOutboundIp(sub, nodeRg, "westeurope", "20.31.96.17", "aks-orders-prod", rg);
  const c = b.cluster(sub, rg, "aks-orders-prod", "westeurope", {
    pools: [{ name: "system", subnetId: va.subnet("snet-nodes") }, { name: "batch", subnetId: vb.subnet("snet-nodes"), vmSize: "Standard_D8ds_v5", mode: "User" }],
    lbIps: [lbIp],
  });
  const r = b.registry(sub, "rg-acr", "crordersprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.privateEndpoint(sub, "rg-hub-weu", "pe-crordersprod", "westeurope", h.subnet("snet-privateendpoints"), r);
  const zone = b.privateDnsZone(sub, "rg-dns");
  for (const v of [h, va, vb]) b.dnsLink(zone, v);
  b.attachAcr(c, r);
  const e = new Expect(d)
    .fail("network.path", { cluster: c, registry: r, reason: "private-endpoint-not-peered" })
    .pass("pull.granted", { cluster: c, registry: r });
  return single(name, b, e);
});

defineCase("dns-zone-not-linked", (name) => {
  const d = "Private path through a Connected hub peering, but privatelink.azurecr.io is linked only to the hub, not to the cluster's spoke VNet (which uses Azure-provided DNS): the login server resolves to the public IP. network.path passes, network.private-dns fails zone-not-linked.";
  const { b, sub } = start(name, d);
  const h = hub(b, sub);
  const c = kitCluster(b, sub, { name: "aks-inventory-prod" });
  b.peer(c.vnet, h);
  const r = b.registry(sub, "rg-acr", "crinventoryprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.privateEndpoint(sub, "rg-hub-weu", "pe-crinventoryprod", "westeurope", h.subnet("snet-privateendpoints"), r);
  const zone = b.privateDnsZone(sub, "rg-dns");
  b.dnsLink(zone, h);
  b.attachAcr(c, r);
  const e = new Expect(d)
    .pass("network.path", { cluster: c, registry: r })
    .fail("network.private-dns", { cluster: c, registry: r, reason: "zone-not-linked" });
  return single(name, b, e);
});

defineCase("dns-custom-dns", (name) => {
  const d = "Private path through a Connected hub peering; the spoke VNet uses custom DNS servers (dhcpOptions.dnsServers 10.100.0.68, 10.100.0.69: the hub's DNS resolver) and the zone is linked only to the hub. Whether those servers forward privatelink.azurecr.io cannot be seen from ARM: unknown custom-dns.";
  const { b, sub } = start(name, d);
  const h = hub(b, sub);
  const c = kitCluster(b, sub, { name: "aks-inventory-prod", vnetOpts: { dnsServers: ["10.100.0.68", "10.100.0.69"] } });
  b.peer(c.vnet, h);
  const r = b.registry(sub, "rg-acr", "crinventoryprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.privateEndpoint(sub, "rg-hub-weu", "pe-crinventoryprod", "westeurope", h.subnet("snet-privateendpoints"), r);
  const zone = b.privateDnsZone(sub, "rg-dns");
  b.dnsLink(zone, h);
  b.attachAcr(c, r);
  const e = new Expect(d)
    .pass("network.path", { cluster: c, registry: r })
    .unknown("network.private-dns", { cluster: c, registry: r, reason: "custom-dns" });
  return single(name, b, e);
});

defineCase("managed-vnet-pool", (name) => {
  const d = "The node pool names no subnet, so it runs in the managed VNet aks-vnet-NNNNNNNN of the node resource group. That VNet is peered with the hub holding the registry's private endpoint and linked to privatelink.azurecr.io: pass, DNS pass. A VNet in the cluster's own resource group (vnet-legacy, not peered) must not be taken for it.";
  const { b, sub } = start(name, d);
  const h = hub(b, sub);
  const rg = "rg-aks-shop-dev";
  const nodeRg = b.nodeRgOf(rg, "aks-shop-dev", "westeurope");
  const managed = b.managedVnet(sub, nodeRg, "westeurope");
  b.vnet(sub, rg, "vnet-legacy", "westeurope", { addressPrefixes: ["10.50.0.0/16"], subnets: [{ name: "default", prefix: "10.50.0.0/24" }] });
  b.peer(managed, h);
  const lbIp = b.aksOutboundIp(sub, nodeRg, "westeurope", "20.13.91.140", "aks-shop-dev", rg);
  const c = b.cluster(sub, rg, "aks-shop-dev", "westeurope", { pools: [{ name: "nodepool1", count: 2, vmSize: "Standard_D2ds_v5" }], lbIps: [lbIp], tier: "Free" });
  const r = b.registry(sub, "rg-acr", "crshopdev", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.privateEndpoint(sub, "rg-hub-weu", "pe-crshopdev", "westeurope", h.subnet("snet-privateendpoints"), r);
  const zone = b.privateDnsZone(sub, "rg-dns");
  b.dnsLink(zone, h);
  b.dnsLink(zone, managed, "link-aks-shop-dev-managed");
  b.attachAcr(c, r);
  const e = new Expect(d)
    .pass("network.path", { cluster: c, registry: r })
    .pass("network.private-dns", { cluster: c, registry: r });
  return single(name, b, e);
});

// ---- permissions

defineCase("perm-rg-scope", (name) => {
  const d = "AcrPull for the kubelet identity at the resource group rg-acr, which holds two registries: both become attachments (granted at the registry's resource group), pull passes, and pull.least-privilege fails broad-scope-only for both (the grant is above the registry).";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod" });
  const r1 = kitRegistry(b, sub, "crordersprod");
  const r2 = kitRegistry(b, sub, "crordersshared");
  b.assign({ scope: b.resourceGroup(sub, "rg-acr", "westeurope").id, role: ROLE.AcrPull, principalId: c.kubelet, defIdPrefix: sub });
  const e = new Expect(d);
  for (const r of [r1, r2]) {
    e.pass("pull.granted", { cluster: c, registry: r })
      .fail("pull.least-privilege", { cluster: c, registry: r, reason: "broad-scope-only" })
      .pass("network.path", { cluster: c, registry: r });
  }
  return single(name, b, e);
});

defineCase("perm-subscription-scope-declared", (name) => {
  const d = "AcrPull at the subscription scope; the cluster declares crordersprod in its aks-acr-audit-registries tag. A subscription grant creates no attachment, so crunrelated (same subscription, not declared) yields no finding; the declared one passes pull.granted and fails pull.least-privilege broad-scope-only.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod", tags: { "aks-acr-audit-registries": "crordersprod" } });
  const r = kitRegistry(b, sub, "crordersprod");
  kitRegistry(b, sub, "crunrelated", { rg: "rg-acr-other", allow: [] });
  b.assign({ scope: sub.id, role: ROLE.AcrPull, principalId: c.kubelet, defIdPrefix: sub });
  const e = new Expect(d)
    .pass("registry.exists", { cluster: c, registry: r })
    .pass("pull.granted", { cluster: c, registry: r })
    .fail("pull.least-privilege", { cluster: c, registry: r, reason: "broad-scope-only" });
  return single(name, b, e);
});

defineCase("perm-mg-scope", (name) => {
  const d = "AcrPull at management group contoso-landingzones (Contoso > Landing Zones > Corp > subscription apps-prod). The cluster declares crordersprod.azurecr.io; the management-group grant reaches it (the subscription's managementGroupAncestorsChain includes the group, the assignment is returned only with an authorizationScopeFilter above the subscription): pull passes, least-privilege fails broad-scope-only.";
  const { b } = start(name, d, { noDefaultSubscription: true });
  b.managementGroup("contoso", "Contoso");
  b.managementGroup("contoso-landingzones", "Landing Zones", "contoso");
  b.managementGroup("contoso-corp", "Corp", "contoso-landingzones");
  const sub = b.subscription("apps-prod", { group: "contoso-corp" });
  const c = kitCluster(b, sub, { name: "aks-orders-prod", tags: { "aks-acr-audit-registries": "crordersprod.azurecr.io" } });
  const r = kitRegistry(b, sub, "crordersprod");
  b.assign({ scope: "/providers/Microsoft.Management/managementGroups/contoso-landingzones", role: ROLE.AcrPull, principalId: c.kubelet });
  const e = new Expect(d)
    .pass("registry.exists", { cluster: c, registry: r })
    .pass("pull.granted", { cluster: c, registry: r })
    .fail("pull.least-privilege", { cluster: c, registry: r, reason: "broad-scope-only" });
  return single(name, b, e);
});

defineCase("perm-contributor", (name) => {
  const d = "The kubelet identity holds Contributor on the registry (granted by the team instead of AcrPull). Contributor reaches registries/pull/read through '*' (a built-in role: plain wildcard matching), so pull passes; it can also push and delete: write-capable-role.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-payments-prod" });
  const r = kitRegistry(b, sub, "crpaymentsprod");
  b.assign({ scope: r.id, role: ROLE.Contributor, principalId: c.kubelet, defIdPrefix: sub });
  const e = new Expect(d)
    .pass("pull.granted", { cluster: c, registry: r })
    .fail("pull.least-privilege", { cluster: c, registry: r, reason: "write-capable-role" });
  return single(name, b, e);
});

defineCase("perm-custom-literal", (name) => {
  const d = "A custom role 'Contoso AKS Image Puller' lists Microsoft.ContainerRegistry/registries/pull/read literally (plus registries/read), assigned at the registry: it grants pull in legacy mode whatever the tenant, and is read-only.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod" });
  const r = kitRegistry(b, sub, "crordersprod");
  const role = b.customRole(sub, b.g("role", "image-puller"), "Contoso AKS Image Puller", "Pull images from Contoso registries (AKS kubelet identities).", [
    perm([`${ACR}/pull/read`, `${ACR}/read`]),
  ]);
  b.assign({ scope: r.id, role: role.guid, principalId: c.kubelet, defIdPrefix: sub });
  const e = new Expect(d)
    .pass("pull.granted", { cluster: c, registry: r })
    .pass("pull.least-privilege", { cluster: c, registry: r });
  return single(name, b, e);
});

defineCase("perm-custom-wildcard", (name) => {
  const d = "A custom role 'Contoso Registry Reader' grants Microsoft.ContainerRegistry/registries/*/read, which reaches pull/read only through a wildcard. ACR honours wildcards in custom roles only in tenants with ARM private link (not set here): unknown custom-role-wildcard. The registry is also declared in the cluster's tag, so the attachment does not depend on whether a wildcard 'could pull'. least-privilege passes: the role reads only, at the registry.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-data-prod", tags: { "aks-acr-audit-registries": "crdataprod" } });
  const r = kitRegistry(b, sub, "crdataprod");
  const role = b.customRole(sub, b.g("role", "registry-reader"), "Contoso Registry Reader", "Read everything in Contoso registries.", [perm([`${ACR}/*/read`])]);
  b.assign({ scope: r.id, role: role.guid, principalId: c.kubelet, defIdPrefix: sub });
  const e = new Expect(d)
    .unknown("pull.granted", { cluster: c, registry: r, reason: "custom-role-wildcard" })
    .pass("pull.least-privilege", { cluster: c, registry: r });
  return single(name, b, e);
});

defineCase("perm-condition", (name) => {
  const d = "ABAC-mode registry: the kubelet identity holds Container Registry Repository Reader with a condition limiting it to repositories under 'orders/'. A conditional grant counts: pull.granted passes with reason repository-scoped.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod" });
  const r = kitRegistry(b, sub, "crordersprod", { roleAssignmentMode: "AbacRepositoryPermissions" });
  b.assign({
    scope: r.id,
    role: ROLE.RepositoryReader,
    principalId: c.kubelet,
    defIdPrefix: sub,
    description: "orders team images only",
    condition:
      "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'orders/'))",
  });
  const e = new Expect(d)
    .pass("pull.granted", { cluster: c, registry: r, reason: "repository-scoped" })
    .pass("pull.least-privilege", { cluster: c, registry: r });
  return single(name, b, e);
});

defineCase("perm-notactions", (name) => {
  const d =
    "A custom role 'Contoso Registry Operator' has actions Microsoft.ContainerRegistry/* and notActions Microsoft.ContainerRegistry/registries/pull/read, assigned at the registry (legacy mode). " +
    "Reasoning: notActions removes pull/read from what the wildcard reaches, and the role has no dataActions, so no path to pull exists, literal or wildcard: pull.granted fails no-pull-role (not custom-role-wildcard, which is for pull reached only through a wildcard). " +
    "Because the role cannot pull in either mode it creates no attachment; the registry is declared in the cluster's tag. " +
    "The wildcard still reaches registries/write and registries/delete (ARM control-plane operations, where wildcards in custom roles are honoured everywhere) and push/write: the identity holds a role that can write or delete in the registry, so pull.least-privilege fails write-capable-role.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod", tags: { "aks-acr-audit-registries": "crordersprod" } });
  const r = kitRegistry(b, sub, "crordersprod");
  const role = b.customRole(sub, b.g("role", "registry-operator"), "Contoso Registry Operator", "Operate registries without pulling images.", [
    perm(["Microsoft.ContainerRegistry/*"], [`${ACR}/pull/read`]),
  ]);
  b.assign({ scope: r.id, role: role.guid, principalId: c.kubelet, defIdPrefix: sub });
  const e = new Expect(d)
    .fail("pull.granted", { cluster: c, registry: r, reason: "no-pull-role" })
    .fail("pull.least-privilege", { cluster: c, registry: r, reason: "write-capable-role" });
  return single(name, b, e);
});

defineCase("perm-service-principal", (name) => {
  const d = "A 2019 cluster that pulls with a service principal (servicePrincipalProfile.clientId is a GUID, no identityProfile). It declares its registry in the tag; the service principal's own AcrPull is not resolved (no Microsoft Graph). identity.kubelet-managed fails service-principal; pull.granted and pull.least-privilege are unknown.";
  const { b, sub } = start(name, d);
  const rg = "rg-aks-legacy-prod";
  const vnet = b.vnet(sub, rg, "vnet-aks-legacy-prod", "westeurope", { addressPrefixes: ["10.20.0.0/16"], subnets: [{ name: "snet-nodes", prefix: "10.20.0.0/20" }] });
  const nodeRg = b.nodeRgOf(rg, "aks-legacy-prod", "westeurope");
  const lbIp = b.aksOutboundIp(sub, nodeRg, "westeurope", "20.31.96.40", "aks-legacy-prod", rg);
  const spClient = b.g("legacy-sp", "client");
  const c = b.cluster(sub, rg, "aks-legacy-prod", "westeurope", {
    pools: [{ name: "nodepool1", subnetId: vnet.subnet("snet-nodes"), osSKU: "Ubuntu" }],
    lbIps: [lbIp],
    servicePrincipal: spClient,
    kubernetesVersion: "1.32.7",
    tags: { "aks-acr-audit-registries": "crlegacyprod.azurecr.io" },
  });
  const r = kitRegistry(b, sub, "crlegacyprod");
  b.assign({ scope: r.id, role: ROLE.AcrPull, principalId: b.g("legacy-sp", "object"), defIdPrefix: sub });
  const e = new Expect(d)
    .fail("identity.kubelet-managed", { cluster: c, reason: "service-principal" })
    .unknown("pull.granted", { cluster: c, registry: r, reason: "service-principal" })
    .unknown("pull.least-privilege", { cluster: c, registry: r })
    .pass("registry.exists", { cluster: c, registry: r })
    .pass("network.path", { cluster: c, registry: r });
  return single(name, b, e);
});

defineCase("perm-case-insensitive-ids", (name) => {
  const d = "The same resources named in different casings: the role assignment's scope says 'resourcegroups', an upper-case subscription GUID and an upper-case registry name; its roleDefinitionId has an upper-case GUID with a subscription prefix; the node pool's vnetSubnetID and the effective outbound IP ID differ in case from the VNet and public IP rows. All must match: one attachment (granted at the registry itself), pull passes, least-privilege passes, the firewall allows the egress IP.";
  const { b, sub } = start(name, d);
  const rg = "rg-aks-orders-prod";
  const vnet = b.vnet(sub, rg, "vnet-aks-orders-prod", "westeurope", { addressPrefixes: ["10.10.0.0/16"], subnets: [{ name: "snet-nodes", prefix: "10.10.0.0/20" }] });
  const nodeRg = b.nodeRgOf(rg, "aks-orders-prod", "westeurope");
  const lbIp = b.aksOutboundIp(sub, nodeRg, "westeurope", "20.31.96.17", "aks-orders-prod", rg);
  const shout = (id) => id.replace(/\/resourceGroups\/[^/]+/, (m) => m.toUpperCase()).replace("/providers/Microsoft.Network/", "/providers/microsoft.network/");
  const c = b.cluster(sub, rg, "aks-orders-prod", "westeurope", {
    pools: [{ name: "system", subnetId: vnet.subnet("snet-nodes").replace("/resourceGroups/", "/resourcegroups/").replace("/virtualNetworks/", "/virtualnetworks/") }],
    lbIps: [lbIp],
    lbIpIdCase: shout,
  });
  const r = kitRegistry(b, sub, "crordersprod");
  const scope = `/subscriptions/${sub.subscriptionId.toUpperCase()}/resourcegroups/RG-ACR/providers/microsoft.containerregistry/registries/CRORDERSPROD`;
  b.roleDefinitionRow(ROLE.AcrPull);
  b.assign({
    scope,
    role: ROLE.AcrPull,
    principalId: c.kubelet,
    roleDefinitionId: `/subscriptions/${sub.subscriptionId.toUpperCase()}/providers/Microsoft.Authorization/roleDefinitions/${ROLE.AcrPull.toUpperCase()}`,
  });
  const e = new Expect(d)
    .pass("pull.granted", { cluster: c, registry: r })
    .pass("pull.least-privilege", { cluster: c, registry: r })
    .pass("network.path", { cluster: c, registry: r })
    .pass("registry.replica-nearby", { cluster: c, registry: r });
  return single(name, b, e);
});

// ---- registry.exists (declared entries)

defineCase("exists-declared-variants", (name) => {
  const d = "The cluster's aks-acr-audit-registries tag names one registry three ways (name, login server, resource ID; mixed ',' and ';' separators and spaces): one attachment, registry.exists passes. A fourth entry, crvendorimages, matches nothing visible and names no subscription: unknown unresolved-name.";
  const { b, sub } = start(name, d);
  const r = kitRegistry(b, sub, "crordersprod");
  const tag = `crordersprod, crordersprod.azurecr.io; ${r.id} ;crvendorimages`;
  const c = kitCluster(b, sub, { name: "aks-orders-prod", tags: { "aks-acr-audit-registries": tag } });
  b.attachAcr(c, r);
  const e = new Expect(d)
    .pass("registry.exists", { cluster: c, registry: r })
    .pass("pull.granted", { cluster: c, registry: r })
    .pass("network.path", { cluster: c, registry: r })
    .unknown("registry.exists", { cluster: c, registry: "crvendorimages", reason: "unresolved-name" });
  return single(name, b, e);
});

defineCase("exists-deleted-and-unreadable", (name) => {
  const legacySub = guid(name, "subscription", "legacy-sandbox");
  const d = `Two clusters declare registries by resource ID (Azure tag values hold at most 256 characters, so one ID each): aks-orders-prod names crordersretired in readable apps-prod, which no longer exists (fail registry-deleted); aks-sandbox names crsandboxlegacy in subscription ${legacySub}, which the auditor cannot read (unknown subscription-not-readable). Neither registry gets any other finding.`;
  const { b, sub } = start(name, d);
  b.resourceGroup(sub, "rg-acr", "westeurope");
  const gone = `/subscriptions/${sub.subscriptionId}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/crordersretired`;
  const hidden = `/subscriptions/${legacySub}/resourceGroups/rg-sandbox/providers/Microsoft.ContainerRegistry/registries/crsandboxlegacy`;
  const c1 = kitCluster(b, sub, { name: "aks-orders-prod", tags: { "aks-acr-audit-registries": gone } });
  const c2 = kitCluster(b, sub, { name: "aks-sandbox", octet: 11, egress: ["20.31.96.18"], tags: { "aks-acr-audit-registries": hidden } });
  const e = new Expect(d)
    .fail("registry.exists", { cluster: c1, registry: gone, reason: "registry-deleted" })
    .unknown("registry.exists", { cluster: c2, registry: hidden, reason: "subscription-not-readable" });
  return single(name, b, e);
});

// ---- drift

/** One-cluster, one-registry estate used by the drift chains. */
function driftBase(name, d, { kubelet, withPull = true, withRegistry = true, registryHidden = false, tags } = {}) {
  const { b, sub } = start(name, d, { subscriptionName: "apps-prod" });
  const regSub = registryHidden !== null ? b.subscription("shared-registries", { id: guid(name, "shared-registries"), readable: !registryHidden }) : sub;
  const c = kitCluster(b, sub, { name: "aks-orders-prod", tags, clusterOpts: kubelet ? { kubelet } : {} });
  let r = null;
  if (withRegistry) {
    r = kitRegistry(b, regSub, "crordersprod", { rg: "rg-acr-shared" });
    if (withPull) b.attachAcr(c, r);
  }
  return { b, sub, c, r, regSub };
}

defineCase("drift-identity-replaced", (name) => {
  const seed = "drift-identity-replaced";
  const before = "Before: the cluster's kubelet identity (objectId A) holds AcrPull on crordersprod (attach-acr).";
  const after = "After: the kubelet identity was replaced (az aks update --assign-kubelet-identity with a new identity, objectId B). The AcrPull assignment still names the old objectId A. identity.kubelet-changed fails kubelet-identity-replaced; the remembered attachment's pull.granted goes from pass to fail no-pull-role.";
  const idA = { objectId: guid(seed, "kubelet-A", "object"), clientId: guid(seed, "kubelet-A", "client") };
  const idB = { objectId: guid(seed, "kubelet-B", "object"), clientId: guid(seed, "kubelet-B", "client"), identityName: "id-aks-orders-prod-kubelet", identityRg: "rg-aks-orders-prod" };
  const one = driftBase(seed, before, { kubelet: idA });
  const eb = new Expect(before)
    .pass("identity.kubelet-changed", { cluster: one.c, change: "new" })
    .pass("pull.granted", { cluster: one.c, registry: one.r, change: "new" });
  const two = driftBase(seed, after, { kubelet: idB, withPull: false });
  two.b.assign({ scope: two.r.id, role: ROLE.AcrPull, principalId: idA.objectId, defIdPrefix: two.regSub });
  const ea = new Expect(after, { previous: `${name}.before.json` })
    .fail("identity.kubelet-changed", { cluster: two.c, reason: "kubelet-identity-replaced", change: "changed" })
    .fail("pull.granted", { cluster: two.c, registry: two.r, reason: "no-pull-role", change: "changed" })
    .pass("pull.least-privilege", { cluster: two.c, registry: two.r, change: "unchanged" })
    .pass("identity.kubelet-managed", { cluster: two.c, change: "unchanged" });
  return [
    { name: `${name}.before`, estate: one.b.build(), expected: eb.build() },
    { name, estate: two.b.build(), expected: ea.build() },
  ];
});

defineCase("drift-registry-deleted", (name) => {
  const seed = "drift-registry-deleted";
  const before = "Before: the cluster declares crordersprod by resource ID (tag) and holds AcrPull on it; everything passes.";
  const after = "After: crordersprod was deleted (with its role assignment); its subscription is still readable. The declared attachment stays: registry.exists goes from pass to fail registry-deleted, the attachment's other rules and the registry's own rules are reported removed.";
  const regId = `/subscriptions/${guid(seed, "shared-registries")}/resourceGroups/rg-acr-shared/providers/Microsoft.ContainerRegistry/registries/crordersprod`;
  const tags = { "aks-acr-audit-registries": regId };
  const one = driftBase(seed, before, { tags });
  const eb = new Expect(before)
    .pass("registry.exists", { cluster: one.c, registry: one.r, change: "new" })
    .pass("pull.granted", { cluster: one.c, registry: one.r, change: "new" })
    .pass("network.path", { cluster: one.c, registry: one.r, change: "new" });
  const two = driftBase(seed, after, { tags, withRegistry: false });
  two.b.resourceGroup(two.regSub, "rg-acr-shared", "westeurope");
  const ea = new Expect(after, { previous: `${name}.before.json` }).fail("registry.exists", { cluster: two.c, registry: regId, reason: "registry-deleted", change: "changed" });
  for (const rule of ["pull.granted", "pull.least-privilege", "network.path", "registry.replica-nearby"]) ea.pass(rule, { cluster: two.c, registry: regId, change: "removed" });
  for (const rule of ["registry.admin-user", "registry.anonymous-pull", "registry.public-unrestricted"]) ea.pass(rule, { registry: regId, change: "removed" });
  return [
    { name: `${name}.before`, estate: one.b.build(), expected: eb.build() },
    { name, estate: two.b.build(), expected: ea.build() },
  ];
});

defineCase("drift-subscription-unreadable", (name) => {
  const seed = "drift-subscription-unreadable";
  const before = "Before: the cluster (apps-prod) holds AcrPull on crordersprod in subscription shared-registries; everything passes.";
  const after =
    "After: the auditor lost read access to shared-registries (its row is gone from resourcecontainers; the registry, its resource group and the role assignment are still in the estate, and the simulator must not return them). " +
    "The attachment is remembered; every earlier finding about crordersprod turns unknown, reason not-visible, change changed: nothing removed, nothing pass. registry.exists is re-evaluated as unknown (rules.md gives subscription-not-readable for that rule, the drift section not-visible), so its reason is not pinned.";
  const one = driftBase(seed, before);
  const eb = new Expect(before)
    .pass("registry.exists", { cluster: one.c, registry: one.r, change: "new" })
    .pass("pull.granted", { cluster: one.c, registry: one.r, change: "new" })
    .pass("network.path", { cluster: one.c, registry: one.r, change: "new" })
    .pass("registry.public-unrestricted", { registry: one.r, change: "new" });
  const two = driftBase(seed, after, { registryHidden: true });
  const ea = new Expect(after, { previous: `${name}.before.json` }).unknown("registry.exists", { cluster: two.c, registry: two.r, change: "changed" });
  for (const rule of ["pull.granted", "pull.least-privilege", "network.path", "registry.replica-nearby"]) ea.unknown(rule, { cluster: two.c, registry: two.r, reason: "not-visible", change: "changed" });
  for (const rule of ["registry.admin-user", "registry.anonymous-pull", "registry.public-unrestricted"]) ea.unknown(rule, { registry: two.r, reason: "not-visible", change: "changed" });
  ea.pass("identity.kubelet-managed", { cluster: two.c, change: "unchanged" });
  return [
    { name: `${name}.before`, estate: one.b.build(), expected: eb.build() },
    { name, estate: two.b.build(), expected: ea.build() },
  ];
});

defineCase("drift-fixed", (name) => {
  const seed = "drift-fixed";
  const before = "Before: the cluster declares crordersprod (login server) but its kubelet identity holds no role on it: pull.granted fails no-pull-role.";
  const after = "After: the team ran az aks update --attach-acr: AcrPull at the registry. pull.granted goes from fail to pass (changed).";
  const tags = { "aks-acr-audit-registries": "crordersprod.azurecr.io" };
  const one = driftBase(seed, before, { tags, withPull: false });
  const eb = new Expect(before)
    .fail("pull.granted", { cluster: one.c, registry: one.r, reason: "no-pull-role", change: "new" })
    .pass("pull.least-privilege", { cluster: one.c, registry: one.r, change: "new" });
  const two = driftBase(seed, after, { tags, withPull: true });
  const ea = new Expect(after, { previous: `${name}.before.json` })
    .pass("pull.granted", { cluster: two.c, registry: two.r, change: "changed" })
    .pass("pull.least-privilege", { cluster: two.c, registry: two.r, change: "unchanged" })
    .pass("registry.exists", { cluster: two.c, registry: two.r, change: "unchanged" });
  return [
    { name: `${name}.before`, estate: one.b.build(), expected: eb.build() },
    { name, estate: two.b.build(), expected: ea.build() },
  ];
});

// ---- registry.replica-nearby

/** A cluster in `clusterLocation` attached to a Premium registry in West Europe with `replicas`. */
function replicaCase(name, d, { clusterLocation, locationAsWritten, replicas = [], expectStatus }) {
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: `aks-orders-${regionKey(clusterLocation)}`, location: clusterLocation, clusterOpts: locationAsWritten ? { locationAsWritten } : {} });
  const r = kitRegistry(b, sub, "crordersglobal", { rg: "rg-acr-global" });
  if (replicas.length) b.replication(r, "westeurope");
  for (const [loc, state] of replicas) b.replication(r, loc, state);
  b.attachAcr(c, r);
  const e = new Expect(d);
  if (expectStatus === "pass") e.pass("registry.replica-nearby", { cluster: c, registry: r });
  else e.fail("registry.replica-nearby", { cluster: c, registry: r, reason: "no-replica-in-region" });
  e.pass("network.path", { cluster: c, registry: r });
  return single(name, b, e);
}

defineCase("replica-same-region", (name) =>
  replicaCase(name, "Cluster and registry both in westeurope (no replications): pass.", { clusterLocation: "westeurope", expectStatus: "pass" }));
defineCase("replica-in-cluster-region", (name) =>
  replicaCase(name, "Cluster in northeurope; the westeurope registry has a replication in northeurope with provisioningState Succeeded: pass.", {
    clusterLocation: "northeurope",
    replicas: [["northeurope", "Succeeded"], ["eastus2", "Succeeded"]],
    expectStatus: "pass",
  }));
defineCase("replica-failed", (name) =>
  replicaCase(name, "Cluster in northeurope; the registry's northeurope replication has provisioningState Failed (only its home westeurope and eastus2 are Succeeded): pulls cross regions, no-replica-in-region.", {
    clusterLocation: "northeurope",
    replicas: [["northeurope", "Failed"], ["eastus2", "Succeeded"]],
    expectStatus: "fail",
  }));
defineCase("replica-cross-region", (name) =>
  replicaCase(name, "Cluster in eastus2 pulling from a westeurope registry with no replications: no-replica-in-region.", { clusterLocation: "eastus2", expectStatus: "fail" }));
defineCase("replica-region-spelling", (name) =>
  replicaCase(name, "The cluster row says location 'West Europe' (display name), the registry 'westeurope': the same region, pass.", { clusterLocation: "westeurope", locationAsWritten: "West Europe", expectStatus: "pass" }));

// ---- exemptions

defineCase("exempt-cluster-tag", (name) => {
  const d =
    "Cluster in northeurope with tag aks-acr-audit-exempt 'registry.replica-nearby; pull.least-privilege@2099-12-31; registry.admin-user'. Its attachment findings are exempted (replica-nearby without expiry, least-privilege broad-scope-only until 2099-12-31), keeping status fail. " +
    "registry.admin-user is a registry-level finding: a cluster's tag covers only the cluster's own and its attachment findings, so the admin-user fail is not exempt.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, {
    name: "aks-orders-neu",
    location: "northeurope",
    tags: { "aks-acr-audit-exempt": "registry.replica-nearby; pull.least-privilege@2099-12-31; registry.admin-user", team: "orders" },
  });
  const r = kitRegistry(b, sub, "crordersprod", { adminUserEnabled: true });
  b.assign({ scope: b.resourceGroup(sub, "rg-acr", "westeurope").id, role: ROLE.AcrPull, principalId: c.kubelet, defIdPrefix: sub });
  const e = new Expect(d)
    .fail("registry.replica-nearby", { cluster: c, registry: r, reason: "no-replica-in-region", exempt: true })
    .fail("pull.least-privilege", { cluster: c, registry: r, reason: "broad-scope-only", exempt: true })
    .fail("registry.admin-user", { registry: r, reason: "admin-user-enabled", exempt: false })
    .pass("pull.granted", { cluster: c, registry: r, exempt: false });
  return single(name, b, e);
});

defineCase("exempt-registry-tag", (name) => {
  const d =
    "Registry crpublicmirror (a cache of public images with anonymous pull, firewalled) has tag aks-acr-audit-exempt 'registry.anonymous-pull@2099-12-31;network.path'. The anonymous-pull fail is exempt; the registry's tag covers every attachment to it, so both clusters' network.path fails (egress IPs not allowed) are exempt too.";
  const { b, sub } = start(name, d);
  const c1 = kitCluster(b, sub, { name: "aks-build-prod", egress: ["20.31.96.17"] });
  const c2 = kitCluster(b, sub, { name: "aks-build-dev", egress: ["20.31.98.5"], octet: 11 });
  const r = kitRegistry(b, sub, "crpublicmirror", {
    sku: "Premium",
    anonymousPullEnabled: true,
    allow: ["203.0.113.0/24"],
    tags: { "aks-acr-audit-exempt": "registry.anonymous-pull@2099-12-31;network.path", purpose: "public image cache" },
  });
  b.attachAcr(c1, r);
  b.attachAcr(c2, r);
  const e = new Expect(d)
    .fail("registry.anonymous-pull", { registry: r, reason: "anonymous-pull-enabled", exempt: true })
    .fail("network.path", { cluster: c1, registry: r, reason: "egress-ips-blocked", exempt: true })
    .fail("network.path", { cluster: c2, registry: r, reason: "egress-ips-blocked", exempt: true })
    .pass("registry.admin-user", { registry: r, exempt: false });
  return single(name, b, e);
});

defineCase("exempt-expired", (name) => {
  const d = "Registry tag aks-acr-audit-exempt 'registry.admin-user@2020-01-01': the expiry is in the past, so the admin-user fail carries no exemption and counts again.";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod" });
  const r = kitRegistry(b, sub, "crordersprod", { adminUserEnabled: true, tags: { "aks-acr-audit-exempt": "registry.admin-user@2020-01-01" } });
  b.attachAcr(c, r);
  const e = new Expect(d).fail("registry.admin-user", { registry: r, reason: "admin-user-enabled", exempt: false });
  return single(name, b, e);
});

defineCase("exempt-malformed", (name) => {
  const d = "Cluster tag aks-acr-audit-exempt 'pull.granted@2024-13-45;not-a-rule': the date does not exist and the second entry names no rule, so nothing is exempt: the no-pull-role fail counts (the auditor warns about the malformed entries).";
  const { b, sub } = start(name, d);
  const c = kitCluster(b, sub, { name: "aks-orders-prod", tags: { "aks-acr-audit-registries": "crordersprod", "aks-acr-audit-exempt": "pull.granted@2024-13-45;not-a-rule" } });
  const r = kitRegistry(b, sub, "crordersprod");
  const e = new Expect(d).fail("pull.granted", { cluster: c, registry: r, reason: "no-pull-role", exempt: false });
  return single(name, b, e);
});

// ---- clouds

defineCase("china-cloud", (name) => {
  const d = "Azure China (estate cloud AzureChinaCloud): registry crordersprod.azurecr.cn in chinanorth3 with public access disabled and an approved private endpoint in the cluster's VNet; the cluster declares 'crordersprod.azurecr.cn' and holds AcrPull; privatelink.azurecr.cn is linked to the VNet: declared login server resolves, private path passes, network.private-dns passes.";
  const { b, sub } = start(name, d, { cloud: "AzureChinaCloud", tenantId: CN_TENANT, subscriptionOptions: { quotaId: "EnterpriseAgreement_2014-09-01" } });
  const c = kitCluster(b, sub, { name: "aks-orders-cn3", location: "chinanorth3", egress: ["139.219.100.17"], tags: { "aks-acr-audit-registries": "crordersprod.azurecr.cn" } });
  const r = b.registry(sub, "rg-acr", "crordersprod", "chinanorth3", { publicNetworkAccess: "Disabled", defaultAction: "Allow" });
  b.privateEndpoint(sub, c.rg, "pe-crordersprod", "chinanorth3", c.vnet.subnet("snet-privateendpoints"), r);
  const zone = b.privateDnsZone(sub, "rg-dns", { rgLocation: "chinanorth3" });
  b.dnsLink(zone, c.vnet);
  b.attachAcr(c, r);
  const e = new Expect(d)
    .pass("registry.exists", { cluster: c, registry: r })
    .pass("pull.granted", { cluster: c, registry: r })
    .pass("network.path", { cluster: c, registry: r })
    .pass("network.private-dns", { cluster: c, registry: r })
    .pass("registry.replica-nearby", { cluster: c, registry: r });
  return single(name, b, e);
});

// ------------------------------------------------------------------------------------------ the Contoso sample

/**
 * Contoso: four readable subscriptions under a management group hierarchy, a hub-and-spoke network in
 * two regions, a dozen clusters and a dozen registries; healthy and broken attachments so that one audit
 * shows every rule and reason of rules.md. `week` 2 is the same tenant a week later (drift).
 */
export function contoso(week = 1) {
  const d1 =
    "Contoso: platform-prod (hub networks, private DNS), shared-registries, apps-prod, apps-dev under Contoso > Platform / Landing Zones (Corp, Sandbox); hub-and-spoke in westeurope and northeurope, 13 AKS clusters, 12 registries. See samples/README.md for what each cluster and registry demonstrates.";
  const d2 =
    "Contoso one week later (audit samples/contoso.estate.json first, with the same store): aks-inventory-prod-weu's kubelet identity was replaced, crdatascience was deleted, the retail spoke was re-peered with the hub, and the qa cluster's exemption tag was corrected.";
  const b = new EstateBuilder({ tenantId: TENANT, description: week === 1 ? d1 : d2, seed: "contoso" });
  b.managementGroup("contoso", "Contoso");
  b.managementGroup("contoso-platform", "Platform", "contoso");
  b.managementGroup("contoso-landingzones", "Landing Zones", "contoso");
  b.managementGroup("contoso-corp", "Corp", "contoso-landingzones");
  b.managementGroup("contoso-sandbox", "Sandbox", "contoso");
  const plat = b.subscription("platform-prod", { group: "contoso-platform" });
  const shared = b.subscription("shared-registries", { group: "contoso-platform" });
  const prod = b.subscription("apps-prod", { group: "contoso-corp" });
  const dev = b.subscription("apps-dev", { group: "contoso-sandbox", quotaId: "MSDNDevTest_2014-09-01" });
  const legacy = b.subscription("legacy-sandbox", { readable: false });

  // --- platform: hubs, DNS
  const hubWeu = b.vnet(plat, "rg-hub-weu", "vnet-hub-weu", "westeurope", {
    addressPrefixes: ["10.100.0.0/22"],
    subnets: [
      { name: "AzureFirewallSubnet", prefix: "10.100.0.0/26" },
      { name: "snet-dns-inbound", prefix: "10.100.0.64/28" },
      { name: "snet-privateendpoints", prefix: "10.100.1.0/24" },
    ],
  });
  const hubNeu = b.vnet(plat, "rg-hub-neu", "vnet-hub-neu", "northeurope", {
    addressPrefixes: ["10.101.0.0/22"],
    subnets: [{ name: "AzureFirewallSubnet", prefix: "10.101.0.0/26" }, { name: "snet-privateendpoints", prefix: "10.101.1.0/24" }],
  });
  b.publicIp(plat, "rg-hub-weu", "pip-afw-hub-weu", "westeurope", "20.8.77.10", { zones: ["1", "2", "3"] });
  b.peer(hubWeu, hubNeu);
  const zone = b.privateDnsZone(plat, "rg-dns-private");
  b.dnsLink(zone, hubWeu);
  b.dnsLink(zone, hubNeu);
  const rtFw = b.routeTable(prod, "rg-data-prod-weu", "rt-aks-data-prod-weu", "westeurope", [
    { name: "default-to-afw", addressPrefix: "0.0.0.0/0", nextHopType: "VirtualAppliance", nextHopIpAddress: "10.100.0.4" },
  ]);

  // --- registries
  const crProd = b.registry(shared, "rg-acr-prod", "crcontosoprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow", zoneRedundancy: "Enabled", tags: { owner: "platform", env: "prod" } });
  b.replication(crProd, "westeurope");
  b.replication(crProd, "northeurope");
  b.replication(crProd, "eastus2", "Failed");
  b.privateEndpoint(plat, "rg-hub-weu", "pe-crcontosoprod-weu", "westeurope", hubWeu.subnet("snet-privateendpoints"), crProd);
  b.privateEndpoint(plat, "rg-hub-neu", "pe-crcontosoprod-neu", "northeurope", hubNeu.subnet("snet-privateendpoints"), crProd);
  const crBase = b.registry(shared, "rg-acr-prod", "crcontosobase", "westeurope", {
    allow: ["20.103.200.16/28", "20.76.41.7", "20.93.118.50", "203.0.113.0/24"],
    tags: { owner: "platform", purpose: "base images" },
  });
  const crAbac = b.registry(shared, "rg-acr-abac", "crcontosoabac", "westeurope", {
    roleAssignmentMode: "AbacRepositoryPermissions",
    allow: ["20.76.41.7", "20.76.41.9", "20.160.5.33"],
    tags: { owner: "platform", purpose: "per-team repositories" },
  });
  const crCache = b.registry(shared, "rg-acr-cache", "crcontosocache", "westeurope", {
    sku: "Standard",
    anonymousPullEnabled: true,
    tags: { owner: "platform", purpose: "pull-through cache of public images", "aks-acr-audit-exempt": "registry.anonymous-pull@2099-12-31" },
  });
  b.registry(shared, "rg-acr-archive", "crcontosoarchive", "westeurope", { sku: "Standard", tags: { owner: "platform", purpose: "archive" } });
  const crPay = b.registry(prod, "rg-payments-prod-weu", "crpaymentsprod", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow", tags: { owner: "payments" } });
  const crRetail = b.registry(prod, "rg-retail-prod-weu", "crretailprod", "westeurope", { allow: ["20.73.190.2"], tags: { owner: "retail" } });
  const crMl = b.registry(prod, "rg-ml-prod-weu", "crmlmodels", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow", tags: { owner: "ml" } });
  const crDataId = `/subscriptions/${prod.subscriptionId}/resourceGroups/rg-data-prod-weu/providers/Microsoft.ContainerRegistry/registries/crdatascience`;
  const crData = week === 1 ? b.registry(prod, "rg-data-prod-weu", "crdatascience", "westeurope", { sku: "Standard", adminUserEnabled: true, tags: { owner: "data" } }) : null;
  const crDev = b.registry(dev, "rg-acr-dev", "crcontosodev", "westeurope", {
    sku: "Basic",
    adminUserEnabled: true,
    tags: { owner: "platform", env: "dev", "aks-acr-audit-exempt": "registry.admin-user@2024-06-30" },
  });
  b.registry(dev, "rg-sandbox-exp", "crsandboxexp", "westeurope", { sku: "Basic", tags: { owner: "sandbox" } });
  const crTools = b.registry(plat, "rg-platform-tools-weu", "crplatformtools", "westeurope", { publicNetworkAccess: "Disabled", defaultAction: "Allow", tags: { owner: "platform" } });

  // --- clusters (spokes)
  const spoke = (sub, rg, name, location, octet, opts = {}) =>
    b.vnet(sub, rg, name, location, {
      addressPrefixes: [`10.${octet}.0.0/16`],
      subnets: [{ name: "snet-aks-nodes", prefix: `10.${octet}.0.0/20`, natGateway: opts.natGateway, routeTable: opts.routeTable }, { name: "snet-privateendpoints", prefix: `10.${octet}.16.0/24` }],
      dnsServers: opts.dnsServers,
      tags: { env: sub === dev ? "dev" : "prod" },
    });
  const lb = (sub, rg, cluster, location, ...ips) => ips.map((ip) => b.aksOutboundIp(sub, b.nodeRgOf(rg, cluster, location), location, ip, cluster, rg));
  const pools = (vnet) => [{ name: "system", subnetId: vnet.subnet("snet-aks-nodes") }, { name: "apps", subnetId: vnet.subnet("snet-aks-nodes"), count: 4, vmSize: "Standard_D8ds_v5", mode: "User" }];
  const teamTags = (team, extra = {}) => ({ team, costcenter: `cc-${team}`, ...extra });

  // 1 shop prod westeurope: NAT gateway subnet (userAssignedNATGateway), private path to crcontosoprod.
  const ngPrefix = b.publicIpPrefix(prod, "rg-shop-prod-weu", "ippre-ng-shop-prod-weu", "westeurope", "20.103.200.16/30");
  const ngShop = b.natGateway(prod, "rg-shop-prod-weu", "ng-shop-prod-weu", "westeurope", { prefixes: [ngPrefix] });
  const vShopWeu = spoke(prod, "rg-shop-prod-weu", "vnet-shop-prod-weu", "westeurope", 1, { natGateway: ngShop });
  const shopWeu = b.cluster(prod, "rg-shop-prod-weu", "aks-shop-prod-weu", "westeurope", { pools: pools(vShopWeu), outboundType: "userAssignedNATGateway", tags: teamTags("shop") });
  // 2 shop prod northeurope
  const vShopNeu = spoke(prod, "rg-shop-prod-neu", "vnet-shop-prod-neu", "northeurope", 2);
  const shopNeu = b.cluster(prod, "rg-shop-prod-neu", "aks-shop-prod-neu", "northeurope", { pools: pools(vShopNeu), lbIps: lb(prod, "rg-shop-prod-neu", "aks-shop-prod-neu", "northeurope", "4.208.11.20"), tags: teamTags("shop") });
  // 3 shop prod eastus2: custom DNS, global peering to the westeurope hub, Failed replica.
  const vShopEus = spoke(prod, "rg-shop-prod-eus2", "vnet-shop-prod-eus2", "eastus2", 3, { dnsServers: ["10.100.0.68", "10.100.0.69"] });
  const shopEus = b.cluster(prod, "rg-shop-prod-eus2", "aks-shop-prod-eus2", "eastus2", { pools: pools(vShopEus), lbIps: lb(prod, "rg-shop-prod-eus2", "aks-shop-prod-eus2", "eastus2", "20.85.120.14"), tags: teamTags("shop") });
  // 4 payments: Contributor on its registry, public access disabled and no private endpoint.
  const vPay = spoke(prod, "rg-payments-prod-weu", "vnet-payments-prod-weu", "westeurope", 4);
  const pay = b.cluster(prod, "rg-payments-prod-weu", "aks-payments-prod-weu", "westeurope", { pools: pools(vPay), lbIps: lb(prod, "rg-payments-prod-weu", "aks-payments-prod-weu", "westeurope", "20.105.33.81"), tags: teamTags("payments") });
  // 5 retail: hub peering deleted on the hub side (Disconnected) in week 1, re-peered in week 2.
  const vRetail = spoke(prod, "rg-retail-prod-weu", "vnet-retail-prod-weu", "westeurope", 5);
  const retail = b.cluster(prod, "rg-retail-prod-weu", "aks-retail-prod-weu", "westeurope", { pools: pools(vRetail), lbIps: lb(prod, "rg-retail-prod-weu", "aks-retail-prod-weu", "westeurope", "20.73.190.2"), tags: teamTags("retail") });
  // 6 data: userDefinedRouting through the hub firewall; wildcard custom role on crdatascience.
  const vData = spoke(prod, "rg-data-prod-weu", "vnet-data-prod-weu", "westeurope", 6, { routeTable: rtFw });
  const data = b.cluster(prod, "rg-data-prod-weu", "aks-data-prod-weu", "westeurope", {
    pools: pools(vData),
    outboundType: "userDefinedRouting",
    tags: teamTags("data", { "aks-acr-audit-registries": crDataId }),
  });
  // 7 analytics: two LB IPs, one allowed by crcontosobase; AcrPull on the ABAC registry.
  const vAn = spoke(prod, "rg-analytics-prod-weu", "vnet-analytics-prod-weu", "westeurope", 7);
  const analytics = b.cluster(prod, "rg-analytics-prod-weu", "aks-analytics-prod-weu", "westeurope", {
    pools: pools(vAn),
    lbIps: lb(prod, "rg-analytics-prod-weu", "aks-analytics-prod-weu", "westeurope", "20.76.41.7", "20.76.41.9"),
    tags: teamTags("analytics"),
  });
  // 8 ml: LB IP not allowed by crcontosobase (declared; AcrPull at management group); conditional grant on the ABAC registry; private endpoint in its own VNet for crmlmodels.
  const vMl = spoke(prod, "rg-ml-prod-weu", "vnet-ml-prod-weu", "westeurope", 8);
  const ml = b.cluster(prod, "rg-ml-prod-weu", "aks-ml-prod-weu", "westeurope", {
    pools: [{ name: "system", subnetId: vMl.subnet("snet-aks-nodes") }, { name: "gpu", subnetId: vMl.subnet("snet-aks-nodes"), count: 2, vmSize: "Standard_NC24ads_A100_v4", mode: "User", osSKU: "Ubuntu" }],
    lbIps: lb(prod, "rg-ml-prod-weu", "aks-ml-prod-weu", "westeurope", "20.160.5.33"),
    tags: teamTags("ml", { "aks-acr-audit-registries": "crcontosobase.azurecr.io; crmlmodels; crcontosoabac" }),
  });
  b.privateEndpoint(prod, "rg-ml-prod-weu", "pe-crmlmodels", "westeurope", vMl.subnet("snet-privateendpoints"), crMl);
  // 9 shop dev: managed VNet, declared list with every kind of dangling entry.
  const shopDevRg = "rg-shop-dev-weu";
  const shopDevNodeRg = b.nodeRgOf(shopDevRg, "aks-shop-dev-weu", "westeurope");
  b.managedVnet(dev, shopDevNodeRg, "westeurope");
  const crLegacyApps = `/subscriptions/${dev.subscriptionId}/resourceGroups/rg-acr-dev/providers/Microsoft.ContainerRegistry/registries/crlegacyapps`;
  const crSandboxLegacy = `/subscriptions/${legacy.subscriptionId}/resourceGroups/rg-sandbox/providers/Microsoft.ContainerRegistry/registries/crsandboxlegacy`;
  const shopDev = b.cluster(dev, shopDevRg, "aks-shop-dev-weu", "westeurope", {
    pools: [{ name: "nodepool1", count: 2, vmSize: "Standard_D2ds_v5" }],
    lbIps: lb(dev, shopDevRg, "aks-shop-dev-weu", "westeurope", "20.13.91.140"),
    tier: "Free",
    tags: teamTags("shop", { env: "dev", "aks-acr-audit-registries": `crcontosodev, ${crLegacyApps}; crvendorimages` }),
  });
  // 10 qa dev swedencentral: service principal cluster, cross-region pulls, malformed exemption tag.
  const qaRg = "rg-qa-dev-sdc";
  const vQa = b.vnet(dev, qaRg, "vnet-qa-dev-sdc", "swedencentral", { addressPrefixes: ["10.30.0.0/16"], subnets: [{ name: "snet-aks-nodes", prefix: "10.30.0.0/20" }] });
  const qa = b.cluster(dev, qaRg, "aks-qa-dev-sdc", "swedencentral", {
    pools: [{ name: "nodepool1", subnetId: vQa.subnet("snet-aks-nodes"), count: 2, vmSize: "Standard_D4s_v3", osSKU: "Ubuntu" }],
    lbIps: lb(dev, qaRg, "aks-qa-dev-sdc", "swedencentral", "20.91.250.17"),
    servicePrincipal: b.g("sp-aks-qa", "client"),
    kubernetesVersion: "1.32.7",
    tier: "Free",
    tags: teamTags("qa", {
      env: "dev",
      "aks-acr-audit-registries": `crcontosodev.azurecr.io; ${crSandboxLegacy}`,
      "aks-acr-audit-exempt": week === 1 ? "registry.replica-nearby@31-03-2027" : "registry.replica-nearby@2027-03-31",
    }),
  });
  // 11 platform tools: private endpoint in its own VNet, linked zone.
  const vTools = spoke(plat, "rg-platform-tools-weu", "vnet-platform-tools-weu", "westeurope", 11);
  const tools = b.cluster(plat, "rg-platform-tools-weu", "aks-platform-tools-weu", "westeurope", { pools: pools(vTools), lbIps: lb(plat, "rg-platform-tools-weu", "aks-platform-tools-weu", "westeurope", "20.126.7.203"), tags: teamTags("platform") });
  b.privateEndpoint(plat, "rg-platform-tools-weu", "pe-crplatformtools", "westeurope", vTools.subnet("snet-privateendpoints"), crTools);
  // 12 inventory: peered with the hub, zone not linked to its VNet; kubelet identity replaced in week 2.
  const vInv = spoke(prod, "rg-inventory-prod-weu", "vnet-inventory-prod-weu", "westeurope", 12);
  const inv = b.cluster(prod, "rg-inventory-prod-weu", "aks-inventory-prod-weu", "westeurope", {
    pools: pools(vInv),
    lbIps: lb(prod, "rg-inventory-prod-weu", "aks-inventory-prod-weu", "westeurope", "20.61.14.66"),
    tags: teamTags("inventory"),
    kubelet: week === 1 ? undefined : { objectId: b.g("kubelet", "inventory", "replaced", "object"), clientId: b.g("kubelet", "inventory", "replaced", "client"), identityName: "id-aks-inventory-prod-weu-kubelet", identityRg: "rg-inventory-prod-weu" },
  });
  // 13 batch dev: managed NAT gateway (managed VNet); AcrPull at the shared-registries subscription.
  const batchRg = "rg-batch-dev-weu";
  const batchNodeRg = b.nodeRgOf(batchRg, "aks-batch-dev-weu", "westeurope");
  const batchIp = b.publicIp(dev, batchNodeRg, b.g("batch-nat-ip"), "westeurope", "20.93.118.50", { tags: { "aks-managed-cluster-name": "aks-batch-dev-weu", "aks-managed-cluster-rg": batchRg, "aks-managed-type": "aks-nat-gateway-outbound-ip" } });
  const batchNg = b.natGateway(dev, batchNodeRg, "aks-nat-gateway", "westeurope", { publicIps: [batchIp], tags: { "aks-managed-cluster-name": "aks-batch-dev-weu" } });
  b.managedVnet(dev, batchNodeRg, "westeurope", { subnets: [{ name: "aks-subnet", prefix: "10.224.0.0/16", natGateway: batchNg }] });
  const batch = b.cluster(dev, batchRg, "aks-batch-dev-weu", "westeurope", {
    pools: [{ name: "nodepool1", count: 3, vmSize: "Standard_D4ds_v5" }],
    outboundType: "managedNATGateway",
    natIps: [batchIp],
    tier: "Free",
    tags: teamTags("batch", { env: "dev", "aks-acr-audit-registries": "crcontosobase.azurecr.io;crcontosodev" }),
  });

  // --- peerings and DNS links
  for (const v of [vShopWeu, vPay, vInv, vMl, vAn, vData, vTools]) b.peer(v, hubWeu);
  b.peer(vShopNeu, hubNeu);
  b.peering(vShopEus, hubWeu, { name: "peer-vnet-shop-prod-eus2-to-vnet-hub-weu" });
  b.peering(hubWeu, vShopEus, { name: "peer-vnet-hub-weu-to-vnet-shop-prod-eus2" });
  if (week === 1) b.peering(vRetail, hubWeu, { state: "Disconnected" });
  else b.peer(vRetail, hubWeu);
  for (const v of [vShopWeu, vShopNeu, vRetail, vMl, vTools, vPay]) b.dnsLink(zone, v);

  // --- role assignments
  const AcrPull = ROLE.AcrPull;
  b.attachAcr(shopWeu, crProd);
  b.attachAcr(shopWeu, crBase);
  b.assign({ scope: b.resourceGroup(shared, "rg-acr-cache", "westeurope").id, role: AcrPull, principalId: shopWeu.kubelet, defIdPrefix: shared, description: "shop: public image cache" });
  b.attachAcr(shopNeu, crProd);
  b.attachAcr(shopEus, crProd);
  b.assign({ scope: crPay.id, role: ROLE.Contributor, principalId: pay.kubelet, defIdPrefix: prod, description: "payments: temporary, see INC-4471" });
  b.attachAcr(retail, crProd);
  b.attachAcr(retail, crRetail);
  b.attachAcr(data, crBase);
  const wildcardRole = b.customRole(prod, b.g("role", "registry-reader"), "Contoso Registry Reader", "Read everything in Contoso registries.", [perm([`${ACR}/*/read`])], [prod.id, shared.id]);
  if (crData) b.assign({ scope: crData.id, role: wildcardRole.guid, principalId: data.kubelet, defIdPrefix: prod });
  const pullerRole = b.customRole(shared, b.g("role", "image-puller"), "Contoso AKS Image Puller", "Pull images from Contoso registries (AKS kubelet identities).", [perm([`${ACR}/pull/read`, `${ACR}/read`])], [shared.id, prod.id, dev.id]);
  b.assign({ scope: crBase.id, role: pullerRole.guid, principalId: analytics.kubelet, defIdPrefix: shared });
  b.attachAcr(analytics, crAbac);
  b.assign({
    scope: crAbac.id,
    role: ROLE.RepositoryReader,
    principalId: ml.kubelet,
    defIdPrefix: shared,
    description: "ml: models/* repositories only",
    condition:
      "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'models/'))",
  });
  b.assign({ scope: "/providers/Microsoft.Management/managementGroups/contoso-platform", role: AcrPull, principalId: ml.kubelet, description: "ml: pull from every platform registry" });
  b.attachAcr(ml, crMl);
  b.attachAcr(shopDev, crDev);
  b.assign({ scope: crDev.id, role: AcrPull, principalId: b.g("sp-aks-qa", "object"), defIdPrefix: dev, description: "aks-qa-dev-sdc service principal" });
  b.attachAcr(tools, crTools);
  // week 2: the AcrPull still names the kubelet identity of week 1
  b.assign({ scope: crProd.id, role: AcrPull, principalId: b.g("kubelet", inv.id, "object"), defIdPrefix: shared });
  b.assign({ scope: shared.id, role: AcrPull, principalId: batch.kubelet, defIdPrefix: shared, description: "batch: all shared registries" });
  // Other principals (not kubelet identities): the CI pipeline pushes, the platform team owns.
  b.assign({ scope: crProd.id, role: ROLE.AcrPush, principalId: b.g("sp-github-actions", "object"), defIdPrefix: shared, description: "GitHub Actions: build and push" });
  b.assign({ scope: crBase.id, role: ROLE.AcrPush, principalId: b.g("sp-github-actions", "object"), defIdPrefix: shared, description: "GitHub Actions: build and push" });
  b.assign({ scope: "/providers/Microsoft.Management/managementGroups/contoso", role: ROLE.Owner, principalId: b.g("group-platform-admins"), principalType: "Group" });
  b.assign({ scope: "/providers/Microsoft.Management/managementGroups/contoso", role: ROLE.Reader, principalId: b.g("auditor", "aks-acr-auditor"), description: "aks-acr-auditor: read the estate" });

  return b.build();
}

// ------------------------------------------------------------------------------------------ main

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function outputs() {
  const files = [];
  for (const c of CASES) {
    for (const { name, estate, expected } of c.fn(c.name)) {
      files.push([path.join("test", "estates", `${name}.json`), estate]);
      files.push([path.join("test", "estates", `${name}.expected.json`), expected]);
    }
  }
  files.push([path.join("samples", "contoso.estate.json"), contoso(1)]);
  files.push([path.join("samples", "contoso-next-week.estate.json"), contoso(2)]);
  return files.map(([rel, json]) => [rel, `${JSON.stringify(json, null, 1)}\n`]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  let differ = 0;
  for (const [rel, text] of outputs()) {
    const file = path.join(ROOT, rel);
    if (check) {
      const now = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
      if (now !== text) {
        differ++;
        console.log(`differs: ${rel}`);
      }
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
  }
  if (check && differ) process.exit(1);
  if (!check) console.log(`wrote ${outputs().length} files`);
}
