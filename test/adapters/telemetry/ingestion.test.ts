/**
 * The real ingestion path: the audit timer's handler, in a plain `node` child process with the real
 * applicationinsights SDK, audits an estate twice (ARM simulator, real store on the test Azurite) and sends
 * to a loopback HTTPS capture server that stands in for Application Insights. The SDK only speaks https,
 * and NODE_EXTRA_CA_CERTS must be set when a process starts: hence the child.
 *
 * Nothing may leave the machine: the child runs the test network guard and records every non-loopback
 * lookup or connection, HTTPS_PROXY points at a loopback proxy that refuses (and records) every CONNECT,
 * and WEBSITE_SITE_NAME / FUNCTIONS_VERSION stop the SDK's Azure VM metadata probe.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { EVENTS, FINDING_DIMENSIONS, METRICS, RUN_DIMENSIONS } from "../../../src/adapters/telemetry/index.js";
import { RULES } from "../../../src/core/catalog.js";
import type { Finding } from "../../../src/core/findings.js";
import type { RunRecord } from "../../../src/core/ports.js";
import { normalizeId } from "../../../src/core/resource-id.js";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../../../src/adapters/table-store/embedded-azurite.js";
import { selfSignedCertificate, startCapture, type Capture, type Envelope } from "./capture.js";
import { CLUSTER, REGISTRY, SUBSCRIPTION, estateJsonWith } from "./estates.js";
import { ROOT, transpileForNode } from "./transpile.js";

const IKEY = "5c1f7a1e-0000-4000-8000-00000000a11c";
const CLIENT_ID = "11111111-2222-3333-4444-555555555555";
const TRACE = [
  { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" },
  { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" },
];

interface ChildOutput {
  runs: RunRecord[];
  changes: Finding[][];
  findings: Finding[];
  logs: string[];
  attempts: string[];
  tokenScopes: string[][];
}

let tmp: string;
let compiled: string;
let capture: Capture;
let out: ChildOutput;
let childStderr = "";
let childStdout = "";

function runChild(env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(compiled, "test", "adapters", "telemetry", "ingestion-child.js")], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => (childStdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (childStderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  });
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aks-acr-ingestion-"));
  const tls = selfSignedCertificate(tmp);
  capture = await startCapture(tls);
  compiled = transpileForNode("ingestion", ["test/setup/no-network.ts", "test/adapters/telemetry/ingestion-child.ts"]);
  const run1 = path.join(tmp, "run1.estate.json");
  const run2 = path.join(tmp, "run2.estate.json");
  fs.writeFileSync(run1, JSON.stringify(estateJsonWith("drift-pull-removed.before.json")));
  // Run 2: the pull role is gone (pull.granted fails), and the registry's public-network finding is exempted.
  fs.writeFileSync(run2, JSON.stringify(estateJsonWith("drift-pull-removed.json", { [REGISTRY]: "registry.public-unrestricted" })));

  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(APPLICATIONINSIGHTS_|AUDIT_|AZURE_|HTTPS?_PROXY|NO_PROXY)/i.test(k)),
  );
  const code = await runChild({
    ...(inherited as Record<string, string>),
    NODE_EXTRA_CA_CERTS: tls.certFile,
    APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${IKEY};IngestionEndpoint=${capture.url};LiveEndpoint=${capture.url}`,
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=AAD;ClientId=${CLIENT_ID}`,
    APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true",
    WEBSITE_SITE_NAME: "aks-acr-auditor-test",
    FUNCTIONS_VERSION: "4",
    HTTPS_PROXY: capture.proxyUrl,
    HTTP_PROXY: capture.proxyUrl,
    NO_PROXY: "127.0.0.1,localhost",
    AUDIT_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};TableEndpoint=${inject("azuriteTableUrl")};`,
    AUDIT_TABLE_PREFIX: `ingest${process.pid}x${Math.floor(Math.random() * 1e6)}`,
    AUDIT_SCHEDULE: "0 0 */6 * * *",
    ESTATE_RUN1: run1,
    ESTATE_RUN2: run2,
    TRACEPARENT_RUN1: `00-${TRACE[0].traceId}-${TRACE[0].spanId}-01`,
    TRACEPARENT_RUN2: `00-${TRACE[1].traceId}-${TRACE[1].spanId}-01`,
    INGESTION_OUT: path.join(tmp, "out.json"),
  });
  if (code !== 0) throw new Error(`the child process failed (exit ${code}):\n${childStderr}`);
  out = JSON.parse(fs.readFileSync(path.join(tmp, "out.json"), "utf8"));
}, 120_000);

afterAll(async () => {
  if (process.env.INGESTION_DEBUG)
    fs.writeFileSync(
      process.env.INGESTION_DEBUG,
      JSON.stringify({ capture: { envelopes: capture.envelopes, requests: capture.requests, connects: capture.connects }, out }, null, 1),
    );
  await capture?.close();
  if (compiled) fs.rmSync(compiled, { recursive: true, force: true });
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const events = (name: string): Envelope[] =>
  capture.envelopes.filter((e) => e.data.baseType === "EventData" && e.data.baseData.name === name);
const metricPoints = (name: string) =>
  capture.envelopes
    .filter((e) => e.data.baseType === "MetricData")
    .flatMap((e) =>
      (e.data.baseData.metrics as { name: string; value: number; count: number; max: number }[]).map((m) => ({
        ...m,
        time: e.time,
        properties: e.data.baseData.properties ?? {},
      })),
    )
    .filter((m) => m.name === name);

describe("what reaches the ingestion endpoint", () => {
  test("two audits ran through the timer handler and nothing tried to leave the machine", () => {
    expect(out.runs.map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
    expect(out.logs.filter((l) => l.startsWith("information: Audit "))).toHaveLength(2);
    expect(out.attempts).toEqual([]);
    // The SDK would switch the Azure SDK's logger on and print it on stdout; the adapter keeps it as it was.
    expect(childStdout).not.toMatch(/azure:/);
    // Only the SDK's settings service may try the proxy; the proxy refused it.
    for (const c of capture.connects) expect(c).toMatch(/^settings\.sdk\.monitor\.azure\.com:443$/);
    expect(capture.requests.length).toBeGreaterThan(0);
    expect(capture.requests.every((r) => r.method === "POST" && r.path.startsWith("/v2.1/track"))).toBe(true);
  });

  test("Entra ID ingestion: every request carries the managed identity's token for Azure Monitor", () => {
    expect(capture.requests.every((r) => r.authorization === "Bearer test-managed-identity-token")).toBe(true);
    expect(out.tokenScopes.length).toBeGreaterThan(0);
    expect(new Set(out.tokenScopes.flat())).toEqual(new Set(["https://monitor.azure.com/.default"]));
    expect(capture.envelopes.every((e) => e.iKey === IKEY)).toBe(true);
  });

  test("one AuditRunCompleted per run, with the run's dimensions and counts, in the invocation's operation", () => {
    const runEvents = events(EVENTS.runCompleted);
    expect(runEvents.map((e) => e.data.baseData.properties!.runId)).toEqual(out.runs.map((r) => r.id));
    runEvents.forEach((e, i) => {
      const run = out.runs[i];
      const p = e.data.baseData.properties!;
      const m = e.data.baseData.measurements!;
      expect(Object.keys(p).filter((k) => !(RUN_DIMENSIONS as readonly string[]).includes(k))).toEqual([]);
      expect(p).toMatchObject({ scope: "tenant", status: "succeeded" });
      // The stored record was written before its own commit; the event is sent after it (so it counts more).
      expect(m.durationMs).toBeGreaterThanOrEqual(run.durationMs!);
      expect(m.tableOperations).toBeGreaterThan(run.stats.tableOperations);
      expect(m).toMatchObject({
        openFailing: run.counts.openFailing,
        exempted: run.counts.exempted,
        fail: run.counts.byStatus.fail,
        pass: run.counts.byStatus.pass,
        new: run.counts.byChange.new,
        changed: run.counts.byChange.changed,
        resourceGraphRequests: run.stats.resourceGraphRequests,
      });
      expect(e.tags["ai.operation.id"]).toBe(TRACE[i].traceId);
      expect(e.tags["ai.operation.parentId"]).toBe(TRACE[i].spanId);
    });
    expect(out.runs[1].counts.exempted).toBe(1);
  });

  test("FindingChanged for every new, changed or removed finding, with its dimensions", () => {
    const changed = events(EVENTS.findingChanged);
    const expected = out.changes.flat().filter((f) => f.change !== "unchanged");
    expect(changed).toHaveLength(expected.length);
    for (const e of changed) expect(Object.keys(e.data.baseData.properties!).sort()).toEqual([...FINDING_DIMENSIONS].sort());
    const byRun = (runId: string) =>
      changed.filter((e) => e.data.baseData.properties!.runId === runId).map((e) => e.data.baseData.properties!);
    // Run 1: everything is new.
    expect(byRun(out.runs[0].id).map((p) => p.change)).toEqual(out.changes[0].map(() => "new"));
    // Run 2: the pull role was removed.
    expect(byRun(out.runs[1].id)).toEqual([
      expect.objectContaining({
        ruleId: "pull.granted",
        change: "changed",
        previousStatus: "pass",
        status: "fail",
        severity: "high",
        reason: "no-pull-role",
        clusterId: normalizeId(CLUSTER),
        registryId: normalizeId(REGISTRY),
        subscriptionId: SUBSCRIPTION,
        exempt: "false",
      }),
    ]);
    expect(changed.every((e) => e.tags["ai.operation.id"] === TRACE[0].traceId || e.tags["ai.operation.id"] === TRACE[1].traceId)).toBe(
      true,
    );
  });

  test("OpenFindings after each run: every rule at its severity, exempted findings left out, zero when it drops", () => {
    const points = metricPoints(METRICS.openFindings);
    const times = [...new Set(points.map((p) => p.time))].sort();
    expect(times).toHaveLength(2); // one flush per run
    const at = (i: number, ruleId: string) => points.filter((p) => p.time === times[i] && p.properties.ruleId === ruleId);
    for (const i of [0, 1]) {
      for (const r of RULES)
        expect(
          at(i, r.id).map((p) => p.properties.severity),
          `${r.id} run ${i + 1}`,
        ).toEqual([r.severity]);
    }
    expect(at(0, "registry.public-unrestricted")[0].max).toBe(1);
    expect(at(1, "registry.public-unrestricted")[0].max).toBe(0); // exempted in run 2: drops to zero
    expect(at(0, "pull.granted")[0].max).toBe(0);
    expect(at(1, "pull.granted")[0].max).toBe(1);
    expect(points.every((p) => p.count === 1)).toBe(true);
    const open = (i: number) => points.filter((p) => p.time === times[i]).reduce((n, p) => n + p.max, 0);
    expect([open(0), open(1)]).toEqual(out.runs.map((r) => r.counts.openFailing));
  });

  test("FailingAttachments per cluster after each run", () => {
    const points = metricPoints(METRICS.failingAttachments);
    expect(points.map((p) => [p.properties.clusterId, p.properties.subscriptionId, p.max])).toEqual([
      [normalizeId(CLUSTER), SUBSCRIPTION, 0],
      [normalizeId(CLUSTER), SUBSCRIPTION, 1],
    ]);
  });

  test("ARM and Table Storage calls arrive as dependencies, children of the timer invocation", () => {
    const deps = capture.envelopes.filter((e) => e.data.baseType === "RemoteDependencyData");
    const inRun = (i: number) => deps.filter((d) => d.tags["ai.operation.id"] === TRACE[i].traceId);
    for (const i of [0, 1]) {
      const run = out.runs[i];
      const arm = inRun(i).filter((d) => String(d.data.baseData.target).startsWith("https://management.azure.com/"));
      expect(arm.length, `ARM calls of run ${i + 1}`).toBe(run.stats.resourceGraphRequests + run.stats.armRequests);
      expect(arm.every((d) => d.data.baseData.type === "Http" && d.data.baseData.success === true)).toBe(true);
      const tables = inRun(i).filter(
        (d) => d.data.baseData.type === "Http" && String(d.data.baseData.target).startsWith(inject("azuriteTableUrl")),
      );
      expect(tables.length, `Table Storage requests of run ${i + 1}`).toBeGreaterThan(0);
      // Direct children of the invocation (the Functions host's request) or of the SDK's operation spans.
      const ids = new Set([TRACE[i].spanId, ...inRun(i).map((d) => String(d.data.baseData.id))]);
      expect(inRun(i).every((d) => ids.has(d.tags["ai.operation.parentId"]))).toBe(true);
      expect(arm.some((d) => d.tags["ai.operation.parentId"] === TRACE[i].spanId)).toBe(true);
    }
    // No dependency of the audit escaped its invocation's operation, and none is reported twice by the raw
    // HTTP instrumentation (which is off).
    const audit = deps.filter((d) => /management\.azure\.com|devstoreaccount1/.test(String(d.data.baseData.target)));
    expect(
      audit.filter((d) => ![TRACE[0].traceId, TRACE[1].traceId].includes(d.tags["ai.operation.id"])).map((d) => d.data.baseData.name),
    ).toEqual([]);
    expect(capture.envelopes.filter((e) => e.data.baseType === "RequestData")).toEqual([]);
  });

  test("the cloud role is the function app (WEBSITE_SITE_NAME)", () => {
    expect(new Set(capture.envelopes.filter((e) => e.data.baseType !== "MetricData").map((e) => e.tags["ai.cloud.role"]))).toEqual(
      new Set(["aks-acr-auditor-test"]),
    );
  });
});
