/** JSON documents the CLI and the API share (public contracts other tools parse). Pure. */
import type { AuditResult } from "./audit.js";
import type { Finding, Severity } from "./findings.js";
import { severityRank } from "./findings.js";
import type { TriageResult } from "./triage.js";

/** JSON shape of `run --json` (a contract other tools parse). */
export function toJsonDocument(result: Pick<AuditResult, "run" | "findings">): unknown {
  const r = result.run;
  return {
    run: {
      id: r.id,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      status: r.status,
      scopes: r.scopes,
      counts: r.counts,
      missed: r.missed,
      warnings: r.warnings,
    },
    findings: result.findings.map(findingJson),
  };
}

export function findingJson(f: Finding): Record<string, unknown> {
  return {
    ruleId: f.ruleId,
    status: f.status,
    severity: f.severity,
    reason: f.reason,
    change: f.change,
    previousStatus: f.previousStatus,
    clusterId: f.clusterId,
    registryId: f.registryId,
    message: f.message,
    evidence: f.evidence,
    exemption: f.exemption ?? null,
    remediation: f.remediation ?? null,
  };
}

/** Failing, not exempted, not removed findings at or above `min`. */
export function failsGate(findings: Finding[], min: Severity): Finding[] {
  return findings.filter(
    (f) => f.status === "fail" && !f.exemption && f.change !== "removed" && severityRank(f.severity) >= severityRank(min),
  );
}

/** JSON of `triage --json` and GET /api/triage. */
export function triageJson(t: TriageResult): unknown {
  return {
    cluster: t.cluster,
    verdict: t.verdict,
    registries: t.registries.map((r) => ({ ...r, steps: r.steps.map((s) => ({ ...s, findings: s.findings.map(findingJson) })) })),
    stats: t.stats,
  };
}
