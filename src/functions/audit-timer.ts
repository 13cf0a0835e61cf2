// First import: starts Application Insights before the Azure SDK modules load.
import { flushTelemetry, withTraceParent } from "../telemetry-setup.js";
import { app, type InvocationContext, type Timer } from "@azure/functions";
import { AuditError, runAudit } from "../core/audit.js";
import { getRuntime, type AppRuntime } from "../runtime.js";

/** The scheduled audit: the same use case as `aks-acr-audit run`, under the scope's run lease. */
export async function auditTimer(timer: Timer, context: InvocationContext): Promise<void> {
  // The whole invocation (the store's first calls included) runs in the invocation's trace context.
  return withTraceParent(context.traceContext, () => audit(timer, context));
}

async function audit(timer: Timer, context: InvocationContext): Promise<void> {
  let runtime: AppRuntime | undefined;
  try {
    runtime = await getRuntime();
    if (timer.isPastDue) context.log("The audit timer is past due: running now.");
    const { run } = await runAudit(
      { store: runtime.store, discovery: runtime.newDiscovery() },
      {
        scope: runtime.config.scope,
        cloud: runtime.config.cloud,
        armPrivateLink: runtime.config.armPrivateLink,
        retentionDays: runtime.config.retentionDays,
        // Per invocation: a second invocation in the same worker (a manual trigger during a scheduled run)
        // must meet the lease as held, not renew it.
        holder: `${runtime.holder}:${context.invocationId}`,
        observer: runtime.observer,
      },
    );
    context.log(
      `Audit ${run.id} ${run.status} in ${run.durationMs} ms: ${run.counts.total} findings, ${run.counts.openFailing} open failing, ${run.counts.exempted} exempted` +
        (run.missed.length ? `; not read: ${run.missed.join(", ")}` : ""),
    );
  } catch (err) {
    if (err instanceof AuditError && err.code === "LeaseHeld") {
      context.log(`Skipped this run: ${err.message}`);
      return;
    }
    // A run that started and failed is reported too (status `failed`), so the workbook shows it.
    if (err instanceof AuditError && err.run) runtime?.observer?.runCompleted?.(err.run, []);
    context.error(err);
    throw err;
  } finally {
    await flushTelemetry(runtime?.observer);
  }
}

app.timer("audit-timer", {
  schedule: "%AUDIT_SCHEDULE%",
  runOnStartup: false,
  handler: auditTimer,
});
