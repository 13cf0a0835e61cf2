/** IPv4 addresses and CIDR ranges, for registry firewall rules. Pure, no dependencies. */

export interface Ipv4Range {
  /** First address as an unsigned 32-bit number. */
  start: number;
  /** Last address, inclusive. */
  end: number;
  text: string;
}

function parseIpv4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/**
 * Parses `a.b.c.d` (a /32) or `a.b.c.d/n`. Host bits set below the mask are accepted and cleared (as
 * ACR normalises them). Returns undefined for anything else, including IPv6.
 */
export function parseIpv4Range(text: string): Ipv4Range | undefined {
  if (typeof text !== "string") return undefined;
  // A registry's rules are parsed once per attached node pool: thousands of times in a large tenant.
  if (parsed.has(text)) return parsed.get(text);
  const r = parseUncached(text);
  if (parsed.size >= 20_000) parsed.clear();
  parsed.set(text, r);
  return r;
}

const parsed = new Map<string, Readonly<Ipv4Range> | undefined>();

function parseUncached(text: string): Ipv4Range | undefined {
  const t = text.trim();
  const m = /^([0-9.]+)(?:\/(\d{1,2}))?$/.exec(t);
  if (!m) return undefined;
  const ip = parseIpv4(m[1]);
  if (ip === undefined) return undefined;
  const bits = m[2] === undefined ? 32 : Number(m[2]);
  if (bits < 0 || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  const start = Math.floor(ip / size) * size;
  return Object.freeze({ start, end: start + size - 1, text: t });
}

/** True when every address of `inner` lies inside the union of `outer` ranges. */
export function coveredBy(inner: Ipv4Range, outer: readonly Ipv4Range[]): boolean {
  const sorted = [...outer].sort((a, b) => a.start - b.start);
  let next = inner.start; // first address not yet known to be covered
  for (const r of sorted) {
    if (r.end < next) continue;
    if (r.start > next) return false;
    next = r.end + 1;
    if (next > inner.end) return true;
  }
  return next > inner.end;
}

/** True when some address of `inner` lies inside one of `outer`. */
export function overlaps(inner: Ipv4Range, outer: readonly Ipv4Range[]): boolean {
  return outer.some((r) => r.start <= inner.end && inner.start <= r.end);
}

/**
 * Whether `text` is an IPv6 address or CIDR (`2001:db8::/32`, `::1`, `::ffff:1.2.3.4/128`). Such a rule is
 * valid but can never cover an IPv4 egress address, so it neither allows nor makes a decision unknown.
 */
export function isIpv6Rule(text: string): boolean {
  if (typeof text !== "string") return false;
  const [addr, prefix, ...rest] = text.trim().split("/");
  if (rest.length || addr === undefined || !addr.includes(":")) return false;
  if (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= 128)) return false;
  let groups = addr.split(":");
  const last = groups[groups.length - 1];
  let width = 8;
  if (last.includes(".")) {
    if (parseIpv4(last) === undefined) return false;
    groups = groups.slice(0, -1);
    width = 6;
  }
  if (addr.includes(":::") || (addr.startsWith(":") && !addr.startsWith("::")) || (addr.endsWith(":") && !addr.endsWith("::")))
    return false;
  const gaps = addr.split("::").length - 1;
  if (gaps > 1) return false;
  const filled = groups.filter((g) => g !== "");
  if (!filled.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return false;
  return gaps === 1 ? filled.length < width : filled.length === width && groups.length === width;
}
