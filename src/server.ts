/**
 * Local serving (`aks-acr-audit serve`): the same HTTP function handlers over node:http on a loopback
 * address, without the Functions host. Routes, methods and auth levels come from the same table the
 * functions register with (src/api/routes.ts); each request becomes a real `HttpRequest` and
 * `InvocationContext`, each `HttpResponseInit` a real `HttpResponse`.
 *
 * Keys: with AUDIT_API_KEY set (or `apiKey`), `function` routes need it (header `x-functions-key` or query
 * `code`), and `admin` routes need AUDIT_API_ADMIN_KEY (`adminKey`, default: the same key), which also
 * opens the `function` routes, as the host's master key does. Without a key every route is open, which is
 * why the server only ever binds a loopback address.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { once } from "node:events";
import type { HttpResponseInit } from "@azure/functions";
import { errorBody } from "./api/errors.js";
import { JSON_CONTENT_TYPE, MAX_BODY_BYTES, type Handler } from "./api/http.js";
import { allowedMethods, resolveRoute, type OperationName } from "./api/routes.js";

/**
 * A named export of a dynamically imported module. Compiled to CommonJS, `import()` stays a native
 * dynamic import, and Node exposes a CommonJS module's exports as `default` (named ones only when its
 * lexer can see them: not for @azure/functions); under vitest they are named.
 */
function interop<T>(mod: unknown, name: string): T {
  const m = mod as Record<string, unknown> & { default?: Record<string, unknown> };
  const v = (m[name] ?? m.default?.[name]) as T | undefined;
  if (v === undefined) throw new Error(`module has no export ${name}`);
  return v;
}

/**
 * Waits for the audits that `POST /api/runs` started in the background (nothing when no handler was
 * loaded): a server that stops must not close the store under a running audit.
 */
export async function backgroundAudits(): Promise<void> {
  if (!handlers) return;
  await handlers.catch(() => undefined);
  const wait = interop<() => Promise<void>>(await import("./functions/runs-start.js"), "backgroundRuns");
  await wait();
}

/** The handlers, by operation (loaded on first use; see `loadHandlers`). */
export type Handlers = Record<OperationName, Handler>;

let handlers: Promise<Handlers> | undefined;

/**
 * Imports the function modules. Outside the Functions host each `app.http` call prints a "test mode"
 * warning and registers nothing; those expected warnings are muted here, anything else still shows.
 */
export function loadHandlers(): Promise<Handlers> {
  handlers ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (
        typeof args[0] === "string" &&
        /^WARNING: (Skipping call to register function|Failed to detect the Azure Functions runtime)/.test(args[0])
      )
        return;
      warn(...args);
    };
    try {
      const load = async <T>(module: Promise<unknown>, name: string): Promise<T> => interop<T>(await module, name);
      const entries = await Promise.all([
        load<Handler>(import("./functions/findings-list.js"), "findingsList"),
        load<Handler>(import("./functions/findings-summary.js"), "findingsSummary"),
        load<Handler>(import("./functions/runs-list.js"), "runsList"),
        load<Handler>(import("./functions/runs-start.js"), "runsStart"),
        load<Handler>(import("./functions/runs-get.js"), "runsGet"),
        load<Handler>(import("./functions/runs-changes.js"), "runsChanges"),
        load<Handler>(import("./functions/cluster-attachments.js"), "clusterAttachments"),
        load<Handler>(import("./functions/attachments-forget.js"), "attachmentsForget"),
        load<Handler>(import("./functions/health.js"), "health"),
        load<Handler>(import("./functions/openapi.js"), "openapi"),
        load<Handler>(import("./functions/exemptions-list.js"), "exemptionsList"),
        load<Handler>(import("./functions/exemptions-create.js"), "exemptionsCreate"),
        load<Handler>(import("./functions/exemptions-delete.js"), "exemptionsDelete"),
        load<Handler>(import("./functions/triage.js"), "triage"),
      ]);
      const [fl, fs, rl, rs, rg, rc, ca, af, h, oa, el, ec, ed, tr] = entries;
      return {
        "findings-list": fl,
        "findings-summary": fs,
        "runs-list": rl,
        "runs-start": rs,
        "runs-get": rg,
        "runs-changes": rc,
        "cluster-attachments": ca,
        "attachments-forget": af,
        health: h,
        openapi: oa,
        "exemptions-list": el,
        "exemptions-create": ec,
        "exemptions-delete": ed,
        triage: tr,
      };
    } finally {
      console.warn = warn;
    }
  })();
  return handlers;
}

/** The host's default route prefix. */
export const ROUTE_PREFIX = "api";

export interface ServerOptions {
  port?: number;
  /** Loopback only: 127.0.0.1 (default), ::1 or localhost. */
  host?: string;
  /** Key of `function` routes (default: env AUDIT_API_KEY); none: open. */
  apiKey?: string;
  /** Key of `admin` routes (default: env AUDIT_API_ADMIN_KEY, else `apiKey`). */
  adminKey?: string;
  env?: Record<string, string | undefined>;
  /** Function logs (context.log/warn/error); default: warnings and errors to stderr. */
  log?: (level: string, message: string) => void;
}

export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

function isLoopbackHost(h: string): boolean {
  if (h === "localhost") return true;
  if (net.isIPv4(h)) return h.startsWith("127.");
  return h === "::1";
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

function keyMatches(given: string | undefined, expected: string | undefined): boolean {
  if (!expected || given === undefined) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

function defaultLog(level: string, message: string): void {
  if (level === "error" || level === "warning" || level === "critical") process.stderr.write(`[${level}] ${message}\n`);
}

function formatArgs(args: unknown[]): string {
  return args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : typeof a === "string" ? a : JSON.stringify(a))).join(" ");
}

/** Headers the platform's authentication sets: never trusted from a caller. */
const PLATFORM_HEADERS = /^x-ms-client-principal/i;

async function readBody(req: http.IncomingMessage): Promise<Buffer | "too-large"> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return "too-large";
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > MAX_BODY_BYTES) return "too-large";
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

type ResponseClass = typeof import("@azure/functions").HttpResponse;

async function send(res: http.ServerResponse, init: HttpResponseInit, method: string, HttpResponse: ResponseClass): Promise<void> {
  const response = new HttpResponse(init);
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => (headers[k] = v));
  res.writeHead(response.status, headers);
  if (!response.body || method === "HEAD") {
    res.end();
    return;
  }
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    if (!res.write(chunk)) await once(res, "drain");
  }
  res.end();
}

function armError(status: number, code: string, message: string, extra: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    body: JSON.stringify(errorBody(code, message)),
    headers: { "content-type": JSON_CONTENT_TYPE, "cache-control": "no-store", ...extra },
  };
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  const host = opts.host ?? "127.0.0.1";
  if (!isLoopbackHost(host)) throw new Error(`The local server binds loopback addresses only (got ${host})`);
  const apiKey = opts.apiKey ?? (env.AUDIT_API_KEY || undefined);
  const adminKey = opts.adminKey ?? (env.AUDIT_API_ADMIN_KEY || undefined) ?? apiKey;
  const log = opts.log ?? defaultLog;
  const table = await loadHandlers();
  const lib = await import("@azure/functions");
  const HttpRequest = interop<typeof import("@azure/functions").HttpRequest>(lib, "HttpRequest");
  const HttpResponse = interop<typeof import("@azure/functions").HttpResponse>(lib, "HttpResponse");
  const InvocationContext = interop<typeof import("@azure/functions").InvocationContext>(lib, "InvocationContext");
  const reply = (res: http.ServerResponse, init: HttpResponseInit, method: string) => send(res, init, method, HttpResponse);
  let origin = "";

  const serve = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", origin);
    const prefix = `/${ROUTE_PREFIX}/`;
    if (!url.pathname.toLowerCase().startsWith(prefix)) {
      return reply(res, armError(404, "NotFound", "No such route; the API lives under /api/ (see /api/openapi.json)."), method);
    }
    const rawPath = url.pathname.slice(prefix.length);
    const match = resolveRoute(method, rawPath);
    if (!match) return reply(res, armError(404, "NotFound", "No such route (see /api/openapi.json)."), method);
    if (!("op" in match)) {
      const allow = allowedMethods(match.route).join(", ");
      return reply(
        res,
        armError(405, "MethodNotAllowed", `Method ${method} is not allowed on this route; use ${allow}.`, { allow }),
        method,
      );
    }
    const { op, params } = match;
    if (op.authLevel !== "anonymous" && (apiKey || adminKey)) {
      const given = (req.headers["x-functions-key"] as string | undefined) ?? url.searchParams.get("code") ?? undefined;
      const ok = op.authLevel === "admin" ? keyMatches(given, adminKey) : keyMatches(given, apiKey) || keyMatches(given, adminKey);
      if (!ok) {
        return reply(
          res,
          armError(
            401,
            "Unauthorized",
            `This route needs the ${op.authLevel === "admin" ? "admin" : "function"} key: header x-functions-key or query parameter code.`,
          ),
          method,
        );
      }
    }
    const body = method === "GET" || method === "HEAD" ? Buffer.alloc(0) : await readBody(req);
    if (body === "too-large") {
      res.setHeader("connection", "close");
      await reply(res, armError(413, "PayloadTooLarge", `The request body is larger than ${MAX_BODY_BYTES / 1024} KiB.`), method);
      req.destroy();
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || PLATFORM_HEADERS.test(k)) continue;
      headers[k] = Array.isArray(v) ? v.join(", ") : v;
    }
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers,
      params,
      ...(body.length ? { body: { bytes: new Uint8Array(body) } } : {}),
    });
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: op.name,
      logHandler: (level, ...args) => log(level, `${op.name}: ${formatArgs(args)}`),
    });
    const init = await table[op.name as OperationName](request, context);
    await reply(res, init, method);
  };

  const server = http.createServer((req, res) => {
    serve(req, res).catch((err: unknown) => {
      log("error", `server: ${formatArgs([err])}`);
      if (!res.headersSent) {
        const init = armError(500, "InternalServerError", "An unexpected error occurred.");
        res.writeHead(500, init.headers as Record<string, string>);
        res.end(init.body as string);
      } else res.destroy();
    });
  });
  server.listen(opts.port ?? 7071, host);
  await once(server, "listening");
  const address = server.address() as net.AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  origin = `http://${shown}:${address.port}`;
  return {
    url: origin,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
