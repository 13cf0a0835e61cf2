/**
 * A small read-through cache for store reads that only change when a run commits (findings pages, the
 * subject index, the summary). Entries live `ttlMs` (default 10 s), then are refreshed in the background
 * while still served for up to one more TTL; concurrent misses of one key share one store read. Writers in this process (POST /api/runs when its audit finishes, forget) invalidate at
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
  /** The value resolved (a rejected load is dropped at once). */
  settled: boolean;
  /** A refresh of this (expired) entry is in flight. */
  refreshing: boolean;
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

function store(map: Map<string, Entry>, key: string, load: () => Promise<unknown>, t: number): Entry {
  const entry: Entry = { expires: t + options.ttlMs, epoch, value: load(), settled: false, refreshing: false };
  map.set(key, entry);
  entry.value.then(
    () => (entry.settled = true),
    () => {
      // A failed read is not remembered.
      if (map.get(key) === entry) map.delete(key);
    },
  );
  while (map.size > options.maxEntries) map.delete(map.keys().next().value as string);
  return entry;
}

/**
 * The cached value of `key` for `owner`, loading it (once, however many callers wait) when missing. An
 * entry up to one TTL past its expiry is still served while one refresh runs in the background, so
 * expiry never makes callers wait for the store (writers in this process invalidate instead).
 */
export function cached<T>(owner: object, key: string, load: () => Promise<T>, now: () => number = Date.now): Promise<T> {
  if (options.ttlMs <= 0) return load();
  let map = caches.get(owner);
  if (!map) caches.set(owner, (map = new Map<string, Entry>()));
  const t = now();
  const hit = map.get(key);
  if (hit && hit.epoch === epoch) {
    if (hit.expires > t) {
      map.delete(key);
      map.set(key, hit); // most recently used last
      return hit.value as Promise<T>;
    }
    if (hit.settled && t - hit.expires < options.ttlMs) {
      if (!hit.refreshing) {
        hit.refreshing = true;
        const m = map;
        const next: Entry = { expires: 0, epoch, value: load(), settled: false, refreshing: false };
        next.value.then(
          () => {
            next.settled = true;
            next.expires = now() + options.ttlMs;
            if (m.get(key) === hit && next.epoch === epoch) m.set(key, next);
          },
          () => (hit.refreshing = false),
        );
      }
      return hit.value as Promise<T>;
    }
  }
  return store(map, key, load, t).value as Promise<T>;
}
