/**
 * Query-string reading shared by every route: parameter names are case-insensitive, each may appear once,
 * unknown names are refused (so a typo is a 400, not a silently ignored filter), and `code` (the function
 * key, which the host passes through) is ignored.
 */
import { ApiError } from "./errors.js";

/** Query parameters every route accepts and ignores. */
export const IGNORED_PARAMS: readonly string[] = ["code"];

/** Longest query value accepted (resource IDs are at most a few hundred characters). */
export const MAX_VALUE_LENGTH = 8192;

/** User text quoted in an error message: bounded and printable. */
export function quote(s: string, max = 80): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  // eslint-disable-next-line no-control-regex -- control characters are what this rejects
  return JSON.stringify(cut.replace(/[\x00-\x1f\x7f]/g, "?"));
}

/** Reads the query string into canonical names; throws a 400 for unknown, repeated or unprintable parameters. */
export function readQuery(query: URLSearchParams, allowed: readonly string[]): Map<string, string> {
  const canonical = new Map(allowed.map((n) => [n.toLowerCase(), n] as const));
  const ignored = new Set(IGNORED_PARAMS);
  const out = new Map<string, string>();
  for (const [rawName, value] of query) {
    const lower = rawName.toLowerCase();
    if (ignored.has(lower)) continue;
    const name = canonical.get(lower);
    if (!name) {
      const list = allowed.length ? `; this route accepts ${allowed.join(", ")}` : "; this route accepts none";
      throw new ApiError(
        "UnknownQueryParameter",
        `Unknown query parameter ${quote(rawName, 60)}${list}.`,
        rawName.slice(0, 100) || undefined,
      );
    }
    if (out.has(name)) throw new ApiError("DuplicateQueryParameter", `Query parameter '${name}' is given more than once.`, name);
    if (value.length > MAX_VALUE_LENGTH) {
      // A continuation token too long to be one of ours is a broken token, as any other.
      const code = name === "$skipToken" ? "InvalidContinuationToken" : "InvalidQueryParameter";
      throw new ApiError(code, `Query parameter '${name}' is too long (at most ${MAX_VALUE_LENGTH} characters).`, name);
    }
    // eslint-disable-next-line no-control-regex -- control characters are what this rejects
    if (/[\x00-\x1f\x7f]/.test(value)) {
      throw new ApiError("InvalidQueryParameter", `Query parameter '${name}' contains control characters.`, name);
    }
    out.set(name, value);
  }
  return out;
}

/** One of `allowed` (case-insensitive), returned in its canonical spelling. */
export function enumValue<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  const hit = allowed.find((a) => a.toLowerCase() === value.trim().toLowerCase());
  if (hit === undefined) {
    throw new ApiError(
      "InvalidQueryParameter",
      `Query parameter '${name}' must be one of ${allowed.join(", ")} (got ${quote(value)}).`,
      name,
    );
  }
  return hit;
}

/** A whole number in [min, max], written in plain decimal digits. */
export function intValue(name: string, value: string, min: number, max: number): number {
  const v = value.trim();
  const n = /^\d{1,7}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ApiError(
      "InvalidQueryParameter",
      `Query parameter '${name}' must be a whole number from ${min} to ${max} (got ${quote(value)}).`,
      name,
    );
  }
  return n;
}

export function boolValue(name: string, value: string): boolean {
  return enumValue(name, value, ["true", "false"] as const) === "true";
}
