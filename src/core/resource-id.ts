/**
 * Azure resource IDs are case-insensitive. Every comparison of IDs in this project goes through
 * `normalizeId` / `sameId`, so that `resourceGroups` vs `resourcegroups` never splits one resource in two.
 */

/** Canonical form of a resource ID: trimmed, lower-case, single slashes, no trailing slash. */
export function normalizeId(id: string): string {
  let s = id
    .trim()
    .toLowerCase()
    .replace(/\/{2,}/g, "/");
  if (s.length > 1 && s.endsWith("/")) s = s.slice(0, -1);
  return s;
}

export function sameId(a: string | undefined | null, b: string | undefined | null): boolean {
  if (a == null || b == null) return false;
  return normalizeId(a) === normalizeId(b);
}

/** The subscription GUID of an ID (lower-case), or undefined when the ID has none. */
export function subscriptionOf(id: string): string | undefined {
  const m = /^\/subscriptions\/([^/]+)/i.exec(id.trim().replace(/\/{2,}/g, "/"));
  return m ? m[1].toLowerCase() : undefined;
}

/** `/subscriptions/S/resourceGroups/G` of an ID (normalised), or undefined. */
export function resourceGroupIdOf(id: string): string | undefined {
  const m = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)/i.exec(id.trim().replace(/\/{2,}/g, "/"));
  return m ? `/subscriptions/${m[1]}/resourcegroups/${m[2]}`.toLowerCase() : undefined;
}

/** Last path segment (the resource name). */
export function nameOf(id: string): string {
  const parts = id.split("/").filter((p) => p.length > 0);
  return parts.length ? parts[parts.length - 1] : "";
}

/** Parent resource of a child ID (`.../virtualNetworks/v/subnets/s` -> `.../virtualNetworks/v`), casing kept. */
export function parentOf(id: string): string {
  const parts = id
    .trim()
    .replace(/\/{2,}/g, "/")
    .replace(/\/$/, "")
    .split("/");
  return parts.slice(0, Math.max(1, parts.length - 2)).join("/");
}

/** A plausible ARM resource ID: starts with `/subscriptions/<guid-ish>/` or `/providers/`. */
export function looksLikeResourceId(s: string): boolean {
  return /^\/(subscriptions\/[^/\s]+|providers\/[^/\s]+)(\/[^/\s]+)*\/?$/i.test(s.trim());
}

/** The trailing GUID of a role definition ID, lower-case (IDs differ in prefix and case between sources). */
export function roleDefinitionGuid(id: string): string {
  return nameOf(id).toLowerCase();
}

/** True when `scope` is `target` itself or an ancestor scope of it (`/` is every ID's ancestor). */
export function scopeContains(scope: string, target: string): boolean {
  const s = normalizeId(scope);
  const t = normalizeId(target);
  if (s === "/" || s === "") return true;
  return t === s || t.startsWith(s + "/");
}

/** Case-insensitive, order-preserving de-duplication of IDs. */
export function uniqueIds(ids: Iterable<string>): string[] {
  const seen = new Map<string, string>();
  for (const id of ids) {
    const k = normalizeId(id);
    if (!seen.has(k)) seen.set(k, id);
  }
  return [...seen.values()];
}

/** A map keyed by normalised resource ID. */
export class IdMap<V> {
  private readonly m = new Map<string, V>();
  get(id: string): V | undefined {
    return this.m.get(normalizeId(id));
  }
  set(id: string, v: V): this {
    this.m.set(normalizeId(id), v);
    return this;
  }
  has(id: string): boolean {
    return this.m.has(normalizeId(id));
  }
  delete(id: string): boolean {
    return this.m.delete(normalizeId(id));
  }
  values(): IterableIterator<V> {
    return this.m.values();
  }
  keys(): IterableIterator<string> {
    return this.m.keys();
  }
  get size(): number {
    return this.m.size;
  }
}
