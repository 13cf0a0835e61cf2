import { randomBytes } from "node:crypto";
import { brotliDecompressSync } from "node:zlib";
import { describe, expect, test } from "vitest";
import { encodeKeyPart, keys, MAX_KEY_LENGTH, runRowKey } from "../../../src/adapters/table-store/index.js";
import { canonicalJson, encodeFinding, slotText, visibleSlot } from "../../../src/adapters/table-store/codec.js";
import { chunkProps, groupRow, joinParts, packGroup, unpackPart } from "../../../src/adapters/table-store/groups.js";
import { finding } from "./fixtures.js";

const FORBIDDEN = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

describe("key encoding", () => {
  test("resource IDs are case-insensitive; forbidden characters never reach a key", () => {
    const id = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/AKS";
    expect(encodeKeyPart(id)).toBe(encodeKeyPart(id.toLowerCase()));
    expect(encodeKeyPart(id)).toBe(
      "%2Fsubscriptions%2Fs%2Fresourcegroups%2Frg%2Fproviders%2Fmicrosoft.containerservice%2Fmanagedclusters%2Faks",
    );
    for (const s of [
      "a/b",
      "a\\b",
      "a#b",
      "a?b",
      "a\u0000b",
      "a\u001fb",
      "a\u007fb",
      "a\u0085b",
      "a|b",
      "a~b",
      "a%b",
      "a'b",
      "a b",
      "ü",
      "😀",
    ]) {
      const k = encodeKeyPart(s);
      expect(k, s).not.toMatch(FORBIDDEN);
      expect(k, s).toMatch(/^[\x21-\x7e]+$/);
      expect(k, s).not.toMatch(/[|~]/);
    }
  });

  test("distinct values stay distinct (no escape collisions)", () => {
    const values = ["a/b", "a%2Fb", "a%2fb", "a|b", "a%7Cb", "a~b", "a", "A", "a b", "a+b"];
    const encoded = new Set(values.map((v) => encodeKeyPart(v)));
    // Only "a"/"A" and "a%2Fb"/"a%2fb" collide: that is case-insensitivity.
    expect(encoded.size).toBe(values.length - 2);
    expect(encodeKeyPart("a%2Fb")).not.toBe(encodeKeyPart("a/b"));
  });

  test("rule IDs keep their case (findingKey compares them case-sensitively)", () => {
    expect(encodeKeyPart("Pull.Granted", { preserveCase: true })).not.toBe(encodeKeyPart("pull.granted", { preserveCase: true }));
  });

  test("over-long values keep a readable head and a hash of the whole; keys stay under 1 KiB", () => {
    const a = `/subscriptions/s/resourceGroups/${"x".repeat(3000)}/a`;
    const b = `/subscriptions/s/resourceGroups/${"x".repeat(3000)}/b`;
    expect(encodeKeyPart(a)).not.toBe(encodeKeyPart(b));
    expect(encodeKeyPart(a).length).toBeLessThanOrEqual(200);
    expect(encodeKeyPart(a)).toMatch(/^%2Fsubscriptions%2Fs%2Fresourcegroups%2Fxxx.*~[0-9a-f]{40}$/);
    const f = { ruleId: "r".repeat(500), clusterId: a, registryId: b, status: "pass", severity: "high" };
    for (const c of keys.copies("mg-" + "m".repeat(200), f)) {
      expect(c.partitionKey.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
      expect(c.rowKey.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    }
  });

  test("a subject's copies share its bucket, group and row-key prefix", () => {
    const c = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/AKS";
    const r = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerRegistry/registries/ACR";
    const [status, byCluster, byRegistry] = keys.copies("tenant", {
      ruleId: "pull.granted",
      clusterId: c,
      registryId: r,
      status: "fail",
      severity: "high",
    });
    expect(status.partitionKey).toBe("tenant|s|fail|high");
    expect(byCluster.partitionKey).toBe(keys.clusterPartition("tenant", c.toUpperCase()));
    expect(byCluster.rowKey.startsWith(keys.subjectRange(c).from)).toBe(true);
    expect(byRegistry.partitionKey).toBe(keys.registryPartition("tenant", r));
    expect(byRegistry.rowKey.startsWith(keys.subjectRange(r.toLowerCase()).from)).toBe(true);
    expect(byCluster.rowKey < keys.subjectRange(c).to).toBe(true);
    expect(byCluster.group).toBe(keys.subjectGroup(c.toLowerCase()));
    expect(byRegistry.group).toBe(keys.subjectGroup(r));
    const other = keys.copies("tenant", {
      ruleId: "network.path",
      clusterId: c.toLowerCase(),
      registryId: null,
      status: "pass",
      severity: "low",
    });
    expect(other[1].group).toBe(byCluster.group);
    expect(other[0].group).toBe(status.group);
  });

  test("run row keys: newest first, derived from the run ID", () => {
    const older = runRowKey("20260101T000000Z-0000000a");
    const newer = runRowKey("20260101T060000Z-0000000b");
    expect(newer < older).toBe(true);
    expect(runRowKey("20260101T060000Z-0000000b")).toBe(newer);
    expect(runRowKey("odd id", "2026-01-01T06:00:00.000Z").slice(0, 14)).toBe(newer.slice(0, 14));
  });
});

describe("versioned slots", () => {
  const view = (gen: number, skip: number[] = []) => ({ gen, skip: new Set(skip) });

  test("a reader takes the newest slot at or below its generation, ignoring skipped ones", async () => {
    const [old] = await packGroup("0a", [{ key: "k", json: '"old"' }]);
    const [neu] = await packGroup("0a", [{ key: "k", json: '"new"' }]);
    const e = { partitionKey: "p", rowKey: groupRow("0a", 0), g0: 3, ...chunkProps(0, old), g1: 5, ...chunkProps(1, neu) };
    const text = (gen: number, skip: number[] = []) => {
      const slot = visibleSlot(e, view(gen, skip));
      return slot ? unpackPart("0a", slotText(e, slot), "e").items[0].json : undefined;
    };
    expect(text(2)).toBeUndefined();
    expect(text(3)).toBe('"old"');
    expect(text(4)).toBe('"old"');
    expect(text(5)).toBe('"new"');
    expect(text(6, [5])).toBe('"old"');
    const tomb = { ...e, g1: 7, ...chunkProps(1, null) };
    expect(visibleSlot(tomb, view(7))?.chunks).toBe(0);
  });

  test("a group too big for one slot is cut into parts that join back in key order", async () => {
    // Incompressible JSON: about 1.2 MB of random hex, far more than one slot holds.
    const items = Array.from({ length: 400 }, (_, i) => ({
      key: `k${String(i).padStart(4, "0")}`,
      json: JSON.stringify(randomBytes(1500).toString("hex")),
    }));
    const parts = await packGroup("3f", [...items].reverse());
    expect(parts.length).toBeGreaterThan(1);
    for (const b of parts) expect(b.length).toBeLessThanOrEqual(320_000);
    const decoded = parts.map((b) => unpackPart("3f", brotliDecompressSync(b).toString("utf8"), "x"));
    expect(joinParts("3f", decoded, "x")).toEqual(items);
    expect(() => joinParts("3f", decoded.slice(1), "x")).toThrow(/not one complete packing/);
    expect(() => unpackPart("40", brotliDecompressSync(parts[0]).toString("utf8"), "x")).toThrow(/does not name this group/);
  });

  test("an item too large for a slot on its own is refused, not split forever", async () => {
    const big = { key: "a", json: JSON.stringify(randomBytes(6000).toString("hex")) };
    await expect(packGroup("00", [big, { key: "b", json: "{}" }, { key: "c", json: "{}" }], 2000)).rejects.toThrow(/too large to store/);
  });

  test("the stored form of a finding is canonical and does not depend on key order", () => {
    const a = finding({ ruleId: "x", evidence: { b: 1, a: [2, { d: 1, c: 2 }] } });
    const b = { ...a, evidence: { a: [2, { c: 2, d: 1 }], b: 1 } };
    expect(encodeFinding(a)).toBe(encodeFinding(b));
    expect(canonicalJson({ x: undefined, y: 1n })).toBe('{"y":1}');
  });
});

describe("transactions", () => {
  test("batches hold one partition, at most 100 operations and about 3 MiB", async () => {
    const { CountedTable, OpCounter } = await import("../../../src/adapters/table-store/table-access.js");
    const table = new CountedTable({} as never, new OpCounter());
    const big = "x".repeat(29_000);
    const ops = [
      ...Array.from({ length: 250 }, (_, i) => ({ kind: "upsert" as const, entity: { partitionKey: "p1", rowKey: `r${i}`, d0: "small" } })),
      ...Array.from({ length: 120 }, (_, i) => ({
        kind: "upsert" as const,
        entity: { partitionKey: "p2", rowKey: `r${i}`, d0: big, d1: big },
      })),
      { kind: "delete" as const, partitionKey: "p1", rowKey: "gone" },
    ];
    const batches = table.batches(ops);
    expect(batches.flat()).toHaveLength(ops.length);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(100);
      const pks = new Set(b.map((op) => (op.kind === "delete" ? op.partitionKey : op.entity.partitionKey)));
      expect(pks.size).toBe(1);
      const bytes = b.reduce((n, op) => n + JSON.stringify(op).length, 0);
      expect(bytes).toBeLessThan(3.5 * 1024 * 1024);
    }
    expect(batches.filter((b) => b.some((op) => op.kind === "upsert" && op.entity.partitionKey === "p2")).length).toBeGreaterThanOrEqual(3);
  });
});
