/**
 * Exemptions (rules.md "Exemptions"): from the `aks-acr-audit-exempt` tag on clusters and registries and
 * from the API. An exempted finding keeps its status and gains `exemption`; expiry is inclusive, in UTC.
 */
import { tagValue } from "./attachments.js";
import { RULE_IDS } from "./catalog.js";
import type { Exemption, Finding } from "./findings.js";
import type { InventoryIndex } from "./inventory-index.js";
import type { ApiExemption, RunWarning } from "./ports.js";
import { sameId } from "./resource-id.js";

export const EXEMPT_TAG = "aks-acr-audit-exempt";

export interface TagExemption {
  ruleId: string;
  expiresOn: string | null;
}

/** `YYYY-MM-DD` that is a real calendar date. */
export function isIsoDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** Parses a tag value; malformed entries are returned separately and never exempt. */
export function parseExemptTag(value: string): { entries: TagExemption[]; malformed: string[] } {
  const entries: TagExemption[] = [];
  const malformed: string[] = [];
  for (const raw of value.split(";")) {
    const e = raw.trim();
    if (!e) continue;
    // Tags are typed by hand: spaces around `@` and the rule ID's letter case are forgiven.
    const m = /^([a-z0-9.-]+)\s*(?:@\s*(.+))?$/i.exec(e);
    const ruleId = m ? RULE_IDS.find((id) => id.toLowerCase() === m[1].toLowerCase()) : undefined;
    if (!m || !ruleId || (m[2] !== undefined && !isIsoDate(m[2].trim()))) {
      malformed.push(e);
      continue;
    }
    entries.push({ ruleId, expiresOn: m[2] ? m[2].trim() : null });
  }
  return { entries, malformed };
}

/** Whether an exemption with this expiry applies on `today` (`YYYY-MM-DD`, UTC). */
export function activeOn(expiresOn: string | null, today: string): boolean {
  return expiresOn === null || today <= expiresOn;
}

/**
 * The exemptions of a run: tag entries of its clusters and registries (malformed ones become `warnings`)
 * and the API's; `apply` sets or clears `exemption` on a finding. `now` decides expiry (UTC date).
 */
export class ExemptionMatcher {
  readonly warnings: RunWarning[] = [];
  private readonly today: string;
  private readonly tagged = new Map<string, { resourceId: string; entries: TagExemption[] }>();

  constructor(
    idx: InventoryIndex,
    private readonly api: ApiExemption[],
    now: Date,
  ) {
    this.today = now.toISOString().slice(0, 10);
    for (const s of [...idx.inventory.clusters, ...idx.inventory.registries]) {
      const v = tagValue(s.tags, EXEMPT_TAG);
      if (v === undefined) continue;
      const { entries, malformed } = parseExemptTag(v);
      for (const bad of malformed) {
        this.warnings.push({
          code: "MalformedExemptionTag",
          message: `Tag ${EXEMPT_TAG} on ${s.id}: entry '${bad}' is not 'ruleId' or 'ruleId@YYYY-MM-DD' with a known rule ID; it exempts nothing`,
          resourceId: s.id,
        });
      }
      this.tagged.set(s.id.toLowerCase(), { resourceId: s.id, entries });
    }
  }

  apply(f: Finding): void {
    const today = this.today;
    let exemption: Exemption | null = null;
    for (const id of [f.clusterId, f.registryId]) {
      if (!id) continue;
      const t = this.tagged.get(id.toLowerCase());
      const hit = t?.entries.find((e) => e.ruleId === f.ruleId && activeOn(e.expiresOn, today));
      if (hit) {
        exemption = { source: "tag", justification: `Tag ${EXEMPT_TAG} on ${t!.resourceId}`, expiresOn: hit.expiresOn, id: t!.resourceId };
        break;
      }
    }
    if (!exemption && this.api.length) {
      const hit = this.api.find(
        (e) =>
          e.ruleId === f.ruleId &&
          activeOn(e.expiresOn, today) &&
          (e.clusterId ? sameId(e.clusterId, f.clusterId) : true) &&
          (e.registryId ? sameId(e.registryId, f.registryId) : true) &&
          (e.clusterId || e.registryId),
      );
      if (hit) exemption = { source: "api", justification: hit.justification, expiresOn: hit.expiresOn, id: hit.id };
    }
    // A subject that is not visible keeps the exemption it had, until it expires.
    // (An API exemption only while it still exists: deleting it takes effect at the next run, visible or not.)
    if (
      !exemption &&
      f.reason === "not-visible" &&
      f.exemption &&
      activeOn(f.exemption.expiresOn, today) &&
      (f.exemption.source !== "api" || this.api.some((e) => e.id === f.exemption!.id))
    )
      exemption = f.exemption;
    f.exemption = exemption;
  }
}

/** Sets or clears `exemption` on every finding, returning warnings for malformed tag entries. */
export function applyExemptions(findings: Finding[], idx: InventoryIndex, api: ApiExemption[], now: Date): RunWarning[] {
  const m = new ExemptionMatcher(idx, api, now);
  for (const f of findings) m.apply(f);
  return m.warnings;
}
