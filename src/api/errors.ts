/**
 * API errors: every error the API answers with carries a stable `code`; `errorResponse` maps codes to HTTP
 * statuses and builds the ARM error body `{"error": {"code", "message", "target"}}`. Nothing here leaks a
 * stack trace or an internal message: unexpected errors become a generic 500 (the caller logs the detail).
 */

export type ApiErrorCode =
  | "UnknownQueryParameter"
  | "InvalidQueryParameter"
  | "DuplicateQueryParameter"
  | "InvalidContinuationToken"
  | "InvalidRouteParameter"
  | "AmbiguousName"
  | "InvalidRequestBody"
  | "UnsupportedMediaType"
  | "PayloadTooLarge"
  | "NotFound"
  | "RunNotFound"
  | "ClusterNotFound"
  | "AttachmentNotFound"
  | "ExemptionNotFound"
  | "MethodNotAllowed"
  | "RunInProgress"
  | "Unauthorized"
  | "ServiceUnavailable"
  | "ConfigurationInvalid"
  | "StoreLayoutIncompatible"
  | "InternalServerError";

/** HTTP status of each code (the only place codes meet statuses). */
export const STATUS_OF: Record<ApiErrorCode, number> = {
  UnknownQueryParameter: 400,
  InvalidQueryParameter: 400,
  DuplicateQueryParameter: 400,
  InvalidContinuationToken: 400,
  InvalidRouteParameter: 400,
  AmbiguousName: 400,
  InvalidRequestBody: 400,
  UnsupportedMediaType: 415,
  PayloadTooLarge: 413,
  NotFound: 404,
  RunNotFound: 404,
  ClusterNotFound: 404,
  AttachmentNotFound: 404,
  ExemptionNotFound: 404,
  MethodNotAllowed: 405,
  RunInProgress: 409,
  Unauthorized: 401,
  ServiceUnavailable: 503,
  ConfigurationInvalid: 500,
  StoreLayoutIncompatible: 500,
  InternalServerError: 500,
};

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly target?: string,
    /** Extra response headers (e.g. `Allow` on 405). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export interface ArmErrorBody {
  error: { code: string; message: string; target?: string };
}

export interface ErrorResponse {
  status: number;
  body: ArmErrorBody;
  headers?: Record<string, string>;
  /** True when the error was not expected (the caller must log it). */
  unexpected: boolean;
}

/** Codes of errors raised by the layers below that are the caller's fault or a known condition. */
const FOREIGN_CODES: Record<string, ApiErrorCode> = {
  // The table store refuses a continuation it did not issue for this scope and query.
  InvalidContinuationToken: "InvalidContinuationToken",
  // runAudit found the lease held.
  LeaseHeld: "RunInProgress",
  // The app settings are invalid (loadConfig).
  ConfigInvalid: "ConfigurationInvalid",
  // The tables hold the findings layout of an older version (the table store).
  IncompatibleLayout: "StoreLayoutIncompatible",
};

export function errorBody(code: string, message: string, target?: string): ArmErrorBody {
  return { error: target === undefined ? { code, message } : { code, message, target } };
}

/**
 * Maps any thrown value to an error response. `correlationId` (the invocation ID) is quoted in the message
 * of unexpected errors so an operator can find the log entry.
 */
export function errorResponse(err: unknown, correlationId?: string): ErrorResponse {
  if (err instanceof ApiError) {
    return { status: STATUS_OF[err.code], body: errorBody(err.code, err.message, err.target), headers: err.headers, unexpected: false };
  }
  const code = (err as { code?: unknown } | null)?.code;
  const mapped = typeof code === "string" ? FOREIGN_CODES[code] : undefined;
  const ref = correlationId ? ` (reference ${correlationId})` : "";
  if (mapped === "InvalidContinuationToken") {
    return {
      status: 400,
      body: errorBody(
        mapped,
        "The continuation token is invalid, was issued for another query, or has expired: start again without it.",
        "$skipToken",
      ),
      unexpected: false,
    };
  }
  if (mapped === "RunInProgress") {
    return { status: 409, body: errorBody(mapped, "An audit of this scope is already running."), unexpected: false };
  }
  if (mapped === "ConfigurationInvalid") {
    // The detail names settings and may quote values: it goes to the log, not to the caller.
    return { status: 500, body: errorBody(mapped, `The app settings are invalid; see the function logs${ref}.`), unexpected: true };
  }
  if (mapped === "StoreLayoutIncompatible") {
    // An operator's condition, with the fix; logged too.
    return {
      status: 500,
      body: errorBody(
        mapped,
        `The audit tables were written by an older version of the auditor: set AUDIT_TABLE_PREFIX to new tables (or delete the old ones) and run an audit${ref}.`,
      ),
      unexpected: true,
    };
  }
  return { status: 500, body: errorBody("InternalServerError", `An unexpected error occurred${ref}.`), unexpected: true };
}
