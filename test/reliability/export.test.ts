/** Export and replay: export from the simulator, replay the export, identical findings. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { CLOUDS, cloudByName } from "../../src/core/clouds.js";
import { findingJson } from "../../src/core/json.js";
import { exportEstate } from "../../src/export.js";
import { main } from "../../src/cli.js";
import { ArmSimulator, loadEstateFile, parseEstate, simulatorCredential } from "../../src/adapters/simulator/index.js";
import { auditEstate, FAST_RETRY, freshStore } from "../helpers/harness.js";

const dir = path.join(__dirname, "../conformance");
const names = fs.readdirSync(dir).filter((f) => f.endsWith(".json") && !f.endsWith(".expected.json"));

const canonical = (fs_: ReturnType<typeof findingJson>[]) => fs_.map((f) => JSON.stringify(f)).sort();

describe("export -> replay gives identical findings", () => {
  test.each(names)("%s", async (name) => {
    const estate = loadEstateFile(path.join(dir, name));
    const exported = await exportEstate({
      cloud: cloudByName(estate.cloud) ?? CLOUDS.AzureCloud,
      credential: simulatorCredential(),
      httpClient: new ArmSimulator(estate),
      retryOptions: FAST_RETRY,
      scope: { kind: "tenant" },
    });
    const replayed = parseEstate(JSON.parse(JSON.stringify(exported)), "exported");
    const original = await auditEstate(estate, await freshStore("orig"));
    const replay = await auditEstate(replayed, await freshStore("replay"));
    expect(canonical(replay.findings.map(findingJson))).toEqual(canonical(original.findings.map(findingJson)));
    // Rows outside what the audit reads are not exported.
    const rows =
      exported.tables.resources.length + exported.tables.resourcecontainers.length + exported.tables.authorizationresources.length;
    expect(rows).toBeGreaterThan(0);
  });

  test("through the CLI: export --estate then run --estate", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "export-"));
    const out = path.join(tmp, "exported.json");
    const err: string[] = [];
    const io = { out: () => undefined, err: (s: string) => err.push(s), isTty: false, env: {} };
    expect(await main(["export", "--estate", path.join(dir, "private-endpoint-peering.json"), "--out", out], io)).toBe(0);
    expect(err.join("\n")).toMatch(/wrote \d+ rows/);
    const exported = JSON.parse(fs.readFileSync(out, "utf8"));
    expect(exported.version).toBe(1);
    // Unrelated estate content is dropped: the exported estate still audits the same.
    const ids = exported.tables.resources.map((r: { id: string }) => r.id.toLowerCase());
    expect(ids.some((id: string) => id.includes("/privateendpoints/"))).toBe(true);
  });

  test("export without --out is bad input", async () => {
    const io = { out: () => undefined, err: () => undefined, isTty: false, env: {} };
    expect(await main(["export"], io)).toBe(2);
  });
});
