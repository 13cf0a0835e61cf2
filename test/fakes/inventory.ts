/** Builders of typed inventories for pure rule tests (no SDK, no store). */
import { CLOUDS } from "../../src/core/clouds.js";
import {
  emptyNetworkFacts,
  type Cluster,
  type Inventory,
  type Registry,
  type RoleAssignment,
  type RoleDefinition,
} from "../../src/core/inventory.js";
import { InventoryIndex } from "../../src/core/inventory-index.js";

export const SUB = "11111111-1111-1111-1111-111111111111";
export const OTHER_SUB = "22222222-2222-2222-2222-222222222222";
export const KUBELET = "aaaaaaaa-0000-0000-0000-000000000001";

export const clusterId = (name: string, sub = SUB) =>
  `/subscriptions/${sub}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/${name}`;
export const registryId = (name: string, sub = SUB) =>
  `/subscriptions/${sub}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/${name}`;

export function cluster(name: string, over: Partial<Cluster> = {}): Cluster {
  return {
    id: clusterId(name),
    name,
    subscriptionId: SUB,
    resourceGroup: "rg-aks",
    location: "westeurope",
    tags: {},
    kubeletObjectId: KUBELET,
    servicePrincipalClientId: "msi",
    nodeResourceGroup: `MC_rg-aks_${name}_westeurope`,
    nodePools: [{ name: "system" }],
    outboundType: "loadBalancer",
    loadBalancerOutboundIps: [],
    natGatewayOutboundIps: [],
    ...over,
  };
}

export function registry(name: string, over: Partial<Registry> = {}): Registry {
  return {
    id: registryId(name),
    name,
    subscriptionId: SUB,
    resourceGroup: "rg-acr",
    location: "westeurope",
    tags: {},
    loginServer: `${name}.azurecr.io`,
    skuName: "Standard",
    adminUserEnabled: false,
    anonymousPullEnabled: false,
    publicNetworkAccess: "Enabled",
    defaultAction: "Allow",
    ipRules: [],
    roleAssignmentMode: "LegacyRegistryPermissions",
    privateEndpointConnections: [],
    ...over,
  };
}

export const ROLES: Record<string, RoleDefinition> = {
  AcrPull: {
    id: "/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
    guid: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    roleName: "AcrPull",
    type: "BuiltInRole",
    permissions: [{ actions: ["Microsoft.ContainerRegistry/registries/pull/read"], notActions: [], dataActions: [], notDataActions: [] }],
  },
  Contributor: {
    id: "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",
    guid: "b24988ac-6180-42a0-ab88-20f7382dd24c",
    roleName: "Contributor",
    type: "BuiltInRole",
    permissions: [
      {
        actions: ["*"],
        notActions: ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"],
        dataActions: [],
        notDataActions: [],
      },
    ],
  },
  RepoReader: {
    id: "/providers/Microsoft.Authorization/roleDefinitions/b93aa761-3e63-49ed-ac28-beffa264f7ac",
    guid: "b93aa761-3e63-49ed-ac28-beffa264f7ac",
    roleName: "Container Registry Repository Reader",
    type: "BuiltInRole",
    permissions: [
      {
        actions: [],
        notActions: [],
        dataActions: ["Microsoft.ContainerRegistry/registries/repositories/content/read"],
        notDataActions: [],
      },
    ],
  },
  CustomWildcard: {
    id: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/c0c0c0c0-0000-0000-0000-000000000001`,
    guid: "c0c0c0c0-0000-0000-0000-000000000001",
    roleName: "Registry readers",
    type: "CustomRole",
    permissions: [{ actions: ["Microsoft.ContainerRegistry/registries/*/read"], notActions: [], dataActions: [], notDataActions: [] }],
  },
};

let n = 0;
export function assign(role: keyof typeof ROLES, scope: string, over: Partial<RoleAssignment> = {}): RoleAssignment {
  return {
    id: `${scope}/providers/Microsoft.Authorization/roleAssignments/ra-${++n}`,
    scope,
    principalId: KUBELET,
    roleDefinitionId: ROLES[role].id,
    ...over,
  };
}

export function inventory(over: Partial<Inventory> = {}): Inventory {
  return {
    subscriptions: [{ id: `/subscriptions/${SUB}`, subscriptionId: SUB, name: "sub", managementGroups: ["platform", "root"] }],
    clusters: [],
    registries: [],
    roleAssignments: [],
    roleDefinitions: Object.values(ROLES),
    replications: [],
    network: emptyNetworkFacts(),
    failedSubscriptions: [],
    missed: [],
    ...over,
  };
}

export const index = (inv: Inventory) => new InventoryIndex(inv, CLOUDS.AzureCloud);
