import { beforeAll, describe, expect, it } from "vitest";
import { health } from "../../src/functions/health.js";
import { locateOpenApi, openapi } from "../../src/functions/openapi.js";
import { findingsList } from "../../src/functions/findings-list.js";
import { brokenStore, HANDLER_TABLE, validRequest } from "../api/handlers.js";
import { OPERATIONS, registrationOf, type OperationName } from "../../src/api/routes.js";
import { setRuntime } from "../../src/runtime.js";
import { freshStore } from "../helpers/harness.js";
import { call, seeded, testRuntime, use } from "../api/harness.js";

describe("GET /api/health", () => {
  it("reports liveness and the last run's age only", async () => {
    const { runtime } = await seeded("health");
    use(runtime);
    const r = await call(health, "/api/health");
    expect(r.status).toBe(200);
    expect(Object.keys(r.json).sort()).toEqual(["lastRunAgeSeconds", "status"]);
    expect(r.json.status).toBe("ok");
    expect(r.json.lastRunAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(r.json.lastRunAgeSeconds).toBeLessThan(600);
  });

  it("null age before the first run; 503 without detail when the store cannot be read", async () => {
    use(testRuntime(await freshStore("health0")));
    expect((await call(health, "/api/health")).json).toEqual({ status: "ok", lastRunAgeSeconds: null });
    use({ ...testRuntime(await freshStore("health1")), store: brokenStore() });
    const r = await call(health, "/api/health");
    expect(r.status).toBe(503);
    expect(r.json).toEqual({ status: "unavailable", lastRunAgeSeconds: null });
    expect(r.text).not.toContain("SECRET");
  });
});

describe("GET /api/openapi.json", () => {
  it("serves openapi.yaml as JSON with servers pointing at the caller's host", async () => {
    const r = await call(openapi, "http://myapp.azurewebsites.net/api/openapi.json");
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe("3.1.0");
    expect(r.json.servers).toEqual([{ url: "http://myapp.azurewebsites.net/api" }]);
    expect(Object.keys(r.json.paths)).toContain("/findings");
    expect((await call(openapi, "/api/openapi.json?v=2")).status).toBe(400);
  });

  it("finds openapi.yaml from the source tree and from the compiled tree (dist/src/functions)", () => {
    const root = locateOpenApi();
    expect(locateOpenApi(`${root.replace(/openapi\.yaml$/, "")}dist/src/functions`)).toBe(root);
  });
});

describe("405 on a known route with a wrong method", () => {
  beforeAll(async () => use(testRuntime(await freshStore("m405"))));

  it.each(OPERATIONS.map((o) => o.name as OperationName))(
    "%s answers the methods it registers for others with 405 and Allow",
    async (name) => {
      const reg = registrationOf(name);
      const own = OPERATIONS.find((o) => o.name === name)!;
      const req = validRequest(name);
      for (const method of reg.methods.filter((m) => m !== own.method)) {
        const r = await call(HANDLER_TABLE[name], req.url, { method, params: req.params });
        expect(r.status, `${method} ${name}`).toBe(405);
        expect(r.json.error.code).toBe("MethodNotAllowed");
        expect(r.headers.get("allow")).toContain(own.method);
      }
    },
  );
});

describe("500: unexpected errors are logged, never shown", () => {
  it.each(OPERATIONS.map((o) => o.name as OperationName).filter((n) => n !== "health" && n !== "openapi"))(
    "%s with an unreachable store",
    async (name) => {
      use({ ...testRuntime(await freshStore("e500")), store: brokenStore() });
      const req = validRequest(name);
      const r = await call(HANDLER_TABLE[name], req.url, { method: req.method, params: req.params, body: req.body });
      expect(r.status).toBe(500);
      expect(r.json.error.code).toBe("InternalServerError");
      expect(r.text).not.toMatch(/SECRET|ECONNREFUSED|10\.1\.2\.3|at .*\.ts/);
      expect(r.logs.some((l) => l.level === "error" && l.message.includes("ECONNREFUSED"))).toBe(true);
    },
  );

  it("tables of an older findings layout are a 500 that says what to do", async () => {
    const store = await freshStore("layout");
    const layoutRefused = Object.assign(Object.create(store) as typeof store, {
      queryFindings: async () => {
        throw Object.assign(new Error("The findings of scope tenant were written by an older version (layout 1)"), {
          code: "IncompatibleLayout",
        });
      },
    });
    use({ ...testRuntime(store), store: layoutRefused });
    const r = await call(findingsList, "/api/findings");
    expect(r.status).toBe(500);
    expect(r.json.error.code).toBe("StoreLayoutIncompatible");
    expect(r.json.error.message).toContain("AUDIT_TABLE_PREFIX");
  });

  it("invalid app settings are a 500 that names no setting value", async () => {
    const failing = Promise.reject(
      Object.assign(new Error("Invalid configuration: AUDIT_TABLE_ENDPOINT: 'http://evil' must be https"), { code: "ConfigInvalid" }),
    );
    failing.catch(() => undefined);
    setRuntime(failing);
    const r = await call(findingsList, "/api/findings");
    expect(r.status).toBe(500);
    expect(r.json.error.code).toBe("ConfigurationInvalid");
    expect(r.text).not.toContain("evil");
  });
});
