/**
 * HTTP plumbing shared by the functions: the handler wrapper (405 for a method the route does not serve,
 * errors mapped to ARM error responses), JSON responses, request bodies (415, 413, 400) and links.
 * Only types come from @azure/functions: the handlers get real objects from the host (or src/server.ts).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { ApiError, errorResponse } from "./errors.js";
import { allowedMethods, operation, type OperationName } from "./routes.js";

export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
/** Largest request body accepted. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Headers on every response: nothing here may be cached by intermediaries or sniffed into HTML. */
const COMMON_HEADERS: Record<string, string> = { "cache-control": "no-store", "x-content-type-options": "nosniff" };

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, body: JSON.stringify(body), headers: { ...COMMON_HEADERS, "content-type": JSON_CONTENT_TYPE, ...headers } };
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers: { ...COMMON_HEADERS, ...headers } };
}

export function rawResponse(
  status: number,
  body: HttpResponseInit["body"],
  contentType: string,
  headers: Record<string, string> = {},
): HttpResponseInit {
  return { status, body, headers: { ...COMMON_HEADERS, "content-type": contentType, ...headers } };
}

/** Maps an error to a response; unexpected ones are logged with `context.error` (never sent to the caller). */
export function errorToResponse(err: unknown, context: InvocationContext): HttpResponseInit {
  const r = errorResponse(err, context.invocationId);
  if (r.unexpected) context.error(`${context.functionName}: unexpected error`, err);
  return jsonResponse(r.status, r.body, r.headers ?? {});
}

export type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * Wraps a handler: a method the operation does not serve gets 405 (with `Allow`), and every error becomes an
 * ARM error response. HTTP handlers do not rethrow: a failed invocation would give the caller a bare 500.
 */
export function handler(name: OperationName, fn: Handler): Handler {
  const op = operation(name);
  return async (request, context) => {
    try {
      if (request.method.toUpperCase() !== op.method) {
        const allow = allowedMethods(op.route).join(", ");
        throw new ApiError(
          "MethodNotAllowed",
          `Method ${request.method.toUpperCase()} is not allowed on this route; use ${allow}.`,
          undefined,
          { allow },
        );
      }
      return await fn(request, context);
    } catch (err) {
      return errorToResponse(err, context);
    }
  };
}

function isJsonMediaType(contentType: string | null): boolean {
  if (!contentType) return false;
  const type = contentType.split(";")[0].trim().toLowerCase();
  return type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

async function readCapped(request: HttpRequest): Promise<Buffer> {
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > MAX_BODY_BYTES) throw tooLarge();
  const stream = request.body;
  if (!stream) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const read: { done: boolean; value?: unknown } = (await reader.read()) as { done: boolean; value?: unknown };
    if (read.done) break;
    const chunk = Buffer.from(read.value as Uint8Array);
    total += chunk.length;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(): ApiError {
  return new ApiError("PayloadTooLarge", `The request body is larger than ${MAX_BODY_BYTES / 1024} KiB.`);
}

/**
 * The JSON body of a POST: 413 when over 64 KiB, 415 when a body is not declared `application/json`,
 * 400 when it is not a JSON object. `required: false` accepts an empty body (returns undefined).
 */
export async function readJsonObject(request: HttpRequest, opts: { required: boolean }): Promise<Record<string, unknown> | undefined> {
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > MAX_BODY_BYTES) throw tooLarge();
  const contentType = request.headers.get("content-type");
  const hasBodyHint = (declared !== null && declared.trim() !== "0") || request.headers.has("transfer-encoding") || contentType !== null;
  if ((opts.required || hasBodyHint) && !isJsonMediaType(contentType)) {
    throw new ApiError(
      "UnsupportedMediaType",
      `The request body must be JSON with Content-Type: application/json${contentType ? ` (got ${JSON.stringify(contentType.slice(0, 80))})` : ""}.`,
    );
  }
  const bytes = await readCapped(request);
  const text = bytes.toString("utf8").trim();
  if (text === "") {
    if (opts.required) throw new ApiError("InvalidRequestBody", "The request body is empty; send a JSON object.");
    return undefined;
  }
  if (!isJsonMediaType(contentType))
    throw new ApiError("UnsupportedMediaType", "The request body must be JSON with Content-Type: application/json.");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("InvalidRequestBody", "The request body is not valid JSON.");
  }
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new ApiError("InvalidRequestBody", "The request body must be a JSON object.");
  return value as Record<string, unknown>;
}

/** The request URL with its query replaced (for nextLink): absolute, as the caller addressed us. */
export function linkWithQuery(request: HttpRequest, set: Record<string, string | undefined>): string {
  const url = new URL(request.url);
  for (const [k, v] of Object.entries(set)) {
    // Replace every spelling of the name (names are case-insensitive).
    for (const existing of [...url.searchParams.keys()]) if (existing.toLowerCase() === k.toLowerCase()) url.searchParams.delete(existing);
    if (v !== undefined) url.searchParams.set(k, v);
  }
  return url.toString();
}

/** `<request path>/<segment>` (Location of a created resource), absolute. */
export function childLink(request: HttpRequest, segment: string): string {
  const url = new URL(request.url);
  url.search = "";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/${encodeURIComponent(segment)}`;
  return url.toString();
}

/** Whether the caller asked for CSV: `format` wins, else the Accept header's preference. */
export function wantsCsv(request: HttpRequest, format: "json" | "csv" | undefined): boolean {
  if (format) return format === "csv";
  const accept = request.headers.get("accept");
  if (!accept) return false;
  let best: { type: string; q: number } | undefined;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    if (type !== "text/csv" && type !== "application/json") continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qp ? Number(qp.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    if (!best || q > best.q) best = { type, q };
  }
  return best?.type === "text/csv";
}
