/**
 * The opaque continuation of `queryFindings`: base64url JSON of which read of the access path comes next,
 * how many of that read's items were already returned, the generation the listing started at and a hash
 * of the scope and query, followed by an HMAC of all that under a secret kept in the state table. Decoding
 * checks the HMAC and every field: a forged, altered or foreign token is refused with
 * `InvalidContinuationToken`.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { TableStoreError } from "./errors.js";

export interface QueryCursor {
  /** Index in the access path's list of reads. */
  partition: number;
  /** Items of that read already returned (the read is in item-key order at a fixed generation). */
  offset: number;
  /** Generation the listing started at. */
  generation: number;
}

interface Wire {
  v: 2;
  h: string;
  p: number;
  g: number;
  o: number;
}

/** Binds a token to one scope and one query. */
export function queryHash(scopeKey: string, fingerprint: string): string {
  return createHash("sha256").update(`${scopeKey}\n${fingerprint}`).digest("base64url").slice(0, 22);
}

function mac(secret: Buffer, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url").slice(0, 32);
}

export function encodeCursor(secret: Buffer, hash: string, c: QueryCursor): string {
  const w: Wire = { v: 2, h: hash, p: c.partition, g: c.generation, o: c.offset };
  const payload = Buffer.from(JSON.stringify(w), "utf8").toString("base64url");
  return `${payload}.${mac(secret, payload)}`;
}

function invalid(why: string): TableStoreError {
  return new TableStoreError("InvalidContinuationToken", `Invalid continuation token: ${why}`);
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Decodes and validates a token for this query, whose access path has `reads` reads. */
export function decodeCursor(token: unknown, secret: Buffer, hash: string, reads: number): QueryCursor {
  if (typeof token !== "string" || token.length === 0 || token.length > 8192) throw invalid("not a token");
  const dot = token.indexOf(".");
  const payload = dot > 0 ? token.slice(0, dot) : "";
  const signature = dot > 0 ? token.slice(dot + 1) : "";
  if (!B64URL.test(payload) || !B64URL.test(signature)) throw invalid("malformed");
  const expected = Buffer.from(mac(secret, payload));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid("not issued by this store");
  let w: unknown;
  try {
    w = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    throw invalid("not JSON");
  }
  if (!w || typeof w !== "object" || Array.isArray(w)) throw invalid("not an object");
  const o = w as Record<string, unknown>;
  if (Object.keys(o).some((k) => !["v", "h", "p", "g", "o"].includes(k))) throw invalid("unexpected fields");
  if (o.v !== 2) throw invalid("unknown version");
  if (o.h !== hash) throw invalid("issued for another scope or query");
  if (typeof o.p !== "number" || !Number.isInteger(o.p) || o.p < 0 || o.p >= reads) throw invalid("read index out of range");
  if (typeof o.g !== "number" || !Number.isInteger(o.g) || o.g < 0) throw invalid("bad generation");
  if (typeof o.o !== "number" || !Number.isInteger(o.o) || o.o < 0 || o.o > 1e9) throw invalid("bad offset");
  return { partition: o.p, generation: o.g, offset: o.o };
}
