import { beforeAll, describe, expect, test } from "vitest";
import type { TableAuditStore } from "../../../src/adapters/table-store/index.js";
import { findingKey, type Finding } from "../../../src/core/findings.js";
import type { FindingQuery, NextState } from "../../../src/core/ports.js";
import { asUnchanged, clusterId, commit, estate, newStore, registryId, sortFindings } from "./fixtures.js";

async function collect(store: TableAuditStore, scope: string, q: FindingQuery, top: number): Promise<{ items: Finding[]; pages: number }> {
  const items: Finding[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await store.queryFindings(scope, q, top, token);
    expect(page.items.length).toBeLessThanOrEqual(top);
    items.push(...page.items);
    token = page.continuation;
    pages++;
    expect(pages).toBeLessThan(500);
  } while (token);
  return { items, pages };
}

const matches = (q: FindingQuery) => (f: Finding) =>
  (q.clusterId === undefined || (f.clusterId ?? "").toLowerCase() === q.clusterId.toLowerCase()) &&
  (q.registryId === undefined || (f.registryId ?? "").toLowerCase() === q.registryId.toLowerCase()) &&
  (q.status === undefined || f.status === q.status) &&
  (q.severity === undefined || f.severity === q.severity);

describe("queryFindings", () => {
  let store: TableAuditStore;
  let state: NextState;

  beforeAll(async () => {
    store = await newStore();
    state = estate(30, 4);
    await commit(store, "tenant", state);
    await commit(store, "other", estate(5, 2)); // another scope in the same tables
  });

  const queries: [string, FindingQuery][] = [
    ["cluster", { clusterId: clusterId(7) }],
    ["cluster, other case", { clusterId: clusterId(7).toUpperCase() }],
    ["cluster + registry + status", { clusterId: clusterId(7), registryId: registryId(3), status: "pass" }],
    ["registry", { registryId: registryId(1) }],
    ["registry + severity", { registryId: registryId(1), severity: "high" }],
    ["status + severity", { status: "pass", severity: "high" }],
    ["status + severity (sparse)", { status: "fail", severity: "medium" }],
    ["status only", { status: "fail" }],
    ["severity only", { severity: "low" }],
    ["everything", {}],
  ];

  for (const [name, q] of queries) {
    test(`${name}: every page size returns exactly the matching findings, once`, async () => {
      const expected = sortFindings(state.findings.filter(matches(q)));
      expect(expected.length).toBeGreaterThan(0);
      for (const top of [1, 7, 1000]) {
        const { items, pages } = await collect(store, "tenant", q, top);
        expect(new Set(items.map(findingKey)).size).toBe(items.length);
        expect(sortFindings(items)).toEqual(expected);
        if (top === 1) expect(pages).toBeGreaterThanOrEqual(expected.length);
      }
    });
  }

  test("an unknown cluster or an empty scope returns nothing", async () => {
    expect(await store.queryFindings("tenant", { clusterId: "/subscriptions/x/nothing" }, 10)).toEqual({ items: [], generation: 1 });
    expect(await store.queryFindings("nobody", {}, 10)).toEqual({ items: [], generation: 0 });
  });

  test("a cluster query reads one partition range, not the scope", async () => {
    const ops = store.operations();
    const page = await store.queryFindings("tenant", { clusterId: clusterId(3) }, 100);
    expect(page.items).toHaveLength(8);
    // pointer read + the one group row that packs this cluster's copies (and a few other clusters')
    expect(store.operations() - ops).toBe(1 + 1);
  });

  test("forged, corrupted and foreign continuation tokens are refused", async () => {
    const q: FindingQuery = { status: "pass" };
    const first = await store.queryFindings("tenant", q, 5);
    expect(first.continuation).toBeTruthy();
    const token = first.continuation!;
    const [payload, signature] = token.split(".");
    const wire = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    // A forger can rewrite the payload but not sign it.
    const forge = (o: unknown) => `${Buffer.from(JSON.stringify(o), "utf8").toString("base64url")}.${signature}`;
    const otherStore = await newStore();
    await commit(otherStore, "tenant", estate(3, 1));
    const foreignStoreToken = (await otherStore.queryFindings("tenant", q, 1)).continuation!;
    const otherQueryToken = (await store.queryFindings("tenant", { status: "fail" }, 1)).continuation!;
    const bad: [string, string, FindingQuery, string][] = [
      ["garbage", "not a token!", q, "tenant"],
      ["no signature", payload, q, "tenant"],
      ["not JSON", `${Buffer.from("hello").toString("base64url")}.${signature}`, q, "tenant"],
      ["empty object", forge({}), q, "tenant"],
      ["read index changed", forge({ ...wire, p: (wire.p as number) === 0 ? 1 : 0 }), q, "tenant"],
      ["table continuation changed", forge({ ...wire, k: "eyJuZXh0UGFydGl0aW9uS2V5IjoieCJ9" }), q, "tenant"],
      ["generation changed", forge({ ...wire, g: 0 }), q, "tenant"],
      ["token of another query", otherQueryToken, q, "tenant"],
      ["used for another query", token, { status: "fail" }, "tenant"],
      ["used for another scope", token, q, "other"],
      ["issued by another store", foreignStoreToken, q, "tenant"],
    ];
    for (const [why, t, query, scope] of bad) {
      const outcome = await store.queryFindings(scope, query, 5, t).then(
        () => "accepted",
        (e: { code?: string }) => e.code,
      );
      expect(`${why}: ${outcome}`).toBe(`${why}: InvalidContinuationToken`);
    }
    // The genuine token still works.
    const second = await store.queryFindings("tenant", q, 5, token);
    expect(second.items).toHaveLength(5);
  });

  test("a listing continues at its first page's generation across one commit", async () => {
    const s = await newStore();
    const gen1 = estate(6, 2);
    await commit(s, "tenant", gen1);
    const first = await s.queryFindings("tenant", { status: "pass" }, 10);
    // Generation 2 flips every pass to fail.
    const flipped: NextState = {
      findings: gen1.findings.map((f) =>
        f.status === "pass"
          ? { ...f, status: "fail" as const, change: "changed" as const, previousStatus: "pass" as const }
          : asUnchanged(f),
      ),
      attachments: gen1.attachments,
    };
    await commit(s, "tenant", flipped);
    const rest = await collectFrom(s, { status: "pass" }, 10, first.continuation);
    expect(sortFindings([...first.items, ...rest])).toEqual(sortFindings(gen1.findings.filter((f) => f.status === "pass")));
    // A fresh listing sees generation 2.
    expect((await s.queryFindings("tenant", { status: "pass" }, 10)).items).toEqual([]);
  });

  test("a listing whose generation is gone (two commits later) resumes after its last key: nothing twice", async () => {
    const s = await newStore();
    const gen1 = estate(8, 2);
    await commit(s, "tenant", gen1);
    const q: FindingQuery = { status: "pass" };
    const first = await s.queryFindings("tenant", q, 7);
    expect(first.continuation).toBeDefined();
    // Two commits: the second drops generation 1's slots. Each adds pass findings that sort before and
    // after everything (rule IDs "a..." and "z...") and keeps the rest.
    const extra = (tag: string): Finding[] =>
      ["a.first", "z.last"].map((ruleId) => ({
        ...gen1.findings[0],
        ruleId: `${ruleId}-${tag}`,
        status: "pass" as const,
        change: "new" as const,
        previousStatus: null,
      }));
    const gen2: NextState = { findings: [...gen1.findings.map(asUnchanged), ...extra("2")], attachments: gen1.attachments };
    await commit(s, "tenant", gen2);
    const gen3: NextState = { findings: [...gen2.findings.map(asUnchanged), ...extra("3")], attachments: gen1.attachments };
    await commit(s, "tenant", gen3);
    const rest = await collectFrom(s, q, 7, first.continuation);
    const keysOf = (fs: Finding[]) => fs.map((f) => findingKey(f));
    const seen = [...keysOf(first.items), ...keysOf(rest)];
    expect(new Set(seen).size).toBe(seen.length);
    // Everything that was there at the start and still is, is listed once; later additions after the resume point may be.
    for (const f of gen1.findings.filter((x) => x.status === "pass")) expect(seen).toContain(findingKey(f));
  });
});

async function collectFrom(store: TableAuditStore, q: FindingQuery, top: number, token: string | undefined): Promise<Finding[]> {
  const out: Finding[] = [];
  while (token) {
    const page = await store.queryFindings("tenant", q, top, token);
    out.push(...page.items);
    token = page.continuation;
  }
  return out;
}
