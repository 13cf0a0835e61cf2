/**
 * Drift (rules.md "Drift"): each finding's change against the previous run, `removed` only for subjects
 * that are visibly gone, `unknown`/`not-visible` for subjects that are merely not visible.
 */
import { NOT_VISIBLE } from "./catalog.js";
import type { Attachment, Evaluation, Finding } from "./findings.js";
import { findingKey } from "./findings.js";
import type { InventoryIndex } from "./inventory-index.js";
import { normalizeId, subscriptionOf } from "./resource-id.js";
import { text } from "./text.js";

/** Why an earlier finding has no evaluation in this run. */
export type Disposition = { kind: "removed"; why: string } | { kind: "not-visible"; why: string };

/** Key of a (cluster, registry) pair, IDs normalised. */
export function pairKey(clusterId: string, registryId: string): string {
  return `${normalizeId(clusterId)}|${normalizeId(registryId)}`;
}

/**
 * `pathUnknown`: pairs whose `network.path` is unknown because network facts were not visible in this
 * run; a `network.private-dns` finding of such a pair cannot be known not to apply.
 */
export function dispositionOf(
  prev: Finding,
  idx: InventoryIndex,
  attachments: Map<string, Attachment>,
  pathUnknown?: ReadonlySet<string>,
  forgotten?: ReadonlySet<string>,
): Disposition {
  // Forgotten through the API, and not inferred again this run (still declared or granted): the attachment
  // visibly ended, whether its cluster is visible or not.
  if (
    prev.clusterId &&
    prev.registryId &&
    forgotten?.has(pairKey(prev.clusterId, prev.registryId)) &&
    !attachments.has(pairKey(prev.clusterId, prev.registryId))
  ) {
    return { kind: "removed", why: "attachment forgotten" };
  }
  if (prev.clusterId) {
    const cluster = idx.clusters.get(prev.clusterId);
    if (!cluster) {
      const vis = idx.visibilityOfId(prev.clusterId);
      return vis === "visible"
        ? { kind: "removed", why: "cluster deleted" }
        : {
            kind: "not-visible",
            why: `subscription ${subscriptionOf(prev.clusterId) ?? "?"} ${vis === "failed" ? "could not be read in this run" : "is not readable"}`,
          };
    }
    if (!prev.registryId) return { kind: "removed", why: "rule no longer applies" };
    const att = attachments.get(pairKey(prev.clusterId, prev.registryId));
    if (!att) return { kind: "removed", why: "attachment ended" };
    if (prev.ruleId === "network.private-dns" && pathUnknown?.has(pairKey(prev.clusterId, prev.registryId))) {
      return { kind: "not-visible", why: "the network path could not be determined in this run" };
    }
  }
  if (prev.registryId && !idx.registries.get(prev.registryId)) {
    const sub = subscriptionOf(prev.registryId);
    const vis = idx.visibility(sub);
    if (sub && vis === "visible") return { kind: "removed", why: "registry deleted" };
    if (!sub) return { kind: "not-visible", why: "registry name does not resolve" };
    return {
      kind: "not-visible",
      why: `registry's subscription ${sub} ${vis === "failed" ? "could not be read in this run" : "is not readable"}`,
    };
  }
  return { kind: "removed", why: "rule no longer applies" };
}

/**
 * Drift of one run, one evaluation at a time (so a run can apply it to some rules' evaluations while it
 * still reads what others need), then the previous findings no evaluation matched. `previous` is the
 * committed state's findings (including those reported `removed` last time, which now disappear).
 */
export class DriftTracker {
  private readonly prevByKey = new Map<string, Finding>();
  private readonly seen = new Set<string>();
  /** Pairs whose `network.path` is `unknown` in this run: whether `network.private-dns` applies is not known. */
  private readonly pathUnknown = new Set<string>();

  constructor(private readonly previous: Finding[]) {
    for (const p of previous) this.prevByKey.set(findingKey(p), p);
  }

  /** The evaluation as a finding with its change; undefined for a second evaluation of the same key. */
  current(e: Evaluation): Finding | undefined {
    const k = findingKey(e);
    if (this.seen.has(k)) return undefined;
    this.seen.add(k);
    if (
      e.ruleId === "network.path" &&
      e.clusterId &&
      e.registryId &&
      ((e.status === "unknown" && e.reason === NOT_VISIBLE) || e.evidence.privatePathUnknown === true)
    ) {
      this.pathUnknown.add(pairKey(e.clusterId, e.registryId));
    }
    const prev = this.prevByKey.get(k);
    const subscriptionId = subscriptionOf(e.clusterId ?? e.registryId ?? "") ?? null;
    if (!prev || prev.change === "removed") return { ...e, change: "new", previousStatus: null, subscriptionId };
    if (prev.status !== e.status) return { ...e, change: "changed", previousStatus: prev.status, subscriptionId };
    return { ...e, change: "unchanged", previousStatus: null, subscriptionId };
  }

  /** Forgets what it tracked (the run is over). */
  release(): void {
    this.prevByKey.clear();
    this.seen.clear();
    this.pathUnknown.clear();
  }

  /**
   * The previous findings no evaluation matched: removed, or not visible. Call once, after every `current`.
   * `forgotten`: pairs (`pairKey`) forgotten through the API since the previous run.
   */
  notSeen(idx: InventoryIndex, attachments: Attachment[], forgotten?: ReadonlySet<string>): Finding[] {
    const attByKey = new Map<string, Attachment>();
    for (const a of attachments) attByKey.set(pairKey(a.clusterId, a.registryId), a);
    const out: Finding[] = [];
    for (const prev of this.previous) {
      const k = findingKey(prev);
      if (this.seen.has(k) || prev.change === "removed") continue;
      this.seen.add(k);
      const d = dispositionOf(prev, idx, attByKey, this.pathUnknown, forgotten);
      if (d.kind === "removed") {
        out.push({ ...prev, change: "removed", previousStatus: prev.status, evidence: { ...prev.evidence, removedBecause: d.why } });
      } else {
        const already = prev.status === "unknown" && prev.reason === NOT_VISIBLE;
        const lastKnown = already ? (prev.evidence.lastKnownStatus ?? "unknown") : prev.status;
        out.push({
          ...prev,
          status: "unknown",
          reason: NOT_VISIBLE,
          change: prev.status === "unknown" ? "unchanged" : "changed",
          previousStatus: prev.status === "unknown" ? null : prev.status,
          message: `Not visible in this run (${d.why}); last known status: ${text(lastKnown, "unknown")}`,
          evidence: already
            ? prev.evidence
            : { lastKnownStatus: prev.status, lastKnownReason: prev.reason, lastKnownEvidence: prev.evidence, notVisibleBecause: d.why },
        });
      }
    }
    return out;
  }
}

/** Applies drift to a run's evaluations (see `DriftTracker`). */
export function applyDrift(evaluations: Evaluation[], previous: Finding[], idx: InventoryIndex, attachments: Attachment[]): Finding[] {
  const drift = new DriftTracker(previous);
  const out: Finding[] = [];
  for (const e of evaluations) {
    const f = drift.current(e);
    if (f) out.push(f);
  }
  for (const f of drift.notSeen(idx, attachments)) out.push(f);
  return out;
}

/** Kubelet objectIds the previous run saw, by normalised cluster ID. */
export function previousKubelets(previous: Finding[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of previous) {
    // A removed finding is of a cluster the previous run saw gone: a cluster of that ID now is a new one.
    if (f.ruleId !== "identity.kubelet-changed" || !f.clusterId || f.change === "removed") continue;
    const id = f.evidence.kubeletObjectId ?? (f.evidence.lastKnownEvidence as Record<string, unknown> | undefined)?.kubeletObjectId;
    if (typeof id === "string") m.set(f.clusterId.toLowerCase(), id);
  }
  return m;
}
