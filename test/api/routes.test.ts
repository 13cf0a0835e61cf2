import { describe, expect, it } from "vitest";
import { allowedMethods, OPERATIONS, registrationOf, resolveRoute, ROUTED_METHODS, type OperationName } from "../../src/api/routes.js";
import { documentedOperations, findPath, loadDocument } from "./openapi-validator.js";

const names = OPERATIONS.map((o) => o.name as OperationName);

describe("route table", () => {
  it("every route serves every routed method: its own, or a 405 from the route's first function", () => {
    for (const route of new Set(OPERATIONS.map((o) => o.route))) {
      const registered = OPERATIONS.filter((o) => o.route === route).flatMap((o) => registrationOf(o.name as OperationName).methods);
      expect(new Set(registered).size, route).toBe(registered.length); // no method registered twice on a route
      expect([...registered].sort(), route).toEqual([...ROUTED_METHODS].sort());
    }
  });

  it("auth levels: anonymous health, admin writes, function reads (openapi.json included)", () => {
    for (const o of OPERATIONS) {
      const expected = o.name === "health" ? "anonymous" : o.method === "GET" ? "function" : "admin";
      expect(o.authLevel, o.name).toBe(expected);
    }
  });

  it("resolves paths as the host ranks routes: literals before parameters, catch-all last", () => {
    expect((resolveRoute("GET", "findings/summary") as { op: { name: string } }).op.name).toBe("findings-summary");
    expect((resolveRoute("GET", "runs/latest") as { op: { name: string } }).op.name).toBe("runs-get");
    expect((resolveRoute("POST", "runs") as { op: { name: string } }).op.name).toBe("runs-start");
    expect((resolveRoute("PUT", "runs") as { op: { name: string } }).op.name).toBe("runs-list"); // answers 405
    // One trailing slash is no segment, as for the host's router; two are.
    expect((resolveRoute("GET", "findings/") as { op: { name: string } }).op.name).toBe("findings-list");
    expect((resolveRoute("GET", "runs/latest/") as { op: { name: string } }).op.name).toBe("runs-get");
    expect(resolveRoute("GET", "findings//")).toBeUndefined();
    const catchAll = resolveRoute(
      "GET",
      "clusters/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c/attachments",
    ) as {
      op: { name: string };
      params: Record<string, string>;
    };
    expect(catchAll.op.name).toBe("cluster-attachments");
    expect(catchAll.params.clusterId).toBe(
      "subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c/attachments",
    );
    const encoded = resolveRoute("GET", `clusters/${encodeURIComponent("/subscriptions/s/x")}/attachments`) as {
      params: Record<string, string>;
    };
    expect(encoded.params.clusterId).toBe("/subscriptions/s/x/attachments");
    expect(resolveRoute("GET", "nope")).toBeUndefined();
    expect(resolveRoute("GET", "runs/a/b/c")).toBeUndefined();
    expect(resolveRoute("OPTIONS", "findings")).toEqual({ route: "findings", params: {} });
    expect(allowedMethods("exemptions")).toEqual(["GET", "POST"]);
  });
});

describe("openapi.yaml and the route table", () => {
  const documented = documentedOperations();

  it("documents every operation the functions serve, and nothing else", () => {
    const served = names.map((n) => {
      const o = OPERATIONS.find((x) => x.name === n)!;
      const template = `/${o.route.replace("{*clusterId}", "{clusterId}/attachments")}`;
      return `${o.method} ${template}`;
    });
    expect([...documented.keys()].sort()).toEqual(served.sort());
  });

  it("every operation has an operationId, 400 and 500 (health: 503), and secured ones 401", () => {
    const doc = loadDocument() as {
      paths: Record<string, Record<string, { operationId?: string; security?: unknown[]; responses: Record<string, unknown> }>>;
    };
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(item)) {
        expect(op.operationId, `${m} ${p}`).toBeTruthy();
        expect(Object.keys(op.responses), `${m} ${p}`).toEqual(expect.arrayContaining(["400", p === "/health" ? "503" : "500"]));
        const anonymous = Array.isArray(op.security) && op.security.length === 0;
        if (!anonymous) expect(Object.keys(op.responses), `${m} ${p}`).toContain("401");
      }
    }
  });

  it("every $ref resolves", () => {
    const doc = loadDocument();
    const refs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        for (const [k, x] of Object.entries(v)) {
          if (k === "$ref" && typeof x === "string") refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const r of refs) {
      let cur: unknown = doc;
      for (const seg of r.slice(2).split("/")) cur = (cur as Record<string, unknown>)?.[seg.replace(/~1/g, "/").replace(/~0/g, "~")];
      expect(cur, r).toBeTruthy();
    }
  });

  it("maps request paths to templates, including the catch-all cluster form", () => {
    expect(findPath("/findings")).toBe("/findings");
    expect(findPath("/findings/summary")).toBe("/findings/summary");
    expect(findPath("/runs/latest/changes")).toBe("/runs/{runId}/changes");
    expect(findPath("/clusters/subscriptions/s/resourceGroups/g/providers/p/managedClusters/c/attachments")).toBe(
      "/clusters/{clusterId}/attachments",
    );
    expect(findPath("/nope")).toBeUndefined();
  });
});
