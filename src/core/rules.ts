/**
 * The rules of rules.md as pure functions over the inventory index. Each returns evaluations (findings
 * before drift); a rule that does not apply to a subject returns none.
 */
import { ruleInfo } from "./catalog.js";
import type { Attachment, Evaluation, Status } from "./findings.js";
import type { Cluster, Registry } from "./inventory.js";
import type { InventoryIndex, ScopeLevel } from "./inventory-index.js";
import { evaluateNetwork } from "./network.js";
import { pullDecision, registryMode, writeOperations, type RegistryMode } from "./permissions.js";
import { subscriptionOf } from "./resource-id.js";

export interface RuleOptions {
  /** The tenant uses ARM private link: custom-role wildcards grant pull. */
  armPrivateLink: boolean;
  /** Kubelet objectIds seen by the previous run, by normalised cluster ID. */
  previousKubelet: Map<string, string>;
  /**
   * Registries of remembered attachments whose cluster is not visible in this run (`hiddenAttachments`):
   * still part of an attachment, so their registry rules are evaluated.
   */
  hiddenAttachedRegistries?: readonly string[];
}

function finding(
  ruleId: string,
  clusterId: string | null,
  registryId: string | null,
  status: Status,
  reason: string | null,
  message: string,
  evidence: Record<string, unknown> = {},
): Evaluation {
  const info = ruleInfo(ruleId);
  if (!info) throw new Error(`unknown rule ${ruleId}`);
  return { ruleId, status, severity: info.severity, clusterId, registryId, reason, message, evidence };
}

export function hasManagedKubelet(c: Cluster): boolean {
  const sp = (c.servicePrincipalClientId ?? "msi").toLowerCase();
  return sp === "msi" && !!c.kubeletObjectId;
}

// ---------------------------------------------------------------- cluster rules

export function kubeletManaged(c: Cluster): Evaluation {
  const sp = c.servicePrincipalClientId;
  if (sp && sp.toLowerCase() !== "msi") {
    return finding(
      "identity.kubelet-managed",
      c.id,
      null,
      "fail",
      "service-principal",
      `Cluster ${c.name} pulls with service principal ${sp}, not a kubelet managed identity; its pull permissions cannot be checked`,
      { servicePrincipalClientId: sp },
    );
  }
  if (!c.kubeletObjectId) {
    return finding(
      "identity.kubelet-managed",
      c.id,
      null,
      "unknown",
      "kubelet-identity-missing",
      `Cluster ${c.name} reports no kubelet identity (identityProfile.kubeletidentity)`,
      {},
    );
  }
  return finding(
    "identity.kubelet-managed",
    c.id,
    null,
    "pass",
    null,
    `Cluster ${c.name} pulls with kubelet managed identity ${c.kubeletObjectId}`,
    { kubeletObjectId: c.kubeletObjectId, kubeletResourceId: c.kubeletResourceId ?? null },
  );
}

export function kubeletChanged(c: Cluster, previousObjectId: string | undefined): Evaluation | undefined {
  if (!c.kubeletObjectId) return undefined;
  if (previousObjectId && previousObjectId.toLowerCase() !== c.kubeletObjectId.toLowerCase()) {
    return finding(
      "identity.kubelet-changed",
      c.id,
      null,
      "fail",
      "kubelet-identity-replaced",
      `Cluster ${c.name}'s kubelet identity changed from ${previousObjectId} to ${c.kubeletObjectId}: grants made to the old identity no longer apply`,
      { kubeletObjectId: c.kubeletObjectId, previousKubeletObjectId: previousObjectId },
    );
  }
  // Same text on the first and every later run, so an unchanged cluster is not rewritten to the store.
  return finding("identity.kubelet-changed", c.id, null, "pass", null, `Cluster ${c.name}'s kubelet identity is ${c.kubeletObjectId}`, {
    kubeletObjectId: c.kubeletObjectId,
  });
}

// ---------------------------------------------------------------- registry rules

export function registryRules(r: Registry): Evaluation[] {
  const out: Evaluation[] = [];
  out.push(
    r.adminUserEnabled === true
      ? finding(
          "registry.admin-user",
          null,
          r.id,
          "fail",
          "admin-user-enabled",
          `Registry ${r.name} has its admin user enabled (a shared credential that bypasses Entra ID)`,
          { adminUserEnabled: true },
        )
      : finding("registry.admin-user", null, r.id, "pass", null, `Registry ${r.name}'s admin user is disabled`, {
          adminUserEnabled: r.adminUserEnabled ?? false,
        }),
  );
  out.push(
    r.anonymousPullEnabled === true
      ? finding(
          "registry.anonymous-pull",
          null,
          r.id,
          "fail",
          "anonymous-pull-enabled",
          `Registry ${r.name} allows anonymous pull: anyone who can reach it can read every image`,
          { anonymousPullEnabled: true },
        )
      : finding("registry.anonymous-pull", null, r.id, "pass", null, `Registry ${r.name} does not allow anonymous pull`, {
          anonymousPullEnabled: r.anonymousPullEnabled ?? false,
        }),
  );
  const publicAccess = r.publicNetworkAccess ?? "Enabled";
  const defaultAction = r.defaultAction ?? "Allow";
  const unrestricted = publicAccess.toLowerCase() !== "disabled" && defaultAction.toLowerCase() === "allow";
  out.push(
    unrestricted
      ? finding(
          "registry.public-unrestricted",
          null,
          r.id,
          "fail",
          "public-unrestricted",
          `Registry ${r.name} accepts connections from any network (public access enabled, default action Allow)`,
          { publicNetworkAccess: publicAccess, defaultAction },
        )
      : finding("registry.public-unrestricted", null, r.id, "pass", null, `Registry ${r.name}'s network access is restricted`, {
          publicNetworkAccess: publicAccess,
          defaultAction,
        }),
  );
  return out;
}

// ---------------------------------------------------------------- attachment rules

export function registryExists(a: Attachment, idx: InventoryIndex): Evaluation {
  const r = idx.registries.get(a.registryId);
  const ev = { sources: a.sources, declaredAs: a.declaredAs ?? null };
  if (r)
    return finding("registry.exists", a.clusterId, r.id, "pass", null, `Registry ${r.name} exists`, {
      ...ev,
      loginServer: r.loginServer ?? null,
    });
  if (a.unresolved) {
    return finding(
      "registry.exists",
      a.clusterId,
      a.registryId,
      "unknown",
      "unresolved-name",
      `Declared registry '${a.registryId}' matches no visible registry and names no subscription`,
      ev,
    );
  }
  const sub = subscriptionOf(a.registryId);
  const vis = idx.visibility(sub);
  if (vis === "visible") {
    return finding(
      "registry.exists",
      a.clusterId,
      a.registryId,
      "fail",
      "registry-deleted",
      `Registry ${a.registryId} is not in subscription ${sub}, which is readable: it was deleted or moved`,
      { ...ev, subscriptionId: sub },
    );
  }
  return finding(
    "registry.exists",
    a.clusterId,
    a.registryId,
    "unknown",
    "subscription-not-readable",
    `Registry ${a.registryId} cannot be seen: subscription ${sub} is ${vis === "failed" ? "not readable in this run" : "not readable by the auditor"}`,
    { ...ev, subscriptionId: sub ?? null },
  );
}

interface GrantView {
  assignmentId: string;
  roleDefinitionId: string;
  roleName: string | null;
  scope: string;
  level: ScopeLevel;
  condition: string | null;
  decision: "grants" | "wildcard-only" | "no" | "unresolved";
  legacyDecision: "grants" | "wildcard-only" | "no" | "unresolved";
  writes: string[];
}

function grantsFor(c: Cluster, r: Registry, idx: InventoryIndex, opts: RuleOptions, mode: RegistryMode): GrantView[] {
  return idx.assignmentsOn(c.kubeletObjectId!, r.id).map(({ assignment, level }) => {
    const role = idx.roleOf(assignment);
    return {
      assignmentId: assignment.id,
      roleDefinitionId: assignment.roleDefinitionId,
      roleName: role?.roleName ?? null,
      scope: assignment.scope,
      level,
      condition: assignment.condition ? assignment.condition : null,
      decision: role ? pullDecision(role, mode, opts.armPrivateLink) : "unresolved",
      legacyDecision: role ? pullDecision(role, "legacy", opts.armPrivateLink) : "unresolved",
      writes: role ? writeOperations(role) : [],
    };
  });
}

function evidenceOf(g: GrantView): Record<string, unknown> {
  return {
    assignmentId: g.assignmentId,
    role: g.roleName,
    roleDefinitionId: g.roleDefinitionId,
    scope: g.scope,
    level: g.level,
    ...(g.condition ? { condition: g.condition } : {}),
  };
}

export function pullRules(a: Attachment, c: Cluster, r: Registry, idx: InventoryIndex, opts: RuleOptions): Evaluation[] {
  const sp = c.servicePrincipalClientId;
  if (sp && sp.toLowerCase() !== "msi") {
    const msg = `Cluster ${c.name} uses service principal ${sp}; its grants on ${r.name} are not checked`;
    return [
      finding("pull.granted", c.id, r.id, "unknown", "service-principal", msg, { servicePrincipalClientId: sp }),
      finding("pull.least-privilege", c.id, r.id, "unknown", "service-principal", msg, { servicePrincipalClientId: sp }),
    ];
  }
  if (!c.kubeletObjectId) {
    const msg = `Cluster ${c.name} reports no kubelet identity; its grants on ${r.name} cannot be checked`;
    return [
      finding("pull.granted", c.id, r.id, "unknown", "kubelet-identity-missing", msg),
      finding("pull.least-privilege", c.id, r.id, "unknown", "kubelet-identity-missing", msg),
    ];
  }
  if (idx.missedFor("roleAssignments", subscriptionOf(r.id)) || idx.missedFor("roleAssignments", c.subscriptionId)) {
    const msg = `Role assignments on ${r.name} could not be read in this run`;
    return [
      finding("pull.granted", c.id, r.id, "unknown", "not-visible", msg),
      finding("pull.least-privilege", c.id, r.id, "unknown", "not-visible", msg),
    ];
  }
  const mode = registryMode(r.roleAssignmentMode);
  const grants = grantsFor(c, r, idx, opts, mode);
  const base = {
    kubeletObjectId: c.kubeletObjectId,
    registryMode: mode,
    roleAssignmentMode: r.roleAssignmentMode ?? "LegacyRegistryPermissions",
  };
  const granting = grants.filter((g) => g.decision === "grants");
  const out: Evaluation[] = [];

  // pull.granted
  if (granting.length > 0) {
    const unconditional = granting.filter((g) => !g.condition);
    if (unconditional.length > 0) {
      out.push(
        finding(
          "pull.granted",
          c.id,
          r.id,
          "pass",
          null,
          `${c.name}'s kubelet identity may pull from ${r.name} (${unconditional.map((g) => `${g.roleName} at ${g.level}`).join(", ")})`,
          { ...base, grants: unconditional.map(evidenceOf) },
        ),
      );
    } else {
      out.push(
        finding(
          "pull.granted",
          c.id,
          r.id,
          "pass",
          "repository-scoped",
          `${c.name}'s kubelet identity may pull only from the repositories its role assignment condition allows in ${r.name}`,
          { ...base, grants: granting.map(evidenceOf) },
        ),
      );
    }
  } else if (grants.some((g) => g.decision === "wildcard-only")) {
    out.push(
      finding(
        "pull.granted",
        c.id,
        r.id,
        "unknown",
        "custom-role-wildcard",
        `${c.name}'s kubelet identity reaches pull on ${r.name} only through a wildcard in a custom role; ACR honours that only in tenants with ARM private link (set AUDIT_TENANT_ARM_PRIVATE_LINK=true if yours does)`,
        { ...base, grants: grants.filter((g) => g.decision === "wildcard-only").map(evidenceOf) },
      ),
    );
  } else if (grants.some((g) => g.decision === "unresolved")) {
    out.push(
      finding(
        "pull.granted",
        c.id,
        r.id,
        "unknown",
        "role-definition-unresolved",
        `A role assignment of ${c.name}'s kubelet identity on ${r.name} names a role definition that could not be read`,
        { ...base, grants: grants.filter((g) => g.decision === "unresolved").map(evidenceOf) },
      ),
    );
  } else if (mode === "abac" && grants.some((g) => g.legacyDecision === "grants")) {
    out.push(
      finding(
        "pull.granted",
        c.id,
        r.id,
        "fail",
        "abac-mode-ignores-role",
        `Registry ${r.name} uses ABAC repository permissions, which ignore ${grants
          .filter((g) => g.legacyDecision === "grants")
          .map((g) => g.roleName)
          .join(", ")}: pulls fail with 401/403. Grant Container Registry Repository Reader instead`,
        { ...base, ignoredGrants: grants.filter((g) => g.legacyDecision === "grants").map(evidenceOf) },
      ),
    );
  } else {
    out.push(
      finding(
        "pull.granted",
        c.id,
        r.id,
        "fail",
        "no-pull-role",
        `${c.name}'s kubelet identity (${c.kubeletObjectId}) holds no role that can pull from ${r.name}: pulls fail with 401 Unauthorized`,
        { ...base, assignmentsConsidered: grants.map(evidenceOf) },
      ),
    );
  }

  // pull.least-privilege
  const writers = grants.filter((g) => g.writes.length > 0);
  if (writers.length > 0) {
    out.push(
      finding(
        "pull.least-privilege",
        c.id,
        r.id,
        "fail",
        "write-capable-role",
        `${c.name}'s kubelet identity can also change ${r.name} (${writers.map((g) => `${g.roleName ?? g.roleDefinitionId} at ${g.level}`).join(", ")}); a node compromise could push or delete images`,
        { ...base, writeCapable: writers.map((g) => ({ ...evidenceOf(g), operations: g.writes })) },
      ),
    );
  } else if (granting.length > 0 && granting.every((g) => g.level !== "registry")) {
    out.push(
      finding(
        "pull.least-privilege",
        c.id,
        r.id,
        "fail",
        "broad-scope-only",
        `${c.name}'s kubelet identity may pull from ${r.name} only through grants above the registry (${granting.map((g) => g.level).join(", ")}), which also reach other registries`,
        { ...base, grants: granting.map(evidenceOf) },
      ),
    );
  } else if (grants.some((g) => g.decision === "unresolved")) {
    out.push(
      finding(
        "pull.least-privilege",
        c.id,
        r.id,
        "unknown",
        "role-definition-unresolved",
        `A role definition of ${c.name}'s kubelet identity on ${r.name} could not be read`,
        { ...base, grants: grants.filter((g) => g.decision === "unresolved").map(evidenceOf) },
      ),
    );
  } else {
    out.push(
      finding(
        "pull.least-privilege",
        c.id,
        r.id,
        "pass",
        null,
        granting.length
          ? `${c.name}'s kubelet identity holds only pull on ${r.name}, at the registry's scope`
          : `${c.name}'s kubelet identity holds no role on ${r.name} (see pull.granted)`,
        { ...base, grants: granting.map(evidenceOf) },
      ),
    );
  }
  return out;
}

const normRegion = (s: string | undefined): string => (s ?? "").toLowerCase().replace(/\s+/g, "");

export function replicaNearby(c: Cluster, r: Registry, idx: InventoryIndex): Evaluation {
  const region = normRegion(c.location);
  const replications = idx.replicationsByRegistry.get(r.id) ?? [];
  const regions = [
    { location: r.location, kind: "home", provisioningState: "Succeeded" },
    ...replications.map((x) => ({ location: x.location, kind: "replica", provisioningState: x.provisioningState ?? null })),
  ];
  const evidence = { clusterRegion: c.location, registryRegions: regions, sku: r.skuName ?? null };
  const home = normRegion(r.location) === region;
  const replica = replications.find((x) => normRegion(x.location) === region && (x.provisioningState ?? "").toLowerCase() === "succeeded");
  if (home || replica) {
    return finding(
      "registry.replica-nearby",
      c.id,
      r.id,
      "pass",
      null,
      home ? `Registry ${r.name} is in the cluster's region ${c.location}` : `Registry ${r.name} has a replica in ${c.location}`,
      evidence,
    );
  }
  if (idx.missedFor("replications", subscriptionOf(r.id))) {
    return finding(
      "registry.replica-nearby",
      c.id,
      r.id,
      "unknown",
      "not-visible",
      `Replications of ${r.name} could not be read in this run`,
      evidence,
    );
  }
  const failedReplica = replications.find((x) => normRegion(x.location) === region);
  return finding(
    "registry.replica-nearby",
    c.id,
    r.id,
    "fail",
    "no-replica-in-region",
    failedReplica
      ? `Registry ${r.name}'s replica in ${c.location} is ${failedReplica.provisioningState ?? "not ready"}: ${c.name} pulls across regions`
      : `Registry ${r.name} has no replica in ${c.location}: ${c.name} pulls across regions (slower, egress cost)${(r.skuName ?? "").toLowerCase() === "premium" ? "" : "; geo-replication needs the Premium SKU"}`,
    evidence,
  );
}

/**
 * A run's evaluations before the network facts are read: every rule but the network ones, in report
 * order, and where each attachment's network evaluations go. The network rules are the only ones that
 * read the last discovery round, so the rest can be evaluated while it runs.
 */
export interface EarlyEvaluations {
  items: Evaluation[];
  /** Attachments with a visible cluster and registry; their network evaluations go before `items[at]`. */
  network: { at: number; attachment: Attachment }[];
}

/** One step of the early evaluation: an evaluation, or the place of an attachment's network evaluations. */
export type EarlyStep = Evaluation | { networkOf: Attachment };

/** The early evaluation one step at a time (see `EarlyEvaluations`); `idx` need not hold network facts. */
export function* earlySteps(idx: InventoryIndex, attachments: Attachment[], opts: RuleOptions): Generator<EarlyStep, void, undefined> {
  for (const c of idx.inventory.clusters) {
    yield kubeletManaged(c);
    const changed = kubeletChanged(c, opts.previousKubelet.get(c.id.toLowerCase()));
    if (changed) yield changed;
  }
  const attachedRegistries = new Map<string, Registry>();
  for (const a of attachments) {
    const c = idx.clusters.get(a.clusterId);
    const r = idx.registries.get(a.registryId);
    if (r) attachedRegistries.set(r.id.toLowerCase(), r);
    if (!c) continue;
    yield registryExists(a, idx);
    if (!r) continue;
    yield* pullRules(a, c, r, idx, opts);
    yield { networkOf: a };
    yield replicaNearby(c, r, idx);
  }
  for (const id of opts.hiddenAttachedRegistries ?? []) {
    const r = idx.registries.get(id);
    if (r && !attachedRegistries.has(r.id.toLowerCase())) attachedRegistries.set(r.id.toLowerCase(), r);
  }
  for (const r of attachedRegistries.values()) yield* registryRules(r);
}

/** Every evaluation but the network rules' (see `EarlyEvaluations`). */
export function evaluateEarly(idx: InventoryIndex, attachments: Attachment[], opts: RuleOptions): EarlyEvaluations {
  const items: Evaluation[] = [];
  const network: EarlyEvaluations["network"] = [];
  for (const s of earlySteps(idx, attachments, opts)) {
    if ("networkOf" in s) network.push({ at: items.length, attachment: s.networkOf });
    else items.push(s);
  }
  return { items, network };
}

/** The network evaluations of `early.network`, one list per entry, over the index with the network facts. */
export function evaluateLate(idx: InventoryIndex, early: Pick<EarlyEvaluations, "network">): Evaluation[][] {
  return early.network.map(({ attachment: a }) => {
    const c = idx.clusters.get(a.clusterId);
    const r = idx.registries.get(a.registryId);
    return c && r ? evaluateNetwork(c, r, idx) : [];
  });
}

/** `items` with each `inserts[i]` placed before `items[at[i]]` (positions ascending): the report order. */
export function interleave<T>(items: T[], at: number[], inserts: T[][]): T[] {
  const out: T[] = [];
  let from = 0;
  at.forEach((pos, i) => {
    for (; from < pos; from++) out.push(items[from]);
    for (const x of inserts[i]) out.push(x);
  });
  for (; from < items.length; from++) out.push(items[from]);
  return out;
}

/** Every evaluation of a run: cluster rules for every cluster, attachment rules, registry rules. */
export function evaluateAll(idx: InventoryIndex, attachments: Attachment[], opts: RuleOptions): Evaluation[] {
  const early = evaluateEarly(idx, attachments, opts);
  return interleave(
    early.items,
    early.network.map((n) => n.at),
    evaluateLate(idx, early),
  );
}
