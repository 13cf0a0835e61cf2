import { describe, expect, it } from "vitest";
import { problemsOf } from "./openapi-validator.js";

const json = (body: unknown, status = 200, extra: Record<string, string> = {}) => ({
  status,
  headers: new Headers({ "content-type": "application/json; charset=utf-8", ...extra }),
  text: JSON.stringify(body),
});

describe("the OpenAPI validator itself", () => {
  it("accepts a documented response", () => {
    expect(problemsOf({ method: "GET", url: "/api/exemptions", ...json({ value: [] }) }).problems).toEqual([]);
  });

  it("refuses an undocumented status, a wrong body, a wrong content type, a missing required header", () => {
    expect(problemsOf({ method: "GET", url: "/api/exemptions", ...json({ value: [] }, 418) }).problems[0]).toMatch(/418 is not documented/);
    expect(problemsOf({ method: "GET", url: "/api/exemptions", ...json({ items: [] }) }).problems[0]).toMatch(/does not match the schema/);
    expect(
      problemsOf({ method: "GET", url: "/api/exemptions", status: 200, headers: new Headers({ "content-type": "text/plain" }), text: "x" })
        .problems[0],
    ).toMatch(/content type text\/plain is not documented/);
    expect(problemsOf({ method: "POST", url: "/api/runs", ...json({ id: "x", status: "running" }, 202) }).problems[0]).toMatch(
      /header Location/,
    );
    expect(
      problemsOf({ method: "DELETE", url: "/api/exemptions/x", status: 204, headers: new Headers(), text: "oops" }).problems[0],
    ).toMatch(/without a body/);
  });

  it("resolves 405 for undocumented methods and 404 for unknown paths", () => {
    const err = { error: { code: "MethodNotAllowed", message: "no" } };
    expect(problemsOf({ method: "PUT", url: "/api/findings", ...json(err, 405, { allow: "GET" }) }).problems).toEqual([]);
    expect(problemsOf({ method: "PUT", url: "/api/findings", ...json(err, 405) }).problems[0]).toMatch(/header Allow/);
    expect(problemsOf({ method: "PUT", url: "/api/findings", ...json(err, 200) }).problems[0]).toMatch(/must be 405/);
    expect(
      problemsOf({ method: "GET", url: "/api/nowhere", ...json({ error: { code: "NotFound", message: "no" } }, 404) }).problems,
    ).toEqual([]);
  });

  it("checks findings against the Finding schema (extra properties are drift)", () => {
    const finding = {
      ruleId: "pull.granted",
      status: "fail",
      severity: "high",
      reason: "no-pull-role",
      change: "new",
      previousStatus: null,
      clusterId: "/subscriptions/x",
      registryId: "/subscriptions/y",
      message: "m",
      evidence: {},
      exemption: null,
      remediation: null,
    };
    expect(problemsOf({ method: "GET", url: "/api/findings", ...json({ value: [finding] }) }).problems).toEqual([]);
    expect(problemsOf({ method: "GET", url: "/api/findings", ...json({ value: [{ ...finding, extra: 1 }] }) }).problems[0]).toMatch(
      /additional/,
    );
    expect(problemsOf({ method: "GET", url: "/api/findings", ...json({ value: [{ ...finding, status: "ok" }] }) }).problems[0]).toMatch(
      /schema/,
    );
  });
});
