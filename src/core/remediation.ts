/**
 * Remediation for every failing reason of the catalog: the Azure CLI commands with the finding's own IDs,
 * plus a Bicep snippet where the resource is usually managed as code. Nothing destructive without
 * saying so in the summary.
 */
import type { Finding, Remediation } from "./findings.js";
import type { InventoryIndex } from "./inventory-index.js";
import { registryMode } from "./permissions.js";
import { nameOf, resourceGroupIdOf } from "./resource-id.js";
import { text } from "./text.js";

export const DOCS_BASE = "docs/rules";

const ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const REPO_READER = "b93aa761-3e63-49ed-ac28-beffa264f7ac";

function rgName(id: string): string {
  const rg = resourceGroupIdOf(id);
  return rg ? nameOf(rg) : "<resource-group>";
}

function sub(id: string): string {
  return /^\/subscriptions\/([^/]+)/i.exec(id)?.[1] ?? "<subscription>";
}

function roleAssignmentBicep(roleGuid: string, principal: string, registryName: string): string {
  return [
    `resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' existing = { name: '${registryName}' }`,
    `resource pull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {`,
    `  name: guid(registry.id, '${principal}', '${roleGuid}')`,
    `  scope: registry`,
    `  properties: {`,
    `    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '${roleGuid}')`,
    `    principalId: '${principal}'`,
    `    principalType: 'ServicePrincipal'`,
    `  }`,
    `}`,
  ].join("\n");
}

/** Remediation for a failing (or actionable unknown) finding; null for passing ones. */
export function remediate(f: Finding, idx: InventoryIndex): Remediation | null {
  if (f.status === "pass" || f.change === "removed" || !f.reason) return null;
  const r = f.registryId ? idx.registries.get(f.registryId) : undefined;
  const c = f.clusterId ? idx.clusters.get(f.clusterId) : undefined;
  const docs = `${DOCS_BASE}/${f.ruleId}.md`;
  const cloudPrefix = idx.cloud.name === "AzureCloud" ? [] : [`az cloud set --name ${idx.cloud.name}`];
  const make = (summary: string, commands: string[], bicep?: string): Remediation => ({
    summary,
    commands: [...cloudPrefix, ...commands],
    docs,
    ...(bicep ? { bicep } : {}),
  });
  const kubelet = c?.kubeletObjectId ?? "<kubelet-object-id>";
  // ABAC repository-permissions registries ignore AcrPull: grant the repository reader role there.
  const abac = registryMode(r?.roleAssignmentMode) === "abac";
  const pullRole = abac ? `"Container Registry Repository Reader"` : "AcrPull";
  const pullRoleName = abac ? "Container Registry Repository Reader" : "AcrPull";
  const pullGuid = abac ? REPO_READER : ACR_PULL;
  const registryId = r?.id ?? f.registryId ?? "<registry-id>";
  const registryName = r?.name ?? nameOf(registryId);
  const clusterName = c?.name ?? nameOf(f.clusterId ?? "");
  const clusterRg = c?.resourceGroup ?? (f.clusterId ? rgName(f.clusterId) : "<resource-group>");
  const pools = ((f.evidence.nodePools as Record<string, unknown>[] | undefined) ?? []).filter((p) => p.status !== "pass");

  switch (f.reason) {
    case "service-principal":
      return make(
        `Move ${clusterName} to managed identities so its pulls use Entra ID roles that can be audited. The kubelet keeps the service principal until the node pools are re-imaged: grant the new kubelet identity its pull role on every registry BEFORE the node image upgrade, or pulls fail with 401.`,
        [
          `az aks update --resource-group ${clusterRg} --name ${clusterName} --enable-managed-identity`,
          `az aks show --resource-group ${clusterRg} --name ${clusterName} --query identityProfile.kubeletidentity.objectId -o tsv`,
          `az role assignment create --assignee-object-id <new-kubelet-object-id> --assignee-principal-type ServicePrincipal --role ${pullRole} --scope <registry-resource-id>`,
          `az aks nodepool upgrade --resource-group ${clusterRg} --cluster-name ${clusterName} --name <nodepool> --node-image-only`,
        ],
      );
    case "kubelet-identity-replaced":
    case "no-pull-role":
      return make(
        f.reason === "kubelet-identity-replaced"
          ? `Grants made to the previous kubelet identity do not apply to ${kubelet}: grant AcrPull again on every registry ${clusterName} pulls from.`
          : `Grant ${clusterName}'s kubelet identity ${pullRoleName} on ${registryName}.`,
        f.reason === "kubelet-identity-replaced"
          ? [
              `az aks update --resource-group ${clusterRg} --name ${clusterName} --attach-acr <registry-resource-id>`,
              `# registries in ABAC repository-permissions mode ignore --attach-acr's AcrPull; for those:`,
              `az role assignment create --assignee-object-id ${kubelet} --assignee-principal-type ServicePrincipal --role "Container Registry Repository Reader" --scope <abac-registry-resource-id>`,
            ]
          : [
              `az role assignment create --assignee-object-id ${kubelet} --assignee-principal-type ServicePrincipal --role ${pullRole} --scope ${registryId}`,
            ],
        f.reason === "no-pull-role" ? roleAssignmentBicep(pullGuid, kubelet, registryName) : undefined,
      );
    case "abac-mode-ignores-role":
      return make(
        `${registryName} uses ABAC repository permissions: grant Container Registry Repository Reader (AcrPull is ignored in this mode).`,
        [
          `az role assignment create --assignee-object-id ${kubelet} --assignee-principal-type ServicePrincipal --role "Container Registry Repository Reader" --scope ${registryId}`,
        ],
        roleAssignmentBicep(REPO_READER, kubelet, registryName),
      );
    case "custom-role-wildcard":
      return make(
        `The custom role reaches pull only through a wildcard, which ACR honours only with ARM private link: list ${abac ? "Microsoft.ContainerRegistry/registries/repositories/content/read" : "Microsoft.ContainerRegistry/registries/pull/read"} literally in the role, or grant ${pullRoleName}.`,
        [
          `az role assignment create --assignee-object-id ${kubelet} --assignee-principal-type ServicePrincipal --role ${pullRole} --scope ${registryId}`,
        ],
      );
    case "write-capable-role": {
      const writers = (f.evidence.writeCapable as { assignmentId?: string; role?: string }[] | undefined) ?? [];
      return make(
        `Grant ${pullRoleName} at the registry first, then remove the write-capable assignment(s) (${writers.map((w) => w.role).join(", ")}): this DELETES role assignments; check nothing else relies on them first.`,
        [
          `az role assignment create --assignee-object-id ${kubelet} --assignee-principal-type ServicePrincipal --role ${pullRole} --scope ${registryId}`,
          ...writers.map((w) => `az role assignment delete --ids ${w.assignmentId}`),
        ],
        roleAssignmentBicep(pullGuid, kubelet, registryName),
      );
    }
    case "broad-scope-only":
      return make(
        `Grant ${pullRoleName} at ${registryName} itself; the broader grant can then be narrowed (removing it is a separate, deliberate step).`,
        [
          `az role assignment create --assignee-object-id ${kubelet} --assignee-principal-type ServicePrincipal --role ${pullRole} --scope ${registryId}`,
        ],
        roleAssignmentBicep(pullGuid, kubelet, registryName),
      );
    case "registry-deleted":
    case "unresolved-name":
      return make(
        `The registry ${f.registryId} does not exist (or cannot be found by that name): fix the cluster's aks-acr-audit-registries tag, or forget the attachment if it is no longer used.`,
        [
          `az acr show --name ${nameOf(f.registryId ?? "").split(".")[0]} --query id`,
          `az tag update --resource-id ${f.clusterId} --operation merge --tags aks-acr-audit-registries=<registries>`,
        ],
      );
    case "subscription-not-readable":
      return make(
        `Give the auditor's identity Reader on subscription ${sub(f.registryId ?? "")} so it can see registry ${nameOf(f.registryId ?? "")} (if the registry lives elsewhere, fix the cluster's declared list).`,
        [
          `az role assignment create --assignee-object-id <auditor-principal-id> --assignee-principal-type ServicePrincipal --role Reader --scope /subscriptions/${sub(f.registryId ?? "")}`,
        ],
      );
    case "public-access-disabled-no-private-endpoint":
      return make(
        `Create a private endpoint for ${registryName} in a VNet the node pools reach (and link the ${idx.cloud.privateLinkZone} zone to their VNets).`,
        [
          `az network private-endpoint create --name pe-${registryName} --resource-group <network-rg> --vnet-name <vnet> --subnet <subnet> --private-connection-resource-id ${registryId} --group-id registry --connection-name ${registryName}`,
          `az network private-dns zone create --resource-group <network-rg> --name ${idx.cloud.privateLinkZone}`,
          `az network private-endpoint dns-zone-group create --resource-group <network-rg> --endpoint-name pe-${registryName} --name default --private-dns-zone ${idx.cloud.privateLinkZone} --zone-name registry`,
          `az network private-dns link vnet create --resource-group <network-rg> --zone-name ${idx.cloud.privateLinkZone} --name link-<node-vnet> --virtual-network <node-vnet-id> --registration-enabled false`,
        ],
      );
    case "private-endpoint-not-peered": {
      const pool = pools[0] ?? {};
      const tried = ((pool.privateEndpointsTried as { vnet?: string }[] | undefined) ?? []).find((t) => t.vnet);
      const vnet = text(pool.vnet, "<node-vnet-id>");
      const remote = tried?.vnet ?? "<private-endpoint-vnet-id>";
      return make(
        `Peer node pool ${text(pool.nodePool)}'s VNet with the VNet of ${registryName}'s private endpoint (both directions), or add a private endpoint in the node VNet.`,
        [
          `az network vnet peering create --name to-${nameOf(remote)} --resource-group ${rgName(vnet)} --vnet-name ${nameOf(vnet)} --remote-vnet ${remote} --allow-vnet-access`,
          `az network vnet peering create --name to-${nameOf(vnet)} --resource-group ${rgName(remote)} --vnet-name ${nameOf(remote)} --remote-vnet ${vnet} --allow-vnet-access`,
        ],
      );
    }
    case "egress-ips-blocked":
    case "some-egress-ips-blocked": {
      const blocked = [...new Set(pools.flatMap((p) => (p.blockedEgress as string[] | undefined) ?? []))];
      return make(
        `Allow the node pools' egress ${blocked.join(", ")} in ${registryName}'s firewall.`,
        blocked.map((ip) => `az acr network-rule add --name ${registryName} --ip-address ${ip}`),
        `// in the registry's properties.networkRuleSet.ipRules:\n${blocked.map((ip) => `{ action: 'Allow', value: '${ip}' }`).join("\n")}`,
      );
    }
    case "egress-unresolvable":
      return make(
        `Egress of ${clusterName} cannot be read from ARM (user-defined routing or unresolved IPs): allow the firewall or NAT's public IPs in ${registryName}, or use a private endpoint.`,
        [`az acr network-rule add --name ${registryName} --ip-address <egress-public-ip-or-cidr>`],
      );
    case "invalid-ip-rule": {
      const invalid = [...new Set(pools.flatMap((p) => (p.invalidIpRules as string[] | undefined) ?? []))];
      return make(
        `Replace the invalid IP rules (${invalid.join(", ")}) of ${registryName} with valid IPv4 addresses or CIDRs; removing a rule changes who can reach the registry.`,
        invalid.map((v) => `az acr network-rule remove --name ${registryName} --ip-address ${v}`),
      );
    }
    case "zone-not-linked": {
      const vnets = [
        ...new Set(
          ((f.evidence.nodePools as Record<string, unknown>[] | undefined) ?? [])
            .filter((p) => p.status === "fail")
            .map((p) => String(p.vnet)),
        ),
      ];
      return make(
        `Link the ${idx.cloud.privateLinkZone} private DNS zone to the node pools' VNet(s) so ${r?.loginServer ?? registryName} resolves to the private endpoint.`,
        vnets.map(
          (v) =>
            `az network private-dns link vnet create --resource-group <dns-zone-rg> --zone-name ${idx.cloud.privateLinkZone} --name link-${nameOf(v)} --virtual-network ${v} --registration-enabled false`,
        ),
        `resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {\n  name: '${idx.cloud.privateLinkZone}/link-${nameOf(vnets[0] ?? "vnet")}'\n  location: 'global'\n  properties: { registrationEnabled: false, virtualNetwork: { id: '${vnets[0] ?? "<vnet-id>"}' } }\n}`,
      );
    }
    case "custom-dns": {
      const custom = ((f.evidence.nodePools as Record<string, unknown>[] | undefined) ?? []).filter((p) => p.reason === "custom-dns");
      const vnets = [...new Set(custom.map((p) => String(p.vnet)))];
      const servers = [...new Set(custom.flatMap((p) => (p.dnsServers as string[] | undefined) ?? []))];
      return make(
        `VNet ${vnets.map((v) => nameOf(v)).join(", ")} uses custom DNS servers (${servers.join(", ")}): make them forward ${idx.cloud.privateLinkZone} to Azure DNS (168.63.129.16) from a VNet linked to the zone, so ${r?.loginServer ?? registryName} resolves to its private endpoint.`,
        [
          ...vnets.map((v) => `az network vnet show --ids ${v} --query dhcpOptions.dnsServers`),
          `az network private-dns link vnet list --resource-group <dns-zone-rg> --zone-name ${idx.cloud.privateLinkZone} -o table`,
          `nslookup ${r?.loginServer ?? `${registryName}.${idx.cloud.registrySuffix}`}   # from a node: must answer the private endpoint's IP`,
        ],
      );
    }
    case "no-replica-in-region": {
      const premium = (r?.skuName ?? "").toLowerCase() === "premium";
      return make(
        `Add a replica of ${registryName} in ${c?.location ?? "the cluster's region"}${premium ? "" : " (geo-replication needs the Premium SKU: upgrading changes the registry's price)"}.`,
        [
          ...(premium ? [] : [`az acr update --name ${registryName} --sku Premium`]),
          `az acr replication create --registry ${registryName} --location ${(c?.location ?? "<cluster-region>").toLowerCase().replace(/\s+/g, "")}`,
        ],
      );
    }
    case "admin-user-enabled":
      return make(`Disable the admin user of ${registryName} (anything still logging in with it will stop working).`, [
        `az acr update --name ${registryName} --admin-enabled false`,
      ]);
    case "anonymous-pull-enabled":
      return make(`Disable anonymous pull on ${registryName} (clients without credentials will stop pulling).`, [
        `az acr update --name ${registryName} --anonymous-pull-enabled false`,
      ]);
    case "public-unrestricted":
      return make(
        `Restrict ${registryName}'s network access: allow the networks that need it first, then deny by default (IP rules need the Premium SKU${(r?.skuName ?? "").toLowerCase() === "premium" ? "" : `; ${registryName} is ${r?.skuName ?? "not Premium"}`}), or disable public access behind private endpoints. Check every client first: clients not allowed lose access.`,
        [
          `az acr network-rule add --name ${registryName} --ip-address <allowed-cidr>`,
          `az acr update --name ${registryName} --default-action Deny`,
        ],
      );
    default:
      return null;
  }
}
