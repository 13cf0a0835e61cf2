/** The rule catalog: IDs, subjects and severities (a public contract, see docs/rules/). */
import type { Severity } from "./findings.js";

export type Subject = "cluster" | "registry" | "attachment";

export interface RuleInfo {
  id: string;
  subject: Subject;
  severity: Severity;
  title: string;
  reasons: string[];
}

export const RULES: readonly RuleInfo[] = [
  {
    id: "identity.kubelet-managed",
    subject: "cluster",
    severity: "low",
    title: "The cluster has a kubelet managed identity",
    reasons: ["service-principal", "kubelet-identity-missing"],
  },
  {
    id: "identity.kubelet-changed",
    subject: "cluster",
    severity: "medium",
    title: "The kubelet identity is the one seen in the previous run",
    reasons: ["kubelet-identity-replaced"],
  },
  {
    id: "registry.exists",
    subject: "attachment",
    severity: "high",
    title: "The attached registry exists",
    reasons: ["registry-deleted", "subscription-not-readable", "unresolved-name"],
  },
  {
    id: "pull.granted",
    subject: "attachment",
    severity: "high",
    title: "The kubelet identity may pull from the registry",
    reasons: [
      "no-pull-role",
      "abac-mode-ignores-role",
      "repository-scoped",
      "service-principal",
      "custom-role-wildcard",
      "kubelet-identity-missing",
      "role-definition-unresolved",
      "not-visible",
    ],
  },
  {
    id: "pull.least-privilege",
    subject: "attachment",
    severity: "medium",
    title: "The kubelet identity holds pull and nothing more, at the registry's scope",
    reasons: [
      "write-capable-role",
      "broad-scope-only",
      "service-principal",
      "kubelet-identity-missing",
      "role-definition-unresolved",
      "not-visible",
    ],
  },
  {
    id: "network.path",
    subject: "attachment",
    severity: "high",
    title: "Every node pool has a network path to the registry",
    reasons: [
      "public-access-disabled-no-private-endpoint",
      "private-endpoint-not-peered",
      "egress-ips-blocked",
      "some-egress-ips-blocked",
      "egress-unresolvable",
      "invalid-ip-rule",
      "not-visible",
    ],
  },
  {
    id: "network.private-dns",
    subject: "attachment",
    severity: "high",
    title: "Node pools on a private path resolve the registry's private link zone",
    reasons: ["zone-not-linked", "custom-dns", "not-visible"],
  },
  {
    id: "registry.replica-nearby",
    subject: "attachment",
    severity: "low",
    title: "The registry has a replica in the cluster's region",
    reasons: ["no-replica-in-region", "not-visible"],
  },
  {
    id: "registry.admin-user",
    subject: "registry",
    severity: "medium",
    title: "The registry's admin user is disabled",
    reasons: ["admin-user-enabled"],
  },
  {
    id: "registry.anonymous-pull",
    subject: "registry",
    severity: "medium",
    title: "Anonymous pull is disabled",
    reasons: ["anonymous-pull-enabled"],
  },
  {
    id: "registry.public-unrestricted",
    subject: "registry",
    severity: "low",
    title: "Public network access is restricted",
    reasons: ["public-unrestricted"],
  },
];

export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);

export function ruleInfo(id: string): RuleInfo | undefined {
  return RULES.find((r) => r.id === id);
}

/** Reason given to earlier findings of subjects that are merely not visible in a run. */
export const NOT_VISIBLE = "not-visible";
