/**
 * Conformance: every case (public ones copied from ../shared/estates into test/conformance, and our own in
 * test/estates) audited end to end: estate -> simulator -> real SDK clients -> rules -> real store.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { RULE_IDS } from "../src/core/catalog.js";
import type { Finding } from "../src/core/findings.js";
import { sameId } from "../src/core/resource-id.js";
import { auditEstate, freshStore } from "./helpers/harness.js";

interface Expected {
  description: string;
  previous?: string;
  findings: { ruleId: string; cluster?: string; registry?: string; status?: string; reason?: string; change?: string; exempt?: boolean }[];
  exhaustive?: string[];
  ignoreRules?: string[];
}

const DIRS = [path.join(__dirname, "conformance"), path.join(__dirname, "estates")];

function cases(): { dir: string; name: string }[] {
  const out: { dir: string; name: string }[] = [];
  for (const dir of DIRS) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).sort()) {
      if (f.endsWith(".expected.json")) out.push({ dir, name: f.slice(0, -".expected.json".length) });
    }
  }
  return out;
}

function matches(f: Finding, e: Expected["findings"][number]): boolean {
  if (f.ruleId !== e.ruleId) return false;
  if (e.cluster ? !sameId(f.clusterId, e.cluster) : f.clusterId !== null) return false;
  if (
    e.registry
      ? !sameId(f.registryId, e.registry) && (f.registryId ?? "").toLowerCase() !== e.registry.toLowerCase()
      : f.registryId !== null
  )
    return false;
  return true;
}

const compared: string[] = [];

/** Compares one audit with an expected file; returns the problems (empty when it conforms). */
export function compare(findings: Finding[], expected: Expected): string[] {
  const problems: string[] = [];
  const matched = new Set<Finding>();
  for (const e of expected.findings) {
    const hits = findings.filter((f) => matches(f, e));
    const label = `${e.ruleId} ${e.cluster ?? ""} -> ${e.registry ?? ""}`;
    if (hits.length !== 1) {
      problems.push(`${label}: expected one finding, got ${hits.length}`);
      continue;
    }
    const f = hits[0];
    matched.add(f);
    if (e.status && f.status !== e.status) problems.push(`${label}: status ${f.status} (${f.reason}), expected ${e.status}`);
    if (e.reason !== undefined && f.reason !== e.reason) problems.push(`${label}: reason ${f.reason}, expected ${e.reason}`);
    if (e.change !== undefined && f.change !== e.change) problems.push(`${label}: change ${f.change}, expected ${e.change}`);
    if (e.exempt !== undefined && Boolean(f.exemption) !== e.exempt)
      problems.push(`${label}: exempt ${Boolean(f.exemption)}, expected ${e.exempt}`);
  }
  const ignore = new Set(expected.ignoreRules ?? []);
  for (const f of findings) {
    if (!expected.exhaustive?.includes(f.status) || !RULE_IDS.includes(f.ruleId) || ignore.has(f.ruleId) || matched.has(f)) continue;
    if (f.change === "removed") continue;
    problems.push(`unexpected ${f.status} ${f.ruleId} ${f.clusterId ?? ""} -> ${f.registryId ?? ""} (${f.reason})`);
  }
  return problems;
}

describe("conformance cases", () => {
  const all = cases();
  test("there are public and own cases", () => {
    expect(all.filter((c) => c.dir.endsWith("conformance")).length).toBeGreaterThanOrEqual(7);
  });
  for (const c of all) {
    test(`${path.basename(c.dir)}/${c.name}`, async () => {
      const expected: Expected = JSON.parse(fs.readFileSync(path.join(c.dir, `${c.name}.expected.json`), "utf8"));
      const store = await freshStore(c.name);
      const chain: string[] = [];
      for (let prev = expected.previous; prev;) {
        chain.unshift(prev);
        const prevExpected = path.join(c.dir, prev.replace(/\.json$/, ".expected.json"));
        prev = fs.existsSync(prevExpected) ? (JSON.parse(fs.readFileSync(prevExpected, "utf8")) as Expected).previous : undefined;
      }
      for (const p of chain) await auditEstate(path.join(c.dir, p), store);
      const { findings } = await auditEstate(path.join(c.dir, `${c.name}.json`), store);
      const problems = compare(findings, expected);
      const rules = [...new Set(expected.findings.map((f) => f.ruleId))].sort();
      compared.push(
        `${path.basename(c.dir)}/${c.name}: ${rules.join(", ")}${expected.exhaustive ? ` (exhaustive: ${expected.exhaustive.join(", ")})` : ""}`,
      );
      expect(problems, `${c.name}: ${expected.description}`).toEqual([]);
    });
  }
  afterAll(() => {
    process.stdout.write(`\nConformance: compared ${compared.length} cases\n${compared.map((l) => `  ${l}`).join("\n")}\n`);
  });
});

describe("public cases stay in sync with ../shared/estates", () => {
  const shared = path.resolve(__dirname, "../../shared/estates");
  test.skipIf(!fs.existsSync(shared))("test/conformance holds an identical copy of every shared case", () => {
    const ours = path.join(__dirname, "conformance");
    for (const f of fs.readdirSync(shared).filter((x) => x.endsWith(".json"))) {
      expect(fs.existsSync(path.join(ours, f)), `${f} missing from test/conformance`).toBe(true);
      expect(fs.readFileSync(path.join(ours, f), "utf8"), `${f} differs from ../shared/estates`).toBe(
        fs.readFileSync(path.join(shared, f), "utf8"),
      );
    }
  });
});
