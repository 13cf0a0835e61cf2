/**
 * Triage: "why can't this cluster pull from that registry, and how do I fix it?" A scoped audit of one
 * cluster (and optionally one registry) that reads only what that answer needs, and presents the
 * findings in the order of the AKS troubleshooting guide: kubelet identity -> role assignments and
 * registry mode -> network path per node pool -> private DNS -> registry hygiene.
 */
import { declaredEntries } from "./attachments.js";
import { assess, discover } from "./audit.js";
import type { Cloud } from "./clouds.js";
import type { Attachment, Finding, Status } from "./findings.js";
import type { Cluster, RoleAssignment } from "./inventory.js";
import type { AuditScope, DiscoveryPort, StoredState, SubjectFilter } from "./ports.js";
import { looksLikeResourceId, nameOf, normalizeId, resourceGroupIdOf, sameId } from "./resource-id.js";

export class TriageError extends Error {
  constructor(
    readonly code: "ClusterNotFound" | "AmbiguousCluster" | "RegistryNotFound" | "InvalidArgument",
    message: string,
    readonly candidates: string[] = [],
  ) {
    super(message);
  }
}

export const TRIAGE_STEPS = [
  { step: "kubelet-identity", title: "Kubelet identity", rules: ["identity.kubelet-managed"] },
  { step: "permissions", title: "Role assignments and registry mode", rules: ["registry.exists", "pull.granted", "pull.least-privilege"] },
  { step: "network-path", title: "Network path per node pool", rules: ["network.path"] },
  { step: "private-dns", title: "Private DNS", rules: ["network.private-dns"] },
  {
    step: "registry-hygiene",
    title: "Registry hygiene and performance",
    rules: ["registry.replica-nearby", "registry.admin-user", "registry.anonymous-pull", "registry.public-unrestricted"],
  },
] as const;

export interface TriageStep {
  step: string;
  title: string;
  status: Status | "n/a";
  findings: Finding[];
}

export interface TriageRegistry {
  registryId: string;
  name: string;
  loginServer: string | null;
  sources: string[];
  verdict: Status;
  steps: TriageStep[];
}

export interface TriageResult {
  cluster: { id: string; name: string; location: string; kubeletObjectId: string | null; nodePools: string[] };
  verdict: Status;
  registries: TriageRegistry[];
  findings: Finding[];
  stats: { resourceGraphRequests: number; armRequests: number; rows: number };
}

const worst = (ss: Status[]): Status => (ss.includes("fail") ? "fail" : ss.includes("unknown") ? "unknown" : "pass");

function registryHint(text: string): SubjectFilter {
  const t = text.trim();
  if (looksLikeResourceId(t)) return { ids: [t] };
  if (t.includes(".")) return { loginServers: [t], names: [t.split(".")[0]] };
  return { names: [t] };
}

function mergeFilters(fs: SubjectFilter[]): SubjectFilter {
  const out: Required<SubjectFilter> = { ids: [], names: [], loginServers: [], resourceGroupIds: [] };
  for (const f of fs) {
    out.ids.push(...(f.ids ?? []));
    out.names.push(...(f.names ?? []));
    out.loginServers.push(...(f.loginServers ?? []));
    out.resourceGroupIds.push(...(f.resourceGroupIds ?? []));
  }
  return out;
}

export async function triage(
  discovery: DiscoveryPort,
  opts: {
    cluster: string;
    registry?: string;
    scope: AuditScope;
    cloud: Cloud;
    armPrivateLink: boolean;
    now?: Date;
    previous?: StoredState;
  },
): Promise<TriageResult> {
  const clusterArg = opts.cluster.trim();
  if (!clusterArg) throw new TriageError("InvalidArgument", "--cluster needs a cluster resource ID or name");
  const previous: StoredState = opts.previous ?? {
    generation: 0,
    lastRunId: null,
    findings: [],
    attachments: [],
    forgotten: [],
    exemptions: [],
  };
  const clusterFilter: SubjectFilter = looksLikeResourceId(clusterArg) ? { ids: [clusterArg] } : { names: [clusterArg] };
  let matched: Cluster[] = [];
  const { index, attachments } = await discover(discovery, opts.scope, opts.cloud, previous, () => undefined, {
    clusters: clusterFilter,
    registries: (clusters: Cluster[], assignments: RoleAssignment[]) => {
      matched = clusters;
      if (clusters.length !== 1) return { ids: [] };
      const c = clusters[0];
      const parts: SubjectFilter[] = [];
      const scopes = assignments.filter((a) => sameId(a.principalId, c.kubeletObjectId)).map((a) => normalizeId(a.scope));
      parts.push({ ids: scopes.filter((s) => s.includes("/providers/microsoft.containerregistry/registries/")) });
      parts.push({ resourceGroupIds: scopes.filter((s) => resourceGroupIdOf(s) === s) });
      for (const e of declaredEntries(c) ?? []) parts.push(registryHint(e));
      for (const p of previous.attachments) if (sameId(p.clusterId, c.id)) parts.push(registryHint(p.registryId));
      if (opts.registry) parts.push(registryHint(opts.registry));
      return mergeFilters(parts);
    },
  });
  if (matched.length === 0) throw new TriageError("ClusterNotFound", `No visible AKS cluster matches '${clusterArg}'`);
  if (matched.length > 1) {
    throw new TriageError(
      "AmbiguousCluster",
      `'${clusterArg}' matches ${matched.length} clusters; pass one resource ID:\n${matched.map((c) => `  ${c.id}`).join("\n")}`,
      matched.map((c) => c.id),
    );
  }
  const cluster = matched[0];
  let scopedAttachments: Attachment[] = attachments.filter((a) => sameId(a.clusterId, cluster.id));
  if (opts.registry) {
    const want = opts.registry.trim().toLowerCase();
    const r = [...index.registries.values()].find(
      (x) =>
        sameId(x.id, want) ||
        x.name.toLowerCase() === want ||
        (x.loginServer ?? "").toLowerCase() === want ||
        want.startsWith(`${x.name.toLowerCase()}.`),
    );
    if (!r && !looksLikeResourceId(opts.registry))
      throw new TriageError("RegistryNotFound", `No visible registry matches '${opts.registry}'`);
    const registryId = r?.id ?? opts.registry.trim();
    scopedAttachments = scopedAttachments.filter((a) => sameId(a.registryId, registryId));
    // Asked about a registry the cluster is not attached to: evaluate it as if declared.
    if (!scopedAttachments.length)
      scopedAttachments = [{ clusterId: cluster.id, registryId, sources: ["declared"], declaredAs: opts.registry }];
  }
  const { findings } = assess(index, scopedAttachments, previous, { armPrivateLink: opts.armPrivateLink, now: opts.now ?? new Date() });
  const own = findings.filter((f) => f.change !== "removed" && f.ruleId !== "identity.kubelet-changed");
  const clusterLevel = own.filter((f) => sameId(f.clusterId, cluster.id) && !f.registryId);
  const registries: TriageRegistry[] = scopedAttachments.map((a) => {
    const r = index.registries.get(a.registryId);
    const related = own.filter((f) => sameId(f.registryId, a.registryId) && (f.clusterId === null || sameId(f.clusterId, cluster.id)));
    const steps: TriageStep[] = TRIAGE_STEPS.map((s) => {
      const fs = [...clusterLevel, ...related].filter((f) => (s.rules as readonly string[]).includes(f.ruleId));
      return { step: s.step, title: s.title, status: fs.length ? worst(fs.map((f) => f.status)) : "n/a", findings: fs };
    });
    const decisive = steps.filter((s) => s.step !== "registry-hygiene" && s.status !== "n/a").map((s) => s.status as Status);
    return {
      registryId: r?.id ?? a.registryId,
      name: r?.name ?? nameOf(a.registryId),
      loginServer: r?.loginServer ?? null,
      sources: a.sources,
      verdict: worst(decisive),
      steps,
    };
  });
  const stats = discovery.stats();
  return {
    cluster: {
      id: cluster.id,
      name: cluster.name,
      location: cluster.location,
      kubeletObjectId: cluster.kubeletObjectId ?? null,
      nodePools: cluster.nodePools.map((p) => p.name),
    },
    verdict: registries.length ? worst(registries.map((r) => r.verdict)) : worst(clusterLevel.map((f) => f.status)),
    registries,
    findings: own,
    stats: { resourceGraphRequests: stats.resourceGraphRequests, armRequests: stats.armRequests, rows: stats.rows },
  };
}
