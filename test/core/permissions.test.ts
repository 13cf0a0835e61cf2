import { describe, expect, test } from "vitest";
import { couldPull, grantOf, matchesPattern, pullDecision, registryMode, writeOperations } from "../../src/core/permissions.js";
import type { RoleDefinition } from "../../src/core/inventory.js";

const role = (
  type: string,
  actions: string[],
  notActions: string[] = [],
  dataActions: string[] = [],
  notDataActions: string[] = [],
): RoleDefinition => ({
  id: "/providers/Microsoft.Authorization/roleDefinitions/x",
  guid: "x",
  roleName: "r",
  type,
  permissions: [{ actions, notActions, dataActions, notDataActions }],
});

describe("ARM wildcard matching", () => {
  test.each([
    ["*", "Microsoft.ContainerRegistry/registries/pull/read", true],
    ["Microsoft.ContainerRegistry/*", "Microsoft.ContainerRegistry/registries/pull/read", true],
    ["microsoft.containerregistry/registries/PULL/read", "Microsoft.ContainerRegistry/registries/pull/read", true],
    ["Microsoft.ContainerRegistry/*/read", "Microsoft.ContainerRegistry/registries/pull/read", true],
    ["*/read", "Microsoft.ContainerRegistry/registries/pull/read", true],
    ["Microsoft.ContainerRegistry/registries/push/write", "Microsoft.ContainerRegistry/registries/pull/read", false],
    ["Microsoft.Container*", "Microsoft.ContainerRegistry/registries/pull/read", true],
    ["Microsoft.ContainerRegistry/registries/pull/read.", "Microsoft.ContainerRegistry/registries/pull/read", false],
  ])("%s vs %s -> %s", (p, op, want) => expect(matchesPattern(p, op)).toBe(want));

  test("notActions remove what actions grant, literal beats wildcard", () => {
    expect(grantOf(["*"], ["Microsoft.ContainerRegistry/*"], "Microsoft.ContainerRegistry/registries/pull/read")).toBe("none");
    expect(grantOf(["*", "Microsoft.ContainerRegistry/registries/pull/read"], [], "Microsoft.ContainerRegistry/registries/pull/read")).toBe(
      "literal",
    );
    expect(grantOf(["Microsoft.ContainerRegistry/*"], [], "Microsoft.ContainerRegistry/registries/pull/read")).toBe("wildcard");
  });
});

describe("pull decision", () => {
  const acrPull = role("BuiltInRole", ["Microsoft.ContainerRegistry/registries/pull/read"]);
  const reader = role("BuiltInRole", ["*/read"]);
  const owner = role("BuiltInRole", ["*"]);
  const repoReader = role(
    "BuiltInRole",
    [],
    [],
    [
      "Microsoft.ContainerRegistry/registries/repositories/content/read",
      "Microsoft.ContainerRegistry/registries/repositories/metadata/read",
    ],
  );
  const customLiteral = role("CustomRole", ["Microsoft.ContainerRegistry/registries/pull/read"]);
  const customWildcard = role("CustomRole", ["Microsoft.ContainerRegistry/registries/*/read"]);

  test("legacy mode honours actions and the content/read data action", () => {
    expect(pullDecision(acrPull, "legacy", false)).toBe("grants");
    expect(pullDecision(reader, "legacy", false)).toBe("grants");
    expect(pullDecision(owner, "legacy", false)).toBe("grants");
    expect(pullDecision(repoReader, "legacy", false)).toBe("grants");
  });
  test("ABAC mode honours only content/read data actions", () => {
    expect(pullDecision(acrPull, "abac", false)).toBe("no");
    expect(pullDecision(owner, "abac", false)).toBe("no");
    expect(pullDecision(repoReader, "abac", false)).toBe("grants");
  });
  test("custom roles need the literal action unless the tenant uses ARM private link", () => {
    expect(pullDecision(customLiteral, "legacy", false)).toBe("grants");
    expect(pullDecision(customWildcard, "legacy", false)).toBe("wildcard-only");
    expect(pullDecision(customWildcard, "legacy", true)).toBe("grants");
    expect(couldPull(customWildcard)).toBe(true);
  });
  test("write-capable roles", () => {
    expect(writeOperations(acrPull)).toEqual([]);
    expect(writeOperations(reader)).toEqual([]);
    expect(writeOperations(owner).length).toBeGreaterThan(0);
    expect(
      writeOperations(
        role("BuiltInRole", ["Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/push/write"]),
      ),
    ).toContain("Microsoft.ContainerRegistry/registries/push/write");
  });
  test("registry mode", () => {
    expect(registryMode(undefined)).toBe("legacy");
    expect(registryMode("LegacyRegistryPermissions")).toBe("legacy");
    expect(registryMode("abacrepositorypermissions")).toBe("abac");
  });
});

describe("write-capable roles beyond the known operations", () => {
  test("any registry write or delete action or data action a role lists counts; notActions remove it; reads do not", () => {
    const pull = "Microsoft.ContainerRegistry/registries/pull/read";
    expect(writeOperations(role("CustomRole", [pull, "Microsoft.ContainerRegistry/registries/cacheRules/write"]))).toEqual([
      "Microsoft.ContainerRegistry/registries/cacheRules/write",
    ]);
    expect(writeOperations(role("CustomRole", [pull, "microsoft.containerregistry/registries/webhooks/DELETE"]))).toEqual([
      "microsoft.containerregistry/registries/webhooks/DELETE",
    ]);
    expect(
      writeOperations(
        role(
          "CustomRole",
          [pull, "Microsoft.ContainerRegistry/registries/credentialSets/write"],
          ["Microsoft.ContainerRegistry/registries/credentialSets/*"],
        ),
      ),
    ).toEqual([]);
    expect(writeOperations(role("CustomRole", [pull, "Microsoft.ContainerRegistry/registries/cacheRules/read"]))).toEqual([]);
    // A known operation is reported once, under its known name.
    expect(writeOperations(role("CustomRole", [pull, "Microsoft.ContainerRegistry/registries/push/write"]))).toEqual([
      "Microsoft.ContainerRegistry/registries/push/write",
    ]);
    expect(writeOperations(role("CustomRole", [], [], ["Microsoft.ContainerRegistry/registries/repositories/tags/delete"]))).toEqual([
      "Microsoft.ContainerRegistry/registries/repositories/tags/delete",
    ]);
    // Another provider's writes are not the registry's.
    expect(writeOperations(role("CustomRole", [pull, "Microsoft.Storage/storageAccounts/write"]))).toEqual([]);
  });
});
