/** A telemetry sink that records what the observer sends (instead of Application Insights). */
import type { EventItem, MetricItem, TelemetrySink } from "../../../src/adapters/telemetry/index.js";

export class RecordingSink implements TelemetrySink {
  events: EventItem[] = [];
  metrics: MetricItem[] = [];
  flushes = 0;

  trackEvent(item: EventItem): void {
    this.events.push(item);
  }

  trackMetric(item: MetricItem): void {
    this.metrics.push(item);
  }

  async flush(): Promise<void> {
    this.flushes++;
  }

  named(name: string): EventItem[] {
    return this.events.filter((e) => e.name === name);
  }

  metric(name: string, match: Record<string, string>): MetricItem[] {
    return this.metrics.filter((m) => m.name === name && Object.entries(match).every(([k, v]) => m.properties[k] === v));
  }

  clear(): void {
    this.events = [];
    this.metrics = [];
  }
}
