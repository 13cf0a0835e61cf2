/** Estates for reliability tests, derived from the public conformance cases. */
import fs from "node:fs";
import path from "node:path";
import { parseEstate, type Estate } from "../../src/adapters/simulator/index.js";

export const SUB_A = "fcfdfd9e-8a65-5d80-a753-19188dcae276";
export const SUB_B = "0b0b0b0b-1111-4222-8333-444444444444";

export function readCase(name: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(__dirname, "../conformance", `${name}.json`), "utf8"));
}

/**
 * attached-basic (subscription A) plus a renamed copy of it in subscription B: two clusters, each
 * attached to its own registry, in two subscriptions.
 */
export function twoSubscriptions(opts: { withoutRoleDefinitionRows?: boolean; simulation?: Record<string, unknown> } = {}): Estate {
  const a = readCase("attached-basic");
  const b = JSON.parse(
    JSON.stringify(a)
      .replaceAll(SUB_A, SUB_B)
      .replaceAll("aks-prod", "aks-b")
      .replaceAll("contosoprod", "contosob")
      .replaceAll("c922f8cd-642b-5ce6-97f6-01ad52d07439", "d0d0d0d0-642b-5ce6-97f6-01ad52d07439")
      .replaceAll("6d141e7a-90aa-5dc0-ae77-13b6d2fe7493", "6d141e7a-90aa-5dc0-ae77-000000000000"),
  );
  const tables = (e: Record<string, unknown>) => e.tables as Record<string, Record<string, unknown>[]>;
  const merged: Record<string, Record<string, unknown>[]> = {};
  for (const t of ["resources", "resourcecontainers", "authorizationresources"]) {
    const seen = new Set<string>();
    merged[t] = [...tables(a)[t], ...tables(b)[t]].filter((r) => {
      const id = String(r.id).toLowerCase();
      if (seen.has(id)) return false;
      seen.add(id);
      return !(opts.withoutRoleDefinitionRows && r.type === "microsoft.authorization/roledefinitions");
    });
  }
  return parseEstate(
    { version: 1, description: "two subscriptions", tables: merged, ...(opts.simulation ? { simulation: opts.simulation } : {}) },
    "twoSubscriptions",
  );
}

export function withFaults(e: Estate, faults: Record<string, unknown>[], extra: Record<string, unknown> = {}): Estate {
  return parseEstate({ ...JSON.parse(JSON.stringify(e)), simulation: { ...e.simulation, ...extra, faults } }, "withFaults");
}
