/**
 * Template tests over the ARM JSON that the real Bicep CLI compiles from infra/ (issue 7). The compiler
 * comes from scripts/bicep-cli.sh with BICEP_NO_RESTORE=1, so a test run never downloads anything:
 * `scripts/bicep-check.sh` (CI runs it first) restores it once. Without a compiler these tests are
 * skipped with a message, except with CI=true, where that is a failure.
 *
 * Everything is compiled once in beforeAll, in one `bicep build --pattern` run over a temporary copy
 * of infra/ plus mutated modules (a relaxed bicepconfig there, so the linter does not stop them). The
 * mutants prove that the checks fail when a keyless setting or a role assignment changes.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig, SETTINGS } from "../../src/config.js";
import {
  hardeningViolations,
  keylessViolations,
  nameEndsWith,
  ofType,
  prop,
  resolveVariable,
  roleGrantProblems,
  roleGrants,
  secretOutputProblems,
  templates,
  templateScope,
  walk,
  type ArmTemplate,
  type ScopeKind,
} from "./arm.js";

const ROOT = path.resolve(__dirname, "../..");
const INFRA = path.join(ROOT, "infra");
const WORKBOOK_FILE = path.join(INFRA, "workbooks", "aks-acr-audit.workbook.json");
const PLACEHOLDER = "__APP_INSIGHTS_RESOURCE_ID__";

/** Settings in src/config.ts that only make sense on a workstation; Bicep must not set them. */
const LOCAL_ONLY_SETTINGS = ["AUDIT_STORAGE_CONNECTION_STRING", "AUDIT_ESTATE_FILE"] as const;

/** Everything main.bicep may grant the auditor identity; anything else fails. */
const EXPECTED_MAIN_GRANTS: ReadonlyArray<readonly [string, ScopeKind]> = [
  ["Storage Blob Data Owner", "storageAccount"],
  ["Storage Table Data Contributor", "storageAccount"],
  ["Monitoring Metrics Publisher", "applicationInsights"],
  ["Reader", "subscription"],
];
const EXPECTED_MG_GRANTS: ReadonlyArray<readonly [string, ScopeKind]> = [["Reader", "managementGroup"]];

// ---------------------------------------------------------------------------------------------------
// Compiler and compilation

function findCompiler(): { bin?: string; why?: string } {
  const r = spawnSync("bash", [path.join(ROOT, "scripts", "bicep-cli.sh")], {
    encoding: "utf8",
    env: { ...process.env, BICEP_NO_RESTORE: "1" },
    timeout: 60_000,
  });
  if (r.status === 0 && r.stdout.trim()) return { bin: r.stdout.trim() };
  return { why: (r.stderr || r.error?.message || `exit ${r.status}`).trim() };
}

const compiler = findCompiler();
const IN_CI = process.env.CI === "true";
const SKIP_MESSAGE = `Bicep template tests SKIPPED: no Bicep compiler (${compiler.why ?? ""}). Run scripts/bicep-check.sh once to restore it.`;
if (!compiler.bin && !IN_CI) console.warn(SKIP_MESSAGE);

/** Mutations of module copies: each must make a check fail. */
const MUTANTS: Record<string, { file: string; from: string; to: string }> = {
  "storage.shared-key": { file: "storage.bicep", from: "allowSharedKeyAccess: false", to: "allowSharedKeyAccess: true" },
  "storage.public-blob": { file: "storage.bicep", from: "allowBlobPublicAccess: false", to: "allowBlobPublicAccess: true" },
  "monitoring.local-auth": { file: "monitoring.bicep", from: "DisableLocalAuth: true", to: "DisableLocalAuth: false" },
  "function-app.account-key": {
    file: "function-app.bicep",
    from: "AzureWebJobsStorage__accountName: storageAccountName",
    to: "AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=${storageAccountName};AccountKey=${storage.listKeys().keys[0].value}'",
  },
  "function-app.basic-auth": {
    file: "function-app.bicep",
    from: "name: 'scm'\n    properties: {\n      allow: false",
    to: "name: 'scm'\n    properties: {\n      allow: true",
  },
  "role-assignments.contributor": {
    file: "role-assignments.bicep",
    from: "'Microsoft.Authorization/roleDefinitions',\n      roleDefinitionIds['Storage Table Data Contributor']",
    to: "'Microsoft.Authorization/roleDefinitions',\n      'b24988ac-6180-42a0-ab88-20f7382dd24c'",
  },
  "role-assignments.user-principal": {
    file: "role-assignments.bicep",
    from: "principalType: 'ServicePrincipal'",
    to: "principalType: 'User'",
  },
};

let work = "";
let out = "";
const compiled = new Map<string, ArmTemplate>();

function tpl(rel: string): ArmTemplate {
  const t = compiled.get(rel);
  if (!t) throw new Error(`not compiled: ${rel} (have ${[...compiled.keys()].join(", ")})`);
  return t;
}

beforeAll(() => {
  if (!compiler.bin) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "bicep-templates-"));
  out = path.join(work, "out");
  fs.cpSync(INFRA, path.join(work, "infra"), { recursive: true });
  // Mutants: copies of the modules (and what they import or load) under a config without the linter.
  const mutantDir = path.join(work, "mutants");
  fs.cpSync(path.join(INFRA, "modules"), path.join(mutantDir, "modules"), { recursive: true });
  fs.cpSync(path.join(INFRA, "workbooks"), path.join(mutantDir, "workbooks"), { recursive: true });
  fs.writeFileSync(path.join(mutantDir, "bicepconfig.json"), JSON.stringify({ analyzers: { core: { enabled: false } } }));
  for (const [name, m] of Object.entries(MUTANTS)) {
    const src = fs.readFileSync(path.join(INFRA, "modules", m.file), "utf8");
    // A mutation that no longer applies must fail loudly, not pass vacuously.
    if (!src.includes(m.from)) throw new Error(`mutant ${name}: '${m.from}' not found in infra/modules/${m.file}`);
    fs.writeFileSync(path.join(mutantDir, "modules", `${name}.bicep`), src.replace(m.from, m.to));
  }
  const r = spawnSync(compiler.bin, ["build", "--pattern", "**/*.bicep", "--outdir", out], {
    cwd: work,
    encoding: "utf8",
    timeout: 120_000,
  });
  const diagnostics = `${r.stdout}${r.stderr}`.trim();
  if (r.status !== 0 || / : (Error|Warning) /.test(diagnostics)) throw new Error(`bicep build failed (exit ${r.status}):\n${diagnostics}`);
  for (const file of fs.readdirSync(out, { recursive: true }) as string[]) {
    if (file.endsWith(".json")) compiled.set(file.split(path.sep).join("/"), JSON.parse(fs.readFileSync(path.join(out, file), "utf8")));
  }
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test.skipIf(!compiler.bin && !IN_CI)("a Bicep compiler is available (required when CI=true)", () => {
  expect(compiler.bin, `no Bicep compiler: ${compiler.why}`).toBeTruthy();
});

describe.skipIf(!compiler.bin)("Bicep templates (compiled ARM JSON)", () => {
  const main = () => tpl("infra/main.json");
  const mg = () => tpl("infra/management-group/reader.json");
  const module = (symbol: string): ArmTemplate => {
    const d = walk(main()).find((l) => l.symbol === symbol && l.resource.type === "Microsoft.Resources/deployments");
    if (!d) throw new Error(`module ${symbol} not in main.json`);
    return d.resource.properties.template as ArmTemplate;
  };

  test("every .bicep file compiled", () => {
    const sources = (fs.readdirSync(INFRA, { recursive: true }) as string[]).filter((f) => f.endsWith(".bicep"));
    expect(sources.length).toBeGreaterThanOrEqual(10);
    for (const s of sources)
      expect(
        compiled.has(
          `infra/${s
            .split(path.sep)
            .join("/")
            .replace(/\.bicep$/, ".json")}`,
        ),
        s,
      ).toBe(true);
  });

  describe("keyless", () => {
    test("main.json: no shared keys, no local auth, no listKeys, no key-based connection strings", () => {
      expect(keylessViolations(main())).toEqual([]);
      // The checks did look at something.
      expect(ofType(main(), "Microsoft.Storage/storageAccounts")).toHaveLength(1);
      expect(ofType(main(), "Microsoft.Insights/components")).toHaveLength(1);
      expect(ofType(main(), "Microsoft.OperationalInsights/workspaces")).toHaveLength(1);
    });

    test("the Function App uses the user-assigned identity for storage, deployment and telemetry", () => {
      const fn = module("functionApp");
      const [site] = ofType(fn, "Microsoft.Web/sites");
      expect(site.resource.identity.type).toBe("UserAssigned");
      expect(Object.keys(site.resource.identity.userAssignedIdentities)).toEqual(["[format('{0}', parameters('identityId'))]"]);
      expect(site.resource.properties.functionAppConfig.deployment.storage.authentication).toEqual({
        type: "UserAssignedIdentity",
        userAssignedIdentityResourceId: "[parameters('identityId')]",
      });
      const settings = appSettings();
      expect(settings.AzureWebJobsStorage__credential).toBe("managedidentity");
      expect(settings.AzureWebJobsStorage__clientId).toBe("[parameters('identityClientId')]");
      expect(settings.AZURE_CLIENT_ID).toBe("[parameters('identityClientId')]");
      expect(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe(
        "[format('Authorization=AAD;ClientId={0}', parameters('identityClientId'))]",
      );
      // ... and main wires that parameter to the identity module's client ID.
      const d = walk(main()).find((l) => l.symbol === "functionApp")!;
      expect(d.resource.properties.parameters.identityClientId.value).toBe("[reference('identity').outputs.clientId.value]");
    });

    test("hardening: HTTPS only, TLS 1.2, FTP off, basic publishing credentials off", () => {
      expect(hardeningViolations(main())).toEqual([]);
    });

    test("the checks catch a mutated template (shared key, public blob, local auth, account key, basic auth)", () => {
      expect(keylessViolations(tpl("mutants/modules/storage.json"))).toEqual([]);
      expect(keylessViolations(tpl("mutants/modules/storage.shared-key.json")).join("\n")).toMatch(/allowSharedKeyAccess is not false/);
      expect(keylessViolations(tpl("mutants/modules/storage.public-blob.json")).join("\n")).toMatch(/allowBlobPublicAccess is not false/);
      expect(keylessViolations(tpl("mutants/modules/monitoring.local-auth.json")).join("\n")).toMatch(/DisableLocalAuth is not true/);
      const accountKey = keylessViolations(tpl("mutants/modules/function-app.account-key.json")).join("\n");
      expect(accountKey).toMatch(/listKeys/);
      expect(accountKey).toMatch(/AccountKey=/);
      expect(accountKey).toMatch(/AzureWebJobsStorage: a connection string/);
      expect(hardeningViolations(tpl("mutants/modules/function-app.json"))).toEqual([]);
      expect(hardeningViolations(tpl("mutants/modules/function-app.basic-auth.json"))).toEqual([
        "basicPublishingCredentialsPolicies 'scm' allows basic credentials",
      ]);
    });
  });

  describe("role assignments", () => {
    test("main grants exactly blob + table data on the storage account, metrics publishing on App Insights and Reader per listed subscription", () => {
      const grants = roleGrants(main());
      expect(roleGrantProblems(grants, EXPECTED_MAIN_GRANTS)).toEqual([]);
      const reader = grants.find((g) => g.role === "Reader")!;
      expect(reader.inCopy).toBe(true);
      expect(reader.located.deployment?.subscriptionId).toBe("[variables('readerSubscriptionIds')[copyIndex()]]");
      expect(main().variables?.readerSubscriptionIds).toBe("[union(parameters('auditSubscriptionIds'), createArray())]");
      expect(reader.located.deployment?.copy?.count).toBe("[length(variables('readerSubscriptionIds'))]");
      for (const g of grants.filter((x) => x.role !== "Reader")) expect(g.inCopy).toBe(false);
    });

    test("every grant goes to the auditor identity, and nothing else touches authorization", () => {
      for (const g of roleGrants(main())) expect(g.principalId).toBe("[parameters('principalId')]");
      for (const l of walk(main()).filter((x) => x.symbol === "roleAssignments" || x.symbol === "auditReaders")) {
        expect(l.resource.properties.parameters.principalId.value).toBe("[reference('identity').outputs.principalId.value]");
      }
      const authz = walk(main()).filter(
        (l) => l.resource.type.toLowerCase().startsWith("microsoft.authorization/") && !l.resource.existing,
      );
      expect(new Set(authz.map((l) => l.resource.type))).toEqual(new Set(["Microsoft.Authorization/roleAssignments"]));
    });

    test("the role map holds official role IDs keyed by their official names", () => {
      const roles = tpl("infra/modules/roles.json").variables?.roleDefinitionIds as Record<string, string>;
      expect(roles).toEqual({
        Reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
      });
    });

    test("management-group/reader.bicep: managementGroup scope, Reader only", () => {
      expect(templateScope(mg())).toBe("managementGroup");
      const grants = roleGrants(mg());
      expect(roleGrantProblems(grants, EXPECTED_MG_GRANTS)).toEqual([]);
      expect(grants[0].roleDefinitionId).toMatch(/^\[tenantResourceId\('Microsoft\.Authorization\/roleDefinitions'/);
    });

    test("the checks catch a mutated grant (Contributor, non-service principal)", () => {
      const expectedModule: ReadonlyArray<readonly [string, ScopeKind]> = EXPECTED_MAIN_GRANTS.filter(([r]) => r !== "Reader");
      expect(roleGrantProblems(roleGrants(tpl("mutants/modules/role-assignments.json")), expectedModule)).toEqual([]);
      expect(roleGrantProblems(roleGrants(tpl("mutants/modules/role-assignments.contributor.json")), expectedModule)).toEqual(
        expect.arrayContaining([
          "unexpected grant: Contributor @ storageAccount",
          "missing grant: Storage Table Data Contributor @ storageAccount",
        ]),
      );
      expect(roleGrantProblems(roleGrants(tpl("mutants/modules/role-assignments.user-principal.json")), expectedModule).join("\n")).toMatch(
        /principalType is User, not ServicePrincipal/,
      );
    });
  });

  describe("Function App", () => {
    test("Flex Consumption FC1 plan, Node.js 22 on Linux", () => {
      const fn = module("functionApp");
      const [plan] = ofType(fn, "Microsoft.Web/serverfarms");
      expect(plan.resource.sku).toEqual({ name: "FC1", tier: "FlexConsumption" });
      expect(plan.resource.properties.reserved).toBe(true);
      const [site] = ofType(fn, "Microsoft.Web/sites");
      expect(site.resource.kind).toBe("functionapp,linux");
      expect(site.resource.properties.serverFarmId).toMatch(/resourceId\('Microsoft\.Web\/serverfarms'/);
      expect(site.resource.properties.functionAppConfig.runtime).toEqual({ name: "node", version: "22" });
      expect(site.resource.properties.functionAppConfig.deployment.storage.type).toBe("blobContainer");
      expect(site.resource.tags).toMatch(/azd-service-name/);
    });

    test("app settings cover every Azure-relevant setting of src/config.ts SETTINGS, and no local-only one", () => {
      const names = SETTINGS.map((s) => s.name);
      for (const local of LOCAL_ONLY_SETTINGS)
        expect(names, `${local} is no longer in SETTINGS: update LOCAL_ONLY_SETTINGS`).toContain(local);
      const settings = appSettings();
      const required = names.filter((n) => !(LOCAL_ONLY_SETTINGS as readonly string[]).includes(n));
      expect(required.filter((n) => !(n in settings))).toEqual([]);
      for (const local of LOCAL_ONLY_SETTINGS) expect(Object.keys(settings)).not.toContain(local);
      // Flex Consumption sets the runtime in functionAppConfig and rejects these settings.
      for (const banned of [
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
        "WEBSITE_NODE_DEFAULT_VERSION",
      ]) {
        expect(Object.keys(settings)).not.toContain(banned);
      }
      expect(settings.AUDIT_TABLE_ENDPOINT).toBe("[parameters('auditTableEndpoint')]");
      expect(tpl("infra/modules/storage.json").outputs?.tableEndpoint.value).toBe(
        "[format('https://{0}.table.{1}', parameters('name'), environment().suffixes.storage)]",
      );
      expect(settings.AZURE_CLOUD).toBe("[environment().name]");
    });

    test("with main.bicep's defaults, the settings pass the app's own loadConfig", () => {
      const settings = appSettings();
      const fnParams = walk(main()).find((l) => l.symbol === "functionApp")!.resource.properties.parameters as Record<
        string,
        { value: unknown }
      >;
      const mainDefault = (p: string): unknown => {
        const expr = fnParams[p]?.value;
        const m = /^\[parameters\('(\w+)'\)\]$/.exec(String(expr));
        if (!m) throw new Error(`function-app parameter ${p} is not a main parameter: ${String(expr)}`);
        const v = main().parameters?.[m[1]].defaultValue;
        return v === "[newGuid()]" ? "00000000-0000-4000-8000-00000000000a" : v;
      };
      // Values that exist only after deployment get realistic stand-ins.
      const runtime: Record<string, string> = {
        "[parameters('identityClientId')]": "00000000-0000-4000-8000-000000000001",
        "[parameters('auditTableEndpoint')]": "https://stexample.table.core.windows.net",
        "[environment().name]": "AzureCloud",
        "[reference('applicationInsights').ConnectionString]":
          "InstrumentationKey=00000000-0000-4000-8000-000000000002;IngestionEndpoint=https://example.invalid/",
        "[format('Authorization=AAD;ClientId={0}', parameters('identityClientId'))]":
          "Authorization=AAD;ClientId=00000000-0000-4000-8000-000000000001",
      };
      const env: Record<string, string> = {};
      for (const { name } of SETTINGS) {
        const expr = settings[name];
        if (expr === undefined) continue;
        let m: RegExpExecArray | null;
        if (typeof expr === "string" && expr in runtime) env[name] = runtime[expr];
        else if ((m = /^\[parameters\('(\w+)'\)\]$/.exec(String(expr)))) env[name] = String(mainDefault(m[1]));
        else if ((m = /^\[string\(parameters\('(\w+)'\)\)\]$/.exec(String(expr)))) env[name] = String(mainDefault(m[1]));
        else if ((m = /^\[if\(parameters\('(\w+)'\), '(\w+)', '(\w+)'\)\]$/.exec(String(expr))))
          env[name] = mainDefault(m[1]) ? m[2] : m[3];
        else throw new Error(`cannot evaluate app setting ${name} = ${String(expr)}; extend this test`);
      }
      expect(env.AUDIT_SCHEDULE).toBe("0 0 */6 * * *");
      expect(env.AUDIT_TENANT_ARM_PRIVATE_LINK).toBe("false");
      const cfg = loadConfig(env);
      expect(cfg.retentionDays).toBe(90);
      expect(cfg.tablePrefix).toBe("acraudit");
      expect(cfg.scope).toEqual({ kind: "tenant" });
      expect(cfg.apiTokenSecret).toHaveLength(36);
      // The token key is a secure parameter (never in the deployment's outputs or history), new per deployment by default.
      expect(main().parameters?.apiTokenSecret).toMatchObject({ type: "securestring", defaultValue: "[newGuid()]", minLength: 32 });
      expect(tpl("infra/modules/function-app.json").parameters?.apiTokenSecret.type).toBe("securestring");
      expect(settings.AUDIT_API_TOKEN_SECRET).toBe("[parameters('apiTokenSecret')]");
    });

    test("the audit tables and the deployment container exist, named from AUDIT_TABLE_PREFIX", () => {
      expect(main().variables?.tableNames).toEqual([
        "[format('{0}findings', parameters('auditTablePrefix'))]",
        "[format('{0}runs', parameters('auditTablePrefix'))]",
        "[format('{0}state', parameters('auditTablePrefix'))]",
      ]);
      expect(main().parameters?.auditTablePrefix.defaultValue).toBe("acraudit");
      const st = module("storage");
      const tables = ofType(st, "Microsoft.Storage/storageAccounts/tableServices/tables");
      expect(tables).toHaveLength(1);
      expect(tables[0].resource.copy?.count).toBe("[length(parameters('tableNames'))]");
      const [container] = ofType(st, "Microsoft.Storage/storageAccounts/blobServices/containers");
      expect(container.resource.properties.publicAccess).toBe("None");
    });

    test("Entra ID authentication in front of the API only when apiAuthClientId is given, /api/health excluded", () => {
      const fn = module("functionApp");
      const [auth] = ofType(fn, "Microsoft.Web/sites/config").filter((l) => nameEndsWith(l.resource, "authsettingsV2"));
      expect(auth.resource.condition).toBe("[not(empty(parameters('apiAuthClientId')))]");
      const p = auth.resource.properties;
      expect(p.globalValidation.requireAuthentication).toBe(true);
      expect(p.globalValidation.unauthenticatedClientAction).toBe("Return401");
      expect(resolveVariable(p.globalValidation.excludedPaths, fn)).toEqual(["/api/health"]);
      expect(p.identityProviders.azureActiveDirectory.registration.clientId).toBe("[parameters('apiAuthClientId')]");
      expect(p.identityProviders.azureActiveDirectory.registration.openIdIssuer).toMatch(/environment\(\)\.authentication\.loginEndpoint/);
      expect(main().parameters?.apiAuthClientId.defaultValue).toBe("");
    });
  });

  describe("monitoring", () => {
    test("the workbook is the file in infra/workbooks with its placeholder replaced by the App Insights ID", () => {
      const wbTemplate = module("workbook");
      const [wb] = ofType(wbTemplate, "Microsoft.Insights/workbooks");
      expect(wb.resource.kind).toBe("shared");
      expect(wb.resource.properties.category).toBe("workbook");
      expect(wb.resource.properties.sourceId).toBe("[resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))]");
      const m = /^\[replace\(variables\('([^']+)'\), (?:variables\('([^']+)'\)|'([^']*)'), (.+)\)\]$/.exec(
        wb.resource.properties.serializedData,
      );
      expect(m, wb.resource.properties.serializedData).not.toBeNull();
      const content = wbTemplate.variables?.[m![1]] as string;
      const token = m![2] ? wbTemplate.variables?.[m![2]] : m![3];
      expect(token).toBe(PLACEHOLDER);
      expect(m![4]).toBe("resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))");
      expect(content).toBe(fs.readFileSync(WORKBOOK_FILE, "utf8"));
      expect(content, "the workbook names no placeholder, so it would not be bound to the component").toContain(PLACEHOLDER);
      // What ARM will produce: valid workbook JSON bound to the component, no placeholder left.
      const id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-x/providers/Microsoft.Insights/components/appi-x";
      const deployed = content.split(PLACEHOLDER).join(id);
      const parsed = JSON.parse(deployed) as { version?: string; items?: unknown[] };
      expect(parsed.version).toMatch(/^Notebook\//);
      expect(Array.isArray(parsed.items)).toBe(true);
      expect(deployed).not.toContain(PLACEHOLDER);
      expect(deployed).toContain(id);
    });

    test("the alert fires on new or changed, failing, non-exempt findings of severity high or critical", () => {
      const al = module("alerts");
      const [rule] = ofType(al, "Microsoft.Insights/scheduledQueryRules");
      expect(rule.resource.kind).toBe("LogAlert");
      expect(rule.resource.properties.scopes).toEqual([
        "[resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))]",
      ]);
      const crit = rule.resource.properties.criteria.allOf[0];
      expect([crit.timeAggregation, crit.operator, crit.threshold]).toEqual(["Count", "GreaterThan", 0]);
      // Looks back further than it runs (late ingestion), stateful so overlapping windows notify once.
      expect(rule.resource.properties.windowSize).toBe("PT1H");
      expect(rule.resource.properties.autoMitigate).toBe(true);
      const query = String(resolveVariable(crit.query, al)).replace(/\s+/g, " ");
      expect(query).toMatch(/^ ?customEvents \| where name == "FindingChanged"/);
      expect(query).toContain("status = tostring(customDimensions.status)");
      expect(query).toContain("change = tostring(customDimensions.change)");
      expect(query).toContain("severity = tostring(customDimensions.severity)");
      expect(query).toContain("exempt = tostring(customDimensions.exempt)");
      expect(query).toContain(
        'where status == "fail" and change in ("new", "changed") and severity in ("high", "critical") and exempt != "true"',
      );
    });

    test("the alert names only the event and dimensions the telemetry adapter emits", async () => {
      // The telemetry contract lives in src/adapters/telemetry/names.ts (issue 6); loaded by path so this
      // file does not depend on it at compile time.
      const namesFile = path.join(ROOT, "src", "adapters", "telemetry", "names.ts");
      if (!fs.existsSync(namesFile)) {
        console.warn("alert/telemetry contract check skipped: src/adapters/telemetry/names.ts does not exist yet");
        return;
      }
      const names = (await import(namesFile)) as { EVENTS: Record<string, string>; FINDING_DIMENSIONS: readonly string[] };
      const al = module("alerts");
      const [rule] = ofType(al, "Microsoft.Insights/scheduledQueryRules");
      const query = String(resolveVariable(rule.resource.properties.criteria.allOf[0].query, al));
      const events = [...query.matchAll(/name == "(\w+)"/g)].map((m) => m[1]);
      expect(events).toEqual([names.EVENTS.findingChanged]);
      const dims = new Set([...query.matchAll(/customDimensions\.(\w+)/g)].map((m) => m[1]));
      expect([...dims].filter((d) => !names.FINDING_DIMENSIONS.includes(d))).toEqual([]);
      expect([...dims]).toEqual(expect.arrayContaining(["status", "change", "severity", "exempt"]));
    });

    test("the action group exists only when an e-mail address is given", () => {
      const al = module("alerts");
      const [ag] = ofType(al, "Microsoft.Insights/actionGroups");
      expect(ag.resource.condition).toBe("[not(empty(parameters('alertEmail')))]");
      expect(ag.resource.properties.emailReceivers[0].emailAddress).toBe("[parameters('alertEmail')]");
      const [rule] = ofType(al, "Microsoft.Insights/scheduledQueryRules");
      expect(rule.resource.properties.actions.actionGroups).toBe(
        "[if(empty(parameters('alertEmail')), createArray(), createArray(resourceId('Microsoft.Insights/actionGroups', parameters('actionGroupName'))))]",
      );
      expect(main().parameters?.alertEmail.defaultValue).toBe("");
    });

    test("App Insights is workspace-based and Monitoring Metrics Publisher is granted on it (Entra ID ingestion)", () => {
      const [ai] = ofType(module("monitoring"), "Microsoft.Insights/components");
      expect(prop(ai.resource.properties, "WorkspaceResourceId")).toMatch(/Microsoft\.OperationalInsights\/workspaces/);
      expect(roleGrants(main()).some((g) => g.role === "Monitoring Metrics Publisher" && g.scope === "applicationInsights")).toBe(true);
    });
  });

  describe("interface: parameters, outputs, azd", () => {
    test("main.bicep: subscription scope, creates the resource group, azd naming", () => {
      expect(templateScope(main())).toBe("subscription");
      const [rg] = ofType(main(), "Microsoft.Resources/resourceGroups");
      expect(rg.resource.tags).toBe("[variables('allTags')]");
      expect(main().variables?.resourceToken).toBe(
        "[toLower(uniqueString(subscription().id, parameters('environmentName'), parameters('location')))]",
      );
      expect(main().variables?.allTags).toMatch(/azd-env-name/);
      for (const l of walk(main()).filter(
        (x) => x.resource.type === "Microsoft.Resources/deployments" && x.path.length === 0 && x.symbol !== "auditReaders",
      )) {
        expect(l.resource.resourceGroup, l.symbol).toBe("[variables('names').resourceGroup]");
      }
    });

    test("no secrets in outputs, at any level; main outputs are UPPER_SNAKE for azd", () => {
      expect(secretOutputProblems(main())).toEqual([]);
      expect(secretOutputProblems(mg())).toEqual([]);
      for (const name of [...Object.keys(main().outputs ?? {}), ...Object.keys(mg().outputs ?? {})])
        expect(name).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(Object.keys(main().outputs ?? {})).toEqual(
        expect.arrayContaining(["AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME", "AUDITOR_PRINCIPAL_ID"]),
      );
    });

    test("a description on every template, parameter and output", () => {
      const all = [...compiled.entries()].filter(([k]) => k.startsWith("infra/"));
      for (const [file, t] of all) {
        for (const { template, path: p } of templates(t)) {
          const where = `${file} ${p.join("/")}`;
          expect(template.metadata?.description, `${where}: metadata description`).toBeTruthy();
          for (const [n, v] of Object.entries(template.parameters ?? {}))
            expect(v.metadata?.description, `${where}: parameter ${n}`).toBeTruthy();
          for (const [n, v] of Object.entries(template.outputs ?? {}))
            expect(v.metadata?.description, `${where}: output ${n}`).toBeTruthy();
        }
      }
    });

    test("main.parameters.json names only real parameters and provides every required one", () => {
      const file = JSON.parse(fs.readFileSync(path.join(INFRA, "main.parameters.json"), "utf8")) as {
        parameters: Record<string, { value: unknown }>;
      };
      const params = main().parameters ?? {};
      for (const name of Object.keys(file.parameters)) expect(Object.keys(params), `main.parameters.json names ${name}`).toContain(name);
      for (const [name, p] of Object.entries(params))
        if (!("defaultValue" in p)) expect(Object.keys(file.parameters), `required ${name}`).toContain(name);
      expect(file.parameters.environmentName.value).toBe("${AZURE_ENV_NAME}");
      expect(file.parameters.location.value).toBe("${AZURE_LOCATION}");
    });

    test("azure.yaml deploys this project as the function service 'api' with the Bicep in infra/", () => {
      const y = parseYaml(fs.readFileSync(path.join(ROOT, "azure.yaml"), "utf8")) as {
        services: Record<string, { project: string; language: string; host: string }>;
        infra?: { provider?: string; path?: string; module?: string };
      };
      expect(y.services.api).toMatchObject({ project: ".", language: "ts", host: "function" });
      expect(y.infra).toMatchObject({ provider: "bicep", path: "infra", module: "main" });
      const [site] = ofType(module("functionApp"), "Microsoft.Web/sites");
      expect(module("functionApp").variables?.azdServiceName).toBe("api");
      expect(site.resource.tags).toContain("variables('azdServiceName')");
    });

    test("no public registry modules: every module is a local file", () => {
      for (const f of (fs.readdirSync(INFRA, { recursive: true }) as string[]).filter((x) => x.endsWith(".bicep"))) {
        const text = fs.readFileSync(path.join(INFRA, f), "utf8");
        expect(text, f).not.toMatch(/\b(module|import)\b[^\n]*'(br|br\/public|ts):/);
      }
    });
  });

  function appSettings(): Record<string, string> {
    const fn = module("functionApp");
    const found = ofType(fn, "Microsoft.Web/sites/config").filter((l) => nameEndsWith(l.resource, "appsettings"));
    expect(found).toHaveLength(1);
    const props = found[0].resource.properties as unknown;
    expect(typeof props, "app settings must be a literal object so their names can be checked").toBe("object");
    return props as Record<string, string>;
  }
});
