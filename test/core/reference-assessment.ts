/**
 * The assessment as it was before it was staged (commit c5bccaf), kept frozen as the independent reference
 * of test/core/assessment.test.ts: every rule per attachment in one list, then drift over that list, then
 * exemptions over every finding, then remediation. It shares only the single rules (pure functions of
 * one subject) with src/core; the order, the de-duplication, drift and exemptions are its own, so a bug in
 * `earlySteps`, `interleave`, `DriftTracker` or `ExemptionMatcher` shows up as a difference.
 */
import { tagValue } from "../../src/core/attachments.js";
import { NOT_VISIBLE } from "../../src/core/catalog.js";
import { dispositionOf, pairKey } from "../../src/core/drift.js";
import { hiddenAttachedRegistries } from "../../src/core/attachments.js";
import { activeOn, EXEMPT_TAG, parseExemptTag, type TagExemption } from "../../src/core/exemptions.js";
import { findingKey, type Attachment, type Evaluation, type Exemption, type Finding } from "../../src/core/findings.js";
import type { InventoryIndex } from "../../src/core/inventory-index.js";
import type { Registry } from "../../src/core/inventory.js";
import { evaluateNetwork } from "../../src/core/network.js";
import type { ApiExemption, RunWarning, StoredState } from "../../src/core/ports.js";
import { remediate } from "../../src/core/remediation.js";
import { normalizeId, sameId, subscriptionOf } from "../../src/core/resource-id.js";
import {
  kubeletChanged,
  kubeletManaged,
  pullRules,
  registryExists,
  registryRules,
  replicaNearby,
  type RuleOptions,
} from "../../src/core/rules.js";

function attachmentRules(a: Attachment, idx: InventoryIndex, opts: RuleOptions): Evaluation[] {
  const c = idx.clusters.get(a.clusterId);
  if (!c) return [];
  const exists = registryExists(a, idx);
  const r = idx.registries.get(a.registryId);
  if (!r) return [exists];
  return [exists, ...pullRules(a, c, r, idx, opts), ...evaluateNetwork(c, r, idx), replicaNearby(c, r, idx)];
}

function evaluateAllOnce(idx: InventoryIndex, attachments: Attachment[], opts: RuleOptions): Evaluation[] {
  const out: Evaluation[] = [];
  for (const c of idx.inventory.clusters) {
    out.push(kubeletManaged(c));
    const changed = kubeletChanged(c, opts.previousKubelet.get(c.id.toLowerCase()));
    if (changed) out.push(changed);
  }
  const attachedRegistries = new Map<string, Registry>();
  for (const a of attachments) {
    out.push(...attachmentRules(a, idx, opts));
    const r = idx.registries.get(a.registryId);
    if (r) attachedRegistries.set(r.id.toLowerCase(), r);
  }
  for (const id of opts.hiddenAttachedRegistries ?? []) {
    const r = idx.registries.get(id);
    if (r && !attachedRegistries.has(r.id.toLowerCase())) attachedRegistries.set(r.id.toLowerCase(), r);
  }
  for (const r of attachedRegistries.values()) out.push(...registryRules(r));
  return out;
}

function driftOnce(
  evaluations: Evaluation[],
  previous: Finding[],
  idx: InventoryIndex,
  attachments: Attachment[],
  forgotten: ReadonlySet<string>,
): Finding[] {
  const prevByKey = new Map<string, Finding>();
  for (const p of previous) prevByKey.set(findingKey(p), p);
  const attByKey = new Map<string, Attachment>();
  for (const a of attachments) attByKey.set(`${normalizeId(a.clusterId)}|${normalizeId(a.registryId)}`, a);
  const out: Finding[] = [];
  const seen = new Set<string>();
  const pathUnknown = new Set(
    evaluations
      .filter(
        (e) =>
          e.ruleId === "network.path" &&
          e.clusterId &&
          e.registryId &&
          ((e.status === "unknown" && e.reason === NOT_VISIBLE) || e.evidence.privatePathUnknown === true),
      )
      .map((e) => pairKey(e.clusterId!, e.registryId!)),
  );
  for (const e of evaluations) {
    const k = findingKey(e);
    if (seen.has(k)) continue;
    seen.add(k);
    const prev = prevByKey.get(k);
    const subscriptionId = subscriptionOf(e.clusterId ?? e.registryId ?? "") ?? null;
    if (!prev || prev.change === "removed") out.push({ ...e, change: "new", previousStatus: null, subscriptionId });
    else if (prev.status !== e.status) out.push({ ...e, change: "changed", previousStatus: prev.status, subscriptionId });
    else out.push({ ...e, change: "unchanged", previousStatus: null, subscriptionId });
  }
  for (const prev of previous) {
    const k = findingKey(prev);
    if (seen.has(k) || prev.change === "removed") continue;
    seen.add(k);
    const d = dispositionOf(prev, idx, attByKey, pathUnknown, forgotten);
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
        message: `Not visible in this run (${d.why}); last known status: ${lastKnown as string}`,
        evidence: already
          ? prev.evidence
          : { lastKnownStatus: prev.status, lastKnownReason: prev.reason, lastKnownEvidence: prev.evidence, notVisibleBecause: d.why },
      });
    }
  }
  return out;
}

function exemptionsOnce(findings: Finding[], idx: InventoryIndex, api: ApiExemption[], now: Date): RunWarning[] {
  const today = now.toISOString().slice(0, 10);
  const warnings: RunWarning[] = [];
  const tagged = new Map<string, { resourceId: string; entries: TagExemption[] }>();
  for (const s of [...idx.inventory.clusters, ...idx.inventory.registries]) {
    const v = tagValue(s.tags, EXEMPT_TAG);
    if (v === undefined) continue;
    const { entries, malformed } = parseExemptTag(v);
    for (const bad of malformed) {
      warnings.push({
        code: "MalformedExemptionTag",
        message: `Tag ${EXEMPT_TAG} on ${s.id}: entry '${bad}' is not 'ruleId' or 'ruleId@YYYY-MM-DD' with a known rule ID; it exempts nothing`,
        resourceId: s.id,
      });
    }
    tagged.set(s.id.toLowerCase(), { resourceId: s.id, entries });
  }
  for (const f of findings) {
    let exemption: Exemption | null = null;
    for (const id of [f.clusterId, f.registryId].filter((x): x is string => !!x)) {
      const t = tagged.get(id.toLowerCase());
      const hit = t?.entries.find((e) => e.ruleId === f.ruleId && activeOn(e.expiresOn, today));
      if (hit) {
        exemption = { source: "tag", justification: `Tag ${EXEMPT_TAG} on ${t!.resourceId}`, expiresOn: hit.expiresOn, id: t!.resourceId };
        break;
      }
    }
    if (!exemption) {
      const hit = api.find(
        (e) =>
          e.ruleId === f.ruleId &&
          activeOn(e.expiresOn, today) &&
          (e.clusterId ? sameId(e.clusterId, f.clusterId) : true) &&
          (e.registryId ? sameId(e.registryId, f.registryId) : true) &&
          (e.clusterId || e.registryId),
      );
      if (hit) exemption = { source: "api", justification: hit.justification, expiresOn: hit.expiresOn, id: hit.id };
    }
    // (An API exemption only while it still exists: deleting it takes effect at the next run, visible or not.)
    if (
      !exemption &&
      f.reason === "not-visible" &&
      f.exemption &&
      activeOn(f.exemption.expiresOn, today) &&
      (f.exemption.source !== "api" || api.some((e) => e.id === f.exemption!.id))
    )
      exemption = f.exemption;
    f.exemption = exemption;
  }
  return warnings;
}

/** Kubelet objectIds of the previous run, by cluster (as `previousKubelets`, restated). */
function kubeletsOf(previous: Finding[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of previous) {
    if (f.ruleId !== "identity.kubelet-changed" || !f.clusterId || f.change === "removed") continue;
    const id = f.evidence.kubeletObjectId ?? (f.evidence.lastKnownEvidence as Record<string, unknown> | undefined)?.kubeletObjectId;
    if (typeof id === "string") m.set(f.clusterId.toLowerCase(), id);
  }
  return m;
}

/** The whole assessment at once over the complete index: findings in report order, and warnings. */
export function referenceAssessment(
  index: InventoryIndex,
  attachments: Attachment[],
  previous: StoredState,
  now: Date,
): { findings: Finding[]; warnings: RunWarning[] } {
  const evaluations = evaluateAllOnce(index, attachments, {
    armPrivateLink: false,
    previousKubelet: kubeletsOf(previous.findings),
    hiddenAttachedRegistries: hiddenAttachedRegistries(index, previous),
  });
  const forgotten = new Set(previous.forgotten.map((f) => pairKey(f.clusterId, f.registryId)));
  const findings = driftOnce(evaluations, previous.findings, index, attachments, forgotten);
  const warnings = exemptionsOnce(findings, index, previous.exemptions, now);
  for (const f of findings) f.remediation = remediate(f, index);
  return { findings, warnings };
}
