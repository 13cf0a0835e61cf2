/**
 * Which registries each cluster is expected to pull from (rules.md "Attachments"): granted by a role
 * assignment at the registry or its resource group, declared in the cluster's tag, or remembered from
 * the previous run.
 */
import type { Attachment, AttachmentSource } from "./findings.js";
import type { Cluster, Registry } from "./inventory.js";
import type { InventoryIndex } from "./inventory-index.js";
import { couldPull } from "./permissions.js";
import type { StoredAttachment, StoredState } from "./ports.js";
import { looksLikeResourceId, nameOf, normalizeId, resourceGroupIdOf, sameId, subscriptionOf } from "./resource-id.js";

export const REGISTRIES_TAG = "aks-acr-audit-registries";

/** A tag value by case-insensitive name (Azure tag names are case-insensitive). */
export function tagValue(tags: Record<string, string> | undefined, name: string): string | undefined {
  if (!tags) return undefined;
  const k = Object.keys(tags).find((t) => t.toLowerCase() === name.toLowerCase());
  const v = k === undefined ? undefined : tags[k];
  return typeof v === "string" ? v : undefined;
}

/** The entries of a declared registry list (`,` or `;` separated), trimmed, without empties. */
export function declaredEntries(cluster: Cluster): string[] | undefined {
  const v = tagValue(cluster.tags, REGISTRIES_TAG);
  if (v === undefined) return undefined;
  return v
    .split(/[,;]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const REGISTRY_ID = /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.containerregistry\/registries\/[^/]+$/i;
const REGISTRY_SUFFIXES = ["azurecr.io", "azurecr.cn", "azurecr.us"];

/**
 * Resolves a declared entry (name, login server or resource ID) to a registry ID. `previous` lets an
 * entry that no longer resolves (its registry is not visible) keep the ID it resolved to before.
 */
export function resolveDeclared(
  entry: string,
  idx: InventoryIndex,
  previous: readonly string[] = [],
): { registryId: string; unresolved: boolean } {
  const e = entry.trim();
  if (looksLikeResourceId(e)) {
    const r = idx.registries.get(e);
    if (r) return { registryId: r.id, unresolved: false };
    return { registryId: e, unresolved: !REGISTRY_ID.test(normalizeId(e)) };
  }
  const lower = e.toLowerCase();
  let name = lower;
  if (lower.includes(".")) {
    const byServer = idx.registriesByLoginServer.get(lower);
    if (byServer) return { registryId: byServer.id, unresolved: false };
    const suffixes = [idx.cloud.registrySuffix, ...REGISTRY_SUFFIXES];
    const suffix = suffixes.find((s) => lower.endsWith("." + s));
    if (!suffix) return fromPrevious(e, lower, previous);
    name = lower.slice(0, lower.length - suffix.length - 1);
  }
  const byName = idx.registriesByName.get(name);
  if (byName) return { registryId: byName.id, unresolved: false };
  return fromPrevious(e, name, previous);
}

function fromPrevious(entry: string, name: string, previous: readonly string[]): { registryId: string; unresolved: boolean } {
  const hit = previous.find((id) => looksLikeResourceId(id) && nameOf(id).toLowerCase() === name);
  return hit ? { registryId: hit, unresolved: false } : { registryId: entry, unresolved: true };
}

function key(clusterId: string, registryId: string): string {
  return `${normalizeId(clusterId)}|${normalizeId(registryId)}`;
}

/** Infers every attachment of the visible clusters. */
export function inferAttachments(idx: InventoryIndex, previous: Pick<StoredState, "attachments" | "forgotten">): Attachment[] {
  const out = new Map<string, Attachment>();
  const add = (cluster: Cluster, registryId: string, source: AttachmentSource, extra: Partial<Attachment> = {}): void => {
    const k = key(cluster.id, registryId);
    const a = out.get(k);
    if (a) {
      if (!a.sources.includes(source)) a.sources.push(source);
      if (extra.declaredAs && !a.declaredAs) a.declaredAs = extra.declaredAs;
      return;
    }
    out.set(k, { clusterId: cluster.id, registryId, sources: [source], ...extra });
  };

  const previousByCluster = new Map<string, StoredAttachment[]>();
  for (const a of previous.attachments) {
    const k = normalizeId(a.clusterId);
    const list = previousByCluster.get(k) ?? [];
    list.push(a);
    previousByCluster.set(k, list);
  }
  const forgotten = new Set(previous.forgotten.map((f) => key(f.clusterId, f.registryId)));

  for (const cluster of idx.inventory.clusters) {
    // Granted: a role that could pull, at the registry or its resource group.
    if (cluster.kubeletObjectId) {
      for (const a of idx.assignmentsByPrincipal.get(cluster.kubeletObjectId.toLowerCase()) ?? []) {
        const role = idx.roleOf(a);
        if (role && !couldPull(role)) continue;
        const scope = normalizeId(a.scope || "/");
        const registry: Registry | undefined = idx.registries.get(scope);
        if (registry) {
          add(cluster, registry.id, "granted");
        } else if (REGISTRY_ID.test(scope)) {
          add(cluster, a.scope, "granted"); // a registry we cannot see (or that is gone)
        } else if (resourceGroupIdOf(scope) === scope) {
          for (const r of idx.registriesByResourceGroup.get(scope) ?? []) add(cluster, r.id, "granted");
        }
      }
    }
    // Declared: the tag is authoritative over remembered attachments.
    const prev = previousByCluster.get(normalizeId(cluster.id)) ?? [];
    const declared = declaredEntries(cluster);
    if (declared !== undefined) {
      for (const entry of declared) {
        const r = resolveDeclared(
          entry,
          idx,
          prev.map((p) => p.registryId),
        );
        add(cluster, r.registryId, "declared", { declaredAs: entry, unresolved: r.unresolved || undefined });
      }
      // The list replaces remembered pairs, not granted ones: a pair granted before whose grant this run
      // cannot see (role assignments not read, the registry not visible) is kept, so that its findings
      // are not-visible rather than removed as if the attachment had ended.
      for (const p of prev) {
        if (!p.sources.includes("granted") || forgotten.has(key(p.clusterId, p.registryId))) continue;
        const known = idx.registries.get(p.registryId);
        const registryId = known ? known.id : p.registryId;
        if (out.has(key(cluster.id, registryId))) continue;
        const sub = subscriptionOf(registryId);
        // (A cluster visibly without a kubelet identity holds no grant: not kept.)
        if (!cluster.kubeletObjectId) continue;
        const grantUnseen =
          !known ||
          idx.missedFor("roleAssignments", sub) ||
          idx.missedFor("roleAssignments", cluster.subscriptionId) ||
          idx.missedFor("roleDefinitions", sub);
        if (grantUnseen && (known || idx.visibility(sub) !== "visible")) add(cluster, registryId, "remembered", { carried: ["granted"] });
      }
    } else {
      for (const p of prev) {
        if (forgotten.has(key(p.clusterId, p.registryId))) continue;
        const known = idx.registries.get(p.registryId);
        if (out.has(key(cluster.id, known ? known.id : p.registryId))) continue;
        add(cluster, known ? known.id : p.registryId, "remembered", {
          unresolved: !known && !looksLikeResourceId(p.registryId) ? true : undefined,
        });
      }
    }
  }
  // Granted wins the registry ID's casing from the inventory; keep sources in a stable order.
  const order: AttachmentSource[] = ["granted", "declared", "remembered"];
  return [...out.values()].map((a) => ({ ...a, sources: order.filter((s) => a.sources.includes(s)) }));
}

/**
 * Registries of the previous run's attachments whose cluster this run cannot see (its subscription is not
 * readable, or a query for it failed) and that were not forgotten: the pairs are remembered, so each such
 * registry is still part of an attachment (rules.md: its registry rules are evaluated).
 */
export function hiddenAttachedRegistries(idx: InventoryIndex, previous: Pick<StoredState, "attachments" | "forgotten">): string[] {
  const forgotten = new Set(previous.forgotten.map((f) => key(f.clusterId, f.registryId)));
  const out = new Map<string, string>();
  for (const p of previous.attachments) {
    if (idx.clusters.has(p.clusterId) || idx.visibilityOfId(p.clusterId) === "visible") continue;
    if (forgotten.has(key(p.clusterId, p.registryId))) continue;
    const k = normalizeId(p.registryId);
    if (!out.has(k)) out.set(k, p.registryId);
  }
  return [...out.values()];
}

/** Whether two attachments are the same pair. */
export function sameAttachment(a: { clusterId: string; registryId: string }, b: { clusterId: string; registryId: string }): boolean {
  return sameId(a.clusterId, b.clusterId) && sameId(a.registryId, b.registryId);
}
