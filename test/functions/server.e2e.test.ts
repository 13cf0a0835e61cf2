/**
 * End to end through the local server (src/server.ts): a real HTTP client (fetch) on 127.0.0.1, the same
 * handlers, function keys enforced; every response checked against openapi.yaml.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/server.js";
import { backgroundRuns } from "../../src/functions/runs-start.js";
import type { Finding } from "../../src/core/findings.js";
import { nameOf } from "../../src/core/resource-id.js";
import { seeded } from "../api/harness.js";
import { expectMatchesOpenApi } from "../api/openapi-validator.js";

const KEY = "function-key-for-tests";
const ADMIN = "admin-key-for-tests";

let server: RunningServer;
let findings: Finding[];

interface Got {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

async function http(path: string, init: RequestInit & { key?: string | null } = {}): Promise<Got> {
  const headers = new Headers(init.headers);
  const key = init.key === undefined ? KEY : init.key;
  if (key) headers.set("x-functions-key", key);
  const url = path.startsWith("http") ? path : `${server.url}${path}`;
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  expectMatchesOpenApi({ method: init.method ?? "GET", url, status: res.status, headers: res.headers, text });
  return { status: res.status, headers: res.headers, text, json };
}

beforeAll(async () => {
  const s = await seeded("e2e");
  findings = s.result.findings;
  server = await startServer({ port: 0, apiKey: KEY, adminKey: ADMIN, log: () => undefined });
});

afterAll(async () => {
  await backgroundRuns();
  await server?.close();
});

describe("local server", () => {
  it("binds 127.0.0.1 and refuses anything but loopback", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await expect(startServer({ port: 0, host: "0.0.0.0" })).rejects.toThrow(/loopback/);
  });

  it("health is anonymous; every other route needs the key (header or `code`)", async () => {
    expect((await http("/api/health", { key: null })).status).toBe(200);
    const none = await http("/api/findings", { key: null });
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe("Unauthorized");
    expect((await http("/api/findings", { key: "wrong" })).status).toBe(401);
    expect((await http("/api/openapi.json", { key: null })).status).toBe(401);
    expect((await http(`/api/findings?code=${KEY}&top=1`, { key: null })).status).toBe(200);
    expect((await http("/api/findings?top=1", { key: ADMIN })).status).toBe(200); // the admin key opens function routes
  });

  it("admin routes need the admin key", async () => {
    expect((await http("/api/runs", { method: "POST" })).status).toBe(401);
    expect((await http("/api/exemptions/6f1c2c9e-4a55-4cf4-9a53-2f1f3f0a1b2c", { method: "DELETE" })).status).toBe(401);
    const started = await http("/api/runs", { method: "POST", key: ADMIN });
    expect(started.status).toBe(202);
    expect(started.headers.get("location")).toBe(`${server.url}/api/runs/${started.json.id}`);
    const again = await http("/api/runs", { method: "POST", key: ADMIN });
    expect([202, 409]).toContain(again.status);
    await backgroundRuns();
    const run = await http(new URL(started.headers.get("location")!).pathname);
    expect(run.json.status).toBe("succeeded");
  });

  it("pages through every finding by following nextLink", async () => {
    const seen: string[] = [];
    let next: string | undefined = "/api/findings?top=7";
    while (next) {
      const r = await http(next);
      expect(r.status).toBe(200);
      seen.push(...r.json.value.map((f: Finding) => `${f.ruleId}|${f.clusterId}|${f.registryId}`.toLowerCase()));
      next = r.json.nextLink;
      if (next) expect(next.startsWith(`${server.url}/api/findings?`)).toBe(true);
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(findings.length);
  });

  it("a bad filter is a 400 that names the parameter", async () => {
    const r = await http("/api/findings?severity=urgent");
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: "InvalidQueryParameter", target: "severity" });
  });

  it("streams CSV when asked with Accept: text/csv", async () => {
    const r = await http("/api/findings", { headers: { accept: "text/csv" } });
    expect(r.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(r.text.split("\r\n").length - 2).toBe(findings.length);
  });

  it("cluster attachments by encoded ID, raw ID (catch-all) and name", async () => {
    const id = findings.find((f) => f.clusterId && nameOf(f.clusterId) === "aks-a")!.clusterId!;
    const encoded = await http(`/api/clusters/${encodeURIComponent(id)}/attachments`);
    expect(encoded.status).toBe(200);
    const raw = await http(`/api/clusters${id}/attachments`);
    expect(raw.json).toEqual(encoded.json);
    const byName = await http("/api/clusters/aks-a/attachments");
    expect(byName.json).toEqual(encoded.json);
  });

  it("404 outside the routes, 405 (with Allow) for a wrong method on a route, 413 for a big body, 415 for a wrong type", async () => {
    expect((await http("/api/nowhere")).status).toBe(404);
    expect((await http("/elsewhere")).status).toBe(404);
    const put = await http("/api/findings", { method: "PUT" });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET");
    const patch = await http("/api/runs", { method: "PATCH" });
    expect(patch.headers.get("allow")).toBe("GET, POST");
    expect((await http("/api/exemptions/6f1c2c9e-4a55-4cf4-9a53-2f1f3f0a1b2c", { key: ADMIN })).status).toBe(405);
    expect((await http("/api/health", { method: "OPTIONS" })).status).toBe(405);
    const big = await http("/api/exemptions", {
      method: "POST",
      key: ADMIN,
      headers: { "content-type": "application/json" },
      body: "x".repeat(70_000),
    });
    expect(big.status).toBe(413);
    const form = await http("/api/exemptions", { method: "POST", key: ADMIN, headers: { "content-type": "text/plain" }, body: "{}" });
    expect(form.status).toBe(415);
  });

  it("exemptions round trip over HTTP", async () => {
    const registry = findings.find((f) => f.registryId?.startsWith("/"))!.registryId!;
    const created = await http("/api/exemptions", {
      method: "POST",
      key: ADMIN,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ruleId: "registry.admin-user", registryId: registry, justification: "e2e" }),
    });
    expect(created.status).toBe(201);
    expect((await http("/api/exemptions")).json.value.map((x: { id: string }) => x.id)).toContain(created.json.id);
    expect((await http(new URL(created.headers.get("location")!).pathname, { method: "DELETE", key: ADMIN })).status).toBe(204);
  });

  it("serves the OpenAPI document with its own URL as the server", async () => {
    const r = await http("/api/openapi.json");
    expect(r.json.servers).toEqual([{ url: `${server.url}/api` }]);
  });

  it("finds @azure/functions' classes as compiled code loads them (a native import of a CommonJS package)", async () => {
    const { execFileSync } = await import("node:child_process");
    const script =
      "const m = await import('@azure/functions'); const pick = (n) => m[n] ?? m.default?.[n]; console.log(['HttpRequest', 'HttpResponse', 'InvocationContext'].map((n) => typeof pick(n)).join(','));";
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: `${__dirname}/../..`,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    expect(out.trim()).toBe("function,function,function");
  });

  it("caller-supplied platform identity headers are dropped", async () => {
    const principal = Buffer.from(JSON.stringify({ auth_typ: "aad", claims: [{ typ: "name", val: "mallory" }] })).toString("base64");
    const registry = findings.find((f) => f.registryId?.startsWith("/"))!.registryId!;
    const created = await http("/api/exemptions", {
      method: "POST",
      key: ADMIN,
      headers: { "content-type": "application/json", "x-ms-client-principal": principal, "x-ms-client-principal-name": "mallory" },
      body: JSON.stringify({ ruleId: "registry.anonymous-pull", registryId: registry, justification: "e2e" }),
    });
    expect(created.status).toBe(201);
    expect(created.json.createdBy).toBeUndefined();
  });
});
