/**
 * GET /api/findings/summary: counts of the current findings (the latest committed run's), by status x
 * severity and by rule, and the clusters with the most open failing findings. "Open failing" means status
 * `fail` without an exemption; findings reported `removed` are not counted (they are gone).
 */
import { RULE_IDS } from "../core/catalog.js";
import { SEVERITIES, STATUSES, type Finding, type Severity, type Status } from "../core/findings.js";
import type { RunRecord } from "../core/ports.js";
import { nameOf, normalizeId } from "../core/resource-id.js";

export const TOP_CLUSTERS = 10;

export type SeverityCounts = Record<Severity, number>;

export interface RuleCounts {
  ruleId: string;
  total: number;
  pass: number;
  fail: number;
  unknown: number;
  openFailing: number;
  exempted: number;
}

export interface ClusterCounts {
  clusterId: string;
  name: string;
  openFailing: number;
  bySeverity: SeverityCounts;
}

export interface Summary {
  run: { id: string; status: string; startedAt: string; finishedAt: string | null } | null;
  total: number;
  openFailing: number;
  exempted: number;
  byStatusSeverity: Record<Status, SeverityCounts>;
  byRule: RuleCounts[];
  topClusters: ClusterCounts[];
}

const zeroSeverities = (): SeverityCounts => Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as SeverityCounts;

export function computeSummary(findings: Finding[], run: RunRecord | undefined | null, top = TOP_CLUSTERS): Summary {
  const byStatusSeverity = Object.fromEntries(STATUSES.map((s) => [s, zeroSeverities()])) as Record<Status, SeverityCounts>;
  const byRule = new Map<string, RuleCounts>();
  const clusters = new Map<string, ClusterCounts>();
  let total = 0;
  let openFailing = 0;
  let exempted = 0;
  for (const f of findings) {
    if (f.change === "removed") continue;
    total++;
    byStatusSeverity[f.status][f.severity]++;
    let r = byRule.get(f.ruleId);
    if (!r) byRule.set(f.ruleId, (r = { ruleId: f.ruleId, total: 0, pass: 0, fail: 0, unknown: 0, openFailing: 0, exempted: 0 }));
    r.total++;
    r[f.status]++;
    if (f.exemption) {
      exempted++;
      r.exempted++;
      continue;
    }
    if (f.status !== "fail") continue;
    openFailing++;
    r.openFailing++;
    if (f.clusterId) {
      const k = normalizeId(f.clusterId);
      let c = clusters.get(k);
      if (!c) clusters.set(k, (c = { clusterId: f.clusterId, name: nameOf(f.clusterId), openFailing: 0, bySeverity: zeroSeverities() }));
      c.openFailing++;
      c.bySeverity[f.severity]++;
    }
  }
  const order = (id: string) => {
    const i = RULE_IDS.indexOf(id);
    return i < 0 ? RULE_IDS.length : i;
  };
  return {
    run: run ? { id: run.id, status: run.status, startedAt: run.startedAt, finishedAt: run.finishedAt } : null,
    total,
    openFailing,
    exempted,
    byStatusSeverity,
    byRule: [...byRule.values()].sort((a, b) => order(a.ruleId) - order(b.ruleId) || a.ruleId.localeCompare(b.ruleId)),
    topClusters: [...clusters.values()]
      .sort((a, b) => b.openFailing - a.openFailing || a.name.localeCompare(b.name) || a.clusterId.localeCompare(b.clusterId))
      .slice(0, top),
  };
}
