/**
 * Trace context. Both helpers are no-ops (they just call `fn`) while Application Insights is not started,
 * because the OpenTelemetry API does nothing until an SDK registers itself.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

/**
 * Runs `fn` as a child of a Functions invocation (its W3C `traceparent`), so the ARM and Table Storage
 * dependencies and the run's events carry the invocation's operation ID. In the Functions host the SDK's
 * pre-invocation hook does the same; this makes it explicit and testable outside the host.
 */
export function withTraceParent<T>(
  traceContext: { traceParent?: string | null; traceState?: string | null } | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const traceparent = traceContext?.traceParent;
  if (!traceparent) return fn();
  const carrier: Record<string, string> = { traceparent };
  if (traceContext?.traceState) carrier.tracestate = traceContext.traceState;
  return context.with(propagation.extract(context.active(), carrier), fn);
}

/**
 * Runs `fn` as one operation (a request named `name` in Application Insights) when nothing encloses it,
 * e.g. a CLI run, so its dependencies and events are grouped under one operation ID.
 */
export function withOperation<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return trace.getTracer("aks-acr-auditor").startActiveSpan(name, { kind: SpanKind.SERVER }, async (span) => {
    try {
      const result = await fn();
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}
