/**
 * Client-side limiter for Resource Graph's per-user quota (about 15 requests per 5 s). It reads the
 * `x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after` headers of every response and holds
 * requests back until the window resets, instead of collecting 429s. Also normalises throttling
 * responses for the SDK's retry policy: a 429 without `Retry-After` gets one, and waits are capped so a
 * run stays within a bounded time budget.
 */
import type { PipelinePolicy, PipelineRequest, PipelineResponse, SendRequest } from "@azure/core-rest-pipeline";

export interface LimiterStats {
  requests: number;
  throttled: number;
  waitedMs: number;
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

const sleep = (ms: number, signal?: SignalLike): Promise<void> =>
  new Promise((resolve, reject) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

export class QuotaLimiter {
  private remaining: number | undefined;
  private resetAt = 0;
  private inFlight = 0;
  private queue: Promise<void> = Promise.resolve();
  readonly stats: LimiterStats = { requests: 0, throttled: 0, waitedMs: 0 };

  constructor(private readonly opts: { maxRetryAfterMs: number; defaultRetryAfterMs: number; now?: () => number }) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Waits (serialised) until the quota allows one more request. */
  async acquire(signal?: SignalLike): Promise<void> {
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = this.now();
        if (this.remaining === undefined || now >= this.resetAt) {
          if (now >= this.resetAt) this.remaining = undefined;
          break;
        }
        if (this.remaining - this.inFlight > 0) break;
        const wait = Math.min(this.resetAt - now + 25, this.opts.maxRetryAfterMs);
        this.stats.waitedMs += wait;
        await sleep(wait, signal);
        if (this.now() >= this.resetAt) {
          this.remaining = undefined;
          break;
        }
      }
      this.inFlight++;
      this.stats.requests++;
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  release(response: PipelineResponse | undefined): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (!response) return;
    const remaining = response.headers.get("x-ms-user-quota-remaining");
    const resets = parseResetsAfter(response.headers.get("x-ms-user-quota-resets-after"));
    if (remaining !== undefined && /^\d+$/.test(remaining) && resets !== undefined) {
      this.remaining = Number(remaining);
      this.resetAt = this.now() + resets;
    }
    if (response.status === 429) {
      this.stats.throttled++;
      this.remaining = 0;
      const ra = retryAfterMs(response);
      this.resetAt = Math.max(this.resetAt, this.now() + (ra ?? this.opts.defaultRetryAfterMs));
    }
  }

  /** A pipeline policy to add after the SDK's retry policy (so it sees every attempt). */
  policy(name = "quotaLimiterPolicy"): PipelinePolicy {
    return {
      name,
      sendRequest: async (request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> => {
        await this.acquire(request.abortSignal);
        let response: PipelineResponse | undefined;
        try {
          response = await next(request);
          return normaliseThrottle(response, this.opts);
        } finally {
          this.release(response);
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
export function normaliseThrottle(response: PipelineResponse, opts: { maxRetryAfterMs: number; defaultRetryAfterMs: number }): PipelineResponse {
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
export function throttleCapPolicy(opts: { maxRetryAfterMs: number; defaultRetryAfterMs: number }, counter?: { throttled: number; requests: number }): PipelinePolicy {
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
