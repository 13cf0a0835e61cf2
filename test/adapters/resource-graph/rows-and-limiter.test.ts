/** Resource Graph row parsing where data is missing, and the quota limiter leaving nothing behind. */
import { describe, expect, test } from "vitest";
import { scopeOfAssignmentId, toRoleAssignment, toRoleDefinition } from "../../../src/adapters/resource-graph/rows.js";
import { simulatorDiscovery } from "../../helpers/harness.js";
import { discover } from "../../../src/core/audit.js";
import { loadEstateFile } from "../../../src/adapters/simulator/index.js";
import path from "node:path";

const RA = "/providers/Microsoft.Authorization/roleAssignments/c86a9948-d9eb-50c8-8877-57253f13ef6d";
const DEF = "/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d";

describe("role assignment rows", () => {
  test("without properties.scope, the scope comes from the assignment's ID, never root", () => {
    const sub = "/subscriptions/f7b3f238-36d8-5235-843b-cc4062fc1069";
    const row = { id: `${sub}${RA}`, principalId: "p", roleDefinitionId: DEF };
    expect(toRoleAssignment(row)?.scope).toBe(sub);
    expect(toRoleAssignment({ ...row, id: `${sub}/resourceGroups/rg${RA.toUpperCase()}` })?.scope).toBe(`${sub}/resourceGroups/rg`);
    expect(toRoleAssignment({ ...row, id: RA })?.scope).toBe("/");
    expect(toRoleAssignment({ ...row, scope: "/subscriptions/other" })?.scope).toBe("/subscriptions/other");
    // An ID that is not an assignment's: the row cannot be placed, so it is not used.
    expect(toRoleAssignment({ ...row, id: `${sub}/whatever` })).toBeUndefined();
    expect(scopeOfAssignmentId(`/providers/Microsoft.Management/managementGroups/corp${RA}`)).toBe(
      "/providers/Microsoft.Management/managementGroups/corp",
    );
  });
});

describe("role definition rows", () => {
  const base = {
    id: DEF,
    roleName: "Puller",
    roleType: "CustomRole",
    permissions: [{ actions: ["Microsoft.ContainerRegistry/registries/pull/read"] }],
  };
  test("a definition without usable permissions is left out (its assignments are then unresolved, not 'grants nothing')", () => {
    expect(toRoleDefinition(base)?.permissions[0].actions).toEqual(["Microsoft.ContainerRegistry/registries/pull/read"]);
    expect(toRoleDefinition({ ...base, permissions: undefined })).toBeUndefined();
    expect(toRoleDefinition({ ...base, permissions: "x" })).toBeUndefined();
    expect(toRoleDefinition({ ...base, permissions: { actions: ["*"] } })).toBeUndefined();
    expect(toRoleDefinition({ ...base, permissions: [null] })).toBeUndefined();
    expect(toRoleDefinition({ ...base, permissions: [] })?.permissions).toEqual([]);
  });
  test("a definition without a type is taken as custom: its wildcards are not trusted to grant", () => {
    expect(toRoleDefinition({ ...base, roleType: undefined })?.type).toBe("CustomRole");
    expect(toRoleDefinition({ ...base, roleType: "BuiltInRole" })?.type).toBe("BuiltInRole");
  });
});

describe("quota limiter", () => {
  test("a throttled discovery leaves no timer running once it is done (a CLI would otherwise wait for it to fire)", async () => {
    const estate = loadEstateFile(path.join(__dirname, "../../../samples/contoso.estate.json"));
    const { discovery, cloud } = simulatorDiscovery(
      { ...estate, simulation: { ...estate.simulation, quota: { requests: 1, windowSeconds: 0.3 } } },
      { maxRetryAfterMs: 20_000 },
    );
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    await discover(discovery, { kind: "tenant" }, cloud, { attachments: [], forgotten: [] });
    expect(timers()).toBeLessThanOrEqual(before);
  }, 60_000);
});
