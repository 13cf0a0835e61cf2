/** Conformance estates with `aks-acr-audit-exempt` tags added, for the telemetry tests. */
import fs from "node:fs";
import path from "node:path";
import { normalizeId } from "../../../src/core/resource-id.js";
import { parseEstate, type Estate } from "../../../src/adapters/simulator/index.js";

export const CASES = path.join(__dirname, "..", "..", "conformance");
export const CLUSTER =
  "/subscriptions/7d19c42c-92a2-5901-b116-4a08dfd726d4/resourceGroups/rg-retail/providers/Microsoft.ContainerService/managedClusters/aks-retail";
export const REGISTRY =
  "/subscriptions/7d19c42c-92a2-5901-b116-4a08dfd726d4/resourceGroups/rg-retail/providers/Microsoft.ContainerRegistry/registries/retailacr";
export const SUBSCRIPTION = "7d19c42c-92a2-5901-b116-4a08dfd726d4";

/** The estate file's JSON with an exemption tag on the resources given (ID -> tag value). */
export function estateJsonWith(file: string, exemptTags: Record<string, string> = {}): unknown {
  const json = JSON.parse(fs.readFileSync(path.join(CASES, file), "utf8"));
  for (const r of json.tables.resources as { id: string; tags?: Record<string, string> }[]) {
    const tag = Object.entries(exemptTags).find(([id]) => normalizeId(id) === normalizeId(r.id))?.[1];
    if (tag) r.tags = { ...(r.tags ?? {}), "aks-acr-audit-exempt": tag };
  }
  return json;
}

export function estateWith(file: string, exemptTags: Record<string, string> = {}): Estate {
  return parseEstate(estateJsonWith(file, exemptTags), file);
}
