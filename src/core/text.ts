/**
 * A loosely typed value (a Resource Graph column, a table entity property, a parsed document member) as
 * text: strings as they are, numbers, booleans and bigints printed, anything else (null, undefined, an
 * object) the fallback, never "[object Object]". Pure.
 */
export function text(v: unknown, fallback = ""): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return fallback;
}
