/** Findings: what an audit reports. The IDs, statuses and reasons are a public contract. */

export type Status = "pass" | "fail" | "unknown";
export type Severity = "low" | "medium" | "high" | "critical";
export type Change = "new" | "unchanged" | "changed" | "removed";

export const SEVERITIES: readonly Severity[] = ["low", "medium", "high", "critical"];
export const STATUSES: readonly Status[] = ["pass", "fail", "unknown"];
export const CHANGES: readonly Change[] = ["new", "unchanged", "changed", "removed"];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export interface Exemption {
  source: "tag" | "api";
  justification: string;
  /** `YYYY-MM-DD` (inclusive) or null when it never expires. */
  expiresOn: string | null;
  /** The API exemption's ID, or the tagged resource's ID. */
  id?: string;
}

export interface Remediation {
  summary: string;
  commands: string[];
  docs: string;
  bicep?: string;
}

/** A finding as the rules produce it, before drift is applied. */
export interface Evaluation {
  ruleId: string;
  status: Status;
  severity: Severity;
  /** Cluster resource ID (cluster-level and attachment findings), else null. */
  clusterId: string | null;
  /** Registry resource ID, or the declared text of an entry that resolves to nothing; null for cluster-level. */
  registryId: string | null;
  reason: string | null;
  message: string;
  evidence: Record<string, unknown>;
}

/** A finding as reported: an evaluation with its drift against the previous run. */
export interface Finding extends Evaluation {
  change: Change;
  previousStatus: Status | null;
  subscriptionId: string | null;
  exemption?: Exemption | null;
  remediation?: Remediation | null;
}

/** Stable identity of a finding across runs: rule + subject, IDs normalised. */
export function findingKey(f: { ruleId: string; clusterId: string | null; registryId: string | null }): string {
  return `${f.ruleId}|${(f.clusterId ?? "").toLowerCase()}|${(f.registryId ?? "").toLowerCase()}`;
}

export type AttachmentSource = "granted" | "declared" | "remembered";

/** A (cluster, registry) pair the cluster is expected to pull from. */
export interface Attachment {
  clusterId: string;
  /** Registry resource ID when resolved, else the declared text. */
  registryId: string;
  /** Every way it was inferred this run. */
  sources: AttachmentSource[];
  /** The declared entry text, when declared. */
  declaredAs?: string;
  /** True when the declared entry could not be resolved to a registry ID. */
  unresolved?: boolean;
  /**
   * Sources of the previous run carried on although this run did not see them: a granted pair of a cluster
   * with a declared list, kept because this run cannot see its grant (so the next run keeps it too).
   */
  carried?: AttachmentSource[];
}
