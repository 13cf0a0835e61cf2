/**
 * Validates observed HTTP responses against openapi.yaml with ajv (JSON Schema 2020-12, as OpenAPI 3.1
 * uses): the operation is resolved by method + path, the response by status (an undocumented status is an
 * error), then the content type, the required headers and the body schema are checked. Every (operation,
 * status) pair validated is recorded, for the coverage test.
 */
import fs from "node:fs";
import path from "node:path";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import type { ValidateFunction } from "ajv";
import { parse } from "yaml";

export const OPENAPI_PATH = path.resolve(__dirname, "../../openapi.yaml");
const BASE = "https://openapi.test/openapi.json";
const PREFIX = "/api";

type Json = Record<string, unknown>;

export function loadDocument(): Json {
  return parse(fs.readFileSync(OPENAPI_PATH, "utf8")) as Json;
}

const doc = loadDocument();
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...doc, $id: BASE });
const compiled = new Map<string, ValidateFunction>();

function pointerSegment(s: string): string {
  return encodeURIComponent(s.replace(/~/g, "~0").replace(/\//g, "~1"));
}

function validatorAt(pointer: string[]): ValidateFunction {
  const ref = `${BASE}#/${pointer.map(pointerSegment).join("/")}`;
  let v = compiled.get(ref);
  if (!v) compiled.set(ref, (v = ajv.compile({ $ref: ref })));
  return v;
}

function at(pointer: string[]): unknown {
  let cur: unknown = doc;
  for (const p of pointer) cur = (cur as Json | undefined)?.[p];
  return cur;
}

/** Follows a local `$ref` (and records where the object lives, for schema pointers). */
function deref(obj: unknown, pointer: string[]): { obj: Json; pointer: string[] } {
  let o = obj as Json;
  let p = pointer;
  for (let i = 0; i < 10 && o && typeof o.$ref === "string"; i++) {
    const ref = o.$ref;
    if (!ref.startsWith("#/")) throw new Error(`non-local $ref ${ref}`);
    p = ref
      .slice(2)
      .split("/")
      .map((s) => decodeURIComponent(s).replace(/~1/g, "/").replace(/~0/g, "~"));
    o = at(p) as Json;
  }
  if (!o) throw new Error(`dangling reference at ${pointer.join("/")}`);
  return { obj: o, pointer: p };
}

export interface Observed {
  method: string;
  /** Absolute URL or path (with the /api prefix). */
  url: string;
  status: number;
  headers: Headers;
  /** Raw body text ("" when none). */
  text: string;
}

export interface Resolved {
  /** `<METHOD> <template>` or a pseudo operation for 404/405. */
  operation: string;
  status: number;
}

const coverage = new Set<string>();

export function recordedCoverage(): Set<string> {
  return new Set(coverage);
}

function templateRegex(template: string, greedy: boolean): RegExp {
  const body = template
    .split("/")
    .map((s) => (/^\{.+\}$/.test(s) ? (greedy ? ".+" : "[^/]+") : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${body}/?$`, "i");
}

/** The documented path template serving a request path (relative to the prefix), or undefined. */
export function findPath(p: string): string | undefined {
  const paths = Object.keys(doc.paths as Json);
  return paths.find((t) => templateRegex(t, false).test(p)) ?? paths.find((t) => templateRegex(t, true).test(p));
}

/** The documented operations: `<METHOD> <template>` -> documented statuses. */
export function documentedOperations(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [t, item] of Object.entries(doc.paths as Json)) {
    for (const [m, op] of Object.entries(item as Json)) {
      if (!["get", "post", "put", "patch", "delete", "head"].includes(m)) continue;
      out.set(`${m.toUpperCase()} ${t}`, Object.keys((op as Json).responses as Json));
    }
  }
  return out;
}

/** Returns the problems of a response (empty when it matches the document). */
export function problemsOf(r: Observed): { problems: string[]; resolved?: Resolved } {
  const problems: string[] = [];
  const url = new URL(r.url, "http://localhost");
  let p = url.pathname;
  const inside = p.toLowerCase().startsWith(`${PREFIX}/`);
  p = inside ? p.slice(PREFIX.length) : p;
  const method = r.method.toLowerCase();
  const template = inside ? findPath(p) : undefined;
  let response: { obj: Json; pointer: string[] };
  let operation: string;
  if (!template) {
    if (r.status !== 404) return { problems: [`${r.method} ${p}: no documented path, so the status must be 404 (got ${r.status})`] };
    operation = "UNKNOWN-ROUTE";
    response = deref(doc["x-unknown-route"], ["x-unknown-route"]);
  } else {
    const item = (doc.paths as Json)[template] as Json;
    const op = item[method] as Json | undefined;
    if (!op) {
      if (r.status !== 405)
        return { problems: [`${r.method} ${template}: undocumented method, so the status must be 405 (got ${r.status})`] };
      operation = `405 ${template}`;
      response = deref(doc["x-method-not-allowed"], ["x-method-not-allowed"]);
    } else {
      operation = `${r.method.toUpperCase()} ${template}`;
      const responses = op.responses as Json;
      const entry = responses[String(r.status)] ?? responses.default;
      if (!entry)
        return { problems: [`${operation}: status ${r.status} is not documented (documented: ${Object.keys(responses).join(", ")})`] };
      response = deref(entry, ["paths", template, method, "responses", responses[String(r.status)] ? String(r.status) : "default"]);
    }
  }
  const resolved = { operation, status: r.status };
  const content = response.obj.content as Json | undefined;
  const contentType = r.headers.get("content-type");
  if (!content) {
    if (r.text !== "") problems.push(`${operation} ${r.status}: documented without a body, got ${r.text.length} characters`);
  } else {
    const media = contentType?.split(";")[0].trim().toLowerCase();
    if (!media || !(media in content)) {
      problems.push(
        `${operation} ${r.status}: content type ${contentType ?? "(none)"} is not documented (${Object.keys(content).join(", ")})`,
      );
    } else {
      let body: unknown = r.text;
      if (media.endsWith("json")) {
        try {
          body = JSON.parse(r.text);
        } catch {
          problems.push(`${operation} ${r.status}: body is not JSON`);
        }
      }
      const validate = validatorAt([...response.pointer, "content", media, "schema"]);
      if (!validate(body)) {
        problems.push(`${operation} ${r.status}: body does not match the schema: ${ajv.errorsText(validate.errors, { separator: "; " })}`);
      }
    }
  }
  for (const [name, h] of Object.entries((response.obj.headers as Json | undefined) ?? {})) {
    if ((h as Json).required && !r.headers.has(name)) problems.push(`${operation} ${r.status}: required header ${name} is missing`);
  }
  return { problems, resolved };
}

/** Throws when the response does not match the document; records the (operation, status) pair. */
export function expectMatchesOpenApi(r: Observed): Resolved {
  const { problems, resolved } = problemsOf(r);
  if (problems.length) {
    throw new Error(`Response does not match openapi.yaml:\n  ${problems.join("\n  ")}\n  body: ${r.text.slice(0, 600)}`);
  }
  coverage.add(`${resolved!.operation} ${resolved!.status}`);
  return resolved!;
}
