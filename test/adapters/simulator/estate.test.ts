import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ArmSimulator, EstateError, loadEstateFile, parseEstate, parseEstateText } from "../../../src/adapters/simulator/index.js";
import { queryAll, rgClient, tenantDocument } from "./helpers.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function errorOf(f: () => unknown): EstateError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(EstateError);
    return err as EstateError;
  }
  throw new Error("expected an EstateError");
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

function doc(patch: (d: Doc) => void): Doc {
  const d = tenantDocument() as Doc;
  patch(d);
  return d;
}

describe("estate validation", () => {
  it("accepts the synthetic tenant, lower-cases types and keeps ids as stored", () => {
    const d = doc((x) => (x.tables.resources[0].type = "Microsoft.ContainerRegistry/Registries"));
    const e = parseEstate(d, "tenant.json");
    expect(e.tables.resources[0].type).toBe("microsoft.containerregistry/registries");
    expect(e.tables.resources[0].id).toBe(d.tables.resources[0].id);
    expect(e.simulation).toEqual({ latencyMs: 0, pageSize: 1000, faults: [] });
    expect(e.cloud).toBe("AzureCloud");
  });

  it("names the file and the JSON path in a one-line message", () => {
    const err = errorOf(() =>
      parseEstate(
        doc((x) => (x.tables.resources[3].id = 42)),
        "samples/x.json",
      ),
    );
    expect(err.message).toBe("samples/x.json: $.tables.resources[3].id: expected a string");
    expect(err).toMatchObject({ code: "EstateInvalid", file: "samples/x.json", jsonPath: "$.tables.resources[3].id" });
  });

  it.each<[string, (d: Doc) => void, string]>([
    ["version", (d) => (d.version = 2), "$.version: expected 1"],
    ["missing tables", (d) => delete d.tables, "$.tables: expected an object"],
    ["tables as array", (d) => (d.tables = []), "$.tables: expected an object"],
    ["unknown table", (d) => (d.tables.securityresources = []), "$.tables.securityresources: unknown table"],
    ["rows not an array", (d) => (d.tables.resources = {}), "$.tables.resources: expected an array of rows"],
    ["row not an object", (d) => (d.tables.resourcecontainers[1] = "x"), "$.tables.resourcecontainers[1]: expected a row object"],
    ["type missing", (d) => delete d.tables.authorizationresources[0].type, "$.tables.authorizationresources[0].type: expected a string"],
    ["cloud", (d) => (d.cloud = "AzureGermanCloud"), "$.cloud: expected one of AzureCloud, AzureChinaCloud, AzureUSGovernment"],
    ["description", (d) => (d.description = 1), "$.description: expected a string"],
    ["simulation", (d) => (d.simulation = 5), "$.simulation: expected an object"],
    ["latencyMs", (d) => (d.simulation = { latencyMs: -1 }), "$.simulation.latencyMs: expected a number from 0 to 600000"],
    [
      "latencyMs too long for a timer",
      (d) => (d.simulation = { latencyMs: 2 ** 31 }),
      "$.simulation.latencyMs: expected a number from 0 to 600000",
    ],
    [
      "role definition permissions not a list",
      (d) => {
        const def = d.tables.authorizationresources.find(
          (r: { type: string }) => r.type.toLowerCase() === "microsoft.authorization/roledefinitions",
        );
        def.properties.permissions = "x";
      },
      "$.tables.authorizationresources[9].properties.permissions: expected an array of permission objects, found a string",
    ],
    ["pageSize 0", (d) => (d.simulation = { pageSize: 0 }), "$.simulation.pageSize: expected an integer from 1 to 1000"],
    ["pageSize 1001", (d) => (d.simulation = { pageSize: 1001 }), "$.simulation.pageSize: expected an integer from 1 to 1000"],
    [
      "quota.requests",
      (d) => (d.simulation = { quota: { requests: 0, windowSeconds: 5 } }),
      "$.simulation.quota.requests: expected an integer >= 1",
    ],
    [
      "quota.windowSeconds",
      (d) => (d.simulation = { quota: { requests: 1, windowSeconds: 0 } }),
      "$.simulation.quota.windowSeconds: expected a number > 0",
    ],
    ["faults", (d) => (d.simulation = { faults: {} }), "$.simulation.faults: expected an array"],
    [
      "fault service",
      (d) => (d.simulation = { faults: [{ service: "storage", status: 500 }] }),
      "$.simulation.faults[0].service: expected one of",
    ],
    [
      "fault status",
      (d) => (d.simulation = { faults: [{ service: "any" }] }),
      '$.simulation.faults[0].status: required when kind is "status"',
    ],
    [
      "fault kind",
      (d) => (d.simulation = { faults: [{ service: "any", kind: "explode" }] }),
      "$.simulation.faults[0].kind: expected one of status, reset, timeout",
    ],
    ["fault count", (d) => (d.simulation = { faults: [{ service: "any", status: 500, count: 0 }] }), "$.simulation.faults[0].count"],
    [
      "fault table",
      (d) => (d.simulation = { faults: [{ service: "resourcegraph", status: 500, table: "nope" }] }),
      "$.simulation.faults[0].table",
    ],
    [
      "fault after",
      (d) => (d.simulation = { faults: [{ service: "any", kind: "reset", after: -1 }] }),
      "$.simulation.faults[0].after: expected an integer >= 0",
    ],
  ])("rejects %s", (_name, patch, expected) => {
    expect(errorOf(() => parseEstate(doc(patch), "e.json")).message).toContain(`e.json: ${expected}`);
  });

  it("rejects duplicate ids in a table case-insensitively, naming both paths", () => {
    const err = errorOf(() =>
      parseEstate(
        doc((d) => d.tables.resources.push({ ...d.tables.resources[1], id: d.tables.resources[1].id.toUpperCase() })),
        "dup.json",
      ),
    );
    expect(err.message).toBe("dup.json: $.tables.resources[9].id: duplicate id (case-insensitive) of $.tables.resources[1].id");
  });

  it("accepts and ignores unknown fields anywhere", () => {
    const e = parseEstate(
      doc((d) => {
        d.generator = { name: "export", version: 3 };
        d.simulation = { latencyMs: 5, futureSetting: true, faults: [{ service: "any", kind: "reset", note: "x" }] };
        d.tables.resources[0].somethingNew = [1, 2];
      }),
      "e.json",
    );
    expect(e.simulation.latencyMs).toBe(5);
    expect(e.simulation.faults).toEqual([{ service: "any", kind: "reset" }]);
    expect(e).not.toHaveProperty("generator");
  });

  it("limits nesting depth and string length, naming the path", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 70; i++) deep = { n: deep };
    const tooDeep = errorOf(() =>
      parseEstate(
        doc((d) => (d.tables.resources[0].properties = deep)),
        "deep.json",
      ),
    );
    expect(tooDeep.jsonPath).toMatch(/^\$\.tables\.resources\[0\]\.properties(\.n)+$/);
    expect(tooDeep.message).toContain("nested deeper than 64 levels");
    const long = errorOf(() =>
      parseEstate(
        doc((d) => (d.tables.resources[2].tags = { big: "x".repeat(1024 * 1024 + 1) })),
        "long.json",
      ),
    );
    expect(long.message).toBe("long.json: $.tables.resources[2].tags.big: string longer than 1048576 characters");
    const arrayDeep = "[".repeat(100_000) + "]".repeat(100_000);
    expect(errorOf(() => parseEstateText(arrayDeep, "arr.json")).message).toMatch(/arr\.json: \$(\[0\])+: nested deeper than 64 levels/);
  });

  it("reports where a file stops being JSON", () => {
    const file = path.join(tmp, "broken.json");
    fs.writeFileSync(file, '{\n  "version": 1,\n  "tables": { "resources": [ } \n}');
    const err = errorOf(() => loadEstateFile(file));
    expect(err.jsonPath).toBe("$");
    expect(err.message).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: \\$: not valid JSON at line 3 column 30 \\(position 47\\)`),
    );
    expect(err.message).not.toContain("\n");
    expect(errorOf(() => parseEstateText("", "empty.json")).message).toMatch(
      /empty\.json: \$: not valid JSON at line 1 column 1 \(position 0\)/,
    );
  });

  it("refuses a file over 200 MB before reading it", () => {
    const file = path.join(tmp, "huge.json");
    fs.writeFileSync(file, "");
    fs.truncateSync(file, 200 * 1024 * 1024 + 1); // sparse: no 200 MB written
    const err = errorOf(() => loadEstateFile(file));
    expect(err.message).toMatch(/huge\.json: \$: file is 209715201 bytes; the limit is 209715200 bytes/);
    expect(errorOf(() => loadEstateFile(path.join(tmp, "missing.json"))).message).toMatch(/cannot read file/);
  });

  it("loads a file with a byte order mark", () => {
    const file = path.join(tmp, "bom.json");
    fs.writeFileSync(file, "\ufeff" + JSON.stringify(tenantDocument()));
    expect(loadEstateFile(file).tables.resources).toHaveLength(9);
  });
});

const SHARED = path.resolve(__dirname, "../../..", "../shared/estates");
const sharedEstates = fs.existsSync(SHARED)
  ? fs.readdirSync(SHARED).filter((f) => f.endsWith(".json") && !f.endsWith(".expected.json"))
  : [];

describe.skipIf(sharedEstates.length === 0)("the shared conformance estates", () => {
  it.each(sharedEstates)("%s loads and answers the registry query", async (name) => {
    const estate = loadEstateFile(path.join(SHARED, name));
    const registries = estate.tables.resources.filter((r) => r.type === "microsoft.containerregistry/registries");
    const rows = await queryAll(
      rgClient(new ArmSimulator(estate)),
      "resources | where type =~ 'microsoft.containerregistry/registries' | project id, name, loginServer = properties.loginServer, networkRuleSet = properties.networkRuleSet",
    );
    expect(rows.map((r) => r.id)).toEqual(registries.map((r) => r.id));
  });
});
