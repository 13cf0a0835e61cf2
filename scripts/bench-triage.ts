/**
 * Triage benchmark (issue 10): on a generated estate (10,000 clusters by default) behind the ARM simulator
 * with 100 ms latency, 1000 rows a page and the 15 / 5 s quota, times `triage()` for broken clusters and,
 * for comparison, a full audit of the same estate. Prints one JSON object on stdout.
 *
 *   npm run bench:triage
 *   npm run --silent bench:triage -- --clusters 10000 --triages 3 [--audit full|discovery|none]
 *
 * `--audit full` (default) runs `runAudit` into a fresh Azurite, `discovery` only the core's discover()
 * (what a full audit reads), `none` skips the comparison. Each triage gets a fresh client and a fresh quota
 * window, as an on-call engineer's single command would.
 */
import { AzureNamedKeyCredential } from "@azure/data-tables";
import { discover, runAudit } from "../src/core/audit.js";
import { CLOUDS } from "../src/core/clouds.js";
import { triage } from "../src/core/triage.js";
import { buildDiscovery } from "../src/composition-root.js";
import { simulatorCredential } from "../src/adapters/simulator/index.js";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../src/adapters/table-store/embedded-azurite.js";
import { createTableStore } from "../src/adapters/table-store/index.js";
import { IpcHttpClient, round, startInfraChild } from "./bench.js";

interface Options {
  clusters: number;
  triages: number;
  audit: "full" | "discovery" | "none";
  seed: number;
  latencyMs: number;
}

function parse(argv: string[]): Options {
  const o: Options = { clusters: 10_000, triages: 3, audit: "full", seed: 1, latencyMs: 100 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === "--clusters") o.clusters = Number(v());
    else if (a === "--triages") o.triages = Number(v());
    else if (a === "--audit") {
      const m = v();
      if (m !== "full" && m !== "discovery" && m !== "none") throw new Error("--audit must be full, discovery or none");
      o.audit = m;
    } else if (a === "--seed") o.seed = Number(v());
    else if (a === "--latency") o.latencyMs = Number(v());
    else if (a === "--json")
      continue; // the output is always JSON
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.clusters) || o.clusters < 1) throw new Error("--clusters must be a positive integer");
  return o;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const quota = { requests: 15, windowSeconds: 5 };
  const infra = await startInfraChild({
    clusters: o.clusters,
    seed: o.seed,
    extraNetwork: 0,
    latencyMs: o.latencyMs,
    pageSize: 1000,
    quota,
  });
  const http = new IpcHttpClient(infra.child);
  const cloud = CLOUDS.AzureCloud;
  const fresh = () => buildDiscovery({ cloud, credential: simulatorCredential(), httpClient: http });
  const quiet = () => new Promise((r) => setTimeout(r, quota.windowSeconds * 1000 + 200));
  try {
    const broken = infra.ready.clusters.filter((c) => c.broken).slice(0, o.triages);
    const triages: Record<string, unknown>[] = [];
    for (const c of broken) {
      await infra.call("reset");
      const discovery = fresh();
      const t0 = performance.now();
      const t = await triage(discovery, { cluster: c.id, scope: { kind: "tenant" }, cloud, armPrivateLink: false });
      const seconds = (performance.now() - t0) / 1000;
      const stats = (await infra.call<{ stats: Record<string, unknown> }>("stats")).stats;
      triages.push({
        cluster: c.id,
        seconds: round(seconds),
        verdict: t.verdict,
        registries: t.registries.length,
        failing: t.findings.filter((f) => f.status === "fail").map((f) => `${f.ruleId}:${f.reason}`),
        resourceGraphRequests: stats.resourceGraphRequests,
        armRequests: discovery.stats().armRequests,
        rowsReturned: stats.rowsReturned,
        throttled: stats.throttled,
      });
      await quiet();
    }
    let audit: Record<string, unknown> | null = null;
    if (o.audit !== "none") {
      await infra.call("reset");
      const discovery = fresh();
      const t0 = performance.now();
      if (o.audit === "full") {
        const store = await createTableStore({
          endpoint: infra.ready.tableUrl,
          credential: new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
          allowInsecureConnection: true,
          tablePrefix: "benchtriage",
        });
        const r = await runAudit({ discovery, store }, { scope: { kind: "tenant" }, cloud, armPrivateLink: false, holder: "bench-triage" });
        audit = { mode: "full", seconds: round((performance.now() - t0) / 1000), findings: r.findings.length };
      } else {
        const d = await discover(discovery, { kind: "tenant" }, cloud, { attachments: [], forgotten: [] });
        audit = { mode: "discovery", seconds: round((performance.now() - t0) / 1000), attachments: d.attachments.length };
      }
      const stats = (await infra.call<{ stats: Record<string, unknown> }>("stats")).stats;
      Object.assign(audit, {
        resourceGraphRequests: stats.resourceGraphRequests,
        rowsReturned: stats.rowsReturned,
        throttled: stats.throttled,
      });
    }
    const worst = Math.max(...triages.map((t) => t.seconds as number));
    process.stdout.write(
      JSON.stringify({
        clusters: o.clusters,
        latencyMs: o.latencyMs,
        quota,
        triageSeconds: worst,
        targetSeconds: 3,
        withinTarget: worst < 3,
        triages,
        audit,
        speedup: audit ? round((audit.seconds as number) / worst, 1) : null,
      }) + "\n",
    );
  } finally {
    await infra.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench-triage: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
