/**
 * The local ARM simulator: an Azure SDK `HttpClient` that the real ResourceGraphClient and
 * AuthorizationManagementClient use through their `httpClient` option. It serves an estate in-process and
 * never opens a connection. Routing is on the path only, so every cloud's ARM host works.
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { createHttpHeaders, RestError, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { subscriptionOf } from "../../core/resource-id.js";
import { answerAuthorization, matchAuthorizationRoute } from "./authorization.js";
import { validateSimulation, type Estate, type SimulationFault, type SimulationSettings, type TableName } from "./estate.js";
import { EstateIndex } from "./estate-index.js";
import { answerResourceGraph, prepareResourceGraph, type RgRequest } from "./resource-graph.js";
import { armError, codeForStatus, type SimResponse } from "./responses.js";

export interface SimulatorStats {
  resourceGraphRequests: number;
  authorizationRequests: number;
  /** 429 responses sent (quota and scripted faults). */
  throttled: number;
  faultsInjected: number;
  /** Rows returned in Resource Graph pages. */
  rowsReturned: number;
  /** KQL text of each Resource Graph request, in arrival order. */
  queries: string[];
}

type Service = "resourcegraph" | "authorization";

const RG_PATH = "/providers/microsoft.resourcegraph/resources";
const DEFAULT_TIMEOUT_MS = 30_000;

function emptyStats(): SimulatorStats {
  return { resourceGraphRequests: 0, authorizationRequests: 0, throttled: 0, faultsInjected: 0, rowsReturned: 0, queries: [] };
}

function abortError(): Error {
  const e = new Error("The operation was aborted.");
  e.name = "AbortError";
  return e;
}

/** Waits `ms`, rejecting with an AbortError as soon as the signal fires. */
function wait(ms: number, signal: PipelineRequest["abortSignal"]): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError());
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `hh:mm:ss` as Resource Graph writes `x-ms-user-quota-resets-after`. */
function hms(totalSeconds: number): string {
  const s = Math.max(0, Math.ceil(totalSeconds));
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

async function readBody(body: PipelineRequest["body"]): Promise<string | undefined> {
  let b: unknown = body;
  if (typeof b === "function") b = (b as () => unknown)();
  if (b === undefined || b === null) return undefined;
  if (typeof b === "string") return b;
  if (b instanceof ArrayBuffer) return Buffer.from(b).toString("utf8");
  if (ArrayBuffer.isView(b)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");
  if (typeof Blob !== "undefined" && b instanceof Blob) return b.text();
  if (typeof (b as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") {
    const chunks: Buffer[] = [];
    for await (const chunk of b as AsyncIterable<unknown>)
      chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks).toString("utf8");
  }
  if (typeof (b as ReadableStream<Uint8Array>).getReader === "function") {
    const reader = (b as ReadableStream<Uint8Array>).getReader();
    const chunks: Buffer[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
    }
    return Buffer.concat(chunks).toString("utf8");
  }
  throw new RestError("The ARM simulator cannot read this request body type.", { code: "REQUEST_SEND_ERROR" });
}

/** A fake credential with a static token: the simulator ignores its value and nothing contacts Entra ID. */
export function simulatorCredential(): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      return { token: "arm-simulator-token", expiresOnTimestamp: Date.now() + 60 * 60 * 1000, tokenType: "Bearer" };
    },
  };
}

export class ArmSimulator implements HttpClient {
  readonly settings: SimulationSettings;
  readonly stats: SimulatorStats = emptyStats();
  private readonly index: EstateIndex;
  private readonly faultUse: { seen: number; fired: number }[];
  /** Arrival times (ms) of the Resource Graph requests counted in the quota window. */
  private readonly quotaWindow: number[] = [];
  /** Evaluated Resource Graph results by query and scope, so that paging does not re-run a query. */
  private readonly results = new Map<string, { columns: string[]; rows: Record<string, unknown>[] }>();

  constructor(
    readonly estate: Estate,
    overrides?: Partial<SimulationSettings>,
  ) {
    const checked = overrides ? validateSimulation(overrides, "ArmSimulator overrides", "$") : {};
    const settings: SimulationSettings = { ...estate.simulation, faults: [...estate.simulation.faults] };
    for (const [k, v] of Object.entries(checked)) (settings as unknown as Record<string, unknown>)[k] = v;
    if (settings.quota === undefined) delete settings.quota;
    this.settings = settings;
    this.index = new EstateIndex(estate);
    this.faultUse = settings.faults.map(() => ({ seen: 0, fired: 0 }));
  }

  resetStats(): void {
    Object.assign(this.stats, emptyStats());
  }

  async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
    if (request.abortSignal?.aborted) throw abortError();
    const url = new URL(request.url);
    let path = url.pathname;
    try {
      path = decodeURIComponent(path);
    } catch {
      // keep the encoded form; routing will answer 404
    }
    path = path.replace(/\/{2,}/g, "/");
    if (path.length > 1) path = path.replace(/\/+$/, "");
    const method = request.method.toUpperCase();

    const isRg = path.toLowerCase() === RG_PATH;
    const authRoute = isRg ? undefined : matchAuthorizationRoute(path);
    const service: Service | undefined = isRg ? "resourcegraph" : authRoute ? "authorization" : undefined;

    let rg: RgRequest | SimResponse | undefined;
    let subs: Set<string> | undefined;
    let table: TableName | undefined;
    if (service === "resourcegraph") {
      this.stats.resourceGraphRequests++;
      if (method === "POST") {
        rg = prepareResourceGraph(await readBody(request.body), this.index);
        if ("query" in rg) {
          this.stats.queries.push(rg.query);
          subs = rg.scopeSubs;
          table = rg.table;
        }
      }
    } else if (service === "authorization") {
      this.stats.authorizationRequests++;
      const sub = subscriptionOf(authRoute!.scope);
      subs = new Set(sub ? [sub] : []);
    }

    let answer: SimResponse;
    if (!/^Bearer\s+\S/i.test(request.headers.get("authorization") ?? "")) {
      answer = armError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
    } else if (service === undefined) {
      answer = armError(
        404,
        "NotFound",
        `The ARM simulator has no route for ${method} ${path} (it serves Resource Graph queries and Microsoft.Authorization role definitions and role assignments).`,
      );
    } else {
      const fault = this.pickFault(service, subs, table);
      if (fault) {
        this.stats.faultsInjected++;
        const kind = fault.kind ?? "status";
        if (kind === "reset") {
          await wait(this.settings.latencyMs, request.abortSignal);
          throw new RestError("read ECONNRESET (simulated fault)", { code: "ECONNRESET", request });
        }
        if (kind === "timeout") {
          const limit = Math.min(fault.timeoutMs ?? DEFAULT_TIMEOUT_MS, request.timeout > 0 ? request.timeout : Number.POSITIVE_INFINITY);
          await wait(limit, request.abortSignal);
          throw new RestError("connect ETIMEDOUT (simulated fault)", { code: "ETIMEDOUT", request });
        }
        answer = this.faultResponse(fault, service);
      } else {
        answer = this.answer(service, method, path, url, rg, authRoute);
      }
    }
    if (answer.status === 429) this.stats.throttled++;
    await wait(this.settings.latencyMs, request.abortSignal);
    return this.toPipelineResponse(request, answer);
  }

  private answer(
    service: Service,
    method: string,
    path: string,
    url: URL,
    rg: RgRequest | SimResponse | undefined,
    authRoute: ReturnType<typeof matchAuthorizationRoute>,
  ): SimResponse {
    const apiVersion = url.searchParams.get("api-version");
    if (service === "resourcegraph") {
      if (method !== "POST") return armError(405, "MethodNotAllowed", `Resource Graph queries are POST requests, not ${method}.`);
      const quota = this.takeQuota();
      if (!quota.allowed) {
        return armError(
          429,
          "RateLimiting",
          "Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.",
          [
            {
              code: "RateLimiting",
              message: `Quota of ${this.settings.quota!.requests} requests per ${this.settings.quota!.windowSeconds} s exceeded (ARM simulator).`,
            },
          ],
          quota.headers,
        );
      }
      let response: SimResponse;
      if (!apiVersion) response = missingApiVersion();
      else if (rg === undefined || !("query" in rg)) response = rg ?? armError(400, "BadRequest", "The request content is missing.");
      else {
        const { response: r, rows } = answerResourceGraph(rg, this.index, this.settings.pageSize, this.results);
        this.stats.rowsReturned += rows;
        response = r;
      }
      return { ...response, headers: { ...response.headers, ...quota.headers } };
    }
    if (method !== "GET")
      return armError(405, "MethodNotAllowed", `The ARM simulator is read-only: ${method} is not supported on ${path}.`);
    if (!apiVersion) return missingApiVersion();
    return answerAuthorization(authRoute!, {
      index: this.index,
      pageSize: this.settings.pageSize,
      origin: url.origin,
      path,
      search: url.searchParams,
    });
  }

  /** The first fault (in order) that matches this request and has uses left; counts the use. */
  private pickFault(service: Service, subs: Set<string> | undefined, table: TableName | undefined): SimulationFault | undefined {
    const faults = this.settings.faults;
    for (let i = 0; i < faults.length; i++) {
      const f = faults[i];
      if (f.service !== "any" && f.service !== service) continue;
      if (f.table !== undefined && (service !== "resourcegraph" || f.table !== table)) continue;
      if (f.subscriptionId !== undefined && !subs?.has(f.subscriptionId.toLowerCase())) continue;
      const use = this.faultUse[i];
      use.seen++;
      if (use.seen <= (f.after ?? 0)) continue;
      const count = f.count ?? 1;
      if (count !== -1 && use.fired >= count) continue;
      use.fired++;
      return f;
    }
    return undefined;
  }

  private faultResponse(fault: SimulationFault, service: Service): SimResponse {
    const status = fault.status ?? 500;
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers["Retry-After"] = String(fault.retryAfterSeconds);
    if (service === "resourcegraph") Object.assign(headers, this.peekQuotaHeaders());
    const code = status === 429 && service === "resourcegraph" ? "RateLimiting" : codeForStatus(status);
    return armError(status, code, `Simulated fault: HTTP ${status} from the ARM simulator (estate simulation.faults).`, undefined, headers);
  }

  private pruneQuota(now: number): number {
    const windowMs = this.settings.quota!.windowSeconds * 1000;
    while (this.quotaWindow.length && this.quotaWindow[0] <= now - windowMs) this.quotaWindow.shift();
    return windowMs;
  }

  /** Counts a Resource Graph request against the quota (sliding window); refuses it when none is left. */
  private takeQuota(): { allowed: boolean; headers: Record<string, string> } {
    const quota = this.settings.quota;
    if (!quota) return { allowed: true, headers: {} };
    const now = Date.now();
    const windowMs = this.pruneQuota(now);
    if (this.quotaWindow.length >= quota.requests) {
      const seconds = Math.max(1, Math.ceil((this.quotaWindow[0] + windowMs - now) / 1000));
      return {
        allowed: false,
        headers: { "Retry-After": String(seconds), "x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": hms(seconds) },
      };
    }
    this.quotaWindow.push(now);
    const remaining = quota.requests - this.quotaWindow.length;
    const frees = (this.quotaWindow[0] + windowMs - now) / 1000;
    return { allowed: true, headers: { "x-ms-user-quota-remaining": String(remaining), "x-ms-user-quota-resets-after": hms(frees) } };
  }

  /** Quota headers without counting a request (for responses that never reached the quota). */
  private peekQuotaHeaders(): Record<string, string> {
    const quota = this.settings.quota;
    if (!quota) return {};
    const now = Date.now();
    const windowMs = this.pruneQuota(now);
    const remaining = Math.max(0, quota.requests - this.quotaWindow.length);
    const frees = this.quotaWindow.length ? (this.quotaWindow[0] + windowMs - now) / 1000 : 0;
    return { "x-ms-user-quota-remaining": String(remaining), "x-ms-user-quota-resets-after": hms(frees) };
  }

  private toPipelineResponse(request: PipelineRequest, answer: SimResponse): PipelineResponse {
    const requestId = randomUUID();
    const headers = createHttpHeaders({
      "content-type": "application/json; charset=utf-8",
      "x-ms-request-id": requestId,
      "x-ms-correlation-request-id": request.headers.get("x-ms-correlation-request-id") ?? requestId,
      ...answer.headers,
    });
    const text = answer.body === undefined ? "" : JSON.stringify(answer.body);
    headers.set("content-length", String(Buffer.byteLength(text)));
    const response: PipelineResponse = { status: answer.status, headers, request };
    const streamed = request.streamResponseStatusCodes;
    if (streamed && (streamed.has(answer.status) || streamed.has(Number.POSITIVE_INFINITY))) {
      response.readableStreamBody = Readable.from([Buffer.from(text)]);
    } else {
      response.bodyAsText = text;
    }
    return response;
  }
}

function missingApiVersion(): SimResponse {
  return armError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
}
