/**
 * From a finished run to telemetry items (pure): the run event, one event per changed finding, and the
 * metrics of what is open after the run. Exempted findings never count as open.
 */
import { RULES } from "../../core/catalog.js";
import { CHANGES, SEVERITIES, STATUSES, type Finding } from "../../core/findings.js";
import { failsGate } from "../../core/json.js";
import type { RunRecord } from "../../core/ports.js";
import { normalizeId, subscriptionOf } from "../../core/resource-id.js";
import { EVENTS, METRICS, type FINDING_DIMENSIONS, type RUN_DIMENSIONS, type RUN_MEASUREMENTS } from "./names.js";

export interface EventItem {
  name: string;
  properties: Record<string, string>;
  measurements: Record<string, number>;
}

export interface MetricItem {
  name: string;
  value: number;
  properties: Record<string, string>;
}

/** App Insights truncates dimension values at 8192 characters; keep lists well below. */
const MAX_LIST_CHARS = 2000;

function list(values: string[]): string {
  const s = values.join(", ");
  return s.length > MAX_LIST_CHARS ? `${s.slice(0, MAX_LIST_CHARS)}... (${values.length} in all)` : s;
}

export function runCompletedEvent(run: RunRecord, findings: Finding[]): EventItem {
  const c = run.counts;
  const open = failsGate(findings, SEVERITIES[0]);
  const properties: Record<(typeof RUN_DIMENSIONS)[number], string> = {
    runId: run.id,
    scope: run.scope,
    status: run.status,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt ?? "",
    missed: list(run.missed),
    warningCodes: list([...new Set(run.warnings.map((w) => w.code))]),
    error: run.error ?? "",
  };
  const measurements: Partial<Record<(typeof RUN_MEASUREMENTS)[number], number>> = {
    durationMs: run.durationMs ?? 0,
    findings: c.total - c.byChange.removed,
    openFailing: c.openFailing,
    exempted: c.exempted,
    subscriptions: run.scopes.length,
    resourceGraphRequests: run.stats.resourceGraphRequests,
    armRequests: run.stats.armRequests,
    throttled: run.stats.throttled,
    tableOperations: run.stats.tableOperations,
    missedCount: run.missed.length,
    warnings: run.warnings.length,
  };
  for (const s of STATUSES) {
    measurements[s] = c.byStatus[s] ?? 0;
    for (const v of SEVERITIES) measurements[`${s}_${v}`] = c.byStatusSeverity[`${s}:${v}`] ?? 0;
  }
  for (const ch of CHANGES) measurements[ch] = c.byChange[ch] ?? 0;
  for (const v of SEVERITIES) measurements[`open_${v}`] = open.filter((f) => f.severity === v).length;
  return { name: EVENTS.runCompleted, properties, measurements: measurements as Record<string, number> };
}

export function findingChangedEvents(run: RunRecord, findings: Finding[]): EventItem[] {
  return findings
    .filter((f) => f.change !== "unchanged")
    .map((f) => {
      const properties: Record<(typeof FINDING_DIMENSIONS)[number], string> = {
        runId: run.id,
        scope: run.scope,
        ruleId: f.ruleId,
        status: f.status,
        previousStatus: f.previousStatus ?? "",
        severity: f.severity,
        reason: f.reason ?? "",
        change: f.change,
        clusterId: f.clusterId ? normalizeId(f.clusterId) : "",
        registryId: f.registryId ? normalizeId(f.registryId) : "",
        subscriptionId: f.subscriptionId ?? "",
        exempt: f.exemption ? "true" : "false",
        message: f.message,
      };
      return { name: EVENTS.findingChanged, properties, measurements: {} };
    });
}

/**
 * OpenFindings per rule and severity: every catalog rule at its severity, so a series that had findings
 * drops to zero instead of stopping at its last value, plus any other pair the findings carry.
 */
export function openFindingsMetrics(findings: Finding[]): MetricItem[] {
  const counts = new Map<string, { ruleId: string; severity: string; value: number }>();
  const slot = (ruleId: string, severity: string) => {
    const k = `${ruleId}|${severity}`;
    let s = counts.get(k);
    if (!s) counts.set(k, (s = { ruleId, severity, value: 0 }));
    return s;
  };
  for (const r of RULES) slot(r.id, r.severity);
  for (const f of findings) slot(f.ruleId, f.severity);
  for (const f of failsGate(findings, SEVERITIES[0])) slot(f.ruleId, f.severity).value++;
  return [...counts.values()].map((s) => ({
    name: METRICS.openFindings,
    value: s.value,
    properties: { ruleId: s.ruleId, severity: s.severity },
  }));
}

/**
 * FailingAttachments per cluster: how many registries the cluster cannot pull from. Every cluster with an
 * attachment finding in this run gets a point (zero when all pass or the findings were removed).
 */
export function failingAttachmentsMetrics(findings: Finding[]): MetricItem[] {
  const byCluster = new Map<string, { subscriptionId: string; registries: Set<string> }>();
  const attachmentFindings = findings.filter((f) => f.clusterId && f.registryId);
  for (const f of attachmentFindings) {
    const id = normalizeId(f.clusterId!);
    if (!byCluster.has(id)) byCluster.set(id, { subscriptionId: subscriptionOf(id) ?? "", registries: new Set() });
  }
  for (const f of failsGate(attachmentFindings, SEVERITIES[0])) {
    byCluster.get(normalizeId(f.clusterId!))!.registries.add(normalizeId(f.registryId!));
  }
  return [...byCluster.entries()].map(([clusterId, c]) => ({
    name: METRICS.failingAttachments,
    value: c.registries.size,
    properties: { clusterId, subscriptionId: c.subscriptionId },
  }));
}

/** Everything one run reports. A failed run reports only its event: its findings are not a state. */
export function runTelemetry(run: RunRecord, findings: Finding[]): { events: EventItem[]; metrics: MetricItem[] } {
  const events = [runCompletedEvent(run, findings)];
  if (run.status === "failed") return { events, metrics: [] };
  events.push(...findingChangedEvents(run, findings));
  return { events, metrics: [...openFindingsMetrics(findings), ...failingAttachmentsMetrics(findings)] };
}
