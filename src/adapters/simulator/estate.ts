/**
 * Estate files (spec/estate.md): a snapshot of what Resource Graph returns for a tenant, plus optional
 * settings for how the simulated ARM behaves. Loading validates everything at once and reports the first
 * problem as one line naming the file and the JSON path.
 */
import fs from "node:fs";
import { normalizeId } from "../../core/resource-id.js";

export const TABLE_NAMES = ["resources", "resourcecontainers", "authorizationresources"] as const;
export type TableName = (typeof TABLE_NAMES)[number];

export const CLOUD_NAMES = ["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"] as const;
export type EstateCloud = (typeof CLOUD_NAMES)[number];

/** One Resource Graph row (`resultFormat: objectArray`). `type` is lower-case after loading. */
export interface Row {
  id: string;
  type: string;
  [column: string]: unknown;
}

export type FaultService = "resourcegraph" | "authorization" | "any";
export type FaultKind = "status" | "reset" | "timeout";

/** A scripted failure; faults are tried in order and the first matching one with uses left is applied. */
export interface SimulationFault {
  service: FaultService;
  /** HTTP status of a `status` fault (400-599). */
  status?: number;
  /** `status` (default): answer `status`; `reset`: drop the connection; `timeout`: never answer. */
  kind?: FaultKind;
  /** Sent as `Retry-After` on a `status` fault. */
  retryAfterSeconds?: number;
  /** How many matching requests fail (default 1; -1 = every one). */
  count?: number;
  /** Only requests whose scope includes this subscription. */
  subscriptionId?: string;
  /** Only Resource Graph queries on this table. */
  table?: string;
  /** Let the first N matching requests through before failing. */
  after?: number;
  /** Simulator extension: how long a `timeout` fault waits before failing (default 30000 ms). */
  timeoutMs?: number;
}

export interface QuotaSettings {
  /** Resource Graph requests allowed per window. */
  requests: number;
  /** Sliding window length. */
  windowSeconds: number;
}

export interface SimulationSettings {
  /** Added to every response. */
  latencyMs: number;
  /** Resource Graph rows (and authorization list items) per page, 1..1000. */
  pageSize: number;
  /** Resource Graph per-user quota; absent = unlimited (and no quota headers). */
  quota?: QuotaSettings;
  faults: SimulationFault[];
}

export interface Estate {
  version: 1;
  description?: string;
  tenantId?: string;
  cloud?: EstateCloud;
  tables: { resources: Row[]; resourcecontainers: Row[]; authorizationresources: Row[] };
  simulation: SimulationSettings;
}

export const DEFAULT_SIMULATION: Readonly<SimulationSettings> = Object.freeze({
  latencyMs: 0,
  pageSize: 1000,
  faults: [],
});

export const ESTATE_LIMITS = Object.freeze({
  maxFileBytes: 200 * 1024 * 1024,
  maxDepth: 64,
  maxStringLength: 1024 * 1024,
});

export class EstateError extends Error {
  readonly code = "EstateInvalid";
  constructor(
    readonly file: string,
    readonly jsonPath: string,
    readonly problem: string,
  ) {
    super(oneLine(`${file}: ${jsonPath}: ${problem}`));
    this.name = "EstateError";
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, " ");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return "a string";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Refuses values nested deeper than the limit or holding a string (or key) over the length limit. */
function checkLimits(value: unknown, source: string): void {
  const walk = (v: unknown, path: string, depth: number): void => {
    if (typeof v === "string") {
      if (v.length > ESTATE_LIMITS.maxStringLength)
        throw new EstateError(source, path, `string longer than ${ESTATE_LIMITS.maxStringLength} characters`);
      return;
    }
    if (typeof v !== "object" || v === null) return;
    if (depth >= ESTATE_LIMITS.maxDepth) throw new EstateError(source, path, `nested deeper than ${ESTATE_LIMITS.maxDepth} levels`);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) walk(v[i], childPath(path, i), depth + 1);
      return;
    }
    for (const [k, child] of Object.entries(v)) {
      if (k.length > ESTATE_LIMITS.maxStringLength)
        throw new EstateError(source, path, `property name longer than ${ESTATE_LIMITS.maxStringLength} characters`);
      walk(child, childPath(path, k), depth + 1);
    }
  };
  walk(value, "$", 0);
}

/** Reads an estate file; every problem (size, JSON syntax, limits, schema) is an EstateError. */
export function loadEstateFile(path: string): Estate {
  let size: number;
  try {
    size = fs.statSync(path).size;
  } catch (err) {
    throw new EstateError(path, "$", `cannot read file: ${(err as Error).message}`);
  }
  if (size > ESTATE_LIMITS.maxFileBytes)
    throw new EstateError(path, "$", `file is ${size} bytes; the limit is ${ESTATE_LIMITS.maxFileBytes} bytes`);
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (err) {
    throw new EstateError(path, "$", `cannot read file: ${(err as Error).message}`);
  }
  return parseEstateText(text, path);
}

/** Parses estate JSON text (a leading BOM is allowed). */
export function parseEstateText(text: string, source: string): Estate {
  if (text.length > ESTATE_LIMITS.maxFileBytes)
    throw new EstateError(source, "$", `text is longer than ${ESTATE_LIMITS.maxFileBytes} characters`);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new EstateError(source, "$", jsonSyntaxProblem(body, err));
  }
  return parseEstate(json, source);
}

function jsonSyntaxProblem(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const pos = jsonErrorOffset(text);
  let line = 1;
  let col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  const reason = message
    .replace(/\s*\(line \d+ column \d+\)/, "")
    .replace(/\s+in JSON at position \d+/, "")
    .slice(0, 200);
  return `not valid JSON at line ${line} column ${col} (position ${pos}): ${reason}`;
}

/**
 * Offset of the first JSON syntax error (JSON.parse does not report it on every Node version). Iterative,
 * so hostile nesting cannot overflow the stack.
 */
function jsonErrorOffset(s: string): number {
  let i = 0;
  const stack: ("o" | "a")[] = [];
  let state: "value" | "key" | "after" = "value";
  const ws = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === "\n" || s[i] === "\r")) i++;
  };
  const str = (): number => {
    i++;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return -1;
      }
      if (c < 0x20) return i;
      if (c === 0x5c) {
        const e = s[i + 1];
        if (e === "u") {
          if (!/^[0-9A-Fa-f]{4}$/.test(s.slice(i + 2, i + 6))) return i;
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return i;
        continue;
      }
      i++;
    }
    return s.length;
  };
  const scalar = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null/y;
  for (;;) {
    ws();
    if (state === "value") {
      const c = s[i];
      if (c === "{" || c === "[") {
        i++;
        ws();
        if (s[i] === (c === "{" ? "}" : "]")) {
          i++;
          state = "after";
        } else {
          stack.push(c === "{" ? "o" : "a");
          state = c === "{" ? "key" : "value";
        }
        continue;
      }
      if (c === '"') {
        const bad = str();
        if (bad >= 0) return bad;
        state = "after";
        continue;
      }
      scalar.lastIndex = i;
      const m = scalar.exec(s);
      if (!m) return i;
      i += m[0].length;
      state = "after";
      continue;
    }
    if (state === "key") {
      if (s[i] !== '"') return i;
      const bad = str();
      if (bad >= 0) return bad;
      ws();
      if (s[i] !== ":") return i;
      i++;
      state = "value";
      continue;
    }
    const top = stack[stack.length - 1];
    if (top === undefined) return i < s.length ? i : s.length;
    if (s[i] === ",") {
      i++;
      state = top === "o" ? "key" : "value";
      continue;
    }
    if (s[i] === (top === "o" ? "}" : "]")) {
      i++;
      stack.pop();
      continue;
    }
    return i;
  }
}

/** Validates an already-parsed estate document. Unknown fields are accepted and ignored. */
export function parseEstate(json: unknown, source: string): Estate {
  checkLimits(json, source);
  const fail = (path: string, problem: string): never => {
    throw new EstateError(source, path, problem);
  };
  if (!isObject(json)) return fail("$", `expected an object, found ${describe(json)}`);
  if (json.version !== 1) fail("$.version", `expected 1, found ${json.version === undefined ? "nothing" : describe(json.version)}`);
  for (const k of ["description", "tenantId"] as const) {
    if (json[k] !== undefined && typeof json[k] !== "string") fail(`$.${k}`, "expected a string");
  }
  if (json.cloud !== undefined && !(CLOUD_NAMES as readonly unknown[]).includes(json.cloud))
    fail("$.cloud", `expected one of ${CLOUD_NAMES.join(", ")}`);
  if (!isObject(json.tables))
    return fail("$.tables", `expected an object, found ${json.tables === undefined ? "nothing" : describe(json.tables)}`);

  const tables: Estate["tables"] = { resources: [], resourcecontainers: [], authorizationresources: [] };
  for (const [name, rowsValue] of Object.entries(json.tables)) {
    const tablePath = childPath("$.tables", name);
    if (!(TABLE_NAMES as readonly string[]).includes(name)) fail(tablePath, `unknown table (expected ${TABLE_NAMES.join(", ")})`);
    if (!Array.isArray(rowsValue)) fail(tablePath, `expected an array of rows, found ${describe(rowsValue)}`);
    const rows: Row[] = [];
    const seen = new Map<string, string>();
    (rowsValue as unknown[]).forEach((row, i) => {
      const rowPath = childPath(tablePath, i);
      if (!isObject(row)) fail(rowPath, `expected a row object, found ${describe(row)}`);
      const r = row as Record<string, unknown>;
      if (typeof r.id !== "string") fail(`${rowPath}.id`, "expected a string");
      if ((r.id as string).trim() === "") fail(`${rowPath}.id`, "expected a non-empty string");
      if (typeof r.type !== "string") fail(`${rowPath}.type`, "expected a string");
      // Role definitions are also served through the authorization API, whose client would reshape a
      // malformed permissions list silently: refuse it here, where it can be named.
      if ((r.type as string).toLowerCase() === "microsoft.authorization/roledefinitions" && isObject(r.properties)) {
        const perms = r.properties.permissions;
        if (perms !== undefined && (!Array.isArray(perms) || perms.some((p) => !isObject(p))))
          fail(`${rowPath}.properties.permissions`, `expected an array of permission objects, found ${describe(perms)}`);
      }
      const key = normalizeId(r.id as string);
      const first = seen.get(key);
      if (first !== undefined) fail(`${rowPath}.id`, `duplicate id (case-insensitive) of ${first}.id`);
      seen.set(key, rowPath);
      // Resource Graph reports types in lower case; the id keeps its stored casing.
      rows.push({ ...r, id: r.id as string, type: (r.type as string).toLowerCase() });
    });
    tables[name as TableName] = rows;
  }

  const simulation = json.simulation === undefined ? {} : json.simulation;
  const settings = validateSimulation(simulation, source, "$.simulation", false);
  const estate: Estate = {
    version: 1,
    tables,
    simulation: { ...DEFAULT_SIMULATION, faults: [], ...settings },
  };
  if (typeof json.description === "string") estate.description = json.description;
  if (typeof json.tenantId === "string") estate.tenantId = json.tenantId;
  if (typeof json.cloud === "string") estate.cloud = json.cloud as EstateCloud;
  return estate;
}

const FAULT_SERVICES: readonly FaultService[] = ["resourcegraph", "authorization", "any"];
const FAULT_KINDS: readonly FaultKind[] = ["status", "reset", "timeout"];

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

/**
 * Validates simulation settings (from an estate, or constructor overrides when `partial`); returns only the
 * fields that were given. Keys present with the value `undefined` are kept (an override may unset `quota`).
 */
export function validateSimulation(value: unknown, source: string, path = "$.simulation", partial = true): Partial<SimulationSettings> {
  const fail = (p: string, problem: string): never => {
    throw new EstateError(source, p, problem);
  };
  if (!isObject(value)) return fail(path, `expected an object, found ${describe(value)}`);
  const out: Partial<SimulationSettings> = {};
  if (value.latencyMs !== undefined) {
    const v = value.latencyMs;
    // A timer cannot wait longer than 2^31-1 ms (Node fires it at once instead); ten minutes is plenty.
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 600_000)
      fail(`${path}.latencyMs`, "expected a number from 0 to 600000");
    out.latencyMs = v as number;
  }
  if (value.pageSize !== undefined) {
    const v = value.pageSize;
    if (!isInt(v) || v < 1 || v > 1000) fail(`${path}.pageSize`, "expected an integer from 1 to 1000");
    out.pageSize = v as number;
  }
  if ("quota" in value) {
    const q = value.quota;
    if (q === undefined || q === null) {
      if (partial) out.quota = undefined;
    } else {
      if (!isObject(q)) fail(`${path}.quota`, `expected an object, found ${describe(q)}`);
      const qo = q as Record<string, unknown>;
      if (!isInt(qo.requests) || qo.requests < 1) fail(`${path}.quota.requests`, "expected an integer >= 1");
      const w = qo.windowSeconds;
      if (typeof w !== "number" || !Number.isFinite(w) || w <= 0) fail(`${path}.quota.windowSeconds`, "expected a number > 0");
      out.quota = { requests: qo.requests as number, windowSeconds: w as number };
    }
  }
  if (value.faults !== undefined) {
    if (!Array.isArray(value.faults)) fail(`${path}.faults`, `expected an array, found ${describe(value.faults)}`);
    out.faults = (value.faults as unknown[]).map((f, i) => validateFault(f, source, `${path}.faults[${i}]`));
  }
  return out;
}

function validateFault(value: unknown, source: string, path: string): SimulationFault {
  const fail = (p: string, problem: string): never => {
    throw new EstateError(source, p, problem);
  };
  if (!isObject(value)) return fail(path, `expected an object, found ${describe(value)}`);
  const service = value.service;
  if (!FAULT_SERVICES.includes(service as FaultService)) fail(`${path}.service`, `expected one of ${FAULT_SERVICES.join(", ")}`);
  const fault: SimulationFault = { service: service as FaultService };
  if (value.kind !== undefined) {
    if (!FAULT_KINDS.includes(value.kind as FaultKind)) fail(`${path}.kind`, `expected one of ${FAULT_KINDS.join(", ")}`);
    fault.kind = value.kind as FaultKind;
  }
  const kind = fault.kind ?? "status";
  if (value.status !== undefined) {
    if (!isInt(value.status) || value.status < 400 || value.status > 599) fail(`${path}.status`, "expected an HTTP status from 400 to 599");
    fault.status = value.status as number;
  } else if (kind === "status") {
    fail(`${path}.status`, 'required when kind is "status" (expected an HTTP status from 400 to 599)');
  }
  if (value.retryAfterSeconds !== undefined) {
    if (!isInt(value.retryAfterSeconds) || value.retryAfterSeconds < 0) fail(`${path}.retryAfterSeconds`, "expected an integer >= 0");
    fault.retryAfterSeconds = value.retryAfterSeconds as number;
  }
  if (value.count !== undefined) {
    if (!isInt(value.count) || (value.count < 1 && value.count !== -1))
      fail(`${path}.count`, "expected an integer >= 1, or -1 for every request");
    fault.count = value.count as number;
  }
  if (value.subscriptionId !== undefined) {
    if (typeof value.subscriptionId !== "string" || value.subscriptionId.trim() === "")
      fail(`${path}.subscriptionId`, "expected a non-empty string");
    fault.subscriptionId = value.subscriptionId as string;
  }
  if (value.table !== undefined) {
    if (typeof value.table !== "string" || !(TABLE_NAMES as readonly string[]).includes(value.table.toLowerCase()))
      fail(`${path}.table`, `expected one of ${TABLE_NAMES.join(", ")}`);
    fault.table = (value.table as string).toLowerCase();
  }
  if (value.after !== undefined) {
    if (!isInt(value.after) || value.after < 0) fail(`${path}.after`, "expected an integer >= 0");
    fault.after = value.after as number;
  }
  if (value.timeoutMs !== undefined) {
    const t = value.timeoutMs;
    if (typeof t !== "number" || !Number.isFinite(t) || t <= 0 || t > 30_000)
      fail(`${path}.timeoutMs`, "expected a number of milliseconds from 1 to 30000");
    fault.timeoutMs = t as number;
  }
  return fault;
}
