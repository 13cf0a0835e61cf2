/**
 * Hostile estates (property-based, fixed seed): wrong types, huge strings, deep nesting, unknown fields,
 * invalid CIDRs, malformed IDs. Each is either refused with a clear EstateError or audited without a
 * crash, and never yields a wrong finding.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { assess, discover } from "../../src/core/audit.js";
import { CLOUDS } from "../../src/core/clouds.js";
import { RULE_IDS } from "../../src/core/catalog.js";
import { SEVERITIES, STATUSES, findingKey, type Finding } from "../../src/core/findings.js";
import { EstateError, parseEstate } from "../../src/adapters/simulator/index.js";
import { simulatorDiscovery } from "../helpers/harness.js";
import { readCase } from "./estates.js";

const EMPTY = { generation: 0, lastRunId: null, findings: [], attachments: [], forgotten: [], exemptions: [] };

async function audit(raw: unknown): Promise<Finding[]> {
  const estate = parseEstate(raw, "hostile");
  const { discovery } = simulatorDiscovery(estate);
  const { index, attachments } = await discover(discovery, { kind: "tenant" }, CLOUDS.AzureCloud, EMPTY);
  return assess(index, attachments, EMPTY, { armPrivateLink: false, now: new Date("2026-11-25T00:00:00Z") }).findings;
}

function wellFormed(fs: Finding[]): void {
  for (const f of fs) {
    expect(RULE_IDS).toContain(f.ruleId);
    expect(STATUSES).toContain(f.status);
    expect(SEVERITIES).toContain(f.severity);
    expect(typeof f.message).toBe("string");
  }
}

const statusOf = (fs: Finding[]) => Object.fromEntries(fs.map((f) => [findingKey(f), `${f.status}:${f.reason}`]));
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));
const BASES = ["attached-basic", "firewall-blocks-egress", "private-endpoint-peering", "abac-mode", "declared-without-role"];

/** Every path (as keys) to a value inside the tables of an estate. */
function paths(o: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = [], depth = 0): (string | number)[][] {
  if (depth > 12) return out;
  if (Array.isArray(o))
    o.forEach((v, i) => {
      out.push([...prefix, i]);
      paths(v, [...prefix, i], out, depth + 1);
    });
  else if (o && typeof o === "object")
    for (const [k, v] of Object.entries(o)) {
      out.push([...prefix, k]);
      paths(v, [...prefix, k], out, depth + 1);
    }
  return out;
}

function setAt(o: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let cur: Record<string | number, unknown> = o;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path[path.length - 1]] = value;
}

const hostileValue = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.boolean(),
  fc.string({ maxLength: 20 }),
  fc.constant("x".repeat(100_000)),
  fc.constant("' or true or '"),
  fc.constant("/subscriptions//resourceGroups/providers"),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.anything({ maxDepth: 2 }), { maxKeys: 3 }),
  fc.constant(JSON.parse(`${"[".repeat(40)}1${"]".repeat(40)}`)),
);

describe("hostile estates", () => {
  test("a random value at a random place: clear error or a well-formed audit", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BASES), fc.nat(), hostileValue, async (base, pick, value) => {
        const raw = clone(readCase(base));
        const all = paths(raw.tables);
        const p = all[pick % all.length];
        setAt(raw.tables as Record<string, unknown>, p, value);
        try {
          wellFormed(await audit(raw));
        } catch (e) {
          expect(e, String((e as Error).stack)).toBeInstanceOf(EstateError);
          expect((e as Error).message).toMatch(/\$\./);
        }
      }),
      { seed: 20261125, numRuns: 120 },
    );
  });

  test("unknown fields anywhere are accepted and ignored", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...BASES),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.anything({ maxDepth: 2 }),
        async (base, pick, key, value) => {
          const raw = clone(readCase(base));
          const expected = statusOf(await audit(clone(raw)));
          const objects = paths(raw.tables).filter((p) => {
            let cur: unknown = raw.tables;
            for (const k of p) cur = (cur as Record<string | number, unknown>)[k];
            return cur !== null && typeof cur === "object" && !Array.isArray(cur);
          });
          const p = objects[pick % objects.length];
          let target: Record<string, unknown> = raw.tables as Record<string, unknown>;
          for (const k of p) target = target[k as string] as Record<string, unknown>;
          const name = `zz_unknown_${key.replace(/[^a-z]/gi, "")}`;
          target[name] = value;
          expect(statusOf(await audit(raw))).toEqual(expected);
        },
      ),
      { seed: 7, numRuns: 40 },
    );
  });

  test("invalid CIDRs in ipRules never make the network path pass", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("999.1.1.1", "20.0.0.0/40", "not-an-ip", "", "::1/128", "1.2.3.4/-1", "' or 1=1"), async (bad) => {
        const raw = clone(readCase("firewall-blocks-egress")) as {
          tables: {
            resources: { type: string; name: string; properties: { networkRuleSet: { ipRules: { action: string; value: string }[] } } }[];
          };
        };
        const reg = raw.tables.resources.find((r) => r.type === "microsoft.containerregistry/registries" && r.name === "payacr")!;
        reg.properties.networkRuleSet.ipRules = [{ action: "Allow", value: bad }];
        const f = (await audit(raw)).find((x) => x.ruleId === "network.path" && x.registryId?.endsWith("/payacr"))!;
        expect(f.status).toBe("unknown");
        expect(f.reason).toBe("invalid-ip-rule");
      }),
      { seed: 11, numRuns: 7 },
    );
  });

  test("malformed resource IDs in tags and role assignments never grant and never crash", async () => {
    const raw = clone(readCase("attached-basic")) as {
      tables: {
        resources: { type: string; tags: Record<string, string> }[];
        authorizationresources: { type: string; properties: Record<string, string> }[];
      };
    };
    raw.tables.resources.find((r) => r.type === "microsoft.containerservice/managedclusters")!.tags = {
      "aks-acr-audit-registries":
        "/subscriptions//resourceGroups/x;;, ,/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/ghost;%00'",
    };
    const ra = raw.tables.authorizationresources.find((r) => r.type === "microsoft.authorization/roleassignments")!;
    ra.properties.scope = "subscriptions-without-slash/../../";
    const fs = await audit(raw);
    wellFormed(fs);
    expect(fs.filter((f) => f.ruleId === "pull.granted" && f.status === "pass")).toHaveLength(0);
    expect(fs.filter((f) => f.ruleId === "registry.exists" && f.status === "pass")).toHaveLength(0);
  });

  test("duplicate IDs are refused with the JSON path", () => {
    const raw = clone(readCase("attached-basic")) as { tables: { resources: unknown[] } };
    raw.tables.resources.push(clone(raw.tables.resources[0]));
    expect(() => parseEstate(raw, "dup.json")).toThrow(EstateError);
    expect(() => parseEstate(raw, "dup.json")).toThrow(/\$\.tables\.resources\[\d+\]/);
  });
});
