/**
 * Scale benchmark (issue 8): full audits of synthetic estates through the real SDK clients over the ARM
 * simulator (latency per request, 1000 rows a page, the 15 / 5 s Resource Graph quota with 429s) into
 * Azurite, at several sizes. Not a test: it prints measurements.
 *
 *   npm run bench                                  # 1000, 5000, 10000 clusters, a table on stderr + JSON lines
 *   npm run --silent bench -- --clusters 10000 --json   # one JSON object per size on stdout, nothing else
 *   npm run bench -- --clusters 1000,5000,10000 --chart docs/scale.svg
 *
 * Each size runs in a fresh child process (the *auditor*: discovery, rules, store client), so its peak RSS
 * is the auditor's own. The auditor talks to a second child (the *infrastructure*: the ARM simulator
 * serving the generated estate, and an embedded Azurite) over IPC: the simulator's evaluation time and
 * Azurite's memory do not count against the auditor, as Azure's would not. `--in-process` runs all three
 * in one process instead (RSS then includes the estate and Azurite).
 *
 * Options: --clusters N[,N...] (repeatable)  --json  --chart FILE  --seed S  --latency MS (100)
 *          --quota REQUESTS/SECONDS (15/5; "none" for no quota)  --page-size N (1000)  --no-rerun
 *          --in-process  --extra-network N  --out DIR (bench-results)  --cpu-prof / --heap-prof (profile
 *          the auditor into DIR/profiles)  --discovery-only (time only the core's discover(): query plan tuning)
 *          --verbose (each run's progress on stderr)
 *          --from FILE.jsonl (draw --chart / print --markdown from saved results instead of running)
 */
import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { AzureNamedKeyCredential } from "@azure/data-tables";
import {
  createHttpHeaders,
  createPipelineRequest,
  RestError,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { discover, runAudit } from "../src/core/audit.js";
import { CLOUDS } from "../src/core/clouds.js";
import type { AuditStore } from "../src/core/ports.js";
import { buildDiscovery } from "../src/composition-root.js";
import { ArmSimulator, DEFAULT_SIMULATION, simulatorCredential, type Estate } from "../src/adapters/simulator/index.js";
import { AZURITE_ACCOUNT, AZURITE_KEY, startEmbeddedAzurite, type EmbeddedAzurite } from "../src/adapters/table-store/embedded-azurite.js";
import { createTableStore } from "../src/adapters/table-store/index.js";
import { generateEstate, quotaLowerBound, relevantRows, type GeneratedCluster } from "./generate-estate.js";
import { text } from "../src/core/text.js";

// ------------------------------------------------------------------------------------------------ options

export interface BenchOptions {
  sizes: number[];
  json: boolean;
  chart?: string;
  seed: number;
  latencyMs: number;
  pageSize: number;
  quota?: { requests: number; windowSeconds: number };
  rerun: boolean;
  inProcess: boolean;
  extraNetwork: number;
  outDir: string;
  cpuProf: boolean;
  heapProf: boolean;
  /** Progress of each run on stderr. */
  verbose: boolean;
  /** Read results (JSON lines, as `--json` prints them) instead of running: for `--chart` / `--markdown`. */
  from?: string;
  /** Print the results as a Markdown table (docs/scale.md) instead of JSON. */
  markdown: boolean;
  /** `discovery`: time only the core's discover() (no rules, no store): for tuning the query plan. */
  discoveryOnly: boolean;
}

export function parseBenchArgs(argv: string[], defaults: number[] = [1000, 5000, 10000]): BenchOptions {
  const o: BenchOptions = {
    sizes: [],
    json: false,
    seed: 1,
    latencyMs: 100,
    pageSize: 1000,
    quota: { requests: 15, windowSeconds: 5 },
    rerun: true,
    inProcess: false,
    extraNetwork: 0,
    outDir: "bench-results",
    cpuProf: false,
    heapProf: false,
    verbose: false,
    markdown: false,
    discoveryOnly: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    switch (a) {
      case "--clusters":
        for (const s of v().split(",")) {
          const n = Number(s.trim());
          if (!Number.isInteger(n) || n < 1) throw new Error(`--clusters: '${s}' is not a positive integer`);
          o.sizes.push(n);
        }
        break;
      case "--json":
        o.json = true;
        break;
      case "--chart":
        o.chart = v();
        break;
      case "--seed":
        o.seed = Number(v());
        break;
      case "--latency":
        o.latencyMs = Number(v());
        break;
      case "--page-size":
        o.pageSize = Number(v());
        break;
      case "--quota": {
        const q = v();
        if (q === "none") o.quota = undefined;
        else {
          const m = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(q);
          if (!m) throw new Error("--quota must be REQUESTS/SECONDS, e.g. 15/5, or none");
          o.quota = { requests: Number(m[1]), windowSeconds: Number(m[2]) };
        }
        break;
      }
      case "--no-rerun":
        o.rerun = false;
        break;
      case "--in-process":
        o.inProcess = true;
        break;
      case "--extra-network":
        o.extraNetwork = Number(v());
        break;
      case "--out":
        o.outDir = v();
        break;
      case "--cpu-prof":
        o.cpuProf = true;
        break;
      case "--from":
        o.from = v();
        break;
      case "--markdown":
        o.markdown = true;
        break;
      case "--verbose":
        o.verbose = true;
        break;
      case "--heap-prof":
        o.heapProf = true;
        break;
      case "--discovery-only":
        o.discoveryOnly = true;
        break;
      default:
        throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.sizes.length) o.sizes = defaults;
  return o;
}

// ------------------------------------------------------------------------------------------------ infrastructure

export interface InfraReady {
  tableUrl: string;
  relevant: Record<string, number>;
  counts: Record<string, number>;
  clusters: GeneratedCluster[];
  generateSeconds: number;
}

/** The infrastructure side: generated estate, simulator, Azurite. */
export class Infra {
  simulator!: ArmSimulator;
  azurite!: EmbeddedAzurite;
  /** CPU time of this process (simulator and Azurite) since the last reset. */
  private cpu = process.cpuUsage();

  async start(o: {
    clusters: number;
    seed: number;
    extraNetwork: number;
    latencyMs: number;
    pageSize: number;
    quota?: BenchOptions["quota"];
  }): Promise<InfraReady> {
    const t0 = performance.now();
    const g = generateEstate({ clusters: o.clusters, seed: o.seed, extraNetwork: o.extraNetwork });
    const relevant = relevantRows(g.estate);
    const estate: Estate = { ...g.estate, simulation: { ...DEFAULT_SIMULATION, faults: [] } };
    this.simulator = new ArmSimulator(estate, {
      latencyMs: o.latencyMs,
      pageSize: o.pageSize,
      ...(o.quota ? { quota: o.quota } : { quota: undefined }),
    });
    const generateSeconds = (performance.now() - t0) / 1000;
    this.azurite = await startEmbeddedAzurite();
    return {
      tableUrl: this.azurite.tableUrl,
      relevant,
      counts: g.counts,
      clusters: g.clusters.filter((c, i) => c.broken || i < 5).slice(0, 50),
      generateSeconds,
    };
  }

  /** Resource Graph requests: arrival and response times (ms since the first), status, pages, family. */
  timeline: { at: number; done: number; status: number; family: string; skip: boolean }[] = [];
  private t0 = 0;

  async send(request: PipelineRequest): Promise<PipelineResponse> {
    if (!/resourcegraph/i.test(request.url)) return this.simulator.sendRequest(request);
    const now = performance.now();
    if (!this.timeline.length) this.t0 = now;
    let family = "?";
    let skip = false;
    try {
      const b = JSON.parse(typeof request.body === "string" ? request.body : "") as { query: string; options?: { $skipToken?: string } };
      family = queryFamily(b.query);
      skip = !!b.options?.$skipToken;
    } catch {
      // not JSON
    }
    const r = await this.simulator.sendRequest(request);
    this.timeline.push({ at: Math.round(now - this.t0), done: Math.round(performance.now() - this.t0), status: r.status, family, skip });
    return r;
  }

  stats(): Record<string, unknown> {
    const s = this.simulator.stats;
    return {
      resourceGraphRequests: s.resourceGraphRequests,
      authorizationRequests: s.authorizationRequests,
      throttled: s.throttled,
      rowsReturned: s.rowsReturned,
      queries: s.queries,
      timeline: this.timeline,
      infraCpuSeconds: round((process.cpuUsage(this.cpu).user + process.cpuUsage(this.cpu).system) / 1e6, 2),
      infraPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  }

  reset(): void {
    this.simulator.resetStats();
    this.cpu = process.cpuUsage();
    this.timeline = [];
  }

  async stop(): Promise<void> {
    await this.azurite?.stop();
  }
}

interface WireRequest {
  t: "req";
  id: number;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeout: number;
}
interface WireResponse {
  t: "res";
  id: number;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  error?: { message: string; code?: string };
}

/** Runs as the infrastructure child: answers requests from the auditor over IPC. */
async function infraMain(): Promise<void> {
  const infra = new Infra();
  const onMessage = async (m: { t: string; [k: string]: unknown }) => {
    try {
      if (m.t === "start") {
        const ready = await infra.start(m.opts as Parameters<Infra["start"]>[0]);
        process.send!({ t: "ready", ready });
      } else if (m.t === "req") {
        const w = m as unknown as WireRequest;
        const request = createPipelineRequest({
          url: w.url,
          method: w.method as PipelineRequest["method"],
          headers: createHttpHeaders(w.headers),
          body: w.body,
          timeout: w.timeout,
        });
        let out: WireResponse;
        try {
          const r = await infra.send(request);
          out = { t: "res", id: w.id, status: r.status, headers: r.headers.toJSON(), body: r.bodyAsText ?? undefined };
        } catch (err) {
          out = { t: "res", id: w.id, error: { message: (err as Error).message, code: (err as RestError).code } };
        }
        process.send!(out);
      } else if (m.t === "stats") {
        process.send!({ t: "stats", stats: infra.stats() });
      } else if (m.t === "reset") {
        infra.reset();
        process.send!({ t: "reset" });
      } else if (m.t === "stop") {
        await infra.stop();
        process.send!({ t: "stopped" }, () => process.exit(0));
      }
    } catch (err) {
      process.send!({ t: "error", message: (err as Error).stack ?? String(err) });
    }
  };
  process.on("message", (m: { t: string; [k: string]: unknown }) => void onMessage(m));
  process.send!({ t: "up" });
}

/** The auditor side of the IPC: an Azure SDK HttpClient that forwards every request to the infrastructure child. */
export class IpcHttpClient implements HttpClient {
  private next = 1;
  private readonly pending = new Map<
    number,
    { request: PipelineRequest; resolve: (r: PipelineResponse) => void; reject: (e: Error) => void }
  >();
  constructor(private readonly child: ChildProcess) {
    child.on("message", (m: WireResponse) => {
      if (m.t !== "res") return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) return p.reject(new RestError(m.error.message, { code: m.error.code, request: p.request }));
      const response: PipelineResponse = { status: m.status!, headers: createHttpHeaders(m.headers), request: p.request };
      const streamed = p.request.streamResponseStatusCodes;
      if (streamed && (streamed.has(m.status!) || streamed.has(Number.POSITIVE_INFINITY)))
        response.readableStreamBody = Readable.from([Buffer.from(m.body ?? "")]);
      else response.bodyAsText = m.body ?? "";
      p.resolve(response);
    });
  }

  async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
    if (request.abortSignal?.aborted) throw Object.assign(new Error("The operation was aborted."), { name: "AbortError" });
    let body: string | undefined;
    const b: unknown = typeof request.body === "function" ? (request.body as () => unknown)() : request.body;
    if (typeof b === "string") body = b;
    else if (b instanceof Uint8Array) body = Buffer.from(b).toString("utf8");
    else if (b !== undefined && b !== null) throw new Error("IpcHttpClient: unsupported request body type");
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { request, resolve, reject });
      const w: WireRequest = {
        t: "req",
        id,
        method: request.method,
        url: request.url,
        headers: request.headers.toJSON(),
        body,
        timeout: request.timeout,
      };
      this.child.send(w);
    });
  }
}

/** Starts the infrastructure child and waits until it serves. */
export async function startInfraChild(
  opts: Parameters<Infra["start"]>[0],
): Promise<{ child: ChildProcess; ready: InfraReady; call: <T>(t: string) => Promise<T>; stop: () => Promise<void> }> {
  const child = fork(__filename, ["--role", "infra"], {
    execArgv: ["--max-old-space-size=8192"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const waitFor = <T>(t: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const on = (m: { t: string; message?: string }) => {
        if (m.t === "error") {
          child.off("message", on);
          reject(new Error(`infrastructure child: ${m.message}`));
        } else if (m.t === t) {
          child.off("message", on);
          resolve(m as T);
        }
      };
      child.on("message", on);
      child.once("exit", (code) => reject(new Error(`infrastructure child exited (${code})`)));
    });
  await waitFor("up");
  child.send({ t: "start", opts });
  const { ready } = await waitFor<{ ready: InfraReady }>("ready");
  const call = async <T>(t: string): Promise<T> => {
    const p = waitFor<T>(t);
    child.send({ t });
    return p;
  };
  const stop = async () => {
    const p = waitFor("stopped").catch(() => undefined);
    child.send({ t: "stop" });
    await Promise.race([p, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill();
  };
  return { child, ready, call, stop };
}

// ------------------------------------------------------------------------------------------------ the auditor

export interface SizeResult {
  clusters: number;
  wallSeconds: number;
  resourceGraphRequests: number;
  armRequests: number;
  throttled: number;
  tableOperations: number;
  tableOperationsRerun: number | null;
  peakRssMb: number;
  quotaLowerBoundSeconds: number;
  ratio: number;
  [k: string]: unknown;
}

export function round(x: number, d = 2): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** Samples RSS and heap every 20 ms; the kernel's maxRSS is the authoritative peak. */
export function memorySampler(): { stop: () => { peakRssMb: number; peakHeapMb: number } } {
  let peakHeap = 0;
  let peakRss = 0;
  const tick = () => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
  };
  tick();
  const t = setInterval(tick, 20);
  t.unref();
  return {
    stop: () => {
      clearInterval(t);
      tick();
      return {
        peakRssMb: Math.round(Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 1048576),
        peakHeapMb: Math.round(peakHeap / 1048576),
      };
    },
  };
}

/** Query family of a Resource Graph query text (for pages per query): the types it reads. */
export function queryFamily(q: string): string {
  const short = (t: string) =>
    t.toLowerCase().replace(/^microsoft\.(resources|containerservice|containerregistry|authorization|network)\//, "");
  const m = /type in~ \(([^)]*)\)/.exec(q.split("|")[1] ?? "") ?? /type in~ \(([^)]*)\)/.exec(q);
  const types = m ? [...m[1].matchAll(/'([^']+)'/g)].map((x) => short(x[1])) : [];
  if (!types.length) for (const x of q.matchAll(/type =~ '([^']+)'/g)) types.push(short(x[1]));
  const by = / resourceGroup in~ /.test(q) ? "(+byResourceGroup)" : "";
  return ([...new Set(types)].join("+") || "?") + by;
}

async function auditOnce(deps: { discovery: ReturnType<typeof buildDiscovery>; store: AuditStore }, label: string, verbose = false) {
  const marks: Record<string, number> = {};
  const t0 = performance.now();
  const result = await runAudit(deps, {
    scope: { kind: "tenant" },
    cloud: CLOUDS.AzureCloud,
    armPrivateLink: false,
    holder: `bench-${label}`,
    observer: {
      progress: (m) => {
        if (verbose) process.stderr.write(`[${label} ${round((performance.now() - t0) / 1000, 1)}s] ${m}\n`);
        const k = m.startsWith("storing")
          ? "storing"
          : m.startsWith("evaluating")
            ? "evaluating"
            : m.includes("attachments")
              ? "attachments"
              : undefined;
        if (k && marks[k] === undefined) marks[k] = performance.now();
      },
    },
  });
  const t1 = performance.now();
  const s = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? round((b - a) / 1000) : null);
  return {
    result,
    wall: (t1 - t0) / 1000,
    phases: {
      discoverSeconds: s(t0, marks.evaluating),
      evaluateSeconds: s(marks.evaluating, marks.storing),
      storeSeconds: s(marks.storing, t1),
    },
  };
}

/** One size: generate, audit, re-audit unchanged; returns the JSON object the benchmark prints. */
export async function runSize(clusters: number, o: BenchOptions): Promise<SizeResult> {
  const infraOpts = { clusters, seed: o.seed, extraNetwork: o.extraNetwork, latencyMs: o.latencyMs, pageSize: o.pageSize, quota: o.quota };
  let httpClient: HttpClient;
  let ready: InfraReady;
  let infraStats: () => Promise<Record<string, unknown>>;
  let infraReset: () => Promise<void>;
  let stopInfra: () => Promise<void>;
  if (o.inProcess) {
    const infra = new Infra();
    ready = await infra.start(infraOpts);
    httpClient = { sendRequest: (r) => infra.send(r) };
    infraStats = async () => infra.stats();
    infraReset = async () => infra.reset();
    stopInfra = () => infra.stop();
  } else {
    const c = await startInfraChild(infraOpts);
    ready = c.ready;
    httpClient = new IpcHttpClient(c.child);
    infraStats = async () => (await c.call<{ stats: Record<string, unknown> }>("stats")).stats;
    infraReset = async () => {
      await c.call("reset");
    };
    stopInfra = c.stop;
  }
  try {
    if (o.discoveryOnly) return await discoveryOnly(clusters, o, httpClient, ready, infraStats);
    const store = (await createTableStore({
      endpoint: ready.tableUrl,
      credential: new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      allowInsecureConnection: true,
      tablePrefix: `bench${clusters}`,
    })) as AuditStore & { entityWrites?: () => number; requests?: () => number; lastCommitPhases?: () => unknown };
    const newDiscovery = () => buildDiscovery({ cloud: CLOUDS.AzureCloud, credential: simulatorCredential(), httpClient });
    global.gc?.();
    const mem = memorySampler();
    const ops0 = store.operations();
    const writes0 = store.entityWrites?.() ?? 0;
    const req0 = store.requests?.() ?? 0;
    const discovery = newDiscovery();
    const first = await auditOnce({ discovery, store }, `${clusters}/first`, o.verbose);
    const memFirst = mem.stop();
    const commitPhases = store.lastCommitPhases?.() ?? null;
    const ops1 = store.operations();
    const writes1 = store.entityWrites?.() ?? 0;
    const req1 = store.requests?.() ?? 0;
    const ds = discovery.stats();
    const sim = await infraStats();
    const queries = (sim.queries as string[]) ?? [];
    const pagesPerQuery: Record<string, number> = {};
    for (const q of queries) pagesPerQuery[queryFamily(q)] = (pagesPerQuery[queryFamily(q)] ?? 0) + 1;

    let rerun: Awaited<ReturnType<typeof auditOnce>> | undefined;
    let rerunOps: number | null = null;
    let rerunWrites: number | null = null;
    let rerunRequests: number | null = null;
    let rerunRg: number | null = null;
    if (o.rerun) {
      // A scheduled run comes long after the previous one: start with a fresh quota window.
      if (o.quota) await new Promise((r) => setTimeout(r, o.quota!.windowSeconds * 1000 + 200));
      await infraReset();
      rerun = await auditOnce({ discovery: newDiscovery(), store }, `${clusters}/rerun`, o.verbose);
      rerunOps = store.operations() - ops1;
      rerunWrites = (store.entityWrites?.() ?? 0) - writes1;
      rerunRequests = (store.requests?.() ?? 0) - req1;
      rerunRg = ((await infraStats()).resourceGraphRequests as number) ?? null;
    }
    const peak = mem.stop();
    const bound = o.quota
      ? quotaLowerBound(ready.relevant, {
          requests: o.quota.requests,
          windowSeconds: o.quota.windowSeconds,
          latencySeconds: o.latencyMs / 1000,
          pageSize: o.pageSize,
        })
      : {
          pages: quotaLowerBound(ready.relevant, { requests: 1, windowSeconds: 0, latencySeconds: 0, pageSize: o.pageSize }).pages,
          seconds: o.latencyMs / 1000,
        };
    const f = first.result;
    return {
      clusters,
      wallSeconds: round(first.wall),
      resourceGraphRequests: ds.resourceGraphRequests,
      armRequests: ds.armRequests,
      throttled: (sim.throttled as number) ?? ds.throttled,
      tableOperations: ops1 - ops0,
      tableOperationsRerun: rerunOps,
      peakRssMb: memFirst.peakRssMb,
      quotaLowerBoundSeconds: round(bound.seconds),
      ratio: round(first.wall / bound.seconds),
      quotaLowerBoundPages: bound.pages,
      discoveryRatio: first.phases.discoverSeconds !== null ? round(first.phases.discoverSeconds / bound.seconds) : null,
      relevantRows: ready.relevant,
      rowsReturned: sim.rowsReturned,
      pagesPerQuery,
      ...first.phases,
      commitPhases,
      secondRunWallSeconds: rerun ? round(rerun.wall) : null,
      secondRunResourceGraphRequests: rerunRg,
      tableWrites: writes1 - writes0,
      tableWritesRerun: rerunWrites,
      tableRequests: req1 - req0,
      tableRequestsRerun: rerunRequests,
      peakHeapMb: memFirst.peakHeapMb,
      limiter: discovery.limiter(),
      peakRssMbWithRerun: peak.peakRssMb,
      infraCpuSeconds: sim.infraCpuSeconds,
      infraPeakRssMb: o.inProcess ? null : sim.infraPeakRssMb,
      inProcess: o.inProcess,
      findings: f.findings.length,
      attachments: f.attachments.length,
      runStatus: f.run.status,
      estateRows: ready.counts.rows,
      generateSeconds: round(ready.generateSeconds),
      latencyMs: o.latencyMs,
      quota: o.quota ?? null,
      node: process.version,
    };
  } finally {
    await stopInfra();
  }
}

async function discoveryOnly(
  clusters: number,
  o: BenchOptions,
  httpClient: HttpClient,
  ready: InfraReady,
  infraStats: () => Promise<Record<string, unknown>>,
): Promise<SizeResult> {
  const discovery = buildDiscovery({ cloud: CLOUDS.AzureCloud, credential: simulatorCredential(), httpClient });
  global.gc?.();
  const mem = memorySampler();
  const t0 = performance.now();
  const log: string[] = [];
  const d = await discover(discovery, { kind: "tenant" }, CLOUDS.AzureCloud, { attachments: [], forgotten: [] }, (m) =>
    log.push(`${round((performance.now() - t0) / 1000)}s ${m}`),
  );
  const wall = (performance.now() - t0) / 1000;
  const peak = mem.stop();
  const ds = discovery.stats();
  const sim = await infraStats();
  const queries = (sim.queries as string[]) ?? [];
  const pagesPerQuery: Record<string, number> = {};
  for (const q of queries) pagesPerQuery[queryFamily(q)] = (pagesPerQuery[queryFamily(q)] ?? 0) + 1;
  const bound = quotaLowerBound(ready.relevant, {
    requests: o.quota?.requests ?? 1e9,
    windowSeconds: o.quota?.windowSeconds ?? 0,
    latencySeconds: o.latencyMs / 1000,
    pageSize: o.pageSize,
  });
  return {
    clusters,
    wallSeconds: round(wall),
    resourceGraphRequests: ds.resourceGraphRequests,
    armRequests: ds.armRequests,
    throttled: (sim.throttled as number) ?? ds.throttled,
    tableOperations: 0,
    tableOperationsRerun: null,
    peakRssMb: peak.peakRssMb,
    quotaLowerBoundSeconds: round(bound.seconds),
    ratio: round(wall / bound.seconds),
    quotaLowerBoundPages: bound.pages,
    relevantRows: ready.relevant,
    rowsReturned: sim.rowsReturned,
    pagesPerQuery,
    progress: log,
    attachments: d.attachments.length,
    missed: d.inventory.missed,
    infraCpuSeconds: sim.infraCpuSeconds,
    peakHeapMb: peak.peakHeapMb,
    discoveryOnly: true,
    limiter: discovery.limiter(),
    timeline: sim.timeline,
  };
}

// ------------------------------------------------------------------------------------------------ chart

/** A small hand-written SVG: wall seconds (and the quota bound) and peak RSS against cluster count. */
export function chartSvg(rows: SizeResult[]): string {
  const W = 640;
  const H = 300;
  const m = { l: 56, r: 64, t: 34, b: 44 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const xs = rows.map((r) => r.clusters);
  const xMax = Math.max(...xs, 1);
  const yMax = niceCeil(Math.max(...rows.map((r) => Math.max(r.wallSeconds, r.quotaLowerBoundSeconds)), 1));
  const mMax = niceCeil(Math.max(...rows.map((r) => r.peakRssMb), 512));
  const x = (v: number) => m.l + (v / xMax) * pw;
  const y = (v: number) => m.t + ph - (v / yMax) * ph;
  const ym = (v: number) => m.t + ph - (v / mMax) * ph;
  const line = (pts: [number, number][]) => pts.map(([a, b], i) => `${i ? "L" : "M"}${a.toFixed(1)},${b.toFixed(1)}`).join(" ");
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<title>aks-acr-auditor scale benchmark: wall time and peak memory against cluster count</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">Full audit: wall time and peak RSS vs clusters (100 ms latency, 15 req / 5 s)</text>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#1f77b4">${fmt(v)}</text>`);
    out.push(`<text x="${m.l + pw + 6}" y="${(ym((mMax * i) / 4) + 4).toFixed(1)}" fill="#d62728">${fmt((mMax * i) / 4)}</text>`);
  }
  for (const v of xs)
    out.push(`<text x="${x(v).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${v.toLocaleString("en-US")}</text>`);
  out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#333"/>`);
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#333"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle">clusters</text>`);
  out.push(`<text transform="translate(14,${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#1f77b4">wall seconds</text>`);
  out.push(`<text transform="translate(${W - 10},${m.t + ph / 2}) rotate(90)" text-anchor="middle" fill="#d62728">peak RSS (MB)</text>`);
  const wall = rows.map((r) => [x(r.clusters), y(r.wallSeconds)] as [number, number]);
  const bound = rows.map((r) => [x(r.clusters), y(r.quotaLowerBoundSeconds)] as [number, number]);
  const rss = rows.map((r) => [x(r.clusters), ym(r.peakRssMb)] as [number, number]);
  out.push(`<path d="${line(bound)}" fill="none" stroke="#1f77b4" stroke-width="1.5" stroke-dasharray="5,4"/>`);
  out.push(`<path d="${line(wall)}" fill="none" stroke="#1f77b4" stroke-width="2.5"/>`);
  out.push(`<path d="${line(rss)}" fill="none" stroke="#d62728" stroke-width="2.5"/>`);
  out.push(
    `<line x1="${m.l}" x2="${m.l + pw}" y1="${ym(512).toFixed(1)}" y2="${ym(512).toFixed(1)}" stroke="#d62728" stroke-dasharray="2,3"/>`,
  );
  for (const [a, b] of wall) out.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3.5" fill="#1f77b4"/>`);
  for (const [a, b] of rss) out.push(`<rect x="${(a - 3).toFixed(1)}" y="${(b - 3).toFixed(1)}" width="6" height="6" fill="#d62728"/>`);
  const lx = m.l + 10;
  const items: [string, string, string][] = [
    ["#1f77b4", "", "wall seconds (first run)"],
    ["#1f77b4", "5,4", "quota lower bound (s)"],
    ["#d62728", "", "auditor peak RSS (MB)"],
    ["#d62728", "2,3", "512 MB target"],
  ];
  items.forEach(([c, dash, label], i) => {
    const ly = m.t + 10 + i * 15;
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`,
    );
    out.push(`<text x="${lx + 28}" y="${ly + 4}">${label}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/** The results table of docs/scale.md. */
export function markdownTable(rows: SizeResult[]): string {
  const f = (v: unknown) => (v === null || v === undefined ? "-" : typeof v === "object" ? JSON.stringify(v) : text(v));
  const lines = [
    "| clusters | wall s (first run) | discovery s | evaluation s | store s | quota bound s (pages) | wall / bound | discovery / bound | RG requests | ARM requests | 429s | table ops first / rerun | peak RSS MB |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.clusters.toLocaleString("en-US")} | ${f(r.wallSeconds)} | ${f(r.discoverSeconds)} | ${f(r.evaluateSeconds)} | ${f(r.storeSeconds)} | ${f(r.quotaLowerBoundSeconds)} (${f(r.quotaLowerBoundPages)}) | ${f(r.ratio)} | ${f(r.discoveryRatio)} | ${f(r.resourceGraphRequests)} | ${f(r.armRequests)} | ${f(r.throttled)} | ${f(r.tableOperations)} / ${f(r.tableOperationsRerun)} | ${f(r.peakRssMb)} |`,
    );
  }
  return lines.join("\n") + "\n";
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * p >= v) return k * p;
  return 10 * p;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

// ------------------------------------------------------------------------------------------------ main

function humanLine(r: SizeResult): string {
  return (
    `${String(r.clusters).padStart(6)} clusters  wall ${String(r.wallSeconds).padStart(6)} s  bound ${String(r.quotaLowerBoundSeconds).padStart(5)} s  ` +
    `ratio ${String(r.ratio).padStart(4)}  RG ${String(r.resourceGraphRequests).padStart(4)}  ARM ${String(r.armRequests).padStart(3)}  429 ${r.throttled}  ` +
    `table ops ${r.tableOperations} / rerun ${r.tableOperationsRerun}  RSS ${r.peakRssMb} MB`
  );
}

/** Runs one size in a fresh child process and returns its JSON. */
async function runSizeInChild(n: number, argv: string[], o: BenchOptions): Promise<SizeResult> {
  const execArgv = ["--expose-gc"];
  if (o.cpuProf) execArgv.push("--cpu-prof", `--cpu-prof-dir=${path.resolve(o.outDir, "profiles")}`);
  if (o.heapProf) execArgv.push("--heap-prof", `--heap-prof-dir=${path.resolve(o.outDir, "profiles")}`);
  const child = fork(__filename, [...argv, "--role", "audit", "--size", String(n)], {
    execArgv,
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.on("message", (m: { t: string; result?: SizeResult; message?: string }) => {
      if (m.t === "result") resolve(m.result!);
      else if (m.t === "error") reject(new Error(m.message));
    });
    child.on("exit", (code, signal) => reject(new Error(`benchmark child for ${n} clusters exited (${signal ?? code}) without a result`)));
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const roleAt = argv.indexOf("--role");
  if (roleAt >= 0) {
    const role = argv[roleAt + 1];
    if (role === "infra") return infraMain();
    if (role === "audit") {
      const sizeAt = argv.indexOf("--size");
      const size = Number(argv[sizeAt + 1]);
      const rest = argv.filter((_, i) => i !== roleAt && i !== roleAt + 1 && i !== sizeAt && i !== sizeAt + 1);
      try {
        const result = await runSize(size, parseBenchArgs(rest));
        process.send!({ t: "result", result }, () => process.exit(0));
      } catch (err) {
        process.send!({ t: "error", message: (err as Error).stack ?? String(err) }, () => process.exit(1));
      }
      return;
    }
    throw new Error(`unknown role ${role}`);
  }
  const o = parseBenchArgs(argv);
  fs.mkdirSync(o.outDir, { recursive: true });
  const results: SizeResult[] = [];
  if (o.from) {
    for (const line of fs.readFileSync(o.from, "utf8").split("\n")) if (line.trim()) results.push(JSON.parse(line) as SizeResult);
    results.sort((a, b) => a.clusters - b.clusters);
    if (o.markdown) process.stdout.write(markdownTable(results));
    if (o.chart) fs.writeFileSync(o.chart, chartSvg(results));
    return;
  }
  for (const n of o.sizes) {
    if (!o.json) process.stderr.write(`running ${n} clusters...\n`);
    const r = await runSizeInChild(n, argv, o);
    results.push(r);
    if (o.json) process.stdout.write(JSON.stringify(r) + "\n");
    else if (o.markdown) process.stderr.write(humanLine(r) + "\n");
    else {
      process.stderr.write(humanLine(r) + "\n");
      process.stdout.write(JSON.stringify(r) + "\n");
    }
  }
  if (o.markdown) process.stdout.write(markdownTable(results));
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  fs.writeFileSync(path.join(o.outDir, `bench-${stamp}.jsonl`), results.map((r) => JSON.stringify(r)).join("\n") + "\n");
  if (o.chart) {
    fs.mkdirSync(path.dirname(path.resolve(o.chart)), { recursive: true });
    fs.writeFileSync(o.chart, chartSvg(results));
    if (!o.json) process.stderr.write(`chart written to ${o.chart}\n`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
