/** Settings: local.settings.sample.json lists exactly what loadConfig reads, and bad settings fail at once. */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig, SETTINGS } from "../src/config.js";
import { readDepsOf } from "../src/api/reads.js";
import type { AuditStore } from "../src/core/ports.js";

const ROOT = path.join(__dirname, "..");
/** Settings the Functions host itself reads (not the app). */
const HOST_SETTINGS = { AzureWebJobsStorage: "UseDevelopmentStorage=true", FUNCTIONS_WORKER_RUNTIME: "node" };

const sample = JSON.parse(fs.readFileSync(path.join(ROOT, "local.settings.sample.json"), "utf8")) as {
  IsEncrypted: boolean;
  Values: Record<string, string>;
};

function sampleEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { ...sample.Values, ...overrides };
}

describe("local.settings.sample.json", () => {
  test("lists exactly the app's SETTINGS plus the host's own settings", () => {
    expect(sample.IsEncrypted).toBe(false);
    expect(Object.keys(sample.Values).sort()).toEqual([...SETTINGS.map((s) => s.name), ...Object.keys(HOST_SETTINGS)].sort());
    for (const [k, v] of Object.entries(HOST_SETTINGS)) expect(sample.Values[k], k).toBe(v);
  });

  test("holds each setting's documented sample value", () => {
    for (const s of SETTINGS) expect(sample.Values[s.name], s.name).toBe(s.sample);
  });

  test("loadConfig accepts the sample values", () => {
    const config = loadConfig(sampleEnv());
    expect(config.schedule).toBe("0 0 */6 * * *");
    expect(config.scope).toEqual({ kind: "tenant" });
    expect(config.cloud.name).toBe("AzureCloud");
    expect(config.retentionDays).toBe(90);
    expect(config.storageConnectionString).toBe("UseDevelopmentStorage=true");
    expect(config.appInsightsConnectionString).toBeUndefined(); // telemetry off locally by default
  });

  test("the sample holds no secret", () => {
    const text = JSON.stringify(sample.Values);
    expect(text).not.toMatch(/AccountKey=|InstrumentationKey=|SharedAccessSignature|sig=/i);
    expect(sample.Values).not.toHaveProperty("AzureWebJobs.audit-timer.Disabled");
  });
});

describe("loadConfig", () => {
  test("a missing optional setting takes its default", () => {
    const env = sampleEnv({ AUDIT_SCHEDULE: undefined, RETENTION_DAYS: "", AZURE_CLOUD: undefined, AUDIT_TABLE_PREFIX: undefined });
    const config = loadConfig(env);
    expect(config.schedule).toBe("0 0 */6 * * *");
    expect(config.retentionDays).toBe(90);
    expect(config.cloud.name).toBe("AzureCloud");
    expect(config.tablePrefix).toBe("acraudit");
  });

  test("every setting marked required is reported when missing", () => {
    const required = SETTINGS.filter((s) => s.required);
    if (required.length === 0) return; // none today: every setting has a default or means "off"
    const env = sampleEnv(Object.fromEntries(required.map((s) => [s.name, undefined])));
    expect(() => loadConfig(env)).toThrow(ConfigError);
  });

  test("several malformed settings throw ONE ConfigError listing each of them", () => {
    let caught: unknown;
    try {
      loadConfig(sampleEnv({ RETENTION_DAYS: "abc", AZURE_CLOUD: "Mars" }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const e = caught as ConfigError;
    expect(e.code).toBe("ConfigInvalid");
    expect(e.problems).toHaveLength(2);
    expect(e.problems.find((p) => p.startsWith("RETENTION_DAYS"))).toMatch(/'abc'/);
    expect(e.problems.find((p) => p.startsWith("AZURE_CLOUD"))).toMatch(/'Mars'/);
    expect(e.message).toContain("RETENTION_DAYS");
    expect(e.message).toContain("AZURE_CLOUD");
  });

  test("AUDIT_SCHEDULE must be NCRONTAB: a TimeSpan schedule does not run on Flex Consumption", () => {
    expect(() => loadConfig(sampleEnv({ AUDIT_SCHEDULE: "06:00:00" }))).toThrow(/AUDIT_SCHEDULE/);
    expect(() => loadConfig(sampleEnv({ AUDIT_SCHEDULE: "1.00:00:00" }))).toThrow(/AUDIT_SCHEDULE/);
    expect(loadConfig(sampleEnv({ AUDIT_SCHEDULE: "0 30 */4 * * *" })).schedule).toBe("0 30 */4 * * *");
  });

  test("malformed telemetry settings are reported with the others", () => {
    let caught: ConfigError | undefined;
    try {
      loadConfig(
        sampleEnv({
          AUDIT_SCHEDULE: "every six hours",
          APPLICATIONINSIGHTS_CONNECTION_STRING: "not a connection string",
          APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=Key",
        }),
      );
    } catch (err) {
      caught = err as ConfigError;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect(caught!.problems.map((p) => p.split(":")[0]).sort()).toEqual(
      ["APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "APPLICATIONINSIGHTS_CONNECTION_STRING", "AUDIT_SCHEDULE"].sort(),
    );
  });

  test("the Entra ID authentication string of the Bicep deployment is accepted", () => {
    const config = loadConfig(
      sampleEnv({
        APPLICATIONINSIGHTS_CONNECTION_STRING:
          "InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555",
      }),
    );
    expect(config.appInsightsAuthenticationString).toBe("Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555");
  });

  test("AUDIT_API_TOKEN_SECRET: optional, at least 32 characters, and it keys the API's continuation tokens", () => {
    expect(loadConfig(sampleEnv({})).apiTokenSecret).toBeUndefined();
    expect(() => loadConfig(sampleEnv({ AUDIT_API_TOKEN_SECRET: "short" }))).toThrow(
      /AUDIT_API_TOKEN_SECRET: must be at least 32 characters \(it has 5\)/,
    );
    const secret = "0123456789abcdef0123456789abcdef";
    const config = loadConfig(sampleEnv({ AUDIT_API_TOKEN_SECRET: secret }));
    expect(config.apiTokenSecret).toBe(secret);
    const key = (apiTokenSecret?: string) =>
      readDepsOf({ store: {} as AuditStore, scopeKey: "tenant", config: { ...config, apiTokenSecret } }).tokenKey.toString("hex");
    expect(key(secret)).toBe(key(secret));
    expect(key(secret)).not.toBe(key(undefined));
    expect(key(secret)).not.toBe(key(secret.replace("0", "1")));
  });
});

describe("host.json", () => {
  const host = JSON.parse(fs.readFileSync(path.join(ROOT, "host.json"), "utf8"));

  test("Functions v4 host with the v4 extension bundle and a bounded timeout", () => {
    expect(host.version).toBe("2.0");
    expect(host.extensionBundle).toEqual({ id: "Microsoft.Azure.Functions.ExtensionBundle", version: "[4.*, 5.0.0)" });
    expect(host.functionTimeout).toMatch(/^\d{2}:\d{2}:\d{2}$/);
    const [h, m] = host.functionTimeout.split(":").map(Number);
    expect(h * 60 + m).toBeGreaterThanOrEqual(10);
  });

  test("the host never samples away invocations (requests) or exceptions", () => {
    const excluded = String(host.logging.applicationInsights.samplingSettings.excludedTypes).split(";");
    expect(excluded).toEqual(expect.arrayContaining(["Request", "Exception"]));
  });
});
