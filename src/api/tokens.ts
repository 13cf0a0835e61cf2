/**
 * Continuation tokens of the API: `base64url(JSON payload) "." base64url(HMAC-SHA256)`. The HMAC key is
 * derived per store and scope (and from a deployment secret when one is configured), and every payload
 * carries a hash of the filters it was issued for. So a corrupted, forged or foreign token (another scope,
 * another filter set) is refused with a 400 before anything reaches the store, whose own continuation
 * (nested in the payload) is validated by the store again.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { ApiError } from "./errors.js";

const SIGNATURE_CHARS = 22; // 128 bits of HMAC-SHA256, base64url
const MAX_TOKEN_LENGTH = 12_000;
/** Used when no deployment secret is configured: tokens are then bound (not secret-signed). */
const DEFAULT_SECRET = "aks-acr-audit/api-continuation/v1";

/** The key of one store and scope. `secret`: a deployment secret (optional). */
export function tokenKey(secret: string | undefined, storeIdentity: string, scopeKey: string): Buffer {
  return createHmac("sha256", secret && secret.length > 0 ? secret : DEFAULT_SECRET)
    .update(`continuation\n${storeIdentity}\n${scopeKey}`)
    .digest();
}

/** A short stable hash of a canonical value (what a token is bound to). */
export function bindingHash(value: unknown): string {
  return createHash("sha256").update(stableJson(value)).digest("base64url").slice(0, 22);
}

export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map(sort);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sort(x);
    }
    return out;
  };
  return JSON.stringify(sort(value));
}

function sign(key: Buffer, body: string): string {
  return createHmac("sha256", key).update(body).digest("base64url").slice(0, SIGNATURE_CHARS);
}

export function signToken(key: Buffer, payload: Record<string, unknown>): string {
  const body = Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");
  return `${body}.${sign(key, body)}`;
}

function invalid(param: string, why: string): ApiError {
  return new ApiError(
    "InvalidContinuationToken",
    `Query parameter '${param}' is not a valid continuation token (${why}): start again without it.`,
    param,
  );
}

/**
 * Verifies a token and returns its payload object. `binding` must equal the payload's `h` (the hash of the
 * filters of the request that follows the token).
 */
export function verifyToken(key: Buffer, token: string, binding: string, param: string): Record<string, unknown> {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid(param, "bad length");
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{22})$/.exec(token);
  if (!m) throw invalid(param, "malformed");
  const expected = Buffer.from(sign(key, m[1]));
  const given = Buffer.from(m[2]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid(param, "signature mismatch");
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(m[1], "base64url").toString("utf8"));
  } catch {
    throw invalid(param, "unreadable");
  }
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) throw invalid(param, "unreadable");
  const p = payload as Record<string, unknown>;
  if (p.v !== 1) throw invalid(param, "unknown version");
  if (p.h !== binding) throw invalid(param, "issued for other filters");
  return p;
}

/** Field readers for payload validation (each throws the same 400). */
export function natField(p: Record<string, unknown>, name: string, param: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = p[name];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw invalid(param, `bad field ${name}`);
  return v;
}

export function optStringField(p: Record<string, unknown>, name: string, param: string, maxLength = 8192): string | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length === 0 || v.length > maxLength) throw invalid(param, `bad field ${name}`);
  return v;
}

export function onlyFields(p: Record<string, unknown>, allowed: readonly string[], param: string): void {
  for (const k of Object.keys(p)) if (!allowed.includes(k)) throw invalid(param, "unexpected field");
}

export { invalid as invalidTokenError };
