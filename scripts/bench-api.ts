/**
 * API benchmark (`npm run bench:api` = `node dist/scripts/bench-api.js`): stores 100,000 findings in a fresh
 * Azurite, serves the API (src/server.ts) on 127.0.0.1 and measures, with autocannon and 32 connections,
 * `GET /api/findings?cluster=<id>` and `GET /api/findings?status=fail&severity=high&top=100`. Prints JSON.
 *
 * Azurite runs in a child process (its query engine scans the whole table in JavaScript; sharing the
 * server's event loop would measure that twice). Each scenario runs with the API's read cache (the default
 * configuration: `cluster`, `failHigh`), without it (`uncached.*`: every request reaches the store), and
 * without it on one connection (`uncached1.*`: what one request costs the store on its own).
 *
 * Options: --findings N (100000)  --connections N (32)  --duration S (10)  --data-dir D (reuse a seeded
 * Azurite database there; seeded on first use; slow: Azurite saves the whole database to one file)
 * --scenarios cached,uncached,uncached1
 */
import { fork, type ChildProcess } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AzureNamedKeyCredential } from "@azure/data-tables";
import { loadConfig } from "../src/config.js";
import { RULES } from "../src/core/catalog.js";
import type { Finding, Status } from "../src/core/findings.js";
import { defaultRunId, emptyCounts } from "../src/core/audit.js";
import type { AuditStore, RunRecord, StoredState } from "../src/core/ports.js";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../src/adapters/table-store/embedded-azurite.js";
import { createTableStore } from "../src/adapters/table-store/index.js";
import { configureReadCache, invalidateReadCache } from "../src/api/cache.js";
import { setRuntime } from "../src/runtime.js";
import { text } from "../src/core/text.js";

const SUB = (i: number) => `${(0x10000000 + i).toString(16)}-0000-4000-8000-000000000000`;
const ATTACHMENT_RULES = RULES.filter((r) => r.subject === "attachment");
const REGISTRY_RULES = RULES.filter((r) => r.subject === "registry");

export function clusterIdOf(c: number, subscriptions = 20): string {
  return `/subscriptions/${SUB(c % subscriptions)}/resourceGroups/rg-aks-${c % 50}/providers/Microsoft.ContainerService/managedClusters/aks-${c}`;
}

export function registryIdOf(r: number, subscriptions = 20): string {
  return `/subscriptions/${SUB(r % subscriptions)}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/acr${r}`;
}

/** A deterministic pseudo-random number in [0, 1) for an index (no global RNG: runs are reproducible). */
function unit(i: number, salt: number): number {
  let x = (i * 2654435761 + salt * 40503) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 2246822507) >>> 0;
  x ^= x >>> 13;
  return (x >>> 0) / 0x100000000;
}

/**
 * `n` distinct findings spread over `clusters` clusters and `registries` registries: attachment rules for
 * (cluster, registry) pairs, plus each registry's registry-level rules. About 20% fail, 5% are unknown,
 * and one failing finding in 20 carries an API exemption.
 */
export function syntheticFindings(n: number, opts: { clusters?: number; registries?: number; subscriptions?: number } = {}): Finding[] {
  const clusters = opts.clusters ?? Math.max(1, Math.ceil(n / 50));
  const registries = opts.registries ?? Math.max(1, Math.ceil(clusters / 4));
  const subs = opts.subscriptions ?? 20;
  const out: Finding[] = [];
  const make = (i: number, ruleId: string, severity: Finding["severity"], clusterId: string | null, registryId: string | null): Finding => {
    const u = unit(i, 1);
    const status: Status = u < 0.2 ? "fail" : u < 0.25 ? "unknown" : "pass";
    const exempt = status === "fail" && unit(i, 2) < 0.05;
    const subjectId = clusterId ?? registryId!;
    return {
      ruleId,
      status,
      severity,
      clusterId,
      registryId,
      reason: status === "pass" ? null : status === "fail" ? "synthetic-failure" : "not-visible",
      message: `Synthetic finding ${i} (${ruleId})`,
      evidence: { index: i },
      change: "unchanged",
      previousStatus: null,
      subscriptionId: subjectId.split("/")[2].toLowerCase(),
      exemption: exempt
        ? { source: "api", justification: "synthetic", expiresOn: null, id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}` }
        : null,
      remediation: null,
    };
  };
  for (let r = 0; r < registries && out.length < n; r++) {
    for (const rule of REGISTRY_RULES) if (out.length < n) out.push(make(out.length, rule.id, rule.severity, null, registryIdOf(r, subs)));
  }
  for (let p = 0; out.length < n; p++) {
    const c = p % clusters;
    const r = (Math.floor(p / clusters) + c) % registries;
    if (p >= clusters * registries) throw new Error("not enough (cluster, registry) pairs for that many findings");
    for (const rule of ATTACHMENT_RULES)
      if (out.length < n) out.push(make(out.length, rule.id, rule.severity, clusterIdOf(c, subs), registryIdOf(r, subs)));
  }
  return out;
}

function runRecord(scopeKey: string, id: string, started: Date, findings: Finding[]): RunRecord {
  const counts = emptyCounts();
  counts.total = findings.length;
  return {
    id,
    scope: scopeKey,
    startedAt: started.toISOString(),
    finishedAt: new Date(started.getTime() + 1000).toISOString(),
    durationMs: 1000,
    status: "succeeded",
    scopes: [],
    missed: [],
    warnings: [],
    counts,
    stats: { resourceGraphRequests: 0, armRequests: 0, throttled: 0, tableOperations: 0 },
  };
}

/**
 * Stores `findings` as the current state of `scopeKey` through commitRun, `chunk` findings per commit (each
 * commit writes only the findings it adds). Findings are committed as `unchanged` so no change feed is
 * written: the benchmark is about reading findings.
 */
export async function seedFindings(
  store: AuditStore,
  scopeKey: string,
  findings: Finding[],
  opts: { chunk?: number; progress?: (done: number) => void } = {},
): Promise<void> {
  const chunk = opts.chunk ?? 10_000;
  let previous: StoredState = await store.loadState(scopeKey);
  const base = Date.now() - 24 * 3600_000;
  for (let at = 0, k = 0; at < findings.length; at += chunk, k++) {
    const next = findings.slice(0, Math.min(findings.length, at + chunk));
    const started = new Date(base + k * 60_000);
    const run = runRecord(scopeKey, defaultRunId(started), started, next);
    await store.commitRun(scopeKey, run, previous, { findings: next, attachments: [] });
    previous = { ...previous, generation: previous.generation + 1, lastRunId: run.id, findings: next };
    opts.progress?.(next.length);
  }
}

interface LatencyStats {
  p50: number;
  p95: number;
  p99: number;
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 10) / 10;
}

/** Runs autocannon; latencies are collected per response so p95 is exact (autocannon reports p97.5). */
async function measure(url: string, connections: number, durationS: number): Promise<LatencyStats> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require("autocannon") as typeof import("autocannon");
  const latencies: number[] = [];
  const result = await new Promise<import("autocannon").Result>((resolve, reject) => {
    const instance = autocannon({ url, connections, duration: durationS, pipelining: 1 }, (err: unknown, res) =>
      err ? reject(err instanceof Error ? err : new Error(text(err, "autocannon failed"))) : resolve(res),
    );
    (instance as unknown as NodeJS.EventEmitter).on(
      "response",
      (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
        latencies.push(responseTime);
      },
    );
  });
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    rps: Math.round((result.requests.total / durationS) * 10) / 10,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** Starts Azurite's Table service in a child process; resolves with its table URL. */
async function startAzuriteChild(dataDir?: string): Promise<{ tableUrl: string; child: ChildProcess }> {
  const child = fork(__filename, ["--azurite-child", ...(dataDir ? ["--data-dir", dataDir] : [])], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const tableUrl = await new Promise<string>((resolve, reject) => {
    child.once("message", (m) => resolve(String((m as { tableUrl: string }).tableUrl)));
    child.once("exit", (code) => reject(new Error(`Azurite child exited (${code})`)));
  });
  return { tableUrl, child };
}

async function azuriteChild(dataDir?: string): Promise<void> {
  const { startEmbeddedAzurite } = await import("../src/adapters/table-store/embedded-azurite.js");
  const azurite = await startEmbeddedAzurite(dataDir ? { dataDir } : {});
  process.send!({ tableUrl: azurite.tableUrl });
  process.on("disconnect", () => void azurite.stop().finally(() => process.exit(0)));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      findings: { type: "string" },
      connections: { type: "string" },
      duration: { type: "string" },
      "data-dir": { type: "string" },
      scenarios: { type: "string" },
      "azurite-child": { type: "boolean" },
    },
  });
  const dataDir = values["data-dir"] ? path.resolve(values["data-dir"]) : undefined;
  if (values["azurite-child"]) return azuriteChild(dataDir);
  const n = Number(values.findings ?? 100_000);
  const connections = Number(values.connections ?? 32);
  const duration = Number(values.duration ?? 10);
  const modes = (values.scenarios ?? "cached,uncached,uncached1").split(",");
  const log = (m: string) => process.stderr.write(`bench-api: ${m}\n`);

  const { tableUrl, child } = await startAzuriteChild(dataDir);
  try {
    const store = await createTableStore({
      endpoint: tableUrl,
      credential: new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      allowInsecureConnection: true,
      tablePrefix: "bench",
    });
    const scopeKey = "tenant";
    const findings = syntheticFindings(n);
    const state = await store.listRuns(scopeKey, 1);
    const t0 = Date.now();
    if (state.length === 0) {
      log(`storing ${n} findings in Azurite (${tableUrl})...`);
      await seedFindings(store, scopeKey, findings, { progress: (d) => log(`  ${d} stored (${Math.round((Date.now() - t0) / 1000)} s)`) });
    } else log(`reusing the findings stored in ${dataDir}`);
    const seedSeconds = Math.round((Date.now() - t0) / 1000);

    setRuntime({
      config: loadConfig({ AUDIT_TABLE_PREFIX: "bench" }),
      store,
      scopeKey,
      holder: "bench",
      newDiscovery: () => {
        throw new Error("no discovery in the benchmark");
      },
    });
    const { startServer } = await import("../src/server.js");
    const server = await startServer({ port: 0, log: () => undefined });
    const clusterId = findings.find((f) => f.clusterId)!.clusterId!;
    const clusterFindings = findings.filter((f) => f.clusterId === clusterId).length;
    const urls = {
      cluster: `${server.url}/api/findings?cluster=${encodeURIComponent(clusterId)}`,
      failHigh: `${server.url}/api/findings?status=fail&severity=high&top=100`,
    };
    const out: Record<string, unknown> = {
      findings: n,
      connections,
      durationSeconds: duration,
      seedSeconds,
      clusterFindings,
      node: process.version,
      cpus: os.cpus().length,
    };
    for (const mode of modes) {
      // `uncached1`: one connection, no cache: the time one request costs the store (Azurite) on its own.
      const single = mode === "uncached1";
      configureReadCache({ ttlMs: mode === "cached" ? 10_000 : 0 });
      invalidateReadCache();
      const prefix = mode === "cached" ? "" : `${mode}.`;
      for (const [name, url] of Object.entries(urls)) {
        // One request first: the answer must be a 200 with data.
        const probe = await fetch(url);
        const body = (await probe.json()) as { value?: unknown[] };
        if (probe.status !== 200 || !body.value?.length) throw new Error(`${name}: ${probe.status} ${JSON.stringify(body).slice(0, 200)}`);
        const c = single ? 1 : connections;
        const d = single ? Math.max(3, Math.round(duration / 2)) : duration;
        log(`${mode} ${name}: ${d} s, ${c} connection(s)...`);
        out[`${prefix}${name}`] = await measure(url, c, d);
      }
    }
    configureReadCache({ ttlMs: 10_000 });
    await server.close();
    const cached = (out.cluster ?? out["uncached.cluster"]) as LatencyStats | undefined;
    const failHigh = (out.failHigh ?? out["uncached.failHigh"]) as LatencyStats | undefined;
    out.targetP95Ms = 150;
    out.meetsTarget = !!cached && !!failHigh && cached.p95 < 150 && failHigh.p95 < 150;
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
  } finally {
    child.disconnect();
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench-api: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
