/**
 * The workbook (infra/workbooks/aks-acr-audit.workbook.json) and the alert query (infra/modules/*.bicep):
 * - the workbook JSON has the structure Azure Monitor expects, bound to the App Insights placeholder;
 * - every KQL query parses and binds with Microsoft's Kusto parser (@kusto/language-service-next) against
 *   the App Insights tables it reads, after the workbook's parameters are substituted;
 * - no query names an event, metric, custom dimension or measurement the code never emits (the names come
 *   from the telemetry adapter's exported constants).
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { EVENTS, METRICS, RUN_MEASUREMENTS, emittedDimensions } from "../src/adapters/telemetry/index.js";

const ROOT = path.join(__dirname, "..");
const WORKBOOK_FILE = path.join(ROOT, "infra", "workbooks", "aks-acr-audit.workbook.json");
const PLACEHOLDER = "__APP_INSIGHTS_RESOURCE_ID__";
const AI = "microsoft.insights/components";

// Columns of the Application Insights tables the queries read (classic App Insights schema).
const COMMON = [
  "timestamp:datetime",
  "name:string",
  "itemType:string",
  "itemId:string",
  "itemCount:int",
  "customDimensions:dynamic",
  "customMeasurements:dynamic",
  "operation_Name:string",
  "operation_Id:string",
  "operation_ParentId:string",
  "operation_SyntheticSource:string",
  "session_Id:string",
  "user_Id:string",
  "user_AuthenticatedId:string",
  "user_AccountId:string",
  "application_Version:string",
  "client_Type:string",
  "client_Model:string",
  "client_OS:string",
  "client_IP:string",
  "client_City:string",
  "client_StateOrProvince:string",
  "client_CountryOrRegion:string",
  "client_Browser:string",
  "cloud_RoleName:string",
  "cloud_RoleInstance:string",
  "appId:string",
  "appName:string",
  "iKey:string",
  "sdkVersion:string",
];
const TABLES: Record<string, string[]> = {
  customEvents: COMMON,
  customMetrics: [
    ...COMMON.filter((c) => !c.startsWith("customMeasurements")),
    "value:real",
    "valueCount:int",
    "valueSum:real",
    "valueMin:real",
    "valueMax:real",
    "valueStdDev:real",
  ],
  dependencies: [
    ...COMMON,
    "id:string",
    "target:string",
    "type:string",
    "data:string",
    "success:bool",
    "resultCode:string",
    "duration:real",
    "performanceBucket:string",
  ],
  requests: [
    ...COMMON,
    "id:string",
    "source:string",
    "url:string",
    "success:bool",
    "resultCode:string",
    "duration:real",
    "performanceBucket:string",
  ],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Kusto = any;
let K: Kusto;
let globals: Kusto;

beforeAll(() => {
  // The package is Kusto.Language compiled to JavaScript with Bridge.NET: its runtime defines globals.
  const req = createRequire(__filename);
  req("@kusto/language-service-next/bridge.js");
  req("@kusto/language-service-next");
  K = (globalThis as Kusto).Kusto.Language;
  const tables = Object.entries(TABLES).map(([name, cols]) => K.Symbols.TableSymbol.From(`(${cols.join(", ")})`).WithName(name));
  globals = K.GlobalState.Default.WithDatabase(new K.Symbols.DatabaseSymbol.ctor("appinsights", tables));
}, 60_000);

/** Errors and warnings the parser reports for one query. */
function diagnostics(query: string): string[] {
  const code = K.KustoCode.ParseAndAnalyze(query, globals);
  const list = code.GetDiagnostics();
  const out: string[] = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    if (d.Severity === "Error" || d.Severity === "Warning") {
      out.push(`${d.Severity} at ${d.Start}: ${d.Message} (near '${query.slice(d.Start, d.Start + Math.max(d.Length, 1) + 20)}')`);
    }
  }
  return out;
}

/** Item names, custom dimensions and measurements a query names. */
function namesIn(query: string): { items: string[]; dimensions: string[]; measurements: string[] } {
  const items = new Set<string>();
  for (const m of query.matchAll(/\bname\s*(?:==|=~)\s*"([^"]+)"/g)) items.add(m[1]);
  for (const m of query.matchAll(/\bname\s+in~?\s*\(([^)]*)\)/g)) for (const s of m[1].matchAll(/"([^"]+)"/g)) items.add(s[1]);
  const dims = new Set<string>();
  for (const m of query.matchAll(/customDimensions\s*\.\s*([A-Za-z_]\w*)/g)) dims.add(m[1]);
  for (const m of query.matchAll(/customDimensions\s*\[\s*["']([^"']+)["']\s*\]/g)) dims.add(m[1]);
  const measurements = new Set<string>();
  for (const m of query.matchAll(/customMeasurements\s*\.\s*([A-Za-z_]\w*)/g)) measurements.add(m[1]);
  for (const m of query.matchAll(/customMeasurements\s*\[\s*["']([^"']+)["']\s*\]/g)) measurements.add(m[1]);
  return { items: [...items], dimensions: [...dims], measurements: [...measurements] };
}

const FUNCTION_NAMES = fs
  .readdirSync(path.join(ROOT, "src", "functions"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.replace(/\.ts$/, ""));
const TELEMETRY_ITEMS = [...Object.values(EVENTS), ...Object.values(METRICS)] as string[];

/** Problems with what a query names: unknown items, or dimensions/measurements its items never carry. */
function contractProblems(query: string): string[] {
  const { items, dimensions, measurements } = namesIn(query);
  const problems: string[] = [];
  for (const i of items)
    if (!TELEMETRY_ITEMS.includes(i) && !FUNCTION_NAMES.includes(i)) problems.push(`names '${i}', which the code never emits`);
  const ours = items.filter((i) => TELEMETRY_ITEMS.includes(i));
  const carriers = emittedDimensions();
  for (const d of dimensions) {
    const by = carriers.get(d) ?? [];
    if (!by.some((item) => ours.includes(item)))
      problems.push(`reads customDimensions.${d}, which ${ours.join("/") || "no item it names"} never carries`);
  }
  for (const m of measurements) {
    if (!ours.includes(EVENTS.runCompleted) || !(RUN_MEASUREMENTS as readonly string[]).includes(m))
      problems.push(`reads customMeasurements.${m}, which is never emitted`);
  }
  return problems;
}

interface Item {
  type: number;
  name: string;
  content: Record<string, unknown> & {
    query?: string;
    parameters?: { name: string; type: number; query?: string; queryType?: number; resourceType?: string }[];
  };
  customWidth?: string;
}
const workbookText = fs.readFileSync(WORKBOOK_FILE, "utf8");
const workbook = JSON.parse(workbookText) as { version: string; items: Item[]; fallbackResourceIds: string[]; $schema?: string };
const parameters = workbook.items.filter((i) => i.type === 9).flatMap((i) => i.content.parameters ?? []);
const queries: { where: string; query: string }[] = [
  ...workbook.items.filter((i) => i.type === 3).map((i) => ({ where: `item ${i.name}`, query: i.content.query! })),
  ...parameters.filter((p) => p.query).map((p) => ({ where: `parameter ${p.name}`, query: p.query! })),
];

/** What the workbook puts in place of each parameter reference when it runs a query. */
const SUBSTITUTIONS: Record<string, string> = {
  "{TimeRange:grain}": "1h",
  "{TimeRange:start}": "datetime(2026-01-01)",
  "{TimeRange:end}": "datetime(2026-01-31)",
  "{TimeRange}": "> ago(30d)",
  "{Subscription}": "'7d19c42c-92a2-5901-b116-4a08dfd726d4','00000000-0000-0000-0000-000000000000'",
};

function substitute(query: string): string {
  let q = query;
  for (const [k, v] of Object.entries(SUBSTITUTIONS)) q = q.split(k).join(v);
  return q;
}

describe("workbook JSON", () => {
  test("the Azure Monitor workbook format, bound to the App Insights placeholder the Bicep replaces", () => {
    expect(workbook.version).toBe("Notebook/1.0");
    expect(workbook.fallbackResourceIds).toEqual([PLACEHOLDER]);
    expect(workbookText.split(PLACEHOLDER)).toHaveLength(2); // exactly once
    expect(workbookText).not.toMatch(/\/subscriptions\/[0-9a-f-]{36}\/resourceGroups/i); // no real resource ID
    expect(workbook.items.length).toBeGreaterThan(5);
  });

  test("items are text (1), query (3) or parameters (9), with unique names", () => {
    const names = workbook.items.map((i) => i.name);
    expect(new Set(names).size).toBe(names.length);
    for (const i of workbook.items) {
      expect([1, 3, 9], i.name).toContain(i.type);
      expect(i.name, "every item is named").toMatch(/^[a-z0-9-]+$/);
      if (i.type === 1) expect(typeof i.content.json, i.name).toBe("string");
      if (i.customWidth !== undefined) expect(Number(i.customWidth), i.name).toBeGreaterThan(0);
    }
  });

  test("query items: KqlItem/1.0 against App Insights (queryType 0), bound to the time range parameter", () => {
    const names = new Set(parameters.map((p) => p.name));
    for (const i of workbook.items.filter((x) => x.type === 3)) {
      expect(i.content, i.name).toMatchObject({ version: "KqlItem/1.0", queryType: 0, resourceType: AI });
      expect(typeof i.content.query, i.name).toBe("string");
      expect(typeof i.content.title, i.name).toBe("string");
      expect(names.has(String(i.content.timeContextFromParameter)), `${i.name}: timeContextFromParameter`).toBe(true);
    }
  });

  test("parameters: a time range (type 4) and a subscription picker (type 2, multi-select, 'All')", () => {
    const timeRange = parameters.find((p) => p.name === "TimeRange");
    expect(timeRange).toMatchObject({ type: 4, isRequired: true });
    const subscription = parameters.find((p) => p.name === "Subscription");
    expect(subscription).toMatchObject({ type: 2, multiSelect: true, quote: "'", delimiter: ",", queryType: 0, resourceType: AI });
    expect(subscription).toMatchObject({ typeSettings: { additionalResourceOptions: ["value::all"], selectAllValue: "" } });
    for (const p of parameters) expect(p).toMatchObject({ version: "KqlParameterItem/1.0", id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  test("every parameter a query references is defined, and substituted by this test", () => {
    const names = new Set(parameters.map((p) => p.name));
    for (const { where, query } of queries) {
      for (const m of query.matchAll(/\{([A-Za-z]\w*)(:[a-z]+)?\}/g)) {
        expect(names.has(m[1]), `${where} references {${m[1]}}`).toBe(true);
        expect(SUBSTITUTIONS, `${where}: no test substitution for ${m[0]}`).toHaveProperty([m[0]]);
      }
    }
  });

  test("the sections operators look for are there", () => {
    const titles = workbook.items.filter((i) => i.type === 3).map((i) => String(i.content.title).toLowerCase());
    for (const wanted of [
      "latest run",
      "runs by status",
      "run duration",
      "open failing findings by severity",
      "open failing findings by rule",
      "clusters with most failing attachments",
      "latest changes",
    ]) {
      expect(
        titles.some((t) => t.includes(wanted)),
        wanted,
      ).toBe(true);
    }
  });

  test("the open-failing views come from OpenFindings (which leaves exempted findings out) or the run's openFailing", () => {
    const open = workbook.items.filter((i) => i.type === 3 && /open failing/i.test(String(i.content.title)));
    expect(open.length).toBeGreaterThanOrEqual(3);
    for (const i of open) expect(i.content.query, i.name).toMatch(new RegExp(`"${METRICS.openFindings}"|customMeasurements\\.openFailing`));
  });
});

describe("KQL of the workbook (Microsoft's Kusto parser)", () => {
  test.each(queries.map((q) => [q.where, q.query]))("%s parses and binds without diagnostics", (_where, query) => {
    expect(diagnostics(substitute(query))).toEqual([]);
  });

  test.each(queries.map((q) => [q.where, q.query]))("%s names only emitted events, metrics and dimensions", (_where, query) => {
    expect(contractProblems(query)).toEqual([]);
  });

  test("the checks catch a broken query and a dimension the code never emits", () => {
    expect(diagnostics('customEvents | where name == "AuditRunCompleted" | summarize count() by statuz')).not.toEqual([]);
    expect(diagnostics("customEvents | wher name == 1")).not.toEqual([]);
    expect(contractProblems('customEvents | where name == "AuditRunFinished"')).toEqual([
      "names 'AuditRunFinished', which the code never emits",
    ]);
    expect(contractProblems('customEvents | where name == "FindingChanged" | extend c = tostring(customDimensions.cluster)')).toHaveLength(
      1,
    );
    // A run dimension read from the finding event is caught too.
    expect(contractProblems('customEvents | where name == "FindingChanged" | extend e = tostring(customDimensions.error)')).toHaveLength(1);
    expect(contractProblems('customEvents | where name == "AuditRunCompleted" | extend e = toint(customMeasurements.nope)')).toHaveLength(
      1,
    );
  });
});

describe("alert queries in infra/modules/*.bicep", () => {
  const modules = path.join(ROOT, "infra", "modules");
  const alertQueries = (fs.existsSync(modules) ? fs.readdirSync(modules) : [])
    .filter((f) => f.endsWith(".bicep"))
    .flatMap((f) => {
      const text = fs.readFileSync(path.join(modules, f), "utf8");
      return [...text.matchAll(/'''([\s\S]*?)'''/g)]
        .map((m) => ({ file: f, query: m[1].trim() }))
        .filter((q) => /^(customEvents|customMetrics)\b/.test(q.query));
    });

  test("there is one (the FindingChanged alert)", () => {
    expect(alertQueries.map((q) => q.file)).toContain("alerts.bicep");
  });

  test.each(alertQueries.map((q) => [q.file, q.query]))("%s: the alert query parses and names only emitted dimensions", (_file, query) => {
    expect(diagnostics(query)).toEqual([]);
    expect(contractProblems(query)).toEqual([]);
  });
});
