/**
 * Pure checks over compiled ARM templates (the JSON `bicep build` writes). They walk nested module
 * deployments, so one call on main.json covers every module. Each check returns a list of problems
 * (empty: fine) so tests can assert both that the real templates pass and that mutated ones fail.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Json = any;

export interface ArmResource {
  type: string;
  name: string;
  apiVersion?: string;
  scope?: string;
  existing?: boolean;
  condition?: unknown;
  copy?: { name: string; count: unknown };
  properties?: Json;
  [key: string]: Json;
}

export interface ArmTemplate {
  $schema: string;
  resources: ArmResource[] | Record<string, ArmResource>;
  variables?: Record<string, Json>;
  parameters?: Record<string, { type: string; defaultValue?: Json; metadata?: { description?: string } }>;
  outputs?: Record<string, { type: string; value: Json; metadata?: { description?: string } }>;
  metadata?: Json;
}

export type DeploymentScope = "resourceGroup" | "subscription" | "managementGroup" | "tenant";

/** A resource with the template that declares it and where that template is deployed. */
export interface Located {
  resource: ArmResource;
  /** Symbolic name (languageVersion 2.0 templates), else undefined. */
  symbol?: string;
  template: ArmTemplate;
  scope: DeploymentScope;
  /** Symbolic names (or names) of the module deployments above this resource. */
  path: string[];
  /** The resource, or a module deployment above it, is in a copy loop. */
  inCopy: boolean;
  /** The module deployment that holds this template (undefined at the top). */
  deployment?: ArmResource;
}

/** Official built-in role definition IDs, written down here independently of infra/modules/roles.bicep. */
export const BUILT_IN_ROLES: Readonly<Record<string, string>> = {
  "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
  "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
  "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
  "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
  "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
};

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

export function templateScope(t: ArmTemplate): DeploymentScope {
  const s = t.$schema.toLowerCase();
  if (s.includes("managementgroupdeploymenttemplate")) return "managementGroup";
  if (s.includes("subscriptiondeploymenttemplate")) return "subscription";
  if (s.includes("tenantdeploymenttemplate")) return "tenant";
  return "resourceGroup";
}

function resourceEntries(t: ArmTemplate): Array<[string | undefined, ArmResource]> {
  return Array.isArray(t.resources) ? t.resources.map((r) => [undefined, r]) : Object.entries(t.resources);
}

/** Every resource of the template and of the module templates nested in it, depth first. */
export function walk(t: ArmTemplate, path: string[] = [], inCopy = false, deployment?: ArmResource): Located[] {
  const out: Located[] = [];
  const scope = templateScope(t);
  for (const [symbol, resource] of resourceEntries(t)) {
    const looped = inCopy || resource.copy !== undefined;
    out.push({ resource, symbol, template: t, scope, path, inCopy: looped, deployment });
    const nested =
      resource.type === "Microsoft.Resources/deployments" ? (resource.properties?.template as ArmTemplate | undefined) : undefined;
    if (nested) out.push(...walk(nested, [...path, symbol ?? resource.name], looped, resource));
  }
  return out;
}

/** Every template: the top one and each nested module template. */
export function templates(t: ArmTemplate): Array<{ template: ArmTemplate; path: string[] }> {
  const out = [{ template: t, path: [] as string[] }];
  for (const l of walk(t)) {
    const nested =
      l.resource.type === "Microsoft.Resources/deployments" ? (l.resource.properties?.template as ArmTemplate | undefined) : undefined;
    if (nested) out.push({ template: nested, path: [...l.path, l.symbol ?? l.resource.name] });
  }
  return out;
}

export function ofType(t: ArmTemplate, type: string, opts: { includeExisting?: boolean } = {}): Located[] {
  return walk(t).filter((l) => l.resource.type.toLowerCase() === type.toLowerCase() && (opts.includeExisting || !l.resource.existing));
}

/** The deployed ARM name of a child resource ends with this segment (`site/appsettings` or a `[format(...)]`). */
export function nameEndsWith(r: ArmResource, segment: string): boolean {
  const n = r.name;
  return n === segment || n.endsWith(`/${segment}`) || n.endsWith(`'${segment}')]`) || n.includes(`, '${segment}')`);
}

/** Case-insensitive property read (ARM property names are case-insensitive; App Insights uses DisableLocalAuth). */
export function prop(obj: Json, name: string): Json {
  if (obj == null || typeof obj !== "object") return undefined;
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
}

/** Resolves `[variables('x')]`, `[variables('x')['k']]` and `[variables('x').k]` against the declaring template. */
export function resolveVariable(expr: Json, t: ArmTemplate): Json {
  if (typeof expr !== "string") return expr;
  const m = /^\[variables\('([^']+)'\)(?:\['([^']+)'\]|\.(\w+))?\]$/.exec(expr);
  if (!m) return expr;
  const v = t.variables?.[m[1]];
  const key = m[2] ?? m[3];
  return key === undefined ? v : v?.[key];
}

// ---------------------------------------------------------------------------------------------------
// Keyless

/**
 * Shared keys, SAS, key-based connection strings and local authentication: none of it may appear. Covers
 * storage accounts, Application Insights, Log Analytics, the Functions host storage connection, the
 * deployment storage authentication and any list*() call (listKeys, listAccountSas ...).
 */
export function keylessViolations(t: ArmTemplate): string[] {
  const problems: string[] = [];
  const text = JSON.stringify(t);
  for (const m of text.matchAll(/\blist[A-Z][A-Za-z]*\(/g)) problems.push(`calls ${m[0]}...) (key or secret retrieval)`);
  if (/AccountKey=/i.test(text)) problems.push("contains a connection string with AccountKey=");
  if (/SharedAccessSignature=|[?&]sig=/i.test(text)) problems.push("contains a shared access signature");
  if (/InstrumentationKey=/i.test(text))
    problems.push("contains a literal InstrumentationKey= (use the component's connection string with Entra ID auth)");

  for (const { resource: r, path } of ofType(t, "Microsoft.Storage/storageAccounts")) {
    const p = r.properties ?? {};
    const where = `storage account ${r.name} (${path.join("/") || "top"})`;
    if (prop(p, "allowSharedKeyAccess") !== false) problems.push(`${where}: allowSharedKeyAccess is not false`);
    if (prop(p, "allowBlobPublicAccess") !== false) problems.push(`${where}: allowBlobPublicAccess is not false`);
    if (prop(p, "minimumTlsVersion") !== "TLS1_2") problems.push(`${where}: minimumTlsVersion is not TLS1_2`);
  }
  for (const { resource: r } of ofType(t, "Microsoft.Insights/components")) {
    if (prop(r.properties, "DisableLocalAuth") !== true) problems.push(`Application Insights ${r.name}: DisableLocalAuth is not true`);
  }
  for (const { resource: r } of ofType(t, "Microsoft.OperationalInsights/workspaces")) {
    if (prop(prop(r.properties, "features"), "disableLocalAuth") !== true)
      problems.push(`Log Analytics ${r.name}: features.disableLocalAuth is not true`);
  }
  for (const { resource: r } of ofType(t, "Microsoft.Web/sites/config").filter((l) => nameEndsWith(l.resource, "appsettings"))) {
    const settings = (r.properties ?? {}) as Record<string, Json>;
    for (const [k, v] of Object.entries(settings)) {
      if (k.toLowerCase() === "azurewebjobsstorage")
        problems.push(`app setting ${k}: a connection string instead of the identity-based AzureWebJobsStorage__* settings`);
      if (/CONNECTIONSTRING/i.test(k) && k !== "APPLICATIONINSIGHTS_CONNECTION_STRING")
        problems.push(`app setting ${k}: connection strings are not allowed`);
      if (typeof v === "string" && /AccountKey|SharedAccessSignature/i.test(v)) problems.push(`app setting ${k}: holds a key`);
    }
    if (settings["AzureWebJobsStorage__credential"] !== "managedidentity")
      problems.push("app setting AzureWebJobsStorage__credential is not 'managedidentity'");
    if (!("AzureWebJobsStorage__accountName" in settings)) problems.push("app setting AzureWebJobsStorage__accountName is missing");
    if (!("AzureWebJobsStorage__clientId" in settings))
      problems.push("app setting AzureWebJobsStorage__clientId is missing (user-assigned identity)");
    if (!/^\[?.*Authorization=AAD;ClientId=/.test(String(settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] ?? ""))) {
      problems.push("app setting APPLICATIONINSIGHTS_AUTHENTICATION_STRING is not Authorization=AAD;ClientId=<identity>");
    }
  }
  for (const { resource: r } of ofType(t, "Microsoft.Web/sites")) {
    const auth = r.properties?.functionAppConfig?.deployment?.storage?.authentication;
    if (auth && !/^(UserAssignedIdentity|SystemAssignedIdentity)$/.test(String(auth.type))) {
      problems.push(`Function App ${r.name}: deployment storage authentication is ${String(auth.type)}, not an identity`);
    }
  }
  for (const { resource: r } of ofType(t, "Microsoft.Web/sites/config").filter((l) => nameEndsWith(l.resource, "authsettingsV2"))) {
    const reg = r.properties?.identityProviders?.azureActiveDirectory?.registration ?? {};
    if (reg.clientSecretSettingName || reg.clientSecretCertificateThumbprint)
      problems.push("authsettingsV2 uses a client secret or certificate");
  }
  return problems;
}

/** HTTPS only, TLS 1.2, no FTP, no basic (publishing) credentials on every Function App. */
export function hardeningViolations(t: ArmTemplate): string[] {
  const problems: string[] = [];
  const sites = ofType(t, "Microsoft.Web/sites");
  for (const { resource: r } of sites) {
    const p = r.properties ?? {};
    if (p.httpsOnly !== true) problems.push(`${r.name}: httpsOnly is not true`);
    if (p.siteConfig?.ftpsState !== "Disabled") problems.push(`${r.name}: siteConfig.ftpsState is not Disabled`);
    if (p.siteConfig?.minTlsVersion !== "1.2") problems.push(`${r.name}: siteConfig.minTlsVersion is not 1.2`);
  }
  const policies = ofType(t, "Microsoft.Web/sites/basicPublishingCredentialsPolicies");
  for (const kind of ["ftp", "scm"]) {
    const p = policies.find((l) => nameEndsWith(l.resource, kind));
    if (sites.length && !p) problems.push(`no basicPublishingCredentialsPolicies '${kind}'`);
    if (p && p.resource.properties?.allow !== false) problems.push(`basicPublishingCredentialsPolicies '${kind}' allows basic credentials`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// Role assignments

export type ScopeKind = "storageAccount" | "applicationInsights" | DeploymentScope | `other: ${string}`;

export interface RoleGrant {
  role: string;
  roleId?: string;
  scope: ScopeKind;
  /** The `scope` property of the assignment, when it has one. */
  scopeExpr?: string;
  name: string;
  principalId: Json;
  principalType: Json;
  roleDefinitionId: string;
  inCopy: boolean;
  located: Located;
}

function roleIdOf(expr: string, t: ArmTemplate): string | undefined {
  const literal = GUID.exec(expr);
  if (literal) return literal[0].toLowerCase();
  const m = /variables\('([^']+)'\)(?:\['([^']+)'\]|\.(\w+))/.exec(expr);
  if (m) {
    const v = t.variables?.[m[1]]?.[m[2] ?? m[3]];
    if (typeof v === "string" && GUID.test(v)) return GUID.exec(v)![0].toLowerCase();
  }
  return undefined;
}

export function roleGrants(t: ArmTemplate): RoleGrant[] {
  return ofType(t, "Microsoft.Authorization/roleAssignments").map((located) => {
    const r = located.resource;
    const def = String(r.properties?.roleDefinitionId ?? "");
    const roleId = roleIdOf(def, located.template);
    const role = roleId ? (BUILT_IN_ROLES[roleId] ?? `unknown role ${roleId}`) : `unresolved role ${def}`;
    let scope: ScopeKind = located.scope;
    if (r.scope !== undefined) {
      if (/Microsoft\.Storage\/storageAccounts'/i.test(r.scope)) scope = "storageAccount";
      else if (/Microsoft\.Insights\/components'/i.test(r.scope)) scope = "applicationInsights";
      else scope = `other: ${r.scope}`;
    }
    return {
      role,
      roleId,
      scope,
      scopeExpr: r.scope,
      name: r.name,
      principalId: r.properties?.principalId,
      principalType: r.properties?.principalType,
      roleDefinitionId: def,
      inCopy: located.inCopy,
      located,
    };
  });
}

/**
 * Compares the grants with the expected (role, scope) pairs: every expected pair exactly once, nothing
 * else. Also checks the assignment conventions: principalType ServicePrincipal and the name
 * guid(scope, principalId, roleId).
 */
export function roleGrantProblems(grants: RoleGrant[], expected: ReadonlyArray<readonly [role: string, scope: ScopeKind]>): string[] {
  const problems: string[] = [];
  const key = (role: string, scope: string) => `${role} @ ${scope}`;
  const want = new Map(expected.map(([role, scope]) => [key(role, scope), 0]));
  for (const g of grants) {
    const k = key(g.role, g.scope);
    if (!want.has(k)) problems.push(`unexpected grant: ${k}`);
    else want.set(k, want.get(k)! + 1);
    if (g.principalType !== "ServicePrincipal") problems.push(`${k}: principalType is ${String(g.principalType)}, not ServicePrincipal`);
    const guidArgs = /^\[guid\((.*)\)\]$/.exec(g.name);
    if (!guidArgs) problems.push(`${k}: name is not guid(scope, principalId, roleId): ${g.name}`);
    else {
      const args = guidArgs[1];
      if (!args.includes(String(g.principalId).replace(/^\[|\]$/g, ""))) problems.push(`${k}: name does not include the principal ID`);
      if (g.roleId === undefined || !(args.includes(g.roleId) || roleIdOf(args, g.located.template) === g.roleId))
        problems.push(`${k}: name does not include the role ID`);
      const scopeArg =
        g.scopeExpr ??
        {
          subscription: "subscription().id",
          managementGroup: "managementGroup().id",
          resourceGroup: "resourceGroup().id",
          tenant: "tenant().tenantId",
        }[g.located.scope];
      if (!args.startsWith(String(scopeArg).replace(/^\[|\]$/g, "")))
        problems.push(`${k}: name does not start with the scope (${String(scopeArg)})`);
    }
  }
  for (const [k, n] of want) {
    if (n === 0) problems.push(`missing grant: ${k}`);
    if (n > 1) problems.push(`grant ${k} appears ${n} times`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// Outputs

/** Outputs (at every level) that are secure-typed or carry keys, connection strings or secrets. */
export function secretOutputProblems(t: ArmTemplate): string[] {
  const problems: string[] = [];
  for (const { template, path } of templates(t)) {
    for (const [name, o] of Object.entries(template.outputs ?? {})) {
      const where = `${path.join("/") || "top"} output ${name}`;
      if (/^secure/i.test(o.type)) problems.push(`${where}: secure type ${o.type}`);
      const value = JSON.stringify(o.value);
      if (/\blist[A-Z]\w*\(|ConnectionString|InstrumentationKey|AccountKey|secret|password/i.test(value))
        problems.push(`${where}: value looks like a secret: ${value}`);
      if (/secret|password|connectionstring|key$/i.test(name)) problems.push(`${where}: name looks like a secret`);
    }
  }
  return problems;
}
