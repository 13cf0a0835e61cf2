/** An unchanged second run of a 500-cluster estate writes under 1% of the entities the first run wrote. */
import { describe, expect, test } from "vitest";
import { parseEstate } from "../../src/adapters/simulator/index.js";
import { auditEstate, freshStore } from "../helpers/harness.js";
import { readCase } from "../reliability/estates.js";

/** attached-basic repeated `n` times in one subscription: n clusters, each with its own registry. */
function repeated(n: number) {
  const base = readCase("attached-basic") as { tables: Record<string, Record<string, unknown>[]> };
  const tables: Record<string, Record<string, unknown>[]> = {
    resources: [],
    resourcecontainers: [...base.tables.resourcecontainers],
    authorizationresources: [],
  };
  const roleDefs = base.tables.authorizationresources.filter((r) => r.type === "microsoft.authorization/roledefinitions");
  for (let i = 0; i < n; i++) {
    const hex = i.toString(16).padStart(6, "0");
    const text = JSON.stringify({
      resources: base.tables.resources,
      ra: base.tables.authorizationresources.filter((r) => r.type !== "microsoft.authorization/roledefinitions"),
    })
      .replaceAll("aks-prod", `aks-${i}`)
      .replaceAll("contosoprod", `contoso${i}`)
      .replaceAll("outbound-ip-1", `outbound-ip-${i}`)
      .replaceAll("vnet-aks", `vnet-aks-${i}`)
      .replaceAll("c922f8cd-642b-5ce6-97f6-01ad52d07439", `c922f8cd-642b-5ce6-97f6-01ad52${hex}`)
      .replaceAll("6d141e7a-90aa-5dc0-ae77-13b6d2fe7493", `6d141e7a-90aa-5dc0-ae77-13b6d2${hex}`);
    const copy = JSON.parse(text);
    tables.resources.push(...copy.resources);
    tables.authorizationresources.push(...copy.ra);
  }
  tables.authorizationresources.push(...roleDefs);
  return parseEstate({ version: 1, tables }, `repeated-${n}`);
}

describe("cost of an unchanged run", () => {
  test("500 clusters: the second run writes under 1% of the first run's entities", async () => {
    const store = await freshStore("unchanged");
    const estate = repeated(500);
    const w0 = store.entityWrites();
    const first = await auditEstate(estate, store);
    const firstWrites = store.entityWrites() - w0;
    expect(first.findings.length).toBeGreaterThan(500 * 8);
    const w1 = store.entityWrites();
    const second = await auditEstate(estate, store);
    const secondWrites = store.entityWrites() - w1;
    expect(second.findings.every((f) => f.change === "unchanged")).toBe(true);
    expect(second.run.counts.byChange.unchanged).toBe(first.findings.length);
    process.stdout.write(
      `unchanged run: first ${firstWrites} entity writes, second ${secondWrites} (${((100 * secondWrites) / firstWrites).toFixed(2)}%); table operations ${first.run.stats.tableOperations} / ${second.run.stats.tableOperations}\n`,
    );
    expect(secondWrites).toBeLessThan(firstWrites * 0.01);
  }, 120_000);
});
