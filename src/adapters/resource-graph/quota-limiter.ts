/**
 * Client-side limiter for Resource Graph's per-user quota (about 15 requests per 5 s). It reads the
 * `x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after` headers of every response and holds
 * requests back before the quota runs out, instead of collecting 429s. Also normalises throttling
 * responses for the SDK's retry policy: a 429 without `Retry-After` gets one, and waits are capped so a
 * run stays within a bounded time budget.
 *
 * The model: the service allows `capacity` requests in any `window` (a sliding window; a fixed window is
 * more lenient, so the model is safe for it too). Both are learned from the headers, not configured:
 * - `capacity` = the first response's remaining + the requests this limiter had sent up to it;
 * - `window`: each response says when the oldest request the service still counts leaves its window
 *   (`resets-after`, in whole seconds rounded up). That request is the (capacity - remaining)-th most
 *   recent one this limiter sent up to the answered one, so `countedAt + resetsAfter - sentAt(oldest)`
 *   is an upper bound of the window (`countedAt`: the latest moment the service can have counted the
 *   answered request, below); the limiter keeps the smallest such bound (within a fraction of a round trip
 *   of the real window after a few responses).
 * A request holds a slot from when it is sent until `window` after the service counted it. That moment
 * lies between sending and the response; it is taken as the response's arrival less half the shortest
 * round trip seen (what remains of a round trip after the service counted a request is at least about
 * that), so slots are not freed too early even when the service queues requests before counting them. A request is let through when fewer
 * than `capacity` slots are held; otherwise it waits exactly until the next slot frees. (Waiting for the
 * rounded-up `resets-after` alone would waste up to a second per window, and sending everything once it
 * elapses would overrun a sliding window.)
 * When the service reports less quota than the model predicts (another client of the same identity, or a
 * model error), the difference is recorded as foreign requests that hold a slot for a window. A 429
 * blocks every request until its `Retry-After` and widens the window. Until the first response is seen
 * only one request is in flight; responses without quota headers (no quota) let everything through.
 */
import type { PipelinePolicy, PipelineRequest, PipelineResponse, SendRequest } from "@azure/core-rest-pipeline";

export interface LimiterStats {
  requests: number;
  throttled: number;
  waitedMs: number;
  /** Learned quota: requests per window, window length (ms). */
  capacity?: number;
  windowMs?: number;
}

/** `hh:mm:ss` (optionally with days `d.hh:mm:ss`) to milliseconds. */
export function parseResetsAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(v.trim());
  if (!m) return undefined;
  return ((Number(m[1] ?? 0) * 24 + Number(m[2])) * 3600 + Number(m[3]) * 60 + Number(m[4])) * 1000;
}

interface SignalLike {
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** A sleep; `cancel` settles it at once and clears its timer (a timer left running keeps a CLI process alive). */
function sleep(ms: number, signal?: SignalLike): { done: Promise<void>; cancel: () => void } {
  let cancel = (): void => undefined;
  const done = new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    const finish = (): void => {
      clearTimeout(t);
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    const t = setTimeout(finish, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Error("aborted"));
    };
    cancel = finish;
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  return { done, cancel };
}

interface Sent {
  /** When the request was let through (ms). */
  sent: number;
  /** When the service counted it at the latest (see `release`); undefined while in flight. */
  received?: number;
  /** Requests of another client, inferred from the headers. */
  foreign: boolean;
}

export class QuotaLimiter {
  private capacity: number | undefined;
  private windowMs: number | undefined;
  /** Lower limit of the learned window (see `learn`). */
  private minWindowMs = 1;
  /** Shortest round trip seen (ms). */
  private minRttMs = Number.POSITIVE_INFINITY;
  /** Responses came without quota headers: nothing to limit. */
  private unlimited = false;
  /** Requests let through before the first quota headers were seen. */
  private probing = 0;
  private blockedUntil = 0;
  /** Requests of the model, in the order they were sent. */
  private sent: Sent[] = [];
  private wakeups: (() => void)[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  readonly stats: LimiterStats = { requests: 0, throttled: 0, waitedMs: 0 };

  constructor(private readonly opts: { maxRetryAfterMs: number; defaultRetryAfterMs: number; now?: () => number }) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** What the limiter has learned (for diagnostics and tests). */
  model(): { capacity?: number; windowMs?: number; minRttMs?: number; unlimited: boolean } {
    return {
      capacity: this.capacity,
      windowMs: this.windowMs,
      minRttMs: Number.isFinite(this.minRttMs) ? this.minRttMs : undefined,
      unlimited: this.unlimited,
    };
  }

  private prune(now: number): void {
    const keep = now - 2 * (this.windowMs ?? 60_000) - 1000;
    let i = 0;
    while (i < this.sent.length && this.sent[i].received !== undefined && this.sent[i].received! < keep) i++;
    if (i) this.sent.splice(0, i);
  }

  private nextResponse(): Promise<void> {
    return new Promise((resolve) => this.wakeups.push(resolve));
  }

  private async wait(ms: number, signal?: SignalLike, orResponse = false): Promise<void> {
    const w = Math.max(1, Math.min(ms, this.opts.maxRetryAfterMs));
    const t0 = this.now();
    const s = sleep(w, signal);
    try {
      await (orResponse ? Promise.race([s.done, this.nextResponse()]) : s.done);
    } finally {
      s.cancel();
    }
    this.stats.waitedMs += Math.max(0, this.now() - t0);
  }

  /**
   * Waits (in arrival order) until the quota allows one more request; returns the time it was let
   * through, to pass to `release`.
   */
  async acquire(signal?: SignalLike): Promise<number> {
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = this.now();
        if (now < this.blockedUntil) {
          await this.wait(this.blockedUntil - now, signal);
          continue;
        }
        if (this.unlimited) break;
        if (this.capacity === undefined || this.windowMs === undefined) {
          if (this.probing === 0) {
            this.probing++;
            break;
          }
          await this.nextResponse();
          continue;
        }
        this.prune(now);
        const from = now - this.windowMs;
        let held = 0;
        const frees: number[] = [];
        for (const e of this.sent) {
          if (e.received === undefined) held++;
          else if (e.received > from) {
            held++;
            frees.push(e.received + this.windowMs);
          }
        }
        if (held < this.capacity) break;
        // Wait for the slot that frees first (or a response, which may free one sooner).
        frees.sort((x, y) => x - y);
        const next = frees[held - this.capacity];
        await this.wait(next === undefined ? this.opts.maxRetryAfterMs : next - now + 1, signal, true);
      }
      const t = this.now();
      this.sent.push({ sent: t, foreign: false });
      this.stats.requests++;
      return t;
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Learns from a response (or the lack of one) to the request let through at `sentAt`. */
  release(response: PipelineResponse | undefined, sentAt?: number): void {
    const now = this.now();
    if (this.probing > 0 && this.capacity === undefined) this.probing--;
    try {
      let at = sentAt === undefined ? -1 : this.sent.findIndex((e) => !e.foreign && e.sent === sentAt && e.received === undefined);
      // Released without a matching acquire: the oldest request in flight is done.
      if (at < 0) at = this.sent.findIndex((e) => !e.foreign && e.received === undefined);
      if (at >= 0) {
        const e = this.sent[at];
        const rtt = now - e.sent;
        if (response) this.minRttMs = Math.min(this.minRttMs, rtt);
        // Counted at the latest half the shortest round trip before its response arrived (the other half
        // is margin for round trips that vary), and not before it was sent.
        e.received = Math.max(e.sent, now - (Number.isFinite(this.minRttMs) ? Math.min(this.minRttMs, rtt) / 2 : 0));
      }
      if (!response) return;
      const remainingText = response.headers.get("x-ms-user-quota-remaining");
      const resets = parseResetsAfter(response.headers.get("x-ms-user-quota-resets-after"));
      const remaining = remainingText !== undefined && /^\d+$/.test(remainingText) ? Number(remainingText) : undefined;
      if (remaining !== undefined && resets !== undefined) {
        this.unlimited = false;
        this.learn(remaining, resets, at, now);
      } else if (this.capacity === undefined && response.status >= 200 && response.status < 300) {
        this.unlimited = true;
      }
      if (response.status === 429) {
        this.stats.throttled++;
        const ra = retryAfterMs(response) ?? resets ?? this.opts.defaultRetryAfterMs;
        this.blockedUntil = Math.max(this.blockedUntil, now + ra);
        // The model let this one through: it was too optimistic about the window.
        if (this.windowMs !== undefined) this.windowMs = this.stats.windowMs = this.windowMs + 250;
      }
    } finally {
      const w = this.wakeups;
      this.wakeups = [];
      for (const f of w) f();
    }
  }

  /** Learns from the quota headers of the response to `this.sent[at]` (-1: not one of ours). */
  private learn(remaining: number, resetsMs: number, at: number, now: number): void {
    // This limiter's requests up to (and including) the answered one, in the order they were sent.
    const upTo = at >= 0 ? at + 1 : this.sent.length;
    const sentAt = at >= 0 ? this.sent[at].sent : now;
    if (this.capacity === undefined || this.windowMs === undefined) {
      // First quota headers: everything sent so far is in the window, the oldest leaves it first.
      this.capacity = this.stats.capacity = remaining + Math.max(1, upTo);
      const oldest = upTo > 0 ? this.sent[0].sent : sentAt;
      this.windowMs = this.stats.windowMs = Math.max(1, now + resetsMs - oldest);
      // When the answered request is the only one counted, resets-after is the window rounded up to a
      // second: a floor that misattributed samples below can never undercut.
      this.minWindowMs = upTo === 1 && remaining + 1 === this.capacity ? resetsMs : 1;
      return;
    }
    const used = this.capacity - remaining;
    if (at >= 0 && used >= 1 && used <= upTo) {
      const first = upTo - used;
      let foreign = false;
      for (let i = first; i < upTo; i++) foreign ||= this.sent[i].foreign;
      if (!foreign) {
        // resets-after was computed when the service counted the answered request: at the latest
        // `countedBy` (see `release`), not when its response arrived.
        const countedBy = at >= 0 && this.sent[at].received !== undefined ? this.sent[at].received : now;
        const bound = Math.max(this.minWindowMs, countedBy + resetsMs - this.sent[first].sent);
        if (bound < this.windowMs) this.windowMs = this.stats.windowMs = bound;
      }
    }
    // Fewer left than the model predicts: requests of someone else; they hold a slot for a window.
    let mine = 0;
    for (let i = upTo - 1; i >= 0 && this.sent[i].sent > sentAt - this.windowMs; i--) if (!this.sent[i].foreign) mine++;
    const predicted = this.capacity - mine;
    if (remaining < predicted) {
      const extra: Sent[] = Array.from({ length: predicted - remaining }, () => ({ sent: sentAt, received: now, foreign: true }));
      this.sent.splice(upTo, 0, ...extra);
    }
  }

  /** A pipeline policy to add after the SDK's retry policy (so it sees every attempt). */
  policy(name = "quotaLimiterPolicy"): PipelinePolicy {
    return {
      name,
      sendRequest: async (request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> => {
        const sentAt = await this.acquire(request.abortSignal);
        let response: PipelineResponse | undefined;
        try {
          response = await next(request);
          return normaliseThrottle(response, this.opts);
        } finally {
          this.release(response, sentAt);
        }
      },
    };
  }
}

function retryAfterMs(response: PipelineResponse): number | undefined {
  const ms = response.headers.get("retry-after-ms") ?? response.headers.get("x-ms-retry-after-ms");
  if (ms && /^\d+$/.test(ms)) return Number(ms);
  const ra = response.headers.get("retry-after");
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra)) return Number(ra) * 1000;
  const d = Date.parse(ra);
  return Number.isNaN(d) ? undefined : Math.max(0, d - Date.now());
}

/**
 * The SDK's retry policy does not retry a 429 without Retry-After and waits without bound otherwise:
 * give every 429/503 a Retry-After within [default, max].
 */
export function normaliseThrottle(
  response: PipelineResponse,
  opts: { maxRetryAfterMs: number; defaultRetryAfterMs: number },
): PipelineResponse {
  if (response.status !== 429 && response.status !== 503) return response;
  const ra = retryAfterMs(response);
  const wanted = Math.min(ra ?? opts.defaultRetryAfterMs, opts.maxRetryAfterMs);
  if (ra === undefined || ra > opts.maxRetryAfterMs) {
    response.headers.delete("retry-after-ms");
    response.headers.delete("x-ms-retry-after-ms");
    response.headers.set("retry-after", String(Math.max(0, Math.ceil(wanted / 1000))));
  }
  return response;
}

/** A policy that caps Retry-After on any ARM client (authorization API), without the quota logic. */
export function throttleCapPolicy(
  opts: { maxRetryAfterMs: number; defaultRetryAfterMs: number },
  counter?: { throttled: number; requests: number },
): PipelinePolicy {
  return {
    name: "throttleCapPolicy",
    sendRequest: async (request, next) => {
      if (counter) counter.requests++;
      const response = await next(request);
      if (response.status === 429 && counter) counter.throttled++;
      return normaliseThrottle(response, opts);
    },
  };
}
