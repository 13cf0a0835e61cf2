/**
 * The audit timer's handler with real `InvocationContext` objects: the runtime is either assembled here
 * (simulator discovery, a fresh store on the test Azurite, a recording telemetry sink) or built by the app
 * from settings, as in Azure.
 */
import path from "node:path";
import { afterEach, describe, expect, inject, test } from "vitest";
import { InvocationContext, type Timer } from "@azure/functions";
import { auditTimer } from "../../src/functions/audit-timer.js";
import { EVENTS, TelemetryObserver } from "../../src/adapters/telemetry/index.js";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../../src/adapters/table-store/embedded-azurite.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { AuditError } from "../../src/core/audit.js";
import type { AuditStore } from "../../src/core/ports.js";
import { getRuntime, setRuntime, type AppRuntime } from "../../src/runtime.js";
import type { SimulationSettings } from "../../src/adapters/simulator/index.js";
import { freshStore, simulatorDiscovery } from "../helpers/harness.js";
import { estateWith } from "../adapters/telemetry/estates.js";
import { RecordingSink } from "../adapters/telemetry/recording-sink.js";

const TIMER: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };

function invocation(): { context: InvocationContext; logs: { level: string; text: string }[] } {
  const logs: { level: string; text: string }[] = [];
  const context = new InvocationContext({
    invocationId: "c0ffee00-0000-4000-8000-000000000001",
    functionName: "audit-timer",
    logHandler: (level, ...args) => logs.push({ level, text: args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ") }),
  });
  return { context, logs };
}

async function assembled(overrides?: Partial<SimulationSettings>) {
  const store = await freshStore("timer");
  const sink = new RecordingSink();
  const estate = estateWith("attached-basic.json");
  const runtime: AppRuntime = {
    config: loadConfig({}),
    store,
    scopeKey: "tenant",
    holder: "timer-test",
    observer: new TelemetryObserver(sink),
    newDiscovery: () => simulatorDiscovery(estate, { overrides }).discovery,
  };
  setRuntime(runtime);
  return { store, sink };
}

afterEach(() => setRuntime(undefined));

describe("audit-timer", () => {
  test("audits the scope, stores the run, logs a summary and flushes its telemetry", async () => {
    const { store, sink } = await assembled();
    const { context, logs } = invocation();
    await auditTimer(TIMER, context);
    const [run] = await store.listRuns("tenant", 5);
    expect(run.status).toBe("succeeded");
    expect(logs).toEqual([
      { level: "information", text: expect.stringMatching(new RegExp(`^Audit ${run.id} succeeded in \\d+ ms: \\d+ findings`)) },
    ]);
    expect(sink.named(EVENTS.runCompleted).map((e) => e.properties.runId)).toEqual([run.id]);
    expect(sink.flushes).toBe(1);
  });

  test("another audit holding the lease: logs that it skipped, does not throw, stores nothing", async () => {
    const { store, sink } = await assembled();
    const held = await store.acquireLease("tenant", "someone-else", 600);
    expect(held.acquired).toBe(true);
    const { context, logs } = invocation();
    await expect(auditTimer(TIMER, context)).resolves.toBeUndefined();
    expect(logs).toEqual([
      {
        level: "information",
        text: expect.stringMatching(/^Skipped this run: Another audit of scope 'tenant' is running \(held by someone-else/),
      },
    ]);
    expect(await store.listRuns("tenant", 5)).toEqual([]);
    expect(sink.events).toEqual([]);
  });

  test("a failing audit: context.error, the error is rethrown, and the failed run is reported", async () => {
    // Resource Graph answers 403 to everything: discovery cannot start.
    const { store, sink } = await assembled({ faults: [{ service: "resourcegraph", status: 403, count: -1 }] });
    const { context, logs } = invocation();
    const err = await auditTimer(TIMER, context).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuditError);
    expect((err as AuditError).code).toBe("DiscoveryFailed");
    expect(logs.filter((l) => l.level === "error").map((l) => l.text)).toEqual([(err as Error).message]);
    const [run] = await store.listRuns("tenant", 5);
    expect(run.status).toBe("failed");
    const [event] = sink.named(EVENTS.runCompleted);
    expect(event.properties).toMatchObject({ runId: run.id, status: "failed", error: expect.stringMatching(/403|Forbidden|denied/i) });
    expect(sink.metrics).toEqual([]);
    expect(sink.flushes).toBe(1);
  });

  test("invalid settings: context.error with every problem, and the invocation fails", async () => {
    const invalid = Promise.reject(new ConfigError(["RETENTION_DAYS: 'abc' must be a whole number", "AZURE_CLOUD: 'Mars' is not a cloud"]));
    invalid.catch(() => undefined);
    setRuntime(invalid);
    const { context, logs } = invocation();
    await expect(auditTimer(TIMER, context)).rejects.toBeInstanceOf(ConfigError);
    expect(logs).toEqual([{ level: "error", text: expect.stringMatching(/RETENTION_DAYS.*AZURE_CLOUD/) }]);
  });
});

describe("audit-timer with the runtime the app builds from its settings", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  test("AUDIT_ESTATE_FILE + a storage connection string: the simulator and the real store, no telemetry without a connection string", async () => {
    Object.assign(process.env, {
      AUDIT_ESTATE_FILE: path.join(__dirname, "..", "conformance", "declared-without-role.json"),
      AUDIT_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};TableEndpoint=${inject("azuriteTableUrl")};`,
      AUDIT_TABLE_PREFIX: `timerenv${process.pid}x${Math.floor(Math.random() * 1e6)}`,
      RETENTION_DAYS: "30",
    });
    delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
    setRuntime(undefined);
    const { context, logs } = invocation();
    await auditTimer(TIMER, context);
    const rt = await getRuntime();
    expect(rt.observer).toBeUndefined();
    expect(rt.config.retentionDays).toBe(30);
    const store: AuditStore = rt.store;
    const [run] = await store.listRuns(rt.scopeKey, 5);
    expect(run.status).toBe("succeeded");
    expect(run.counts.byStatus.fail).toBeGreaterThan(0);
    expect(logs[0].text).toContain(`Audit ${run.id} succeeded`);
  });
});
