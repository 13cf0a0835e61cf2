/**
 * A small read-through cache for store reads that only change when a run commits (findings pages, the
 * subject index, the summary). Entries live `ttlMs` (default 10 s) and concurrent misses of one key share
 * one store read. Writers in this process (POST /api/runs when its audit finishes, forget) invalidate at
 * once; a run committed by another instance (the timer) shows after at most `ttlMs`. Continuation pages are
 * keyed by the store continuation, which pins the generation they were issued at, so a listing stays
 * consistent page to page.
 */

export interface ReadCacheOptions {
  /** How long an entry is served; 0 turns the cache off. */
  ttlMs: number;
  /** Entries per store (least recently used are evicted first). */
  maxEntries: number;
}

let options: ReadCacheOptions = { ttlMs: 10_000, maxEntries: 2_000 };
let epoch = 0;

interface Entry {
  expires: number;
  epoch: number;
  value: Promise<unknown>;
}

const caches = new WeakMap<object, Map<string, Entry>>();

export function configureReadCache(o: Partial<ReadCacheOptions>): ReadCacheOptions {
  const previous = options;
  options = { ...options, ...o };
  return previous;
}

export function readCacheOptions(): ReadCacheOptions {
  return { ...options };
}

/** Drops what is cached for `owner` (a store), or for every store. */
export function invalidateReadCache(owner?: object): void {
  if (owner === undefined) epoch++;
  else caches.delete(owner);
}

/** The cached value of `key` for `owner`, loading it (once, however many callers wait) when missing or old. */
export function cached<T>(owner: object, key: string, load: () => Promise<T>, now: () => number = Date.now): Promise<T> {
  if (options.ttlMs <= 0) return load();
  let map = caches.get(owner);
  if (!map) caches.set(owner, (map = new Map()));
  const t = now();
  const hit = map.get(key);
  if (hit && hit.expires > t && hit.epoch === epoch) {
    map.delete(key);
    map.set(key, hit); // most recently used last
    return hit.value as Promise<T>;
  }
  const value = load();
  const entry: Entry = { expires: t + options.ttlMs, epoch, value };
  map.set(key, entry);
  // A failed read is not remembered.
  value.catch(() => {
    if (map!.get(key) === entry) map!.delete(key);
  });
  while (map.size > options.maxEntries) {
    const oldest = map.keys().next().value as string;
    map.delete(oldest);
  }
  return value;
}
