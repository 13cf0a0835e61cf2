/**
 * What the Functions host would index: every function module (the files `package.json` `main` globs) is
 * imported with a stand-in for the worker's `@azure/functions-core` module, so `app.timer` / `app.http`
 * take their real registration path (outside the host, @azure/functions registers nothing). The recorded
 * metadata (bindings with triggers, routes, methods, auth levels) must be exactly the contract of issues 5,
 * 6 and 12.
 */
import fs from "node:fs";
import Module from "node:module";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";

const ROOT = path.join(__dirname, "..", "..");
const FUNCTIONS_DIR = path.join(ROOT, "src", "functions");

interface Binding {
  type: string;
  direction: "in" | "out";
  name: string;
  schedule?: string;
  runOnStartup?: boolean;
  route?: string;
  methods?: string[];
  authLevel?: string;
}
interface Registered {
  name: string;
  bindings: Record<string, Binding>;
  handler: unknown;
}

const registered: Registered[] = [];
let registeredByIndex = -1;

/** The part of the worker's core API that @azure/functions calls while app files load. */
const fakeCore = {
  version: "4.0.0",
  setProgrammingModel: () => undefined,
  getProgrammingModel: () => undefined,
  registerFunction: (metadata: { name: string; bindings: Record<string, Binding> }, handler: unknown) => {
    registered.push({ name: metadata.name, bindings: metadata.bindings, handler });
    return { dispose: () => undefined };
  },
  registerHook: () => ({ dispose: () => undefined }),
  log: () => undefined,
};

/** The contract: name -> trigger. HTTP routes are relative to the host's `api` prefix. */
const EXPECTED_TIMERS = [{ name: "audit-timer", schedule: "%AUDIT_SCHEDULE%", runOnStartup: false }];
const EXPECTED_HTTP: { name: string; method: string; route: string | RegExp; authLevel: "anonymous" | "function" | "admin" }[] = [
  { name: "findings-list", method: "GET", route: "findings", authLevel: "function" },
  { name: "findings-summary", method: "GET", route: "findings/summary", authLevel: "function" },
  { name: "runs-list", method: "GET", route: "runs", authLevel: "function" },
  { name: "runs-get", method: "GET", route: "runs/{runId}", authLevel: "function" },
  { name: "runs-changes", method: "GET", route: "runs/{runId}/changes", authLevel: "function" },
  // The cluster is a resource ID (slashes): a one-segment parameter or a catch-all under clusters/.
  { name: "cluster-attachments", method: "GET", route: /^clusters\/\{\*?clusterId\}(\/attachments)?$/, authLevel: "function" },
  { name: "attachments-forget", method: "POST", route: "attachments/forget", authLevel: "admin" },
  { name: "runs-start", method: "POST", route: "runs", authLevel: "admin" },
  { name: "health", method: "GET", route: "health", authLevel: "anonymous" },
  { name: "openapi", method: "GET", route: "openapi.json", authLevel: "function" },
  { name: "exemptions-create", method: "POST", route: "exemptions", authLevel: "admin" },
  { name: "exemptions-list", method: "GET", route: "exemptions", authLevel: "function" },
  { name: "exemptions-delete", method: "DELETE", route: "exemptions/{id}", authLevel: "admin" },
  { name: "triage", method: "GET", route: "triage", authLevel: "function" },
];

/** Expands `dist/src/{index.js,functions/*.js}` into path regexes (braces and `*` only). */
function globToRegexes(glob: string): RegExp[] {
  const m = /^(.*)\{([^}]*)\}(.*)$/.exec(glob);
  const globs = m ? m[2].split(",").map((alt) => `${m[1]}${alt}${m[3]}`) : [glob];
  return globs.map((g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`));
}

const functionFiles = fs
  .readdirSync(FUNCTIONS_DIR)
  .filter((f) => f.endsWith(".ts"))
  .sort();

beforeAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const mod = Module as any;
  const originalLoad = mod._load;
  mod._load = function load(request: string, ...rest: unknown[]) {
    if (request === "@azure/functions-core") return fakeCore;
    return originalLoad.call(this, request, ...rest);
  };
  try {
    await import("../../src/index.js");
    registeredByIndex = registered.length;
    for (const f of functionFiles) await import(path.join(FUNCTIONS_DIR, f));
  } finally {
    mod._load = originalLoad;
  }
}, 60_000);

function triggerOf(r: Registered): Binding {
  const triggers = Object.values(r.bindings).filter((b) => b.direction === "in" && b.type.endsWith("Trigger"));
  expect(triggers, r.name).toHaveLength(1);
  return triggers[0];
}

describe("function registration", () => {
  test("package.json main globs src/index.ts and every file of src/functions (compiled to dist/)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const patterns = globToRegexes(pkg.main);
    const compiled = ["dist/src/index.js", ...functionFiles.map((f) => `dist/src/functions/${f.replace(/\.ts$/, ".js")}`)];
    for (const file of compiled)
      expect(
        patterns.some((p) => p.test(file)),
        file,
      ).toBe(true);
    expect(
      patterns.some((p) => p.test("dist/src/cli.js")),
      "the CLI is not a function file",
    ).toBe(false);
  });

  test("src/index.ts holds app.setup and registers nothing", () => {
    expect(registeredByIndex).toBe(0);
    const indexSource = fs.readFileSync(path.join(ROOT, "src", "index.ts"), "utf8");
    expect(indexSource).toMatch(/app\.setup\(/);
    expect(indexSource).not.toMatch(/app\.(http|timer|get|post|put|patch|deleteRequest|generic)\(/);
  });

  test("every function file registers exactly one function named after the file", () => {
    const names = registered.map((r) => r.name);
    expect(names.slice().sort()).toEqual(functionFiles.map((f) => f.replace(/\.ts$/, "")).sort());
    expect(new Set(names).size).toBe(names.length);
  });

  test("exactly the expected functions: one timer and the HTTP API", () => {
    const expected = [...EXPECTED_TIMERS.map((t) => t.name), ...EXPECTED_HTTP.map((h) => h.name)].sort();
    const names = registered.map((r) => r.name).sort();
    const missing = expected.filter((n) => !names.includes(n));
    const unexpected = names.filter((n) => !expected.includes(n));
    expect({ missing, unexpected }).toEqual({ missing: [], unexpected: [] });
  });

  test("audit-timer: timer trigger on %AUDIT_SCHEDULE%, never run on startup", () => {
    for (const t of EXPECTED_TIMERS) {
      const r = registered.find((x) => x.name === t.name);
      expect(r, t.name).toBeDefined();
      const trigger = triggerOf(r!);
      expect(trigger).toMatchObject({ type: "timerTrigger", schedule: t.schedule, runOnStartup: false });
      expect(typeof r!.handler).toBe("function");
    }
  });

  test("HTTP functions: route, method and auth level of each, with an HTTP response binding", () => {
    for (const h of EXPECTED_HTTP) {
      const r = registered.find((x) => x.name === h.name);
      if (!r) continue; // reported by the test above
      const trigger = triggerOf(r);
      expect(trigger.type, h.name).toBe("httpTrigger");
      if (typeof h.route === "string") expect(trigger.route, h.name).toBe(h.route);
      else expect(trigger.route, h.name).toMatch(h.route);
      expect(trigger.methods, h.name).toContain(h.method);
      expect(trigger.authLevel, h.name).toBe(h.authLevel);
      expect(
        Object.values(r.bindings).some((b) => b.direction === "out" && b.type === "http"),
        h.name,
      ).toBe(true);
    }
  });

  test("no route and method is claimed by two functions (the host could not route them)", () => {
    const owners = new Map<string, string>();
    for (const r of registered) {
      const t = triggerOf(r);
      if (t.type !== "httpTrigger") continue;
      for (const m of t.methods ?? []) {
        const key = `${m.toUpperCase()} ${(t.route ?? r.name).toLowerCase()}`;
        expect(owners.get(key), `${key}: ${owners.get(key)} and ${r.name}`).toBeUndefined();
        owners.set(key, r.name);
      }
    }
    for (const h of EXPECTED_HTTP) {
      const r = registered.find((x) => x.name === h.name);
      if (r) expect(owners.get(`${h.method} ${triggerOf(r).route!.toLowerCase()}`)).toBe(h.name);
    }
  });

  test("only health is anonymous; every write is admin", () => {
    for (const r of registered) {
      const t = triggerOf(r);
      if (t.type !== "httpTrigger") continue;
      if (t.authLevel === "anonymous") expect(r.name).toBe("health");
      const expected = EXPECTED_HTTP.find((h) => h.name === r.name);
      if (expected && expected.method !== "GET") expect(t.authLevel, r.name).toBe("admin");
    }
  });
});
