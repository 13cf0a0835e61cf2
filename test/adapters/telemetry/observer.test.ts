/**
 * The telemetry observer over real audits (estate -> ARM simulator -> real SDK clients -> real store on
 * Azurite), with a recording sink in place of Application Insights. What reaches a real ingestion
 * endpoint is tested in ingestion.test.ts.
 */
import { describe, expect, test } from "vitest";
import type { TokenCredential } from "@azure/core-auth";
import {
  EVENTS,
  FINDING_DIMENSIONS,
  METRICS,
  RUN_DIMENSIONS,
  RUN_MEASUREMENTS,
  TelemetryObserver,
  flushTelemetry,
  ingestionCredential,
  runTelemetry,
  telemetryFromConfig,
  withTraceParent,
  type TelemetrySink,
} from "../../../src/adapters/telemetry/index.js";
import { runAudit, type AuditResult } from "../../../src/core/audit.js";
import { RULES } from "../../../src/core/catalog.js";
import type { Finding } from "../../../src/core/findings.js";
import type { AuditStore, RunRecord } from "../../../src/core/ports.js";
import { normalizeId } from "../../../src/core/resource-id.js";
import type { Estate } from "../../../src/adapters/simulator/index.js";
import { freshStore, simulatorDiscovery } from "../../helpers/harness.js";
import { CLUSTER, REGISTRY, estateWith } from "./estates.js";
import { RecordingSink } from "./recording-sink.js";

async function audit(estate: Estate, store: AuditStore, observer: TelemetryObserver): Promise<AuditResult> {
  const { discovery, cloud } = simulatorDiscovery(estate);
  return runAudit({ discovery, store }, { scope: { kind: "tenant" }, cloud, armPrivateLink: false, holder: "telemetry-test", observer });
}

const isOpen = (f: Finding): boolean => f.status === "fail" && !f.exemption && f.change !== "removed";

describe("a run's telemetry (real audits, recording sink)", async () => {
  const store = await freshStore("telemetry");
  const sink = new RecordingSink();
  const observer = new TelemetryObserver(sink);

  test("first run: AuditRunCompleted with the run's counts, a FindingChanged per new finding, OpenFindings per rule", async () => {
    const { run, findings } = await audit(estateWith("drift-pull-removed.before.json"), store, observer);
    const [ev] = sink.named(EVENTS.runCompleted);
    expect(sink.named(EVENTS.runCompleted)).toHaveLength(1);
    expect(Object.keys(ev.properties).sort()).toEqual([...RUN_DIMENSIONS].sort());
    expect(Object.keys(ev.measurements).sort()).toEqual([...RUN_MEASUREMENTS].sort());
    expect(ev.properties).toMatchObject({ runId: run.id, scope: "tenant", status: "succeeded", missed: "", error: "" });
    expect(ev.measurements).toMatchObject({
      durationMs: run.durationMs,
      findings: findings.length,
      pass: run.counts.byStatus.pass,
      fail: run.counts.byStatus.fail,
      unknown: run.counts.byStatus.unknown,
      new: findings.length,
      changed: 0,
      removed: 0,
      openFailing: findings.filter(isOpen).length,
      exempted: 0,
      resourceGraphRequests: run.stats.resourceGraphRequests,
      armRequests: run.stats.armRequests,
      throttled: run.stats.throttled,
      tableOperations: run.stats.tableOperations,
      subscriptions: run.scopes.length,
    });
    expect(run.stats.resourceGraphRequests).toBeGreaterThan(0);
    expect(run.stats.tableOperations).toBeGreaterThan(0);
    expect(ev.measurements.fail_low).toBe(findings.filter((f) => f.status === "fail" && f.severity === "low").length);

    const changed = sink.named(EVENTS.findingChanged);
    expect(changed).toHaveLength(findings.length);
    for (const e of changed) {
      expect(Object.keys(e.properties).sort()).toEqual([...FINDING_DIMENSIONS].sort());
      expect(e.properties).toMatchObject({ runId: run.id, change: "new", previousStatus: "", exempt: "false" });
    }
    const publicUnrestricted = changed.find((e) => e.properties.ruleId === "registry.public-unrestricted")!;
    expect(publicUnrestricted.properties).toMatchObject({
      status: "fail",
      severity: "low",
      registryId: normalizeId(REGISTRY),
      clusterId: "",
      subscriptionId: "7d19c42c-92a2-5901-b116-4a08dfd726d4",
    });

    const open = sink.metrics.filter((m) => m.name === METRICS.openFindings);
    for (const r of RULES) expect(sink.metric(METRICS.openFindings, { ruleId: r.id, severity: r.severity }), r.id).toHaveLength(1);
    expect(open.reduce((n, m) => n + m.value, 0)).toBe(findings.filter(isOpen).length);
    expect(sink.metric(METRICS.openFindings, { ruleId: "registry.public-unrestricted" })[0].value).toBe(1);
    expect(sink.metric(METRICS.openFindings, { ruleId: "pull.granted" })[0].value).toBe(0);

    const [cluster] = sink.metric(METRICS.failingAttachments, { clusterId: normalizeId(CLUSTER) });
    expect(cluster.properties.subscriptionId).toBe("7d19c42c-92a2-5901-b116-4a08dfd726d4");
    const failingRegistries = new Set(
      findings.filter((f) => isOpen(f) && f.clusterId && f.registryId).map((f) => normalizeId(f.registryId!)),
    );
    expect(cluster.value).toBe(failingRegistries.size);
  });

  test("an exempted finding that changes is reported with exempt=true and does not count as open", async () => {
    sink.clear();
    const { run } = await audit(estateWith("drift-pull-removed.json", { [CLUSTER]: "pull.granted" }), store, observer);
    const changed = sink.named(EVENTS.findingChanged);
    expect(changed.map((e) => `${e.properties.ruleId}:${e.properties.change}`)).toEqual(["pull.granted:changed"]);
    expect(changed[0].properties).toMatchObject({
      runId: run.id,
      status: "fail",
      previousStatus: "pass",
      reason: "no-pull-role",
      severity: "high",
      exempt: "true",
      clusterId: normalizeId(CLUSTER),
      registryId: normalizeId(REGISTRY),
    });
    expect(sink.metric(METRICS.openFindings, { ruleId: "pull.granted", severity: "high" })[0].value).toBe(0);
    expect(sink.named(EVENTS.runCompleted)[0].measurements).toMatchObject({ exempted: 1, changed: 1 });
  });

  test("without the exemption the same failure is open, and no FindingChanged is sent for an unchanged finding", async () => {
    sink.clear();
    await audit(estateWith("drift-pull-removed.json"), store, observer);
    expect(sink.named(EVENTS.findingChanged)).toEqual([]);
    expect(sink.metric(METRICS.openFindings, { ruleId: "pull.granted", severity: "high" })[0].value).toBe(1);
    expect(sink.metric(METRICS.failingAttachments, { clusterId: normalizeId(CLUSTER) })[0].value).toBe(1);
    expect(sink.named(EVENTS.runCompleted)[0].measurements).toMatchObject({ open_high: 1, openFailing: 2 });
  });

  test("a rule whose open findings become exempted drops to zero instead of disappearing", async () => {
    sink.clear();
    await audit(estateWith("drift-pull-removed.json", { [REGISTRY]: "registry.public-unrestricted" }), store, observer);
    expect(sink.metric(METRICS.openFindings, { ruleId: "registry.public-unrestricted", severity: "low" })).toEqual([
      expect.objectContaining({ value: 0 }),
    ]);
    expect(sink.named(EVENTS.runCompleted)[0].measurements).toMatchObject({ open_low: 0, exempted: 1 });
  });
});

describe("failures never fail an audit", () => {
  const throwing: TelemetrySink = {
    trackEvent: () => {
      throw new Error("ingestion exploded");
    },
    trackMetric: () => {
      throw new Error("ingestion exploded");
    },
    flush: () => Promise.reject(new Error("flush exploded")),
  };

  test("a sink that throws on every call: the audit completes and the errors are reported", async () => {
    const errors: string[] = [];
    const observer = new TelemetryObserver(throwing, { onError: (_e, during) => errors.push(during) });
    const store = await freshStore("telemetryfail");
    const { run } = await audit(estateWith("attached-basic.json"), store, observer);
    expect(run.status).toBe("succeeded");
    await observer.flush();
    expect(errors).toEqual(expect.arrayContaining([`tracking ${EVENTS.runCompleted}`, `tracking ${METRICS.openFindings}`, "flushing"]));
  });

  test("a flush that never returns gives up after the timeout", async () => {
    const errors: unknown[] = [];
    const observer = new TelemetryObserver(
      { ...new RecordingSink(), trackEvent() {}, trackMetric() {}, flush: () => new Promise<void>(() => {}) },
      {
        flushTimeoutMs: 50,
        onError: (e) => errors.push(e),
      },
    );
    const started = Date.now();
    await observer.flush();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(String(errors[0])).toMatch(/longer than 50 ms/);
  });

  test("a failed run reports only its event (its findings are not a state), with the error", () => {
    const run = {
      id: "r1",
      scope: "tenant",
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T00:00:01.000Z",
      durationMs: 1000,
      status: "failed",
      scopes: [],
      missed: [],
      warnings: [],
      counts: {
        total: 0,
        byStatus: { pass: 0, fail: 0, unknown: 0 },
        byStatusSeverity: {},
        byChange: { new: 0, unchanged: 0, changed: 0, removed: 0 },
        openFailing: 0,
        exempted: 0,
      },
      stats: { resourceGraphRequests: 3, armRequests: 0, throttled: 1, tableOperations: 2 },
      error: "Resource Graph answered 403",
    } satisfies RunRecord;
    const { events, metrics } = runTelemetry(run, []);
    expect(events).toHaveLength(1);
    expect(events[0].properties).toMatchObject({ status: "failed", error: "Resource Graph answered 403" });
    expect(events[0].measurements).toMatchObject({ throttled: 1, resourceGraphRequests: 3 });
    expect(metrics).toEqual([]);
  });
});

describe("telemetryFromConfig and the Entra ID credential", () => {
  test("off without a connection string", () => {
    expect(telemetryFromConfig({ appInsightsConnectionString: undefined })).toBeUndefined();
    expect(telemetryFromConfig({ appInsightsConnectionString: "  " })).toBeUndefined();
  });

  test("an observer over the given sink when the connection string is set; flushTelemetry flushes it", async () => {
    const sink = new RecordingSink();
    const observer = telemetryFromConfig(
      { appInsightsConnectionString: "InstrumentationKey=00000000-0000-0000-0000-000000000001" },
      { sink },
    );
    expect(observer).toBeInstanceOf(TelemetryObserver);
    await flushTelemetry(observer);
    await flushTelemetry(undefined);
    await flushTelemetry({ progress: () => undefined });
    expect(sink.flushes).toBe(1);
  });

  test("Authorization=AAD;ClientId=... builds the managed identity credential of that client ID (injected factory)", () => {
    const built: (string | undefined)[] = [];
    const fake: TokenCredential = { getToken: async () => ({ token: "t", expiresOnTimestamp: Date.now() + 60_000 }) };
    const factory = (clientId: string | undefined) => (built.push(clientId), fake);
    const cs = "InstrumentationKey=00000000-0000-0000-0000-000000000001";
    expect(
      ingestionCredential(
        { connectionString: cs, authenticationString: "Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555" },
        { managedIdentityCredential: factory },
      ),
    ).toBe(fake);
    expect(
      ingestionCredential({ connectionString: cs, authenticationString: "Authorization=AAD" }, { managedIdentityCredential: factory }),
    ).toBe(fake);
    expect(built).toEqual(["11111111-2222-3333-4444-555555555555", undefined]);
    // Without the setting: instrumentation-key ingestion (no credential); an injected one always wins.
    expect(ingestionCredential({ connectionString: cs })).toBeUndefined();
    expect(
      ingestionCredential(
        { connectionString: cs, authenticationString: "Authorization=AAD" },
        { credential: fake, managedIdentityCredential: factory },
      ),
    ).toBe(fake);
    expect(built).toHaveLength(2);
    expect(() => ingestionCredential({ connectionString: cs, authenticationString: "Authorization=Key" })).toThrow(
      /APPLICATIONINSIGHTS_AUTHENTICATION_STRING/,
    );
  });

  test("withTraceParent just runs the function while no SDK is registered", async () => {
    await expect(withTraceParent({ traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }, async () => 42)).resolves.toBe(
      42,
    );
    await expect(withTraceParent(undefined, async () => 7)).resolves.toBe(7);
  });
});
