/** What a simulated service answers, before it becomes a PipelineResponse. */
import { createHmac, createHash } from "node:crypto";

export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ArmErrorDetail {
  code: string;
  message: string;
}

/** An ARM error response: `{"error":{"code","message","details"?}}`. */
export function armError(
  status: number,
  code: string,
  message: string,
  details?: ArmErrorDetail[],
  headers?: Record<string, string>,
): SimResponse {
  const error: Record<string, unknown> = { code, message };
  if (details) error.details = details;
  return { status, body: { error }, headers };
}

/** The ARM error code Azure sends with a status. */
export function codeForStatus(status: number): string {
  const codes: Record<number, string> = {
    400: "BadRequest",
    401: "AuthenticationFailed",
    403: "AuthorizationFailed",
    404: "NotFound",
    408: "RequestTimeout",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
  };
  return codes[status] ?? `HttpStatus${status}`;
}

// Continuation tokens are opaque to clients; the MAC only makes tampering and foreign tokens detectable.
const TOKEN_KEY = "aks-acr-auditor/arm-simulator/continuation";

export function bindingOf(parts: unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32);
}

export function encodeToken(offset: number, binding: string): string {
  const mac = createHmac("sha256", TOKEN_KEY).update(`${offset}|${binding}`).digest("hex").slice(0, 32);
  return Buffer.from(JSON.stringify({ v: 1, o: offset, b: binding, m: mac }), "utf8").toString("base64");
}

/** The offset in a token, or a reason why it cannot be used for this binding. */
export function decodeToken(token: string, binding: string): { offset: number } | { problem: string } {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9+/=_-]+$/.test(token)) throw new Error("not base64");
    parsed = JSON.parse(Buffer.from(token, "base64").toString("utf8"));
  } catch {
    return { problem: "the continuation token is malformed" };
  }
  const t = parsed as { v?: unknown; o?: unknown; b?: unknown; m?: unknown };
  if (
    t === null ||
    typeof t !== "object" ||
    t.v !== 1 ||
    !Number.isInteger(t.o) ||
    (t.o as number) < 0 ||
    typeof t.b !== "string" ||
    typeof t.m !== "string"
  )
    return { problem: "the continuation token is malformed" };
  const mac = createHmac("sha256", TOKEN_KEY)
    .update(`${t.o as number}|${t.b}`)
    .digest("hex")
    .slice(0, 32);
  if (mac !== t.m) return { problem: "the continuation token was not issued by this service" };
  if (t.b !== binding) return { problem: "the continuation token belongs to a different query or scope" };
  return { offset: t.o as number };
}
