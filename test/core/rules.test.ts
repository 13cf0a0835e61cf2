import { describe, expect, test } from "vitest";
import { inferAttachments } from "../../src/core/attachments.js";
import { ExemptionMatcher, parseExemptTag } from "../../src/core/exemptions.js";
import { previousKubelets } from "../../src/core/drift.js";
import { assess, attachmentsToRemember } from "../../src/core/audit.js";
import type { Finding } from "../../src/core/findings.js";
import type { StoredState } from "../../src/core/ports.js";
import { evaluateAll } from "../../src/core/rules.js";
import { assign, cluster, clusterId, index, inventory, OTHER_SUB, registry, registryId, SUB } from "../fakes/inventory.js";

const emptyState = (): StoredState => ({ generation: 0, lastRunId: null, findings: [], attachments: [], forgotten: [], exemptions: [] });

function run(inv: ReturnType<typeof inventory>, previous = emptyState(), armPrivateLink = false, now = new Date("2026-11-25T00:00:00Z")) {
  const idx = index(inv);
  const attachments = inferAttachments(idx, previous);
  const { findings, warnings } = assess(idx, attachments, previous, { armPrivateLink, now });
  return { findings, attachments, warnings };
}

const find = (fs: Finding[], ruleId: string, reg?: string) =>
  fs.find((f) => f.ruleId === ruleId && (reg === undefined ? true : (f.registryId ?? "").toLowerCase().endsWith(reg.toLowerCase())));

describe("attachments", () => {
  test("granted at registry and resource group scope, not at subscription scope", () => {
    const inv = inventory({
      clusters: [cluster("aks")],
      registries: [
        registry("a"),
        registry("b"),
        registry("c", { id: registryId("c").replace("rg-acr", "rg-other"), resourceGroup: "rg-other" }),
      ],
      roleAssignments: [
        assign("AcrPull", registryId("a")),
        assign("AcrPull", `/subscriptions/${SUB}/resourceGroups/RG-ACR`),
        assign("AcrPull", `/subscriptions/${SUB}`),
      ],
    });
    const { attachments } = run(inv);
    expect(attachments.map((a) => a.registryId.split("/").pop()).sort()).toEqual(["a", "b"]);
  });

  test("declared by name, login server and ID; unknown entries stay unresolved", () => {
    const inv = inventory({
      clusters: [cluster("aks", { tags: { "AKS-ACR-AUDIT-REGISTRIES": `a.azurecr.io; b , ${registryId("c").toUpperCase()};ghost` } })],
      registries: [registry("a"), registry("b"), registry("c")],
    });
    const { findings, attachments } = run(inv);
    expect(attachments).toHaveLength(4);
    expect(find(findings, "registry.exists", "ghost")).toMatchObject({ status: "unknown", reason: "unresolved-name", registryId: "ghost" });
    expect(find(findings, "pull.granted", "/a")).toMatchObject({ status: "fail", reason: "no-pull-role" });
  });
});

describe("pull rules", () => {
  test("AcrPull at the registry passes both pull rules", () => {
    const { findings } = run(
      inventory({ clusters: [cluster("aks")], registries: [registry("a")], roleAssignments: [assign("AcrPull", registryId("a"))] }),
    );
    expect(find(findings, "pull.granted")).toMatchObject({ status: "pass", reason: null });
    expect(find(findings, "pull.least-privilege")).toMatchObject({ status: "pass" });
  });
  test("ABAC mode ignores AcrPull; repository reader grants", () => {
    const { findings } = run(
      inventory({
        clusters: [cluster("aks")],
        registries: [
          registry("a", { roleAssignmentMode: "AbacRepositoryPermissions" }),
          registry("b", { roleAssignmentMode: "AbacRepositoryPermissions" }),
        ],
        roleAssignments: [assign("AcrPull", registryId("a")), assign("RepoReader", registryId("b"))],
      }),
    );
    expect(find(findings, "pull.granted", "/a")).toMatchObject({ status: "fail", reason: "abac-mode-ignores-role" });
    expect(find(findings, "pull.granted", "/b")).toMatchObject({ status: "pass" });
  });
  test("a condition makes the grant repository-scoped", () => {
    const { findings } = run(
      inventory({
        clusters: [cluster("aks")],
        registries: [registry("a")],
        roleAssignments: [assign("AcrPull", registryId("a"), { condition: "@Resource[...] StringStartsWith 'team-a/'" })],
      }),
    );
    expect(find(findings, "pull.granted")).toMatchObject({ status: "pass", reason: "repository-scoped" });
  });
  test("custom wildcard role is unknown unless ARM private link", () => {
    const inv = inventory({
      clusters: [cluster("aks")],
      registries: [registry("a")],
      roleAssignments: [assign("CustomWildcard", registryId("a"))],
    });
    expect(find(run(inv).findings, "pull.granted")).toMatchObject({ status: "unknown", reason: "custom-role-wildcard" });
    expect(find(run(inv, emptyState(), true).findings, "pull.granted")).toMatchObject({ status: "pass" });
  });
  test("Contributor is write-capable; RG-only grant is broad-scope-only", () => {
    const { findings } = run(
      inventory({
        clusters: [cluster("aks")],
        registries: [registry("a"), registry("b", { id: registryId("b").replace("rg-acr", "rg-b"), resourceGroup: "rg-b" })],
        roleAssignments: [assign("Contributor", registryId("a")), assign("AcrPull", `/subscriptions/${SUB}/resourceGroups/rg-b`)],
      }),
    );
    expect(find(findings, "pull.least-privilege", "/a")).toMatchObject({ status: "fail", reason: "write-capable-role" });
    expect(find(findings, "pull.least-privilege", "/b")).toMatchObject({ status: "fail", reason: "broad-scope-only" });
    expect(find(findings, "pull.granted", "/b")).toMatchObject({ status: "pass" });
  });
  test("service principal clusters: kubelet-managed fails and pull rules are unknown", () => {
    const { findings } = run(
      inventory({
        clusters: [
          cluster("aks", {
            servicePrincipalClientId: "0d3b1b2c-aaaa-bbbb-cccc-000000000000",
            kubeletObjectId: undefined,
            tags: { "aks-acr-audit-registries": "a" },
          }),
        ],
        registries: [registry("a")],
      }),
    );
    expect(find(findings, "identity.kubelet-managed")).toMatchObject({ status: "fail", reason: "service-principal" });
    expect(find(findings, "pull.granted")).toMatchObject({ status: "unknown", reason: "service-principal" });
    expect(find(findings, "pull.least-privilege")).toMatchObject({ status: "unknown", reason: "service-principal" });
  });
  test("management group assignments grant through the subscription's ancestors", () => {
    const { findings } = run(
      inventory({
        clusters: [cluster("aks", { tags: { "aks-acr-audit-registries": "a" } })],
        registries: [registry("a")],
        roleAssignments: [assign("AcrPull", "/providers/Microsoft.Management/managementGroups/Platform")],
      }),
    );
    expect(find(findings, "pull.granted")).toMatchObject({ status: "pass" });
    expect(find(findings, "pull.least-privilege")).toMatchObject({ status: "fail", reason: "broad-scope-only" });
  });
});

describe("registry rules and existence", () => {
  test("hygiene rules", () => {
    const { findings } = run(
      inventory({
        clusters: [cluster("aks")],
        registries: [registry("a", { adminUserEnabled: true, anonymousPullEnabled: true, skuName: "Premium", defaultAction: "Deny" })],
        roleAssignments: [assign("AcrPull", registryId("a"))],
      }),
    );
    expect(find(findings, "registry.admin-user")).toMatchObject({ status: "fail", reason: "admin-user-enabled", clusterId: null });
    expect(find(findings, "registry.anonymous-pull")).toMatchObject({ status: "fail", reason: "anonymous-pull-enabled" });
    expect(find(findings, "registry.public-unrestricted")).toMatchObject({ status: "pass" });
  });
  test("declared registry: deleted in a readable subscription vs not readable", () => {
    const { findings } = run(
      inventory({
        clusters: [cluster("aks", { tags: { "aks-acr-audit-registries": `${registryId("gone")},${registryId("far", OTHER_SUB)}` } })],
      }),
    );
    expect(find(findings, "registry.exists", "/gone")).toMatchObject({ status: "fail", reason: "registry-deleted" });
    expect(find(findings, "registry.exists", "/far")).toMatchObject({ status: "unknown", reason: "subscription-not-readable" });
    expect(findings.filter((f) => f.ruleId.startsWith("pull."))).toHaveLength(0);
  });
});

describe("drift", () => {
  const base = () =>
    inventory({ clusters: [cluster("aks")], registries: [registry("a")], roleAssignments: [assign("AcrPull", registryId("a"))] });
  const state = (findings: Finding[], attachments: ReturnType<typeof run>["attachments"]): StoredState => ({
    ...emptyState(),
    generation: 1,
    findings,
    attachments: attachments.map((a) => ({ clusterId: a.clusterId, registryId: a.registryId, sources: a.sources })),
  });

  test("first run is new, an unchanged second run is unchanged", () => {
    const first = run(base());
    expect(first.findings.every((f) => f.change === "new")).toBe(true);
    const second = run(base(), state(first.findings, first.attachments));
    expect(second.findings.every((f) => f.change === "unchanged")).toBe(true);
  });

  test("removed AcrPull: remembered attachment fails with change changed", () => {
    const first = run(base());
    const inv = base();
    inv.roleAssignments = [];
    const second = run(inv, state(first.findings, first.attachments));
    expect(find(second.findings, "pull.granted")).toMatchObject({
      status: "fail",
      reason: "no-pull-role",
      change: "changed",
      previousStatus: "pass",
    });
  });

  test("kubelet identity replaced", () => {
    const first = run(base());
    const inv = base();
    inv.clusters = [cluster("aks", { kubeletObjectId: "bbbbbbbb-0000-0000-0000-000000000002" })];
    const second = run(inv, state(first.findings, first.attachments));
    expect(find(second.findings, "identity.kubelet-changed")).toMatchObject({
      status: "fail",
      reason: "kubelet-identity-replaced",
      change: "changed",
    });
    expect(find(second.findings, "pull.granted")).toMatchObject({ status: "fail", change: "changed" });
  });

  test("a registry whose subscription becomes unreadable goes unknown/not-visible, never removed or pass", () => {
    const inv1 = inventory({
      subscriptions: [
        { id: `/subscriptions/${SUB}`, subscriptionId: SUB, name: "s", managementGroups: [] },
        { id: `/subscriptions/${OTHER_SUB}`, subscriptionId: OTHER_SUB, name: "o", managementGroups: [] },
      ],
      clusters: [cluster("aks")],
      registries: [registry("far", { id: registryId("far", OTHER_SUB), subscriptionId: OTHER_SUB })],
      roleAssignments: [assign("AcrPull", registryId("far", OTHER_SUB))],
    });
    const first = run(inv1);
    const inv2 = inventory({ clusters: [cluster("aks")], registries: [], roleAssignments: [] });
    const second = run(inv2, state(first.findings, first.attachments));
    const regFindings = second.findings.filter((f) => f.registryId?.endsWith("/far"));
    expect(regFindings.length).toBeGreaterThan(3);
    for (const f of regFindings) {
      expect(f.change).not.toBe("removed");
      expect(f.status).not.toBe("pass");
    }
    expect(find(second.findings, "pull.granted", "/far")).toMatchObject({
      status: "unknown",
      reason: "not-visible",
      change: "changed",
      previousStatus: "pass",
    });
    expect(find(second.findings, "registry.exists", "/far")).toMatchObject({ status: "unknown", reason: "subscription-not-readable" });
  });

  test("a cluster deleted from a readable subscription is removed once, then disappears", () => {
    const first = run(base());
    const inv = base();
    inv.clusters = [];
    const second = run(inv, state(first.findings, first.attachments));
    const clusterFindings = second.findings.filter((f) => f.clusterId);
    expect(clusterFindings.length).toBeGreaterThan(0);
    expect(clusterFindings.every((f) => f.change === "removed")).toBe(true);
    const third = run(inv, state(second.findings, second.attachments));
    expect(third.findings.filter((f) => f.clusterId)).toHaveLength(0);
  });

  test("forgotten attachment: removed once, then gone", () => {
    const decl = () => inventory({ clusters: [cluster("aks")], registries: [registry("a")], roleAssignments: [] });
    const inv0 = decl();
    inv0.clusters = [cluster("aks", { tags: {} })];
    inv0.roleAssignments = [assign("AcrPull", registryId("a"))];
    const first = run(inv0);
    const prev = {
      ...state(first.findings, first.attachments),
      forgotten: [{ clusterId: clusterId("aks").toUpperCase(), registryId: registryId("a"), requestedAt: "2026-01-01T00:00:00Z" }],
    };
    const second = run(decl(), prev);
    expect(find(second.findings, "pull.granted")).toMatchObject({ change: "removed" });
    expect(second.attachments).toHaveLength(0);
  });
});

describe("exemptions", () => {
  const inv = (tag: string) =>
    inventory({
      clusters: [cluster("aks")],
      registries: [registry("a", { anonymousPullEnabled: true, tags: { "aks-acr-audit-exempt": tag } })],
      roleAssignments: [assign("AcrPull", registryId("a"))],
    });
  test("a tag exempts the registry's finding and keeps its status", () => {
    const f = find(run(inv("registry.anonymous-pull@2099-12-31")).findings, "registry.anonymous-pull")!;
    expect(f.status).toBe("fail");
    expect(f.exemption).toMatchObject({ source: "tag", expiresOn: "2099-12-31" });
  });
  test("expiry is inclusive, in UTC", () => {
    expect(find(run(inv("registry.anonymous-pull@2026-11-25")).findings, "registry.anonymous-pull")!.exemption).toBeTruthy();
    expect(find(run(inv("registry.anonymous-pull@2026-11-24")).findings, "registry.anonymous-pull")!.exemption).toBeNull();
  });
  test("malformed entries warn and never exempt", () => {
    const { findings, warnings } = run(inv("registry.anonymous-pull@2026-13-45;nonsense"));
    expect(find(findings, "registry.anonymous-pull")!.exemption).toBeNull();
    expect(warnings.map((w) => w.message).join("\n")).toMatch(/registry\.anonymous-pull@2026-13-45[\s\S]*nonsense/);
  });
});

describe("evaluateAll is pure and total", () => {
  test("no attachments: only cluster rules", () => {
    const fs = evaluateAll(index(inventory({ clusters: [cluster("aks")] })), [], { armPrivateLink: false, previousKubelet: new Map() });
    expect(fs.map((f) => f.ruleId).sort()).toEqual(["identity.kubelet-changed", "identity.kubelet-managed"]);
  });
});

describe("exemption tag entries", () => {
  test("spaces around @ and the rule ID's case are forgiven; unknown rules and bad dates are malformed", () => {
    expect(
      parseExemptTag("registry.admin-user @ 2026-12-31; REGISTRY.Anonymous-Pull;x.y;pull.granted@2026-02-30; ;network.path@ 2027-01-01"),
    ).toEqual({
      entries: [
        { ruleId: "registry.admin-user", expiresOn: "2026-12-31" },
        { ruleId: "registry.anonymous-pull", expiresOn: null },
        { ruleId: "network.path", expiresOn: "2027-01-01" },
      ],
      malformed: ["x.y", "pull.granted@2026-02-30"],
    });
  });
});

describe("exemptions of findings that are not visible", () => {
  const base = {
    ruleId: "registry.admin-user",
    status: "unknown" as const,
    severity: "medium" as const,
    clusterId: null,
    registryId: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r",
    reason: "not-visible",
    message: "m",
    evidence: {},
    change: "unchanged" as const,
    previousStatus: null,
    subscriptionId: "s",
  };
  const api = {
    id: "x1",
    ruleId: "registry.admin-user",
    clusterId: null,
    registryId: base.registryId,
    justification: "j",
    expiresOn: null,
    createdAt: "2026-11-01T00:00:00Z",
  };
  test("keep a tag exemption, and an API exemption only while it still exists", () => {
    const now = new Date("2026-11-25T00:00:00Z");
    const idx = index(inventory());
    const tagged = { ...base, exemption: { source: "tag" as const, justification: "t", expiresOn: null, id: base.registryId } };
    const byApi = { ...base, exemption: { source: "api" as const, justification: "j", expiresOn: null, id: "x1" } };
    const deleted = new ExemptionMatcher(idx, [], now);
    const a = { ...tagged };
    deleted.apply(a);
    expect(a.exemption?.source).toBe("tag");
    const b = { ...byApi };
    deleted.apply(b);
    expect(b.exemption).toBeNull();
    const c = { ...byApi };
    new ExemptionMatcher(idx, [api], now).apply(c);
    expect(c.exemption?.id).toBe("x1");
  });
});

describe("kubelet identity of a cluster that was removed", () => {
  test("a cluster deleted and created again under the same ID is not a kubelet change", () => {
    const removed = {
      ruleId: "identity.kubelet-changed",
      status: "pass" as const,
      severity: "medium" as const,
      clusterId: clusterId("aks-1"),
      registryId: null,
      subscriptionId: SUB,
      reason: null,
      message: "m",
      evidence: { kubeletObjectId: "old-identity" },
      change: "removed" as const,
      previousStatus: "pass" as const,
    };
    expect(previousKubelets([removed]).size).toBe(0);
    expect(previousKubelets([{ ...removed, change: "unchanged" }]).get(clusterId("aks-1").toLowerCase())).toBe("old-identity");
  });
});

describe("a granted pair kept by a declared list while its grant cannot be seen", () => {
  test("stays kept run after run of the outage, and ends once the grant is visibly gone", () => {
    const tag = { tags: { "aks-acr-audit-registries": "b" } };
    const granted = inventory({
      clusters: [cluster("aks", tag)],
      registries: [registry("a"), registry("b")],
      roleAssignments: [assign("AcrPull", registryId("a"))],
    });
    const idx1 = index(granted);
    const first = inferAttachments(idx1, emptyState());
    expect(first.map((a) => `${a.registryId.split("/").pop()}:${a.sources.join("+")}`).sort()).toEqual(["a:granted", "b:declared"]);
    let state: StoredState = { ...emptyState(), attachments: attachmentsToRemember(idx1, first, emptyState()) };
    // Two runs in a row that cannot read role assignments: the pair to a is kept both times.
    const outage = inventory({ clusters: [cluster("aks", tag)], registries: [registry("a"), registry("b")], missed: ["roleAssignments"] });
    for (let run = 0; run < 2; run++) {
      const idx = index(outage);
      const atts = inferAttachments(idx, state);
      expect(atts.map((a) => a.registryId.split("/").pop()).sort(), `outage run ${run}`).toEqual(["a", "b"]);
      state = { ...state, attachments: attachmentsToRemember(idx, atts, state) };
      expect(state.attachments.find((a) => a.registryId.endsWith("/a"))?.sources).toContain("granted");
    }
    // Assignments readable again, the grant gone: the declared list is authoritative, the pair ends.
    const after = inventory({ clusters: [cluster("aks", tag)], registries: [registry("a"), registry("b")] });
    expect(inferAttachments(index(after), state).map((a) => a.registryId.split("/").pop())).toEqual(["b"]);
  });

  test("a forgotten pair of a cluster that is not visible is not remembered any more", () => {
    const hidden = clusterId("aks", OTHER_SUB);
    const inv = inventory({ registries: [registry("a")], failedSubscriptions: [OTHER_SUB] });
    const previous: StoredState = {
      ...emptyState(),
      attachments: [{ clusterId: hidden, registryId: registryId("a"), sources: ["granted"] }],
      forgotten: [{ clusterId: hidden.toUpperCase(), registryId: registryId("a"), requestedAt: "2026-11-01T00:00:00Z" }],
    };
    expect(attachmentsToRemember(index(inv), [], previous)).toEqual([]);
    expect(attachmentsToRemember(index(inv), [], { ...previous, forgotten: [] })).toHaveLength(1);
  });
});

describe("network.private-dns when the private path cannot be ruled out", () => {
  test("an approved endpoint this run cannot read keeps an earlier private-dns finding not-visible, even when the public path passes", () => {
    const pe = `/subscriptions/${OTHER_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/privateEndpoints/pe-a`;
    const reg = registry("a", {
      privateEndpointConnections: [{ id: `${registryId("a")}/privateEndpointConnections/x`, privateEndpointId: pe, status: "Approved" }],
    });
    const inv = inventory({ clusters: [cluster("aks")], registries: [reg], roleAssignments: [assign("AcrPull", registryId("a"))] });
    const earlier: Finding = {
      ruleId: "network.private-dns",
      status: "fail",
      severity: "high",
      clusterId: clusterId("aks"),
      registryId: registryId("a"),
      reason: "zone-not-linked",
      message: "m",
      evidence: {},
      change: "new",
      previousStatus: null,
      subscriptionId: SUB,
    };
    const { findings } = run(inv, {
      ...emptyState(),
      findings: [earlier],
      attachments: [{ clusterId: clusterId("aks"), registryId: registryId("a"), sources: ["granted"] }],
    });
    expect(find(findings, "network.path", "/a")).toMatchObject({ status: "pass", evidence: { privatePathUnknown: true } });
    expect(find(findings, "network.private-dns", "/a")).toMatchObject({ status: "unknown", reason: "not-visible", change: "changed" });
  });
});

describe("forgetting a pair whose cluster is not visible", () => {
  test("its findings are removed (the attachment visibly ended), not kept not-visible", () => {
    const hidden = clusterId("aks", OTHER_SUB);
    const inv = inventory({ registries: [registry("a")], failedSubscriptions: [OTHER_SUB] });
    const earlier: Finding = {
      ruleId: "pull.granted",
      status: "pass",
      severity: "high",
      clusterId: hidden,
      registryId: registryId("a"),
      reason: null,
      message: "m",
      evidence: {},
      change: "new",
      previousStatus: null,
      subscriptionId: OTHER_SUB,
    };
    const base = {
      ...emptyState(),
      findings: [earlier],
      attachments: [{ clusterId: hidden, registryId: registryId("a"), sources: ["granted" as const] }],
    };
    expect(find(run(inv, base).findings, "pull.granted", "/a")).toMatchObject({ status: "unknown", reason: "not-visible" });
    const forgotten = run(inv, {
      ...base,
      forgotten: [{ clusterId: hidden, registryId: registryId("A"), requestedAt: "2026-11-01T00:00:00Z" }],
    });
    expect(find(forgotten.findings, "pull.granted", "/a")).toMatchObject({ status: "pass", change: "removed" });
  });
});

describe("forgetting a pair that is still declared", () => {
  test("its findings are not removed while the pair is inferred again (here: the registry is not visible)", () => {
    const c = cluster("aks", { tags: { "aks-acr-audit-registries": registryId("a", OTHER_SUB) } });
    const inv = inventory({ clusters: [c], failedSubscriptions: [OTHER_SUB] });
    const earlier: Finding = {
      ruleId: "pull.granted",
      status: "pass",
      severity: "high",
      clusterId: c.id,
      registryId: registryId("a", OTHER_SUB),
      reason: null,
      message: "m",
      evidence: {},
      change: "new",
      previousStatus: null,
      subscriptionId: SUB,
    };
    const r = run(inv, {
      ...emptyState(),
      findings: [earlier],
      attachments: [{ clusterId: c.id, registryId: registryId("a", OTHER_SUB), sources: ["declared"] }],
      forgotten: [{ clusterId: c.id, registryId: registryId("a", OTHER_SUB), requestedAt: "2026-11-01T00:00:00Z" }],
    });
    expect(find(r.findings, "pull.granted", "/a")).toMatchObject({ status: "unknown", reason: "not-visible" });
  });
});
