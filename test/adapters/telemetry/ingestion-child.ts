/**
 * Child process of ingestion.test.ts (compiled to CommonJS and run by plain `node`, like the Functions
 * worker): the audit timer's handler audits an estate twice through the production runtime (settings from
 * the environment, ARM simulator, Table Storage on the test Azurite) with Application Insights sending
 * to the capture server. It writes what it did to $INGESTION_OUT.
 *
 * Environment: APPLICATIONINSIGHTS_CONNECTION_STRING / _AUTHENTICATION_STRING, AUDIT_STORAGE_CONNECTION_STRING,
 * AUDIT_TABLE_PREFIX, ESTATE_RUN1, ESTATE_RUN2, TRACEPARENT_RUN1, TRACEPARENT_RUN2, INGESTION_OUT.
 */
// First: the test network guard (refuses every non-loopback lookup and connection) ...
import { isLoopback } from "../../setup/no-network.js";
import dns from "node:dns";
import fs from "node:fs";
import net from "node:net";
import type { TokenCredential } from "@azure/core-auth";
// ... then telemetry, before anything loads the Azure SDK (src/telemetry-setup.ts does the same in the app).
import { startApplicationInsights, stopApplicationInsights } from "../../../src/adapters/telemetry/index.js";

const attempts: string[] = [];
const guardedLookup = dns.lookup;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
(dns as any).lookup = function recordLookup(hostname: string, ...rest: unknown[]) {
  if (!isLoopback(hostname)) attempts.push(`dns ${hostname}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (guardedLookup as any).call(dns, hostname, ...rest);
};
// eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the socket as `this`
const guardedConnect = net.Socket.prototype.connect;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
(net.Socket.prototype as any).connect = function recordConnect(this: net.Socket, ...args: any[]) {
  const o = args[0];
  const host = Array.isArray(o)
    ? o[0]?.host
    : typeof o === "object" && o
      ? o.path
        ? "localhost"
        : o.host
      : typeof args[1] === "string"
        ? args[1]
        : undefined;
  if (!isLoopback(host)) attempts.push(`connect ${host}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (guardedConnect as any).apply(this, args);
};

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

/** Stands in for the managed identity: a token the capture server can recognise. */
const tokenScopes: string[][] = [];
const credential: TokenCredential = {
  async getToken(scopes) {
    tokenScopes.push(Array.isArray(scopes) ? scopes : [scopes]);
    return { token: "test-managed-identity-token", expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};

async function main(): Promise<void> {
  startApplicationInsights(
    {
      connectionString: env("APPLICATIONINSIGHTS_CONNECTION_STRING"),
      authenticationString: env("APPLICATIONINSIGHTS_AUTHENTICATION_STRING"),
    },
    { credential, offlineStorage: false },
  );
  // Loaded now, as the host loads function files: telemetry-setup's bootstrap finds the SDK started.
  const { auditTimer } = await import("../../../src/functions/audit-timer.js");
  const { getRuntime, setRuntime } = await import("../../../src/runtime.js");
  const { InvocationContext } = await import("@azure/functions");

  const logs: string[] = [];
  const timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };
  for (const [i, estate, traceParent] of [
    [1, env("ESTATE_RUN1"), env("TRACEPARENT_RUN1")],
    [2, env("ESTATE_RUN2"), env("TRACEPARENT_RUN2")],
  ] as const) {
    process.env.AUDIT_ESTATE_FILE = estate;
    setRuntime(undefined); // the runtime is built again from the environment (new estate file)
    const context = new InvocationContext({
      invocationId: `invocation-${i}`,
      functionName: "audit-timer",
      traceContext: { traceParent },
      logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(" ")}`),
    });
    await auditTimer(timer, context);
  }

  await stopApplicationInsights(); // flushes everything; the reads below are the test's, not telemetry
  const rt = await getRuntime();
  const runs = (await rt.store.listRuns(rt.scopeKey, 10)).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const changes = await Promise.all(runs.map((r) => rt.store.listChanges(rt.scopeKey, r.id)));
  const state = await rt.store.loadState(rt.scopeKey);
  fs.writeFileSync(env("INGESTION_OUT"), JSON.stringify({ runs, changes, findings: state.findings, logs, attempts, tokenScopes }, null, 1));
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`ingestion-child: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
