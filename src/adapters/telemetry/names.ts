/**
 * Names of everything the auditor sends to Application Insights: a public contract the workbook
 * (infra/workbooks) and the alert (infra/modules/alerts.bicep) query. test/workbook.test.ts fails when a
 * query names an event, metric or dimension that is not listed here.
 */
import { SEVERITIES, STATUSES, CHANGES } from "../../core/findings.js";

/** customEvents `name`s. */
export const EVENTS = {
  runCompleted: "AuditRunCompleted",
  findingChanged: "FindingChanged",
} as const;

/** customMetrics `name`s. */
export const METRICS = {
  /** Failing, not exempted findings after a run, per rule and severity (zero when none). */
  openFindings: "OpenFindings",
  /** Registries a cluster cannot pull from (failing, not exempted attachment findings), per cluster. */
  failingAttachments: "FailingAttachments",
} as const;

/** customDimensions of AuditRunCompleted. */
export const RUN_DIMENSIONS = ["runId", "scope", "status", "startedAt", "finishedAt", "missed", "warningCodes", "error"] as const;

/** customMeasurements of AuditRunCompleted. */
export const RUN_MEASUREMENTS = [
  "durationMs",
  "findings",
  ...STATUSES,
  ...CHANGES,
  "openFailing",
  "exempted",
  ...STATUSES.flatMap((s) => SEVERITIES.map((v) => `${s}_${v}`)),
  ...SEVERITIES.map((v) => `open_${v}`),
  "subscriptions",
  "resourceGraphRequests",
  "armRequests",
  "throttled",
  "tableOperations",
  "missedCount",
  "warnings",
] as const;

/** customDimensions of FindingChanged. IDs are normalised (lower-case) so that KQL groups them reliably. */
export const FINDING_DIMENSIONS = [
  "runId",
  "scope",
  "ruleId",
  "status",
  "previousStatus",
  "severity",
  "reason",
  "change",
  "clusterId",
  "registryId",
  "subscriptionId",
  "exempt",
  "message",
] as const;

/** customDimensions of each metric. */
export const METRIC_DIMENSIONS = {
  [METRICS.openFindings]: ["ruleId", "severity"],
  [METRICS.failingAttachments]: ["clusterId", "subscriptionId"],
} as const satisfies Record<(typeof METRICS)[keyof typeof METRICS], readonly string[]>;

/** Every customDimensions key the code emits, with the items that carry it. */
export function emittedDimensions(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (item: string, keys: readonly string[]): void => {
    for (const k of keys) out.set(k, [...(out.get(k) ?? []), item]);
  };
  add(EVENTS.runCompleted, RUN_DIMENSIONS);
  add(EVENTS.findingChanged, FINDING_DIMENSIONS);
  for (const [metric, keys] of Object.entries(METRIC_DIMENSIONS)) add(metric, keys);
  return out;
}
