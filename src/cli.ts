#!/usr/bin/env node
/**
 * aks-acr-audit: the command line, a second edge over the same core as the Functions app.
 * Exit codes: 0 completed, 1 could not complete, 2 bad input, 3 a finding at or above --fail-on failed.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AuditError, runAudit } from "./core/audit.js";
import { cloudByName, CLOUD_NAMES, CLOUDS, type Cloud } from "./core/clouds.js";
import { exportEstate } from "./export.js";
import { azureCredential } from "./composition-root.js";
import { SEVERITIES, STATUSES, severityRank, type Finding, type Severity, type Status } from "./core/findings.js";
import { scopeKeyOf, type AuditObserver, type AuditScope, type StoredState } from "./core/ports.js";
import { renderFindingsTable, renderReport, renderTriage, runHeadline, style } from "./report.js";
import { triage, TriageError } from "./core/triage.js";
import { failsGate, findingJson, toJsonDocument, triageJson } from "./core/json.js";
import { DEFAULT_DATA_DIR, openDiscovery, openDiscoverySync, openStore, type Opened } from "./local.js";
import { loadConfig } from "./config.js";
import { setRuntime } from "./runtime.js";
import { backgroundAudits, startServer } from "./server.js";
import { ApiError } from "./api/errors.js";

export class UsageError extends Error {
  readonly code = "UsageError";
}

const USAGE = `Usage: aks-acr-audit <command> [options]

Commands:
  run        audit the tenant (or --estate FILE offline) and store the results
  runs       list past runs
  findings   list the current findings from the store
  triage     why can't this cluster pull from its registries, and how to fix it (reads the store, never writes it)
  export     write the estate an audit reads (Resource Graph rows) to a file, to replay offline
  serve      serve the HTTP API (the Functions' handlers) on 127.0.0.1 over the local store

Options of run:
  --estate FILE            audit an estate file through the local ARM simulator (no Azure)
  --data-dir DIR           where the embedded store keeps its files (default .aks-acr-audit)
  --management-group ID    audit one management group (default: every readable subscription)
  --cloud NAME             ${CLOUD_NAMES.join(" | ")} (default AzureCloud, or the estate's cloud)
  --arm-private-link       the tenant uses ARM private link (custom-role wildcards grant pull)
  --fail-on SEVERITY       exit 3 when a finding at or above SEVERITY fails (low|medium|high|critical)
  --json                   print one JSON document

Options of findings: --status S  --severity S (minimum)  --cluster ID|NAME  --data-dir DIR  --json
Options of runs:     --top N  --data-dir DIR  --json
Options of serve:    [--port 7071]  [--data-dir DIR]  [--estate FILE (what POST /api/runs audits)]  [--management-group ID]
Options of export:   --out FILE  [--management-group ID]  [--cloud NAME]  [--estate FILE (re-export an estate)]
Options of triage:   --cluster ID|NAME  [--registry ID|NAME|LOGIN-SERVER]  [--estate FILE]  [--management-group ID]  [--data-dir DIR]
                     [--cloud NAME]  [--arm-private-link]  [--json]
`;

interface Io {
  out(s: string): void;
  err(s: string): void;
  isTty: boolean;
  env: Record<string, string | undefined>;
}

function parse(args: string[], options: NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
}

function severityArg(v: string | undefined, flag: string): Severity | undefined {
  if (v === undefined) return undefined;
  if (!SEVERITIES.includes(v as Severity)) throw new UsageError(`${flag} must be one of ${SEVERITIES.join(", ")} (got '${v}')`);
  return v as Severity;
}

function cloudArg(v: string | undefined): Cloud | undefined {
  if (v === undefined) return undefined;
  const c = cloudByName(v);
  if (!c) throw new UsageError(`--cloud must be one of ${CLOUD_NAMES.join(", ")} (got '${v}')`);
  return c;
}

function scopeArg(mg: string | undefined): AuditScope {
  if (mg === undefined) return { kind: "tenant" };
  if (!/^[A-Za-z0-9._()-]{1,90}$/.test(mg)) throw new UsageError(`--management-group '${mg}' is not a management group ID`);
  return { kind: "managementGroup", managementGroup: mg };
}

async function cmdRun(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    estate: { type: "string" },
    "data-dir": { type: "string" },
    "management-group": { type: "string" },
    cloud: { type: "string" },
    "arm-private-link": { type: "boolean" },
    "fail-on": { type: "string" },
    json: { type: "boolean" },
  });
  const failOn = severityArg(values["fail-on"] as string | undefined, "--fail-on");
  const scope = scopeArg(values["management-group"] as string | undefined);
  const cloudFlag = cloudArg(values.cloud as string | undefined);
  const started = Date.now();
  let lastProgress = "";
  const progress = (m: string): void => {
    lastProgress = m;
    if (Date.now() - started > 1000) io.err(`aks-acr-audit: ${m}`);
  };
  const opened: Opened[] = [];
  let telemetry:
    | {
        runCompleted: NonNullable<AuditObserver["runCompleted"]>;
        withOperation: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
        stop: () => Promise<void>;
      }
    | undefined;
  try {
    const discovery = await openDiscovery({ estate: values.estate as string | undefined, cloud: cloudFlag, env: io.env });
    opened.push(discovery);
    const store = await openStore({ dataDir: values["data-dir"] as string | undefined, env: io.env });
    opened.push(store);
    // The same telemetry as the timer function when a connection string is set (loaded only then).
    if (io.env.APPLICATIONINSIGHTS_CONNECTION_STRING) {
      const t = await import("./adapters/telemetry/index.js");
      const aiAuth = io.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING || undefined;
      const observer = t.telemetryFromConfig(
        { appInsightsConnectionString: io.env.APPLICATIONINSIGHTS_CONNECTION_STRING, appInsightsAuthenticationString: aiAuth },
        aiAuth ? { credential: await azureCredential(discovery.cloud, io.env.AZURE_CLIENT_ID || undefined) } : {},
      );
      telemetry = {
        runCompleted: (run, findings) => observer?.runCompleted(run, findings),
        withOperation: (name, fn) => t.withOperation(name, fn),
        stop: () => t.stopApplicationInsights(),
      };
    }
    const audit = () =>
      runAudit(
        { discovery: discovery.discovery, store: store.store },
        {
          scope,
          cloud: discovery.cloud,
          armPrivateLink: Boolean(values["arm-private-link"]) || /^true$/i.test(io.env.AUDIT_TENANT_ARM_PRIVATE_LINK ?? ""),
          holder: `cli:${os.hostname()}:${process.pid}`,
          retentionDays: Number(io.env.RETENTION_DAYS ?? 90) || 90,
          observer: { progress, runCompleted: (run, findings) => telemetry?.runCompleted(run, findings) },
        },
      );
    const result = telemetry ? await telemetry.withOperation("aks-acr-audit run", audit) : await audit();
    if (values.json) io.out(JSON.stringify(toJsonDocument(result)));
    else io.out(renderReport(result.run, result.findings, result.attachments, style(io.isTty)));
    if (failOn && failsGate(result.findings, failOn).length) {
      if (!values.json) io.err(`aks-acr-audit: ${failsGate(result.findings, failOn).length} finding(s) at or above ${failOn} fail`);
      return 3;
    }
    return 0;
  } catch (err) {
    if (err instanceof AuditError && err.run) telemetry?.runCompleted(err.run, []);
    if (err instanceof AuditError && err.code === "LeaseHeld") {
      io.err(`aks-acr-audit: ${err.message}`);
      return 1;
    }
    throw Object.assign(err as Error, { during: lastProgress });
  } finally {
    for (const o of opened.reverse()) await o.close().catch(() => undefined);
    // After the store is closed: stopping telemetry first could leave the embedded Azurite running.
    await telemetry?.stop().catch(() => undefined);
  }
}

async function cmdRuns(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    "data-dir": { type: "string" },
    "management-group": { type: "string" },
    top: { type: "string" },
    json: { type: "boolean" },
  });
  const top = values.top === undefined ? 20 : Number(values.top);
  if (!Number.isInteger(top) || top < 1 || top > 1000) throw new UsageError(`--top must be a whole number from 1 to 1000`);
  const store = await openStore({ dataDir: values["data-dir"] as string | undefined, env: io.env });
  try {
    const runs = await store.store.listRuns(scopeKeyOf(scopeArg(values["management-group"] as string | undefined)), top);
    if (values.json) io.out(JSON.stringify({ value: runs }));
    else io.out(runs.length ? runs.map(runHeadline).join("\n") : "No runs yet: run `aks-acr-audit run` first.");
    return 0;
  } finally {
    await store.close();
  }
}

async function cmdFindings(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    "data-dir": { type: "string" },
    "management-group": { type: "string" },
    status: { type: "string" },
    severity: { type: "string" },
    cluster: { type: "string" },
    json: { type: "boolean" },
  });
  const status = values.status as string | undefined;
  if (status !== undefined && !STATUSES.includes(status as Status))
    throw new UsageError(`--status must be one of ${STATUSES.join(", ")} (got '${status}')`);
  const severity = severityArg(values.severity as string | undefined, "--severity");
  const cluster = values.cluster as string | undefined;
  const store = await openStore({ dataDir: values["data-dir"] as string | undefined, env: io.env });
  try {
    const state = await store.store.loadState(scopeKeyOf(scopeArg(values["management-group"] as string | undefined)));
    const matchCluster = (f: Finding): boolean => {
      if (!cluster) return true;
      if (!f.clusterId) return false;
      return cluster.startsWith("/")
        ? f.clusterId.toLowerCase() === cluster.toLowerCase()
        : path.posix.basename(f.clusterId).toLowerCase() === cluster.toLowerCase();
    };
    const findings = state.findings.filter(
      (f) => (!status || f.status === status) && (!severity || severityRank(f.severity) >= severityRank(severity)) && matchCluster(f),
    );
    if (values.json) io.out(JSON.stringify({ value: findings.map(findingJson) }));
    else io.out(findings.length ? renderFindingsTable(findings, style(io.isTty)) : "No findings match.");
    return 0;
  } finally {
    await store.close();
  }
}

async function cmdTriage(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    cluster: { type: "string" },
    registry: { type: "string" },
    estate: { type: "string" },
    "management-group": { type: "string" },
    cloud: { type: "string" },
    "arm-private-link": { type: "boolean" },
    "data-dir": { type: "string" },
    json: { type: "boolean" },
  });
  if (!values.cluster) throw new UsageError("triage needs --cluster <resource ID or name>");
  const scope = scopeArg(values["management-group"] as string | undefined);
  // Remembered attachments count, as for an audit and GET /api/triage: from the store the audits wrote, when
  // there is one (--data-dir, a configured store, or the default directory); triage never writes to it.
  const dataDir = values["data-dir"] as string | undefined;
  const hasStore =
    dataDir !== undefined ||
    !!io.env.AUDIT_TABLE_ENDPOINT ||
    !!io.env.AUDIT_STORAGE_CONNECTION_STRING ||
    fs.existsSync(path.resolve(DEFAULT_DATA_DIR));
  let previous: StoredState | undefined;
  if (hasStore) {
    try {
      const store = await openStore({ dataDir, env: io.env });
      try {
        previous = await store.store.loadState(scopeKeyOf(scope));
      } finally {
        await store.close();
      }
    } catch (err) {
      // Triage needs no store: without one it only misses remembered attachments; say so and go on.
      io.err(`aks-acr-audit: triage goes on without the store's remembered attachments: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  const discovery = await openDiscovery({
    estate: values.estate as string | undefined,
    cloud: cloudArg(values.cloud as string | undefined),
    env: io.env,
  });
  try {
    const result = await triage(discovery.discovery, {
      ...(previous ? { previous } : {}),
      cluster: values.cluster as string,
      registry: values.registry as string | undefined,
      scope,
      cloud: discovery.cloud,
      armPrivateLink: Boolean(values["arm-private-link"]) || /^true$/i.test(io.env.AUDIT_TENANT_ARM_PRIVATE_LINK ?? ""),
    });
    if (values.json) io.out(JSON.stringify(triageJson(result)));
    else io.out(renderTriage(result, style(io.isTty)));
    return 0;
  } catch (err) {
    if (err instanceof TriageError) throw new UsageError(err.message);
    throw err;
  } finally {
    await discovery.close();
  }
}

async function cmdExport(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    out: { type: "string" },
    "management-group": { type: "string" },
    cloud: { type: "string" },
    estate: { type: "string" },
  });
  if (!values.out) throw new UsageError("export needs --out FILE");
  const scope = scopeArg(values["management-group"] as string | undefined);
  const cloudFlag = cloudArg(values.cloud as string | undefined);
  let estate;
  if (values.estate) {
    const { loadEstateFile, ArmSimulator, simulatorCredential } = await import("./adapters/simulator/index.js");
    const e = loadEstateFile(values.estate as string);
    const cloud = cloudFlag ?? cloudByName(e.cloud) ?? CLOUDS.AzureCloud;
    estate = await exportEstate({ cloud, credential: simulatorCredential(), httpClient: new ArmSimulator(e), scope });
  } else {
    const cloud = cloudFlag ?? cloudByName(io.env.AZURE_CLOUD) ?? CLOUDS.AzureCloud;
    estate = await exportEstate({ cloud, credential: await azureCredential(cloud, io.env.AZURE_CLIENT_ID || undefined), scope });
  }
  fs.writeFileSync(values.out as string, JSON.stringify(estate, null, 1) + "\n");
  const n = estate.tables.resources.length + estate.tables.resourcecontainers.length + estate.tables.authorizationresources.length;
  io.err(`aks-acr-audit: wrote ${n} rows to ${values.out as string}; replay with: aks-acr-audit run --estate ${values.out as string}`);
  return 0;
}

async function cmdServe(args: string[], io: Io & { until?: Promise<void> }): Promise<number> {
  const { values } = parse(args, {
    port: { type: "string" },
    "data-dir": { type: "string" },
    estate: { type: "string" },
    "management-group": { type: "string" },
    cloud: { type: "string" },
  });
  const port = values.port === undefined ? 7071 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a port number (got '${values.port as string}')`);
  const scope = scopeArg(values["management-group"] as string | undefined);
  const estateFile = values.estate as string | undefined;
  const config = loadConfig({
    ...io.env,
    AUDIT_MANAGEMENT_GROUP: scope.managementGroup ?? "",
    AZURE_CLOUD: (values.cloud as string | undefined) ?? io.env.AZURE_CLOUD,
    AUDIT_ESTATE_FILE: estateFile ?? io.env.AUDIT_ESTATE_FILE,
  });
  const discovery = estateFile
    ? await openDiscovery({ estate: estateFile, cloud: cloudArg(values.cloud as string | undefined), env: io.env })
    : undefined;
  const store = await openStore({ dataDir: values["data-dir"] as string | undefined, env: io.env });
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    setRuntime({
      config: { ...config, cloud: discovery?.cloud ?? config.cloud },
      store: store.store,
      scopeKey: scopeKeyOf(scope),
      holder: `serve:${os.hostname()}:${process.pid}`,
      // POST /api/runs audits the estate through the simulator; without one, Azure with the developer's login.
      newDiscovery: () => {
        if (estateFile) return openDiscoverySync(estateFile, discovery!.cloud);
        // A 503 naming the fix (GET /api/triage reads the estate too), not a bare 500.
        throw new ApiError(
          "ServiceUnavailable",
          "serve was started without --estate: triage and POST /api/runs need --estate locally (in Azure they read the tenant)",
        );
      },
    });
    server = await startServer({ port, env: io.env });
    const u = server.url;
    io.out(
      [
        `aks-acr-audit API on ${u}/api (store: ${store.description}${io.env.AUDIT_API_KEY ? "; send x-functions-key" : "; no key needed locally"})`,
        `Try:`,
        `  curl -s '${u}/api/findings/summary'`,
        `  curl -s '${u}/api/findings?status=fail&severity=high'`,
        `  curl -s '${u}/api/findings?status=fail&format=csv'`,
        `  curl -s '${u}/api/runs/latest'`,
        `  curl -s '${u}/api/runs/latest/changes'`,
        `  curl -s '${u}/api/openapi.json'`,
        `  curl -s -X POST '${u}/api/runs'`,
        `Ctrl+C stops.`,
      ].join("\n"),
    );
    await (io.until ??
      new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      }));
    return 0;
  } finally {
    await server?.close().catch(() => undefined);
    // An audit POST /api/runs started still writes to the store: let it finish (and release its lease).
    await backgroundAudits().catch(() => undefined);
    setRuntime(undefined);
    await store.close().catch(() => undefined);
  }
}

export async function main(argv: string[], io: Io & { until?: Promise<void> }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run":
        return await cmdRun(rest, io);
      case "runs":
        return await cmdRuns(rest, io);
      case "findings":
        return await cmdFindings(rest, io);
      case "triage":
        return await cmdTriage(rest, io);
      case "export":
        return await cmdExport(rest, io);
      case "serve":
        return await cmdServe(rest, io);
      case "help":
      case "--help":
      case "-h":
        io.out(USAGE);
        return 0;
      case undefined:
        io.err(USAGE);
        return 2;
      default:
        throw new UsageError(`unknown command '${command}' (try --help)`);
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e instanceof UsageError || e.code === "UsageError" || e.code === "EstateInvalid" || e.code === "ConfigInvalid") {
      io.err(`aks-acr-audit: ${e.message}`);
      return 2;
    }
    io.err(`aks-acr-audit: ${e.message.split("\n")[0]}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), {
    out: (s) => process.stdout.write(s + "\n"),
    err: (s) => process.stderr.write(s + "\n"),
    isTty: Boolean(process.stdout.isTTY),
    env: process.env,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`aks-acr-audit: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
