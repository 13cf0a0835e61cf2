/**
 * The opaque continuation of `queryFindings`: base64url JSON of which read of the access path comes next,
 * the key of the last item returned from it (the next page resumes after it, at any generation), the
 * generation the listing started at and a hash
 * of the scope and query, followed by an HMAC of all that under a secret kept in the state table. Decoding
 * checks the HMAC and every field: a forged, altered or foreign token is refused with
 * `InvalidContinuationToken`.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { TableStoreError } from "./errors.js";

export interface QueryCursor {
  /** Index in the access path's list of reads. */
  partition: number;
  /** Key of the last item returned from that read (reads list items in key order); absent: from the start. */
  after?: string;
  /** Generation the listing started at. */
  generation: number;
}

interface Wire {
  v: 2;
  h: string;
  p: number;
  g: number;
  a?: string;
}

/** Binds a token to one scope and one query. */
export function queryHash(scopeKey: string, fingerprint: string): string {
  return createHash("sha256").update(`${scopeKey}\n${fingerprint}`).digest("base64url").slice(0, 22);
}

function mac(secret: Buffer, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url").slice(0, 32);
}

export function encodeCursor(secret: Buffer, hash: string, c: QueryCursor): string {
  const w: Wire = { v: 2, h: hash, p: c.partition, g: c.generation, ...(c.after !== undefined ? { a: c.after } : {}) };
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
  if (Object.keys(o).some((k) => !["v", "h", "p", "g", "a"].includes(k))) throw invalid("unexpected fields");
  if (o.v !== 2) throw invalid("unknown version");
  if (o.h !== hash) throw invalid("issued for another scope or query");
  if (typeof o.p !== "number" || !Number.isInteger(o.p) || o.p < 0 || o.p >= reads) throw invalid("read index out of range");
  if (typeof o.g !== "number" || !Number.isInteger(o.g) || o.g < 0) throw invalid("bad generation");
  if (o.a !== undefined && (typeof o.a !== "string" || o.a.length === 0 || o.a.length > 1024 || !/^[\x21-\x7e]+$/.test(o.a)))
    throw invalid("bad resume key");
  return { partition: o.p, generation: o.g, ...(typeof o.a === "string" ? { after: o.a } : {}) };
}
