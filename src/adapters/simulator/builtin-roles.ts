/**
 * Built-in role definitions the simulator serves when an estate does not carry its own copy. Names, GUIDs,
 * descriptions and permissions are those of Azure's built-in roles reference (learn.microsoft.com,
 * "Azure built-in roles" - Containers, General and Privileged categories; the repository roles are the
 * 2025 preview roles for ABAC-mode registries).
 */

export interface RolePermission {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface BuiltinRole {
  /** Role definition GUID (lower-case). */
  name: string;
  roleName: string;
  description: string;
  type: "BuiltInRole";
  assignableScopes: string[];
  permissions: RolePermission[];
}

function role(name: string, roleName: string, description: string, p: Partial<RolePermission>): BuiltinRole {
  return {
    name,
    roleName,
    description,
    type: "BuiltInRole",
    assignableScopes: ["/"],
    permissions: [
      {
        actions: p.actions ?? [],
        notActions: p.notActions ?? [],
        dataActions: p.dataActions ?? [],
        notDataActions: p.notDataActions ?? [],
      },
    ],
  };
}

const ACR = "Microsoft.ContainerRegistry/registries";

export const BUILTIN_ROLES: readonly BuiltinRole[] = Object.freeze([
  role("7f951dda-4ed3-4680-a7ca-43fe172d538d", "AcrPull", "acr pull", { actions: [`${ACR}/pull/read`] }),
  role("8311e382-0749-4cb8-b61a-304f252e45ec", "AcrPush", "acr push", {
    actions: [`${ACR}/pull/read`, `${ACR}/push/write`],
  }),
  role("c2f4ef07-c644-48eb-af81-4b1b4947fb11", "AcrDelete", "acr delete", { actions: [`${ACR}/artifacts/delete`] }),
  role("6cef56e8-d556-48e5-a04f-b8e64114680f", "AcrImageSigner", "acr image signer", {
    actions: [`${ACR}/sign/write`],
    dataActions: [`${ACR}/trustedCollections/write`],
  }),
  role("cdda3590-29a3-44f6-95f2-9f980659eb04", "AcrQuarantineReader", "acr quarantine data reader", {
    actions: [`${ACR}/quarantine/read`],
    dataActions: [`${ACR}/quarantinedArtifacts/read`],
  }),
  role("c8d4ff99-41c3-41a8-9f60-21dfdad59608", "AcrQuarantineWriter", "acr quarantine data writer", {
    actions: [`${ACR}/quarantine/read`, `${ACR}/quarantine/write`],
    dataActions: [`${ACR}/quarantinedArtifacts/read`, `${ACR}/quarantinedArtifacts/write`],
  }),
  role("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", "View all resources, but does not allow you to make any changes.", {
    actions: ["*/read"],
  }),
  role(
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Contributor",
    "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
    {
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
  ),
  role(
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Owner",
    "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    { actions: ["*"] },
  ),
  role(
    "b93aa761-3e63-49ed-ac28-beffa264f7ac",
    "Container Registry Repository Reader",
    "Allows for read access to Azure Container Registry repositories, but excluding catalog listing. This role is in preview and subject to change.",
    { dataActions: [`${ACR}/repositories/metadata/read`, `${ACR}/repositories/content/read`] },
  ),
  role(
    "2a1e307c-b015-4ebd-883e-5b7698a07328",
    "Container Registry Repository Writer",
    "Allows for read and write access to Azure Container Registry repositories, but excluding catalog listing. This role is in preview and subject to change.",
    {
      dataActions: [
        `${ACR}/repositories/metadata/read`,
        `${ACR}/repositories/content/read`,
        `${ACR}/repositories/metadata/write`,
        `${ACR}/repositories/content/write`,
      ],
    },
  ),
  role(
    "2efddaa5-3f1f-4df3-97df-af3f13818f4c",
    "Container Registry Repository Contributor",
    "Allows for read, write, and delete access to Azure Container Registry repositories, but excluding catalog listing. This role is in preview and subject to change.",
    {
      dataActions: [
        `${ACR}/repositories/metadata/read`,
        `${ACR}/repositories/content/read`,
        `${ACR}/repositories/metadata/write`,
        `${ACR}/repositories/content/write`,
        `${ACR}/repositories/metadata/delete`,
        `${ACR}/repositories/content/delete`,
      ],
    },
  ),
  role(
    "bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7",
    "Container Registry Repository Catalog Lister",
    "Allows for listing all repositories in an Azure Container Registry. This role is in preview and subject to change.",
    { dataActions: [`${ACR}/catalog/read`] },
  ),
]);

const BY_GUID = new Map(BUILTIN_ROLES.map((r) => [r.name, r]));

/** The built-in role with this GUID (any case), or undefined. */
export function findBuiltinRole(guid: string): BuiltinRole | undefined {
  return BY_GUID.get(guid.trim().toLowerCase());
}

/** A built-in role as a Resource Graph `authorizationresources` row (what an exported estate would hold). */
export function builtinRoleRow(r: BuiltinRole): {
  id: string;
  name: string;
  type: string;
  properties: Record<string, unknown>;
} {
  return {
    id: `/providers/Microsoft.Authorization/RoleDefinitions/${r.name}`,
    name: r.name,
    type: "microsoft.authorization/roledefinitions",
    properties: {
      roleName: r.roleName,
      type: r.type,
      description: r.description,
      permissions: r.permissions.map((p) => ({ ...p })),
      assignableScopes: [...r.assignableScopes],
    },
  };
}
