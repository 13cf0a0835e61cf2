/**
 * Property-based tests (fast-check, fixed seed, bounded runs): random and hostile query strings, route
 * parameters and continuation tokens never produce a 5xx, and every response matches openapi.yaml.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { findingsList } from "../../src/functions/findings-list.js";
import { runsChanges } from "../../src/functions/runs-changes.js";
import { runsList } from "../../src/functions/runs-list.js";
import { clusterAttachments } from "../../src/functions/cluster-attachments.js";
import { exemptionsCreate } from "../../src/functions/exemptions-create.js";
import type { Finding } from "../../src/core/findings.js";
import { call, seeded, use, type testRuntime } from "./harness.js";

const SEED = 20261125;
const RUNS = 200;

let runtime: ReturnType<typeof testRuntime>;
let findings: Finding[];

beforeAll(async () => {
  const s = await seeded("prop");
  runtime = s.runtime;
  findings = s.result.findings;
});

const NAMES = [
  "status",
  "severity",
  "ruleId",
  "cluster",
  "registry",
  "subscription",
  "change",
  "exempted",
  "top",
  "$skipToken",
  "format",
  "code",
];

const hostile = fc.constantFrom(
  "' or true or ''='",
  "' or 1 eq 1 or '",
  "x' or PartitionKey ne '",
  "PartitionKey eq 'tenant'",
  "''",
  "'",
  '"',
  "%27",
  "%",
  "%zz",
  "%00",
  "\u0000",
  "\n",
  "\u202e",
  "😀",
  "Ω≈ç√",
  "/subscriptions/'/resourceGroups/x",
  "/subscriptions/x' or '1'='1/resourceGroups/g/providers/p/t/n",
  "/providers/Microsoft.Management/managementGroups/'",
  "../../etc/passwd",
  "<script>alert(1)</script>",
  "=cmd|' /C calc'!A0",
  "-1",
  "0",
  "1e3",
  "1001",
  "999999999999999999999999",
  "NaN",
  "null",
  "true",
  "[]",
  "{}",
  "a".repeat(9000),
  "é".repeat(3000),
);

function valueArb(): fc.Arbitrary<string> {
  return fc.oneof(
    hostile,
    fc.constantFrom(
      "fail",
      "pass",
      "unknown",
      "FAIL",
      "low",
      "medium",
      "high",
      "critical",
      "new",
      "removed",
      "csv",
      "json",
      "pull.granted",
      "network.path",
      "aks-pay",
      "payacr",
      "ghostregistry",
      "100",
      "1",
      "1000",
      "false",
    ),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: "grapheme", maxLength: 20 }),
    fc.constantFrom(...new Set(findings.flatMap((f) => [f.clusterId, f.registryId]).filter((x): x is string => !!x))),
    fc.stringMatching(/^[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{22}$/),
  );
}

function nameArb(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...NAMES),
    fc.constantFrom(...NAMES).map((n) => n.toUpperCase()),
    fc.constantFrom("continuationToken", "$top", "$filter", "filter", "", "=", "a b", "%24skipToken"),
    fc.string({ maxLength: 12 }),
  );
}

/** A query string: encoded pairs, sometimes raw (unencoded) text, sometimes repeated parameters. */
function queryArb(): fc.Arbitrary<string> {
  const pair = fc
    .tuple(nameArb(), valueArb(), fc.boolean())
    .map(([n, v, raw]) => (raw ? `${n}=${v.replace(/[#&\s]/g, "")}` : `${encodeURIComponent(n)}=${encodeURIComponent(v)}`));
  return fc
    .array(pair, { maxLength: 6 })
    .chain((pairs) => fc.boolean().map((dup) => (dup && pairs.length ? [...pairs, pairs[0]] : pairs).join("&")));
}

const acceptArb = fc.constantFrom(
  undefined,
  "text/csv",
  "application/json",
  "*/*",
  "text/csv;q=0.1, application/json",
  "garbage;;q=x",
  "text/csv;q=abc",
);

function safeUrl(path: string, qs: string): string | undefined {
  try {
    return new URL(`http://localhost:7071${path}?${qs}`).toString();
  } catch {
    return undefined;
  }
}

describe("random query strings never produce a 5xx, and every response matches the OpenAPI document", () => {
  it("GET /api/findings", async () => {
    use(runtime);
    await fc.assert(
      fc.asyncProperty(queryArb(), acceptArb, async (qs, accept) => {
        const url = safeUrl("/api/findings", qs);
        fc.pre(url !== undefined);
        const r = await call(findingsList, url, { headers: accept ? { accept } : {} });
        expect(r.status).toBeLessThan(500);
        if (r.status === 400) expect(r.json.error.message).toMatch(/\S/);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("GET /api/runs and /api/runs/{runId}/changes, GET /api/clusters/{clusterId}/attachments", async () => {
    use(runtime);
    await fc.assert(
      fc.asyncProperty(queryArb(), valueArb(), async (qs, param) => {
        const runs = await call(runsList, safeUrl("/api/runs", qs) ?? "/api/runs");
        expect(runs.status).toBeLessThan(500);
        const changes = await call(runsChanges, safeUrl(`/api/runs/x/changes`, qs) ?? "/api/runs/x/changes", { params: { runId: param } });
        expect(changes.status).toBeLessThan(500);
        const clusters = await call(clusterAttachments, "/api/clusters/x/attachments", { params: { clusterId: `${param}/attachments` } });
        expect(clusters.status).toBeLessThan(500);
        const raw = await call(clusterAttachments, "/api/clusters/x", { params: { clusterId: param } });
        expect(raw.status).toBeLessThan(500);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it("POST /api/exemptions with random JSON bodies", async () => {
    use(runtime);
    const field = fc.oneof(
      valueArb(),
      fc.integer(),
      fc.constant(null),
      fc.boolean(),
      fc.array(fc.string(), { maxLength: 2 }),
      fc.object({ maxDepth: 1 }),
    );
    const body = fc.record(
      {
        ruleId: field,
        clusterId: field,
        registryId: field,
        justification: field,
        expiresOn: fc.oneof(field, fc.constantFrom("2999-01-01", "2000-01-01", "2026-13-45")),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(body, fc.jsonValue({ maxDepth: 2 })), async (b) => {
        const r = await call(exemptionsCreate, "/api/exemptions", {
          method: "POST",
          body: JSON.stringify(b),
          headers: { "content-type": "application/json" },
        });
        expect([201, 400]).toContain(r.status);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe("forged continuation tokens", () => {
  it("any change to a real token, or any made-up token, is a 400 naming $skipToken", async () => {
    use(runtime);
    const first = await call(findingsList, "/api/findings?top=3");
    const token = new URL(first.json.nextLink).searchParams.get("$skipToken")!;
    const mutated = fc
      .tuple(fc.nat({ max: token.length - 1 }), fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."))
      .map(([i, c]) => token.slice(0, i) + c + token.slice(i + 1))
      .filter((t) => t !== token);
    const madeUp = fc.oneof(
      fc.string({ minLength: 1, maxLength: 200 }),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,300}\.[A-Za-z0-9_-]{22}$/),
      fc.jsonValue().map((v) => `${Buffer.from(JSON.stringify(v)).toString("base64url")}.${token.split(".")[1]}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, madeUp), async (t) => {
        const r = await call(findingsList, `/api/findings?top=3&$skipToken=${encodeURIComponent(t)}`);
        expect(r.status).toBe(400);
        expect(r.json.error.target).toBe("$skipToken");
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
