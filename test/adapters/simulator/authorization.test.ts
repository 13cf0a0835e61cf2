import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isRestError } from "@azure/core-rest-pipeline";
import { BUILTIN_ROLES, findBuiltinRole } from "../../../src/adapters/simulator/index.js";
import {
  ACR_PULL,
  CUSTOM_ROLE,
  KUBELET,
  OTHER_PRINCIPAL,
  RA,
  REG_A1,
  REPO_READER,
  SUB_A,
  SUB_B,
  SUB_C,
  SUB_X,
  authClient,
  simulator,
} from "./helpers.js";

async function rejection(p: Promise<unknown>): Promise<Error & { statusCode?: number; code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { statusCode?: number; code?: string };
  }
  throw new Error("expected the call to fail");
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const EXAMPLES = path.resolve(__dirname, "../../../../shared/reference/arm-examples/authorization/2022-04-01");

describe("ARM simulator: role definitions", () => {
  const sim = simulator();
  const client = authClient(sim);

  it("serves roleDefinitions.getById for a built-in role the estate lacks", async () => {
    const def = await client.roleDefinitions.getById(`/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL}`);
    expect(def).toMatchObject({
      id: `/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL}`,
      name: ACR_PULL,
      type: "Microsoft.Authorization/roleDefinitions",
      roleName: "AcrPull",
      roleType: "BuiltInRole",
      assignableScopes: ["/"],
      permissions: [{ actions: ["Microsoft.ContainerRegistry/registries/pull/read"], notActions: [], dataActions: [], notDataActions: [] }],
    });
    const bySubscription = await client.roleDefinitions.getById(
      `/subscriptions/${SUB_A}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL.toUpperCase()}`,
    );
    expect(bySubscription.id).toBe(`/subscriptions/${SUB_A}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL}`);
    expect(sim.stats.authorizationRequests).toBe(2);
  });

  it("prefers the estate's copy, and serves custom roles from the estate", async () => {
    const reader = await client.roleDefinitions.get(`/subscriptions/${SUB_B}`, REPO_READER);
    expect(reader.description).toBe("estate copy");
    const custom = await client.roleDefinitions.getById(
      `/subscriptions/${SUB_C}/providers/Microsoft.Authorization/roleDefinitions/${CUSTOM_ROLE}`,
    );
    expect(custom).toMatchObject({
      roleName: "Registry Puller (custom)",
      roleType: "CustomRole",
      assignableScopes: [`/subscriptions/${SUB_C}`],
    });
  });

  it("answers an unknown role definition with 404 RoleDefinitionDoesNotExist", async () => {
    const err = await rejection(
      client.roleDefinitions.getById("/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-000000000000"),
    );
    expect(isRestError(err)).toBe(true);
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe("RoleDefinitionDoesNotExist");
  });

  it("lists role definitions with roleName and type filters, and rejects other filters", async () => {
    const byName = await all(client.roleDefinitions.list(`/subscriptions/${SUB_A}`, { filter: "roleName eq 'AcrPush'" }));
    expect(byName.map((d) => d.name)).toEqual(["8311e382-0749-4cb8-b61a-304f252e45ec"]);
    const custom = await all(client.roleDefinitions.list(`/subscriptions/${SUB_A}`, { filter: "type eq 'CustomRole'" }));
    expect(custom.map((d) => d.roleName)).toEqual(["Registry Puller (custom)"]);
    const everything = await all(client.roleDefinitions.list("/"));
    expect(everything).toHaveLength(BUILTIN_ROLES.length + 1);
    const err = await rejection(all(client.roleDefinitions.list("/", { filter: "permissions/any(p: true)" })));
    expect(err.statusCode).toBe(400);
  });

  it("ships the built-in roles the audit needs with Azure's GUIDs", () => {
    expect(findBuiltinRole("B93AA761-3E63-49ED-AC28-BEFFA264F7AC")?.roleName).toBe("Container Registry Repository Reader");
    expect(findBuiltinRole("2a1e307c-b015-4ebd-883e-5b7698a07328")?.roleName).toBe("Container Registry Repository Writer");
    expect(findBuiltinRole("2efddaa5-3f1f-4df3-97df-af3f13818f4c")?.roleName).toBe("Container Registry Repository Contributor");
    expect(findBuiltinRole("bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7")?.roleName).toBe("Container Registry Repository Catalog Lister");
    expect(findBuiltinRole("b24988ac-6180-42a0-ab88-20f7382dd24c")?.permissions[0].notActions).toContain("Microsoft.Authorization/*/Write");
    expect(BUILTIN_ROLES.map((r) => r.roleName)).toEqual(
      expect.arrayContaining([
        "AcrPull",
        "AcrPush",
        "AcrDelete",
        "AcrImageSigner",
        "AcrQuarantineReader",
        "AcrQuarantineWriter",
        "Reader",
        "Contributor",
        "Owner",
      ]),
    );
  });
});

describe("ARM simulator: role assignments", () => {
  const sim = simulator();
  const client = authClient(sim);
  const names = (list: { name?: string }[]) => list.map((a) => a.name).sort();

  it("lists at, above and below a scope, with principalId and atScope() filters", async () => {
    const atRegistry = await all(client.roleAssignments.listForScope(REG_A1));
    expect(names(atRegistry)).toEqual([RA.registryA1, RA.otherPrincipalA, RA.mgCorp, RA.mgCorpProd, RA.root].sort()); // rg-acr is above the registry
    const subA = await all(client.roleAssignments.listForSubscription());
    expect(names(subA)).toEqual([RA.registryA1, RA.otherPrincipalA, RA.mgCorp, RA.mgCorpProd, RA.root].sort());
    const kubelet = await all(client.roleAssignments.listForSubscription({ filter: `principalId eq '${KUBELET}'` }));
    expect(names(kubelet)).toEqual([RA.registryA1, RA.mgCorp, RA.root].sort());
    const atScope = await all(client.roleAssignments.listForScope(`/subscriptions/${SUB_A}`, { filter: "atScope()" }));
    expect(names(atScope)).toEqual([RA.mgCorp, RA.mgCorpProd, RA.root].sort());
    const both = await all(
      client.roleAssignments.listForScope(`/subscriptions/${SUB_A}/resourceGroups/rg-acr`, {
        filter: `atScope() and assignedTo('${OTHER_PRINCIPAL}')`,
      }),
    );
    expect(names(both)).toEqual([RA.otherPrincipalA, RA.mgCorpProd].sort());
    const group = await all(client.roleAssignments.listForScope("/providers/Microsoft.Management/managementGroups/corp"));
    expect(names(group)).toEqual([RA.registryA1, RA.otherPrincipalA, RA.subC, RA.mgCorp, RA.mgCorpProd, RA.root].sort());
  });

  it("returns assignments in the example's shape", async () => {
    const [a] = await all(client.roleAssignments.listForScope(REG_A1, { filter: "atScope()" })).then((l) =>
      l.filter((x) => x.name === RA.registryA1),
    );
    expect(a).toMatchObject({
      id: `${REG_A1}/providers/Microsoft.Authorization/roleAssignments/${RA.registryA1}`,
      name: RA.registryA1,
      type: "Microsoft.Authorization/roleAssignments",
      scope: REG_A1,
      principalId: KUBELET,
      principalType: "ServicePrincipal",
      roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL}`,
    });
    const got = await client.roleAssignments.getById(a.id!);
    expect(got.name).toBe(RA.registryA1);
    const file = path.join(EXAMPLES, "RoleAssignments_ListForScope.json");
    if (fs.existsSync(file)) {
      const example = JSON.parse(fs.readFileSync(file, "utf8")).responses["200"].body.value[0];
      const { createPipelineRequest, createHttpHeaders } = await import("@azure/core-rest-pipeline");
      const raw = await sim.sendRequest(
        createPipelineRequest({
          url: `https://management.azure.com${REG_A1}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()`,
          headers: createHttpHeaders({ authorization: "Bearer t" }),
        }),
      );
      const mine = JSON.parse(raw.bodyAsText!).value[0];
      expect(Object.keys(mine).sort()).toEqual(Object.keys(example).sort());
      expect(Object.keys(mine.properties)).toEqual(expect.arrayContaining(Object.keys(example.properties)));
    }
  });

  it("pages lists through nextLink", async () => {
    const paged = authClient(simulator({ pageSize: 2 }));
    const pages: number[] = [];
    for await (const page of paged.roleAssignments.listForSubscription().byPage()) pages.push(page.length);
    expect(pages).toEqual([2, 2, 1]);
    const defs = await all(paged.roleDefinitions.list("/"));
    expect(defs).toHaveLength(BUILTIN_ROLES.length + 1);
  });

  it("refuses scopes in an unreadable subscription and unknown filters", async () => {
    const err = await rejection(all(authClient(sim, SUB_X).roleAssignments.listForSubscription()));
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe("AuthorizationFailed");
    const bad = await rejection(all(client.roleAssignments.listForSubscription({ filter: "roleDefinitionId eq 'x'" })));
    expect(bad.statusCode).toBe(400);
    expect(bad.message).toMatch(/roleDefinitionId eq 'x'/);
  });

  it("answers a missing assignment with 404 RoleAssignmentNotFound", async () => {
    const err = await rejection(client.roleAssignments.get(`/subscriptions/${SUB_A}`, "99999999-0000-4000-8000-000000000000"));
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe("RoleAssignmentNotFound");
  });
});
