/**
 * The audit use case: discover -> infer attachments -> evaluate rules -> drift -> exemptions -> store.
 * The CLI and the timer function both call `runAudit`; neither knows the steps.
 */
import { hiddenAttachedRegistries, inferAttachments } from "./attachments.js";
import type { Cloud } from "./clouds.js";
import { DriftTracker, pairKey, previousKubelets } from "./drift.js";
import { ExemptionMatcher } from "./exemptions.js";
import type { Attachment, AttachmentSource, Finding } from "./findings.js";
import { CHANGES, STATUSES } from "./findings.js";
import { emptyNetworkFacts, type Cluster, type Inventory, type NetworkFacts, type Registry, type RoleAssignment } from "./inventory.js";
import { InventoryIndex } from "./inventory-index.js";
import type {
  AuditObserver,
  AuditScope,
  AuditStore,
  DiscoveryPort,
  Lease,
  LeaseResult,
  NetworkNeeds,
  Partial as PartialResult,
  RunCounts,
  RunRecord,
  RunWarning,
  StoredAttachment,
  StoredState,
  SubjectFilter,
} from "./ports.js";
import { RUN_RECORD_FAILED, scopeKeyOf } from "./ports.js";
import { normalizeId, parentOf, roleDefinitionGuid, subscriptionOf, uniqueIds } from "./resource-id.js";
import { earlySteps, evaluateLate, hasManagedKubelet, interleave, type EarlyEvaluations } from "./rules.js";
import { remediate } from "./remediation.js";

export class AuditError extends Error {
  constructor(
    readonly code: "LeaseHeld" | "DiscoveryFailed" | "StoreFailed",
    message: string,
    readonly run?: RunRecord,
    /** The run's state was committed (only its run record is missing): it must not be recorded as failed. */
    readonly committed = false,
  ) {
    super(message);
  }
}

export interface AuditOptions {
  scope: AuditScope;
  cloud: Cloud;
  armPrivateLink: boolean;
  /** Who holds the run lease (host name, invocation ID). */
  holder: string;
  leaseSeconds?: number;
  retentionDays?: number;
  now?: () => Date;
  newRunId?: (now: Date) => string;
  observer?: AuditObserver;
  /** A lease the caller already acquired (POST /api/runs answers 409 before starting). */
  lease?: Lease;
  /** Preset run ID (so a caller can report it before the run finishes). */
  runId?: string;
}

export interface AuditResult {
  run: RunRecord;
  findings: Finding[];
  attachments: Attachment[];
}

export function defaultRunId(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const hex = Math.floor(Math.random() * 0x100000000)
    .toString(16)
    .padStart(8, "0");
  return `${stamp}-${hex}`;
}

export function emptyCounts(): RunCounts {
  return {
    total: 0,
    byStatus: Object.fromEntries(STATUSES.map((s) => [s, 0])) as RunCounts["byStatus"],
    byStatusSeverity: {},
    byChange: Object.fromEntries(CHANGES.map((c) => [c, 0])) as RunCounts["byChange"],
    openFailing: 0,
    exempted: 0,
  };
}

export function countFindings(findings: Finding[]): RunCounts {
  const c = emptyCounts();
  for (const f of findings) {
    c.total++;
    c.byChange[f.change]++;
    if (f.change === "removed") continue;
    c.byStatus[f.status]++;
    const k = `${f.status}:${f.severity}`;
    c.byStatusSeverity[k] = (c.byStatusSeverity[k] ?? 0) + 1;
    if (f.exemption) c.exempted++;
    else if (f.status === "fail") c.openFailing++;
  }
  return c;
}

/** A scoped audit: which clusters, and (once they and their assignments are known) which registries. */
export interface ScopedSelection {
  clusters: SubjectFilter;
  registries: (clusters: Cluster[], assignments: RoleAssignment[]) => SubjectFilter;
}

/** Reads the estate through the discovery port, collecting what could not be read. */
export async function discover(
  discovery: DiscoveryPort,
  scope: AuditScope,
  cloud: Cloud,
  previous: Pick<StoredState, "attachments" | "forgotten">,
  progress: (m: string) => void = () => {},
  scoped?: ScopedSelection,
  whileNetwork?: (early: InventoryIndex, attachments: Attachment[]) => Promise<void>,
): Promise<{ inventory: Inventory; index: InventoryIndex; attachments: Attachment[] }> {
  const subscriptions = await discovery.listSubscriptions(scope);
  const subIds = subscriptions.map((s) => s.subscriptionId);
  progress(`${subIds.length} readable subscriptions`);
  const failedSubs = new Set<string>();
  const missed = new Set<string>();
  // Failures of the subject queries (clusters, registries) make a subscription's subjects not visible;
  // failures of the others are recorded per query (and subscription) for the rules that read them.
  const take = <T>(name: string, r: PartialResult<T>, subjects = false): T[] => {
    for (const s of r.failedSubscriptions) {
      if (subjects) failedSubs.add(s.toLowerCase());
      missed.add(`${name}:${s.toLowerCase()}`);
    }
    r.failedQueries.forEach((q) => missed.add(q));
    return r.items;
  };
  let clusters: Cluster[];
  let registries: Registry[];
  let roleAssignments: RoleAssignment[];
  const assignmentsOf = async (cs: Cluster[]): Promise<RoleAssignment[]> => {
    const principals = uniqueIds(cs.filter(hasManagedKubelet).map((c) => c.kubeletObjectId!));
    return principals.length ? take("roleAssignments", await discovery.listRoleAssignments(scope, subIds, principals)) : [];
  };
  if (scoped) {
    // A scoped audit (triage): the clusters asked for, their assignments, then only the registries they reference.
    clusters = take("clusters", await discovery.listClusters(scope, subIds, scoped.clusters), true);
    roleAssignments = await assignmentsOf(clusters);
    registries = take("registries", await discovery.listRegistries(scope, subIds, scoped.registries(clusters, roleAssignments)), true);
  } else {
    [clusters, registries] = await Promise.all([
      discovery.listClusters(scope, subIds).then((r) => take("clusters", r, true)),
      discovery.listRegistries(scope, subIds).then((r) => take("registries", r, true)),
    ]);
    roleAssignments = await assignmentsOf(clusters);
  }
  progress(`${clusters.length} clusters, ${registries.length} registries, ${roleAssignments.length} role assignments`);
  const guids = [...new Set(roleAssignments.map((a) => roleDefinitionGuid(a.roleDefinitionId)))];
  const roleDefinitions = take("roleDefinitions", await discovery.getRoleDefinitions(scope, subIds, guids));

  const inventory: Inventory = {
    subscriptions,
    clusters,
    registries,
    roleAssignments,
    roleDefinitions,
    replications: [],
    network: emptyNetworkFacts(),
    failedSubscriptions: [...failedSubs],
    missed: [...missed],
  };
  let index = new InventoryIndex(inventory, cloud);
  const attachments = inferAttachments(index, previous);
  progress(`${attachments.length} attachments`);

  // Network facts and replications: only what the attachments reference.
  const attachedRegistries = uniqueIds(attachments.map((a) => a.registryId)).filter((id) => index.registries.has(id));
  const attachedClusters = uniqueIds(attachments.map((a) => a.clusterId));
  const needs: NetworkNeeds = {
    vnetIds: [],
    nodeResourceGroups: [],
    privateEndpointIds: [],
    outboundIpIds: [],
    privateLinkZone: cloud.privateLinkZone,
  };
  for (const id of attachedClusters) {
    const c = index.clusters.get(id);
    if (!c) continue;
    for (const p of c.nodePools) {
      if (p.vnetSubnetId) needs.vnetIds.push(parentOf(p.vnetSubnetId));
      else if (c.nodeResourceGroup) needs.nodeResourceGroups.push({ subscriptionId: c.subscriptionId, resourceGroup: c.nodeResourceGroup });
    }
    needs.outboundIpIds.push(...c.loadBalancerOutboundIps, ...c.natGatewayOutboundIps);
  }
  for (const id of attachedRegistries) {
    const r = index.registries.get(id)!;
    for (const p of r.privateEndpointConnections) if (p.privateEndpointId) needs.privateEndpointIds.push(p.privateEndpointId);
  }
  needs.vnetIds = uniqueIds(needs.vnetIds);
  needs.privateEndpointIds = uniqueIds(needs.privateEndpointIds);
  needs.outboundIpIds = uniqueIds(needs.outboundIpIds);
  const rgSeen = new Set<string>();
  needs.nodeResourceGroups = needs.nodeResourceGroups.filter((g) => {
    const k = `${g.subscriptionId}/${g.resourceGroup}`.toLowerCase();
    return rgSeen.has(k) ? false : (rgSeen.add(k), true);
  });
  const networkP = attachments.length ? discovery.listNetworkFacts(scope, subIds, needs) : Promise.resolve(null);
  let networkFailed = false;
  networkP.catch(() => (networkFailed = true)); // awaited below; not unhandled while the replications are awaited
  const replications = attachedRegistries.length
    ? await discovery.listReplications(scope, uniqueIds(attachedRegistries.map((id) => subscriptionOf(id)!)), attachedRegistries)
    : null;
  // What needs no network facts can be worked on while the network rounds run (they are the last ones):
  // an index of everything read so far, replications included, over a copy the rest cannot change.
  let early: Promise<void> | undefined;
  // Not when the network rounds have already failed: the run fails with them, the early work would be lost.
  if (whileNetwork && !networkFailed) {
    const missedNow = [
      ...missed,
      ...(replications
        ? [...replications.failedSubscriptions.map((s) => `replications:${s.toLowerCase()}`), ...replications.failedQueries]
        : []),
    ];
    const before = new InventoryIndex(
      { ...inventory, replications: replications?.items ?? [], failedSubscriptions: [...failedSubs], missed: missedNow },
      cloud,
    );
    early = Promise.resolve().then(() => whileNetwork(before, attachments));
    early.catch(() => undefined); // awaited below
  }
  let network: PartialResult<NetworkFacts> | null;
  try {
    network = await networkP;
  } catch (err) {
    await early?.catch(() => undefined);
    throw err;
  }
  await early;
  if (network) {
    const items = take("network", network);
    inventory.network = items.length ? items[0] : emptyNetworkFacts();
  }
  if (replications) inventory.replications = take("replications", replications);
  inventory.failedSubscriptions = [...failedSubs];
  inventory.missed = [...missed];
  index = new InventoryIndex(inventory, cloud);
  return { inventory, index, attachments };
}

/**
 * One run's assessment (rules, drift, exemptions, remediation) in two stages. `early` takes every rule
 * but the network ones, over an index without network facts, so a run can do it while discovery reads
 * them; it yields between slices of findings. `finish` adds the network rules and the previous findings
 * no evaluation matched, and returns the findings in report order (as `assess`, which is both at once).
 */
export class Assessment {
  private readonly drift: DriftTracker;
  private exemptions?: ExemptionMatcher;
  private staged?: { network: EarlyEvaluations["network"]; findings: (Finding | undefined)[] };
  private started = false;
  private earlyDone = false;

  constructor(
    private readonly previous: StoredState,
    private readonly opts: { armPrivateLink: boolean; now: Date },
  ) {
    this.drift = new DriftTracker(previous.findings);
  }

  /**
   * The early stage; each `yield` (every `slice` findings) is a point where the caller may let other work
   * run: during discovery, the responses of the network rounds, which must not wait long for it.
   */
  *early(index: InventoryIndex, attachments: Attachment[], slice = 64): Generator<void, void, undefined> {
    if (this.started) throw new Error("Assessment.early runs once");
    this.started = true;
    const network: EarlyEvaluations["network"] = [];
    const findings: (Finding | undefined)[] = [];
    this.staged = { network, findings };
    this.exemptions = new ExemptionMatcher(index, this.previous.exemptions, this.opts.now);
    const opts = {
      armPrivateLink: this.opts.armPrivateLink,
      previousKubelet: previousKubelets(this.previous.findings),
      hiddenAttachedRegistries: hiddenAttachedRegistries(index, this.previous),
    };
    for (const step of earlySteps(index, attachments, opts)) {
      if ("networkOf" in step) {
        network.push({ at: findings.length, attachment: step.networkOf });
        continue;
      }
      findings.push(this.settle(this.drift.current(step), index));
      if (findings.length % slice === 0) yield;
    }
    this.earlyDone = true;
  }

  /**
   * Runs `early` to the end, pausing every few milliseconds so that pending callbacks run (each step of a
   * network round trip waits at most one pause); `settled` receives the early findings slice by slice as
   * they are final (the network stage does not change them).
   */
  async earlyAsync(
    index: InventoryIndex,
    attachments: Attachment[],
    settled?: (findings: readonly Finding[]) => void,
    sliceMs = 3,
  ): Promise<void> {
    const pause = () => new Promise<void>((resolve) => setImmediate(resolve));
    let done = 0;
    const flush = () => {
      const all = this.staged!.findings;
      const slice: Finding[] = [];
      for (; done < all.length; done++) if (all[done]) slice.push(all[done]!);
      if (slice.length) settled?.(slice);
    };
    let since = performance.now();
    for (const _ of this.early(index, attachments)) {
      if (performance.now() - since < sliceMs) continue;
      flush();
      await pause();
      since = performance.now();
    }
    flush();
  }

  /** The network rules over the complete index, then the previous findings nothing matched. */
  finish(index: InventoryIndex, attachments: Attachment[]): { findings: Finding[]; warnings: RunWarning[] } {
    if (!this.started) for (const _ of this.early(index, attachments));
    if (!this.staged) throw new Error("Assessment.finish runs once, after early");
    // An early stage given up half-way (its caller stopped iterating, or it threw) would lose findings.
    if (!this.earlyDone) throw new Error("Assessment.finish needs the early stage run to its end");
    const { network, findings: early } = this.staged;
    this.staged = undefined; // the run holds the findings; the staging and drift's key sets are not needed past here
    const late = evaluateLate(index, { network }).map((list) => list.map((e) => this.settle(this.drift.current(e), index)));
    const findings: Finding[] = [];
    for (const f of interleave(
      early,
      network.map((n) => n.at),
      late,
    ))
      if (f) findings.push(f);
    const forgotten = new Set(this.previous.forgotten.map((f) => pairKey(f.clusterId, f.registryId)));
    for (const f of this.drift.notSeen(index, attachments, forgotten)) findings.push(this.settle(f, index)!);
    this.drift.release();
    return { findings, warnings: this.exemptions!.warnings };
  }

  private settle(f: Finding | undefined, index: InventoryIndex): Finding | undefined {
    if (!f) return undefined;
    this.exemptions!.apply(f);
    f.remediation = remediate(f, index);
    return f;
  }
}

/** Evaluates every rule and applies drift, exemptions and remediation (pure). */
export function assess(
  index: InventoryIndex,
  attachments: Attachment[],
  previous: StoredState,
  opts: { armPrivateLink: boolean; now: Date },
): { findings: Finding[]; warnings: RunWarning[] } {
  return new Assessment(previous, opts).finish(index, attachments);
}

/** What to remember: current attachments, plus remembered pairs of clusters that are not visible now. */
export function attachmentsToRemember(index: InventoryIndex, attachments: Attachment[], previous: StoredState): StoredAttachment[] {
  const order: AttachmentSource[] = ["granted", "declared", "remembered"];
  const out: StoredAttachment[] = attachments.map((a) => ({
    clusterId: a.clusterId,
    registryId: a.registryId,
    // A pair kept on a grant this run could not see stays a granted one for the next run.
    sources: a.carried ? order.filter((s) => a.sources.includes(s) || a.carried!.includes(s)) : a.sources,
  }));
  const forgotten = new Set(previous.forgotten.map((f) => `${normalizeId(f.clusterId)}|${normalizeId(f.registryId)}`));
  for (const p of previous.attachments) {
    if (index.clusters.has(p.clusterId)) continue;
    // Not visible: keep remembering, unless it was forgotten (the request is consumed by this run).
    if (forgotten.has(`${normalizeId(p.clusterId)}|${normalizeId(p.registryId)}`)) continue;
    if (index.visibilityOfId(p.clusterId) !== "visible") out.push(p);
  }
  return out;
}

/** Work ahead for the store; a failure there is not the run's: the commit encodes again and reports it. */
function prepareQuietly(store: AuditStore, scopeKey: string, findings: readonly Finding[]): void {
  try {
    store.prepare?.(scopeKey, findings);
  } catch {
    // commitRun does the same work and fails the run as StoreFailed if it still fails
  }
}

/** Runs one audit of a scope under the run lease and stores it. */
export async function runAudit(deps: { discovery: DiscoveryPort; store: AuditStore }, opts: AuditOptions): Promise<AuditResult> {
  const now = opts.now ?? (() => new Date());
  const scopeKey = scopeKeyOf(opts.scope);
  const progress = (m: string): void => opts.observer?.progress?.(m);
  const lease: LeaseResult = opts.lease
    ? { acquired: true, lease: opts.lease }
    : await deps.store.acquireLease(scopeKey, opts.holder, opts.leaseSeconds ?? 3600);
  if (!lease.acquired) {
    throw new AuditError("LeaseHeld", `Another audit of scope '${scopeKey}' is running (held by ${lease.holder} until ${lease.expiresAt})`);
  }
  const started = now();
  const run: RunRecord = {
    id: opts.runId ?? (opts.newRunId ?? defaultRunId)(started),
    scope: scopeKey,
    startedAt: started.toISOString(),
    finishedAt: null,
    durationMs: null,
    status: "running",
    scopes: [],
    missed: [],
    warnings: [],
    counts: emptyCounts(),
    stats: { resourceGraphRequests: 0, armRequests: 0, throttled: 0, tableOperations: 0 },
  };
  const opsBefore = deps.store.operations();
  const finish = (): void => {
    const end = now();
    run.finishedAt = end.toISOString();
    run.durationMs = end.getTime() - started.getTime();
    const s = deps.discovery.stats();
    run.stats = {
      resourceGraphRequests: s.resourceGraphRequests,
      armRequests: s.armRequests,
      throttled: s.throttled,
      tableOperations: deps.store.operations() - opsBefore,
    };
  };
  try {
    const previous = await deps.store.loadState(scopeKey);
    await deps.store.startRun(scopeKey, run);
    let result: AuditResult;
    let committedWithoutRecord = false;
    try {
      progress("discovering");
      const assessment = new Assessment(previous, { armPrivateLink: opts.armPrivateLink, now: started });
      const { inventory, index, attachments } = await discover(
        deps.discovery,
        opts.scope,
        opts.cloud,
        previous,
        progress,
        undefined,
        (early, atts) =>
          assessment.earlyAsync(early, atts, deps.store.prepare ? (slice) => prepareQuietly(deps.store, scopeKey, slice) : undefined),
      );
      run.scopes =
        opts.scope.kind === "managementGroup" ? [`mg:${opts.scope.managementGroup}`] : inventory.subscriptions.map((s) => s.subscriptionId);
      run.missed = [
        ...inventory.failedSubscriptions.map((s) => `subscription:${s}`),
        ...inventory.missed.filter((q) => !/^(clusters|registries):/.test(q)).map((q) => `query:${q}`),
      ];
      progress("evaluating");
      const { findings, warnings } = assessment.finish(index, attachments);
      run.warnings = warnings;
      run.counts = countFindings(findings);
      run.status = run.missed.length ? "partial" : "succeeded";
      result = { run, findings, attachments };
      progress(`storing ${findings.length} findings`);
      finish();
      try {
        await deps.store.commitRun(scopeKey, run, previous, { findings, attachments: attachmentsToRemember(index, attachments, previous) });
      } catch (err) {
        if ((err as { code?: unknown }).code === RUN_RECORD_FAILED) {
          // The state is this run's: not a failed run (no failRun below), only its record is missing.
          committedWithoutRecord = true;
          throw new AuditError(
            "StoreFailed",
            `The run's findings were stored (they are the current state), but its run record could not be written: ${(err as Error).message.split("\n")[0]}`,
            run,
            true,
          );
        }
        throw new AuditError(
          "StoreFailed",
          `Could not store the run (the previous state is intact): ${(err as Error).message.split("\n")[0]}`,
          run,
        );
      }
      finish();
    } catch (err) {
      if (committedWithoutRecord) throw err;
      run.status = "failed";
      run.error = err instanceof Error ? err.message : String(err);
      finish();
      await deps.store.failRun(scopeKey, run).catch(() => undefined);
      throw err instanceof AuditError ? err : new AuditError("DiscoveryFailed", `Audit failed: ${run.error}`, run);
    }
    if (opts.retentionDays) {
      const before = new Date(started.getTime() - opts.retentionDays * 86_400_000);
      await deps.store.pruneHistory(scopeKey, before).catch(() => undefined);
    }
    opts.observer?.runCompleted?.(result.run, result.findings);
    return result;
  } finally {
    await deps.store.releaseLease(lease.lease).catch(() => undefined);
  }
}
