/**
 * A listing that spans a new run reads on at the generation it began at (docs/api.md), also where its pages
 * end inside a store page and are resumed by position, and across the queries of its plan.
 */
import { describe, expect, test } from "vitest";
import type { FindingsFilter } from "../../src/api/findings-query.js";
import { matchesFilter } from "../../src/api/findings-query.js";
import { invalidateReadCache } from "../../src/api/cache.js";
import { findingsPage } from "../../src/api/reads.js";
import type { Finding } from "../../src/core/findings.js";
import { asUnchanged, commit, estate, newStore, sortFindings } from "../adapters/table-store/fixtures.js";

describe("a listing across a new run", () => {
  test.each<[string, FindingsFilter]>([
    ["filtered in memory over the status partitions", { exempted: false }],
    ["one status partition", { status: "pass" }],
    ["by subscription", { subscription: "0b7e3c52-5a0e-4d51-9a4e-6c1d2a7f0e11", exempted: false }],
  ])("%s: every finding of the first generation once, none of the next", async (_name, filter) => {
    const store = await newStore();
    const first = estate(60, 5);
    await commit(store, "tenant", first);
    const deps = { store, scopeKey: "tenant", tokenKey: Buffer.alloc(32, 7) };
    const expected = first.findings.filter((f) => matchesFilter(f, filter));

    const page1 = await findingsPage(deps, filter, 7);
    expect(expected.length).toBeGreaterThan(20);
    expect(page1.items).toHaveLength(7);
    // The next run moves findings between status partitions and rewords others.
    const flipped = first.findings.map((f, i): Finding =>
      i % 3 === 0
        ? {
            ...f,
            status: f.status === "pass" ? "fail" : "pass",
            reason: f.status === "pass" ? "no-pull-role" : null,
            change: "changed",
            previousStatus: f.status,
          }
        : { ...asUnchanged(f), message: `${f.message} (next run)` },
    );
    await commit(store, "tenant", { findings: flipped, attachments: first.attachments });
    invalidateReadCache(store);

    const seen = [...page1.items];
    let next = page1.next;
    for (let guard = 0; next && guard < 200; guard++) {
      const p = await findingsPage(deps, filter, 7, next);
      seen.push(...p.items);
      next = p.next;
    }
    expect(next).toBeUndefined();
    expect(sortFindings(seen)).toEqual(sortFindings(expected));
  });
});
