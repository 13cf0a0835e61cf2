/**
 * App settings. `loadConfig(env)` validates every setting at once and throws one ConfigError that lists
 * every problem. `SETTINGS` is the single list of what the app reads (local.settings.sample.json and the
 * Bicep app settings are checked against it by tests).
 */
import { cloudByName, CLOUD_NAMES, type Cloud } from "./core/clouds.js";
import type { AuditScope } from "./core/ports.js";

export interface SettingSpec {
  name: string;
  description: string;
  /** Value for local.settings.sample.json (safe, local). */
  sample: string;
  required: boolean;
}

export const SETTINGS: readonly SettingSpec[] = [
  {
    name: "AUDIT_SCHEDULE",
    description:
      "NCRONTAB schedule of the audit timer (six fields). The timer reads it as %AUDIT_SCHEDULE%, so a deployment must set it: the Bicep template does (every 6 hours unless told otherwise).",
    sample: "0 0 */6 * * *",
    required: false,
  },
  {
    name: "AUDIT_MANAGEMENT_GROUP",
    description: "Audit only this management group (ID); empty: every readable subscription.",
    sample: "",
    required: false,
  },
  {
    name: "AUDIT_TENANT_ARM_PRIVATE_LINK",
    description: "true when the tenant uses Azure Resource Manager private link (custom-role wildcards then grant pull).",
    sample: "false",
    required: false,
  },
  { name: "AZURE_CLOUD", description: "AzureCloud, AzureChinaCloud or AzureUSGovernment.", sample: "AzureCloud", required: false },
  {
    name: "AZURE_CLIENT_ID",
    description: "Client ID of the user-assigned managed identity (empty: system-assigned or developer credential).",
    sample: "",
    required: false,
  },
  { name: "RETENTION_DAYS", description: "Days of run history kept in Table Storage.", sample: "90", required: false },
  {
    name: "AUDIT_TABLE_ENDPOINT",
    description: "Table Storage endpoint used with the managed identity (https://<account>.table.core.windows.net).",
    sample: "",
    required: false,
  },
  {
    name: "AUDIT_STORAGE_CONNECTION_STRING",
    description: "Local development only: a Table Storage connection string (Azurite). Ignored when AUDIT_TABLE_ENDPOINT is set.",
    sample: "UseDevelopmentStorage=true",
    required: false,
  },
  { name: "AUDIT_TABLE_PREFIX", description: "Prefix of the table names.", sample: "acraudit", required: false },
  {
    name: "AUDIT_ESTATE_FILE",
    description: "Local development only: audit this estate file through the ARM simulator instead of Azure.",
    sample: "samples/contoso.estate.json",
    required: false,
  },
  {
    name: "AUDIT_API_TOKEN_SECRET",
    description:
      "Key (at least 32 characters) that signs the API's nextLink continuation tokens; empty: a built-in key (tokens still cannot be forged into another store's data).",
    sample: "",
    required: false,
  },
  {
    name: "APPLICATIONINSIGHTS_CONNECTION_STRING",
    description: "Application Insights connection string; telemetry is off when empty.",
    sample: "",
    required: false,
  },
  {
    name: "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    description: "Authorization=AAD;ClientId=<id> for Entra ID authentication to Application Insights (local auth disabled).",
    sample: "",
    required: false,
  },
];

export interface AppConfig {
  schedule: string;
  scope: AuditScope;
  armPrivateLink: boolean;
  cloud: Cloud;
  managedIdentityClientId?: string;
  retentionDays: number;
  tableEndpoint?: string;
  storageConnectionString?: string;
  tablePrefix: string;
  estateFile?: string;
  appInsightsConnectionString?: string;
  appInsightsAuthenticationString?: string;
  /** Signs API continuation tokens (AUDIT_API_TOKEN_SECRET); never logged. */
  apiTokenSecret?: string;
}

export class ConfigError extends Error {
  readonly code = "ConfigInvalid";
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join("; ")}`);
  }
}

const NCRONTAB = /^\s*(\S+\s+){5}\S+\s*$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };

  const schedule = get("AUDIT_SCHEDULE") ?? "0 0 */6 * * *";
  // NCRONTAB only: Flex Consumption (what infra/ deploys) does not run TimeSpan schedules.
  if (!NCRONTAB.test(schedule)) {
    problems.push(`AUDIT_SCHEDULE: '${schedule}' is not an NCRONTAB expression of six fields (e.g. '0 0 */6 * * *')`);
  }

  const mg = get("AUDIT_MANAGEMENT_GROUP");
  if (mg !== undefined && !/^[A-Za-z0-9._()-]{1,90}$/.test(mg)) {
    problems.push(`AUDIT_MANAGEMENT_GROUP: '${mg}' is not a management group ID (letters, digits, . _ - ( ), at most 90)`);
  }

  const plRaw = get("AUDIT_TENANT_ARM_PRIVATE_LINK") ?? "false";
  if (!/^(true|false)$/i.test(plRaw)) problems.push(`AUDIT_TENANT_ARM_PRIVATE_LINK: '${plRaw}' must be true or false`);

  const cloudRaw = get("AZURE_CLOUD") ?? "AzureCloud";
  const cloud = cloudByName(cloudRaw);
  if (!cloud) problems.push(`AZURE_CLOUD: '${cloudRaw}' is not one of ${CLOUD_NAMES.join(", ")}`);

  const clientId = get("AZURE_CLIENT_ID");
  if (clientId !== undefined && !GUID.test(clientId)) problems.push(`AZURE_CLIENT_ID: '${clientId}' is not a GUID`);

  const retRaw = get("RETENTION_DAYS") ?? "90";
  const retentionDays = Number(retRaw);
  if (!/^\d+$/.test(retRaw) || retentionDays < 1 || retentionDays > 3650) {
    problems.push(`RETENTION_DAYS: '${retRaw}' must be a whole number of days from 1 to 3650`);
  }

  const tableEndpoint = get("AUDIT_TABLE_ENDPOINT");
  if (tableEndpoint !== undefined) {
    let ok: boolean;
    try {
      const u = new URL(tableEndpoint);
      ok = u.protocol === "https:" || (u.protocol === "http:" && /^(127\.|localhost$)/.test(u.hostname));
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`AUDIT_TABLE_ENDPOINT: '${tableEndpoint}' must be an https URL (http only on loopback)`);
  }
  const storageConnectionString = get("AUDIT_STORAGE_CONNECTION_STRING");
  if (storageConnectionString !== undefined && !/(UseDevelopmentStorage=true|AccountName=|TableEndpoint=)/i.test(storageConnectionString)) {
    problems.push("AUDIT_STORAGE_CONNECTION_STRING: not a storage connection string");
  }

  const tablePrefix = get("AUDIT_TABLE_PREFIX") ?? "acraudit";
  if (!/^[A-Za-z][A-Za-z0-9]{0,39}$/.test(tablePrefix)) {
    problems.push(`AUDIT_TABLE_PREFIX: '${tablePrefix}' must start with a letter and hold at most 40 letters and digits`);
  }

  const ai = get("APPLICATIONINSIGHTS_CONNECTION_STRING");
  if (ai !== undefined && !/InstrumentationKey=|IngestionEndpoint=/i.test(ai)) {
    problems.push("APPLICATIONINSIGHTS_CONNECTION_STRING: not an Application Insights connection string");
  }
  const aiAuth = get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING");
  if (aiAuth !== undefined && !/^Authorization=AAD(;ClientId=[0-9a-f-]{36})?$/i.test(aiAuth)) {
    problems.push("APPLICATIONINSIGHTS_AUTHENTICATION_STRING: must be 'Authorization=AAD' optionally followed by ';ClientId=<guid>'");
  }

  const apiTokenSecret = get("AUDIT_API_TOKEN_SECRET");
  if (apiTokenSecret !== undefined && apiTokenSecret.length < 32) {
    problems.push(`AUDIT_API_TOKEN_SECRET: must be at least 32 characters (it has ${apiTokenSecret.length})`);
  }

  if (problems.length) throw new ConfigError(problems);
  return {
    schedule,
    scope: mg ? { kind: "managementGroup", managementGroup: mg } : { kind: "tenant" },
    armPrivateLink: /^true$/i.test(plRaw),
    cloud: cloud!,
    managedIdentityClientId: clientId,
    retentionDays,
    tableEndpoint,
    storageConnectionString,
    tablePrefix,
    estateFile: get("AUDIT_ESTATE_FILE"),
    appInsightsConnectionString: ai,
    appInsightsAuthenticationString: aiAuth,
    apiTokenSecret,
  };
}
