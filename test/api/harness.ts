/**
 * Handler test harness: real `HttpRequest` / `InvocationContext` objects from @azure/functions, every response
 * read through a real `HttpResponse` and validated against openapi.yaml; stores seeded by auditing the
 * conformance estates through the ARM simulator into a fresh store on the shared test Azurite.
 */
import fs from "node:fs";
import path from "node:path";
import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit } from "@azure/functions";
import { loadConfig } from "../../src/config.js";
import type { AuditStore } from "../../src/core/ports.js";
import { parseEstate, type Estate } from "../../src/adapters/simulator/index.js";
import { setRuntime, type AppRuntime } from "../../src/runtime.js";
import { invalidateReadCache } from "../../src/api/cache.js";
import { auditEstate, freshStore, simulatorDiscovery } from "../helpers/harness.js";
import { expectMatchesOpenApi } from "./openapi-validator.js";

export const BASE_URL = "http://localhost:7071";
const CONFORMANCE = path.resolve(__dirname, "../conformance");

export type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

export interface CallOptions {
  method?: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON (with Content-Type: application/json unless given). */
  body?: unknown;
  /** Skip the OpenAPI check (only for tests of the validator itself). */
  unchecked?: boolean;
}

export interface Called {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  logs: { level: string; message: string }[];
}

/** Calls a handler as the host would, and checks the response against the OpenAPI document. */
export async function call(handler: Handler, pathAndQuery: string, opts: CallOptions = {}): Promise<Called> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: { string: string } | undefined;
  if (opts.body !== undefined) {
    if (typeof opts.body === "string") body = { string: opts.body };
    else {
      body = { string: JSON.stringify(opts.body) };
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
    }
  }
  const url = pathAndQuery.startsWith("http") ? pathAndQuery : `${BASE_URL}${pathAndQuery}`;
  const request = new HttpRequest({ method, url, headers, params: opts.params ?? {}, ...(body ? { body } : {}) });
  const logs: Called["logs"] = [];
  const context = new InvocationContext({
    invocationId: `test-${Math.random().toString(16).slice(2)}`,
    functionName: "test",
    logHandler: (level, ...args) => logs.push({ level, message: args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ") }),
  });
  const init = await handler(request, context);
  const response = new HttpResponse(init);
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const result: Called = { status: response.status, headers: response.headers, text, json, logs };
  if (!opts.unchecked) expectMatchesOpenApi({ method, url, status: result.status, headers: result.headers, text });
  return result;
}

/** Merges estates into one tenant (rows de-duplicated by ID). */
export function mergeEstates(names: string[]): Estate {
  const tables: Record<string, Record<string, unknown>[]> = { resources: [], resourcecontainers: [], authorizationresources: [] };
  const seen = new Set<string>();
  for (const name of names) {
    const e = JSON.parse(fs.readFileSync(path.join(CONFORMANCE, `${name}.json`), "utf8")) as {
      tables: Record<string, Record<string, unknown>[]>;
    };
    for (const [t, rows] of Object.entries(e.tables)) {
      for (const row of rows) {
        const k = `${t}|${(typeof row.id === "string" ? row.id : JSON.stringify(row)).toLowerCase()}`;
        if (seen.has(k)) continue;
        seen.add(k);
        (tables[t] ??= []).push(row);
      }
    }
  }
  return parseEstate({ version: 1, description: `merged: ${names.join(", ")}`, tables }, "merged");
}

export const SAMPLE_ESTATES = [
  "attached-basic",
  "abac-mode",
  "declared-without-role",
  "firewall-blocks-egress",
  "private-endpoint-peering",
];

export function sampleEstate(): Estate {
  return mergeEstates(SAMPLE_ESTATES);
}

/** A runtime over `store` (discovery through the simulator serving `estate`). */
export function testRuntime(store: AuditStore, estate: Estate = sampleEstate(), env: Record<string, string> = {}): AppRuntime {
  return {
    config: loadConfig({ AUDIT_TABLE_PREFIX: "test", ...env }),
    store,
    scopeKey: "tenant",
    holder: "api-test",
    newDiscovery: () => simulatorDiscovery(estate).discovery,
  };
}

/** A fresh store holding one audit of the sample estate, installed as the runtime. */
export async function seeded(label: string, estate: Estate = sampleEstate()) {
  const store = await freshStore(label);
  const result = await auditEstate(estate, store);
  invalidateReadCache();
  const runtime = testRuntime(store, estate);
  setRuntime(runtime);
  return { store, result, estate, runtime };
}

export function use(runtime: AppRuntime): void {
  invalidateReadCache();
  setRuntime(runtime);
}
