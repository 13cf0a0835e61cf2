/** Azure clouds: the endpoints and names that differ between them. */

export type CloudName = "AzureCloud" | "AzureChinaCloud" | "AzureUSGovernment";

export interface Cloud {
  name: CloudName;
  /** ARM endpoint, e.g. `https://management.azure.com`. */
  armEndpoint: string;
  /** Token audience / scope for ARM. */
  armAudience: string;
  /** Microsoft Entra authority host. */
  authorityHost: string;
  /** Registry login-server suffix, e.g. `azurecr.io`. */
  registrySuffix: string;
  /** Private link DNS zone of registries, e.g. `privatelink.azurecr.io`. */
  privateLinkZone: string;
  /** Table storage endpoint suffix, e.g. `core.windows.net`. */
  storageSuffix: string;
}

export const CLOUDS: Record<CloudName, Cloud> = {
  AzureCloud: {
    name: "AzureCloud",
    armEndpoint: "https://management.azure.com",
    armAudience: "https://management.azure.com/.default",
    authorityHost: "https://login.microsoftonline.com",
    registrySuffix: "azurecr.io",
    privateLinkZone: "privatelink.azurecr.io",
    storageSuffix: "core.windows.net",
  },
  AzureChinaCloud: {
    name: "AzureChinaCloud",
    armEndpoint: "https://management.chinacloudapi.cn",
    armAudience: "https://management.chinacloudapi.cn/.default",
    authorityHost: "https://login.chinacloudapi.cn",
    registrySuffix: "azurecr.cn",
    privateLinkZone: "privatelink.azurecr.cn",
    storageSuffix: "core.chinacloudapi.cn",
  },
  AzureUSGovernment: {
    name: "AzureUSGovernment",
    armEndpoint: "https://management.usgovcloudapi.net",
    armAudience: "https://management.usgovcloudapi.net/.default",
    authorityHost: "https://login.microsoftonline.us",
    registrySuffix: "azurecr.us",
    privateLinkZone: "privatelink.azurecr.us",
    storageSuffix: "core.usgovcloudapi.net",
  },
};

export const CLOUD_NAMES = Object.keys(CLOUDS) as CloudName[];

/** Case-insensitive lookup of a cloud name; undefined when unknown. */
export function cloudByName(name: string | undefined): Cloud | undefined {
  if (!name) return undefined;
  const k = CLOUD_NAMES.find((c) => c.toLowerCase() === name.trim().toLowerCase());
  return k ? CLOUDS[k] : undefined;
}
