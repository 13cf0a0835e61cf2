/**
 * POST /api/runs: starts an audit now. Takes the run lease first (409 when an audit is running), records the
 * run as running, answers 202 with its ID and Location, and runs the audit in the background under that lease.
 */
import { flushTelemetry } from "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { AuditError, defaultRunId, emptyCounts, runAudit } from "../core/audit.js";
import type { DiscoveryPort, Lease, RunRecord } from "../core/ports.js";
import { invalidateReadCache } from "../api/cache.js";
import { ApiError } from "../api/errors.js";
import { childLink, handler, jsonResponse, readJsonObject } from "../api/http.js";
import { quote, readQuery } from "../api/params.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime, type AppRuntime } from "../runtime.js";

/** The lease outlives any sane run; a crashed worker's lease expires after it. */
export const RUN_LEASE_SECONDS = 3600;

const pending = new Set<Promise<void>>();

/** Resolves when every audit started by this process has finished (tests, graceful shutdown). */
export async function backgroundRuns(): Promise<void> {
  while (pending.size) await Promise.all([...pending]);
}

/**
 * The background run outlives the invocation that started it, and the host refuses (with a warning) logs on
 * an invocation context that has completed: the run logs to the worker's console, which the host collects.
 */
const log = {
  info: (message: string): void => console.log(message),
  error: (message: string, err: unknown): void => console.error(message, err),
};

async function audit(rt: AppRuntime, run: RunRecord, lease: Lease, discovery: DiscoveryPort): Promise<void> {
  try {
    // runAudit releases the lease, whatever happens (the discovery was built before the lease was taken).
    const result = await runAudit(
      { discovery, store: rt.store },
      {
        scope: rt.config.scope,
        cloud: rt.config.cloud,
        armPrivateLink: rt.config.armPrivateLink,
        holder: lease.holder,
        lease,
        runId: run.id,
        retentionDays: rt.config.retentionDays,
        observer: rt.observer,
      },
    );
    log.info(`runs-start: run ${run.id} finished: ${result.run.status}, ${result.findings.length} findings`);
  } catch (err) {
    log.error(`runs-start: run ${run.id} failed`, err);
    // Committed without its record: the state is the run's, so it is not recorded as failed here either.
    if (err instanceof AuditError && err.committed) return;
    // runAudit records its own failures once the run has started; before that (e.g. the store could not be
    // read), the record written here would stay `running`.
    try {
      const stored = await rt.store.getRun(rt.scopeKey, run.id);
      if (stored?.status === "running") {
        const end = new Date();
        await rt.store.failRun(rt.scopeKey, {
          ...stored,
          status: "failed",
          finishedAt: end.toISOString(),
          durationMs: end.getTime() - Date.parse(stored.startedAt),
          error: err instanceof Error ? err.message.split("\n")[0] : String(err),
        });
      }
    } catch (recordErr) {
      log.error(`runs-start: could not record run ${run.id} as failed`, recordErr);
    }
  } finally {
    invalidateReadCache(rt.store);
    await flushTelemetry(rt.observer).catch(() => undefined);
  }
}

export const runsStart = handler("runs-start", async (request: HttpRequest, context: InvocationContext) => {
  readQuery(request.query, []);
  const body = await readJsonObject(request, { required: false });
  const extra = body ? Object.keys(body)[0] : undefined;
  if (extra !== undefined)
    throw new ApiError("InvalidRequestBody", `POST /api/runs takes no properties (got ${quote(extra, 60)}).`, extra.slice(0, 100));
  const rt = await getRuntime();
  // Built before anything is recorded: a runtime that cannot reach a tenant (the local server without
  // --estate) answers 503 now instead of recording a run that fails in the background.
  const discovery = rt.newDiscovery();
  const holder = `${rt.holder}:api:${context.invocationId}`;
  const lease = await rt.store.acquireLease(rt.scopeKey, holder, RUN_LEASE_SECONDS);
  if (!lease.acquired) {
    throw new ApiError(
      "RunInProgress",
      `An audit of this scope is already running (its lease expires at ${lease.expiresAt || "an unknown time"}).`,
    );
  }
  const now = new Date();
  const run: RunRecord = {
    id: defaultRunId(now),
    scope: rt.scopeKey,
    startedAt: now.toISOString(),
    finishedAt: null,
    durationMs: null,
    status: "running",
    scopes: [],
    missed: [],
    warnings: [],
    counts: emptyCounts(),
    stats: { resourceGraphRequests: 0, armRequests: 0, throttled: 0, tableOperations: 0 },
  };
  try {
    // Recorded now, so GET /api/runs/{id} answers as soon as the caller follows Location.
    await rt.store.startRun(rt.scopeKey, run);
  } catch (err) {
    await rt.store.releaseLease(lease.lease).catch(() => undefined);
    throw err;
  }
  const task = audit(rt, run, lease.lease, discovery);
  pending.add(task);
  void task.finally(() => pending.delete(task));
  return jsonResponse(202, { id: run.id, status: "running" }, { location: childLink(request, run.id) });
});

app.http("runs-start", { ...registrationOf("runs-start"), handler: runsStart });
