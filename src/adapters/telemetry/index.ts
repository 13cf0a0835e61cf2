/** The telemetry adapter: Application Insights behind the `AuditObserver` port. */
import type { AppConfig } from "../../config.js";
import type { AuditObserver } from "../../core/ports.js";
import { startApplicationInsights, type StartOptions } from "./client.js";
import { applicationInsightsSink, TelemetryObserver, type ObserverOptions, type TelemetrySink } from "./observer.js";

export interface TelemetryOptions extends StartOptions, ObserverOptions {
  /** Replaces Application Insights (unit tests record the items). */
  sink?: TelemetrySink;
}

/**
 * The observer that sends a run's telemetry, or undefined when APPLICATIONINSIGHTS_CONNECTION_STRING is
 * not set. Never throws: telemetry that cannot start is reported and left off.
 */
export function telemetryFromConfig(
  config: Pick<AppConfig, "appInsightsConnectionString" | "appInsightsAuthenticationString">,
  opts: TelemetryOptions = {},
): TelemetryObserver | undefined {
  const connectionString = config.appInsightsConnectionString?.trim();
  if (!connectionString) return undefined;
  try {
    const sink =
      opts.sink ??
      applicationInsightsSink(
        startApplicationInsights({ connectionString, authenticationString: config.appInsightsAuthenticationString }, opts),
      );
    return new TelemetryObserver(sink, opts);
  } catch (err) {
    (opts.onError ?? ((e: unknown) => console.warn(`aks-acr-audit: telemetry is off: ${(e as Error)?.message ?? String(e)}`)))(
      err,
      "starting",
    );
    return undefined;
  }
}

/** Flushes the observer's telemetry if it has any (callers hold it as a plain `AuditObserver`). */
export async function flushTelemetry(observer: AuditObserver | undefined): Promise<void> {
  if (observer instanceof TelemetryObserver) await observer.flush();
}

export { TelemetryObserver, applicationInsightsSink, type TelemetrySink, type ObserverOptions } from "./observer.js";
export {
  startApplicationInsights,
  stopApplicationInsights,
  ingestionCredential,
  type IngestionSettings,
  type StartOptions,
} from "./client.js";
export { withOperation, withTraceParent } from "./trace.js";
export {
  runTelemetry,
  runCompletedEvent,
  findingChangedEvents,
  openFindingsMetrics,
  failingAttachmentsMetrics,
  type EventItem,
  type MetricItem,
} from "./mapping.js";
export { EVENTS, METRICS, RUN_DIMENSIONS, RUN_MEASUREMENTS, FINDING_DIMENSIONS, METRIC_DIMENSIONS, emittedDimensions } from "./names.js";
