/**
 * A synthetic tenant for the simulator tests, and the real SDK clients wired to a simulator.
 *
 *   root
 *   ├── corp ── corp-prod ── SUB_A (readable)
 *   │     └── SUB_C (readable)
 *   └── online ── SUB_B (readable)
 *   SUB_X: named in rows and IDs, but not readable (no subscription row)
 */
import { ResourceGraphClient } from "@azure/arm-resourcegraph";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import {
  ArmSimulator,
  parseEstate,
  simulatorCredential,
  type Estate,
  type Row,
  type SimulationSettings,
} from "../../../src/adapters/simulator/index.js";

export const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const SUB_A = "aaaaaaaa-0000-4000-8000-000000000001";
export const SUB_B = "bbbbbbbb-0000-4000-8000-000000000002";
export const SUB_C = "cccccccc-0000-4000-8000-000000000003";
export const SUB_X = "eeeeeeee-0000-4000-8000-000000000009";
export const KUBELET = "2c1274c4-ac91-53f6-85ed-e1fb1fbce4a3";
export const OTHER_PRINCIPAL = "9f1b0c55-1111-4222-8333-444455556666";
export const CUSTOM_ROLE = "0f0f0f0f-1234-4abc-8def-000000000042";
export const ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
export const REPO_READER = "b93aa761-3e63-49ed-ac28-beffa264f7ac";

export const RETRY = { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 50 };
export const ENDPOINT = "https://management.azure.com";

const CHAINS: Record<string, string[]> = {
  [SUB_A]: ["corp-prod", "corp", "root"],
  [SUB_B]: ["online", "root"],
  [SUB_C]: ["corp", "root"],
};

function base(id: string, type: string, sub: string, rg: string, extra: Record<string, unknown> = {}): Row {
  return {
    id,
    name: id.split("/").pop()!,
    type,
    tenantId: TENANT,
    kind: "",
    location: "westeurope",
    resourceGroup: rg,
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

export function registryId(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;
}

export function registry(
  sub: string,
  rg: string,
  name: string,
  props: Record<string, unknown> = {},
  tags: Record<string, string> = {},
): Row {
  return base(registryId(sub, rg, name), "microsoft.containerregistry/registries", sub, rg, {
    sku: { name: "Premium", tier: "Premium" },
    tags,
    properties: {
      loginServer: `${name}.azurecr.io`,
      adminUserEnabled: false,
      networkRuleSet: { defaultAction: "Allow", ipRules: [] },
      publicNetworkAccess: "Enabled",
      ...props,
    },
  });
}

function cluster(sub: string, rg: string, name: string): Row {
  return base(
    `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/${name}`,
    "microsoft.containerservice/managedclusters",
    sub,
    rg,
    {
      properties: { identityProfile: { kubeletidentity: { objectId: KUBELET } }, agentPoolProfiles: [{ name: "system", count: 3 }] },
    },
  );
}

function vnetLink(sub: string, vnetId: string, name: string): Row {
  return base(
    `/subscriptions/${sub}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io/virtualNetworkLinks/${name}`,
    "microsoft.network/privatednszones/virtualnetworklinks",
    sub,
    "rg-dns",
    { location: "global", properties: { virtualNetwork: { id: vnetId }, registrationEnabled: false } },
  );
}

function subscriptionRow(sub: string, name: string): Row {
  return {
    id: `/subscriptions/${sub}`,
    name,
    type: "microsoft.resources/subscriptions",
    tenantId: TENANT,
    subscriptionId: sub,
    resourceGroup: "",
    properties: { state: "Enabled", managementGroupAncestorsChain: CHAINS[sub].map((n) => ({ name: n, displayName: n })) },
  };
}

function mgRow(name: string, parent?: string): Row {
  return {
    id: `/providers/Microsoft.Management/managementGroups/${name}`,
    name,
    type: "microsoft.management/managementgroups",
    tenantId: TENANT,
    subscriptionId: "",
    resourceGroup: "",
    properties: {
      displayName: name,
      details: parent ? { parent: { name: parent, id: `/providers/Microsoft.Management/managementGroups/${parent}` } } : {},
    },
  };
}

export function assignment(scope: string, guid: string, principal: string, role: string, extra: Record<string, unknown> = {}): Row {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1] ?? "";
  const prefix = scope === "/" ? "" : scope;
  return {
    id: `${prefix}/providers/Microsoft.Authorization/roleAssignments/${guid}`,
    name: guid,
    type: "microsoft.authorization/roleassignments",
    tenantId: TENANT,
    subscriptionId: sub,
    resourceGroup: /resourceGroups\/([^/]+)/i.exec(scope)?.[1] ?? "",
    properties: {
      roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${role}`,
      principalId: principal,
      principalType: "ServicePrincipal",
      scope,
      ...extra,
    },
  };
}

export const REG_A1 = registryId(SUB_A, "rg-acr", "corpacr1");
export const VNET_A = `/subscriptions/${SUB_A}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-a`;
export const VNET_B = `/subscriptions/${SUB_B}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-b`;

/** Assignment GUIDs by where they sit. */
export const RA = {
  registryA1: "10000000-0000-4000-8000-000000000001",
  rgB: "10000000-0000-4000-8000-000000000002",
  subC: "10000000-0000-4000-8000-000000000003",
  mgCorp: "10000000-0000-4000-8000-000000000004",
  mgOnline: "10000000-0000-4000-8000-000000000005",
  root: "10000000-0000-4000-8000-000000000006",
  unreadableX: "10000000-0000-4000-8000-000000000007",
  otherPrincipalA: "10000000-0000-4000-8000-000000000008",
  mgCorpProd: "10000000-0000-4000-8000-000000000009",
};

export function tenantDocument(): Record<string, unknown> {
  return {
    version: 1,
    description: "synthetic tenant for the simulator tests",
    tenantId: TENANT,
    cloud: "AzureCloud",
    tables: {
      resources: [
        registry(SUB_A, "rg-acr", "corpacr1"),
        registry(
          SUB_A,
          "rg-acr",
          "corpacr2",
          { networkRuleSet: { defaultAction: "Deny", ipRules: [{ action: "Allow", value: "20.1.2.3" }] } },
          { env: "prod" },
        ),
        cluster(SUB_A, "rg-aks", "aks-corp"),
        registry(SUB_B, "rg-acr", "onlineacr", { adminUserEnabled: true }, { env: "dev", team: "web" }),
        cluster(SUB_B, "rg-aks", "aks-online"),
        registry(SUB_C, "RG-Shared", "sharedacr", { anonymousPullEnabled: true }),
        registry(SUB_X, "rg-acr", "hiddenacr"),
        vnetLink(SUB_A, VNET_A, "link-a"),
        vnetLink(SUB_A, VNET_B.toUpperCase(), "link-b"),
      ],
      resourcecontainers: [
        subscriptionRow(SUB_A, "corp-prod-sub"),
        subscriptionRow(SUB_B, "online-sub"),
        subscriptionRow(SUB_C, "corp-shared-sub"),
        base(`/subscriptions/${SUB_A}/resourceGroups/rg-acr`, "microsoft.resources/subscriptions/resourcegroups", SUB_A, "rg-acr"),
        mgRow("root"),
        mgRow("corp", "root"),
        mgRow("corp-prod", "corp"),
        mgRow("online", "root"),
      ],
      authorizationresources: [
        assignment(REG_A1, RA.registryA1, KUBELET, ACR_PULL),
        assignment(`/subscriptions/${SUB_B}/resourceGroups/rg-acr`, RA.rgB, KUBELET, REPO_READER, {
          condition: "@Resource[x] == 'y'",
          conditionVersion: "2.0",
        }),
        assignment(`/subscriptions/${SUB_C}`, RA.subC, KUBELET, CUSTOM_ROLE),
        assignment("/providers/Microsoft.Management/managementGroups/corp", RA.mgCorp, KUBELET, ACR_PULL),
        assignment("/providers/Microsoft.Management/managementGroups/online", RA.mgOnline, KUBELET, ACR_PULL),
        assignment("/providers/Microsoft.Management/managementGroups/corp-prod", RA.mgCorpProd, OTHER_PRINCIPAL, ACR_PULL),
        assignment("/", RA.root, KUBELET, "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
        assignment(`/subscriptions/${SUB_X}`, RA.unreadableX, KUBELET, ACR_PULL),
        assignment(`/subscriptions/${SUB_A}/resourceGroups/rg-acr`, RA.otherPrincipalA, OTHER_PRINCIPAL, ACR_PULL),
        {
          id: `/providers/Microsoft.Authorization/RoleDefinitions/${REPO_READER}`,
          name: REPO_READER,
          type: "microsoft.authorization/roledefinitions",
          tenantId: "",
          subscriptionId: "",
          resourceGroup: "",
          properties: {
            roleName: "Container Registry Repository Reader",
            type: "BuiltInRole",
            description: "estate copy",
            permissions: [
              {
                actions: [],
                notActions: [],
                dataActions: ["Microsoft.ContainerRegistry/registries/repositories/content/read"],
                notDataActions: [],
              },
            ],
            assignableScopes: ["/"],
          },
        },
        {
          id: `/subscriptions/${SUB_C}/providers/Microsoft.Authorization/roleDefinitions/${CUSTOM_ROLE}`,
          name: CUSTOM_ROLE,
          type: "microsoft.authorization/roledefinitions",
          tenantId: TENANT,
          subscriptionId: SUB_C,
          resourceGroup: "",
          properties: {
            roleName: "Registry Puller (custom)",
            type: "CustomRole",
            description: "pull only",
            permissions: [
              { actions: ["Microsoft.ContainerRegistry/registries/pull/read"], notActions: [], dataActions: [], notDataActions: [] },
            ],
            assignableScopes: [`/subscriptions/${SUB_C}`],
          },
        },
      ],
    },
  };
}

export function tenantEstate(simulation?: Partial<SimulationSettings>): Estate {
  const doc = tenantDocument();
  if (simulation) doc.simulation = simulation;
  return parseEstate(doc, "tenant.json");
}

export function simulator(simulation?: Partial<SimulationSettings>, overrides?: Partial<SimulationSettings>): ArmSimulator {
  return new ArmSimulator(tenantEstate(simulation), overrides);
}

export function rgClient(sim: ArmSimulator, endpoint = ENDPOINT, retryOptions = RETRY): ResourceGraphClient {
  return new ResourceGraphClient(simulatorCredential(), { httpClient: sim, endpoint, retryOptions });
}

export function authClient(
  sim: ArmSimulator,
  subscriptionId = SUB_A,
  endpoint = ENDPOINT,
  retryOptions = RETRY,
): AuthorizationManagementClient {
  return new AuthorizationManagementClient(simulatorCredential(), subscriptionId, { httpClient: sim, endpoint, retryOptions });
}

/** Runs a query through the real SDK client and returns the rows of every page. */
export async function queryAll(
  client: ResourceGraphClient,
  query: string,
  scope: { subscriptions?: string[]; managementGroups?: string[] } = {},
  options: Record<string, unknown> = {},
): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  let skipToken: string | undefined;
  do {
    const res = await client.resources({ ...scope, query, options: { resultFormat: "objectArray", ...options, skipToken } });
    rows.push(...(res.data as Record<string, unknown>[]));
    skipToken = res.skipToken;
  } while (skipToken);
  return rows;
}
