/**
 * Refuses every non-loopback DNS lookup and connection from test code: no test may reach Azure, the
 * instance metadata address (169.254.169.254) or anything else off this machine.
 */
import dns from "node:dns";
import net from "node:net";
import tls from "node:tls";

const LOOPBACK_NAMES = new Set(["localhost", "localhost.localdomain", "ip6-localhost"]);

export function isLoopback(host: string | undefined | null): boolean {
  if (host == null || host === "") return true; // Node defaults to localhost
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (LOOPBACK_NAMES.has(h)) return true;
  if (net.isIPv4(h)) return h.startsWith("127.");
  if (net.isIPv6(h)) return h === "::1" || h === "0:0:0:0:0:0:0:1" || h.startsWith("::ffff:127.");
  return false;
}

export class NonLoopbackError extends Error {
  readonly code = "ENONLOOPBACK";
  constructor(what: string) {
    super(`Test network guard: refused ${what} (tests may only reach loopback addresses)`);
  }
}

const origLookup = dns.lookup;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
(dns as any).lookup = function guardedLookup(hostname: string, ...rest: any[]) {
  const cb = rest[rest.length - 1];
  if (!isLoopback(hostname)) {
    const err = new NonLoopbackError(`DNS lookup of ${hostname}`);
    if (typeof cb === "function") {
      process.nextTick(() => cb(err));
      return {};
    }
    throw err;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (origLookup as any).call(dns, hostname, ...rest);
};
const origPromiseLookup = dns.promises.lookup;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
(dns.promises as any).lookup = async (hostname: string, ...rest: any[]) => {
  if (!isLoopback(hostname)) throw new NonLoopbackError(`DNS lookup of ${hostname}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (origPromiseLookup as any).call(dns.promises, hostname, ...rest);
};

function hostOf(args: unknown[]): string | undefined {
  const a = args[0];
  if (Array.isArray(a)) return hostOf(a);
  if (a && typeof a === "object") {
    const o = a as { host?: string; path?: string };
    if (o.path) return "localhost"; // unix socket / pipe
    return o.host;
  }
  if (typeof a === "number") return typeof args[1] === "string" ? args[1] : undefined;
  if (typeof a === "string" && !/^\d+$/.test(a)) return "localhost"; // a path: unix socket
  return undefined;
}

// eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the socket as `this`
const origConnect = net.Socket.prototype.connect;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
(net.Socket.prototype as any).connect = function guardedConnect(this: net.Socket, ...args: any[]) {
  const host = hostOf(args);
  if (!isLoopback(host)) {
    const err = new NonLoopbackError(`connection to ${host}`);
    process.nextTick(() => this.destroy(err));
    return this;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (origConnect as any).apply(this, args);
};

const origTlsConnect = tls.connect;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
(tls as any).connect = function guardedTlsConnect(...args: any[]) {
  const host = hostOf(args);
  if (!isLoopback(host)) throw new NonLoopbackError(`TLS connection to ${host}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (origTlsConnect as any).apply(tls, args);
};

// The Azure metadata address must never be probed.
process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = "http://127.0.0.1:1";
process.env.IMDS_ENDPOINT = "http://127.0.0.1:1";
