/**
 * The telemetry adapter of the `AuditObserver` port. It never fails an audit: every call into the SDK is
 * caught, and flushing gives up after a timeout.
 */
import type { TelemetryClient } from "applicationinsights";
import type { Finding } from "../../core/findings.js";
import type { AuditObserver, RunRecord } from "../../core/ports.js";
import { runTelemetry, type EventItem, type MetricItem } from "./mapping.js";

/** Where telemetry items go: Application Insights, or a recording fake in tests. */
export interface TelemetrySink {
  trackEvent(item: EventItem): void;
  trackMetric(item: MetricItem): void;
  flush(): Promise<void>;
}

export function applicationInsightsSink(client: TelemetryClient): TelemetrySink {
  return {
    trackEvent: (e) => client.trackEvent({ name: e.name, properties: e.properties, measurements: e.measurements }),
    trackMetric: (m) => client.trackMetric({ name: m.name, value: m.value, properties: m.properties }),
    flush: () => client.flush(),
  };
}

export interface ObserverOptions {
  /** Longest wait for a flush (default 5 s). */
  flushTimeoutMs?: number;
  /** Told about every telemetry failure (default: one console warning per kind of failure). */
  onError?: (err: unknown, during: string) => void;
}

export class TelemetryObserver implements AuditObserver {
  private readonly flushTimeoutMs: number;
  private readonly onError: (err: unknown, during: string) => void;

  constructor(
    private readonly sink: TelemetrySink,
    opts: ObserverOptions = {},
  ) {
    this.flushTimeoutMs = opts.flushTimeoutMs ?? 5_000;
    this.onError = opts.onError ?? warnOnce();
  }

  runCompleted(run: RunRecord, findings: Finding[]): void {
    let items: ReturnType<typeof runTelemetry>;
    try {
      items = runTelemetry(run, findings);
    } catch (err) {
      this.onError(err, "mapping the run to telemetry");
      return;
    }
    for (const e of items.events) this.guard(() => this.sink.trackEvent(e), `tracking ${e.name}`);
    for (const m of items.metrics) this.guard(() => this.sink.trackMetric(m), `tracking ${m.name}`);
  }

  /** Sends what is queued; resolves within the flush timeout whatever happens. */
  async flush(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.flushTimeoutMs);
      timer.unref();
    });
    try {
      const outcome = await Promise.race([Promise.resolve().then(() => this.sink.flush()), timeout]);
      if (outcome === "timeout") this.onError(new Error(`flush took longer than ${this.flushTimeoutMs} ms`), "flushing");
    } catch (err) {
      this.onError(err, "flushing");
    } finally {
      clearTimeout(timer);
    }
  }

  private guard(fn: () => void, during: string): void {
    try {
      fn();
    } catch (err) {
      this.onError(err, during);
    }
  }
}

function warnOnce(): (err: unknown, during: string) => void {
  const seen = new Set<string>();
  return (err, during) => {
    if (seen.has(during)) return;
    seen.add(during);
    console.warn(`aks-acr-audit: telemetry failed while ${during}: ${(err as Error)?.message ?? String(err)}`);
  };
}
