/**
 * One embedded Azurite per data directory: a second opener uses the first one's server (two servers over
 * one file would each overwrite the other's writes), a dead owner's lock is taken over.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { LOCK_FILE, openSharedAzurite } from "../../../src/adapters/table-store/shared-azurite.js";
import { openStore } from "../../../src/local.js";
import type { TableAuditStore } from "../../../src/adapters/table-store/index.js";
import { commit, estate } from "./fixtures.js";

const tmp = (label: string) => fs.mkdtempSync(path.join(os.tmpdir(), `shared-${label}-`));

describe("shared embedded Azurite", () => {
  test("a second store on the same directory uses the first one's server and sees its writes at once", async () => {
    const dir = tmp("two");
    const a = await openStore({ dataDir: dir, env: {} });
    const b = await openStore({ dataDir: dir, env: {} });
    try {
      expect(b.description).toMatch(/run by process \d+/);
      const { run } = await commit(a.store as TableAuditStore, "tenant", estate(3, 1));
      expect((await b.store.getRun("tenant", run.id))?.id).toBe(run.id);
      // A lease taken through one is held for the other: the two cannot both run.
      const lease = await a.store.acquireLease("tenant", "a", 60);
      expect(lease.acquired).toBe(true);
      expect((await b.store.acquireLease("tenant", "b", 60)).acquired).toBe(false);
    } finally {
      await b.close();
      await a.close();
    }
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    // Reopened later, the data is there (the owner saved it on close).
    const c = await openStore({ dataDir: dir, env: {} });
    try {
      expect(c.description).not.toMatch(/run by process/);
      expect((await c.store.listRuns("tenant", 10)).length).toBe(1);
    } finally {
      await c.close();
    }
  });

  test("when the process that runs the server exits, a store that shared it goes on over a server of its own", async () => {
    const dir = tmp("handover");
    const owner = await openStore({ dataDir: dir, env: {} });
    const sharer = await openStore({ dataDir: dir, env: {} });
    const { run } = await commit(owner.store as TableAuditStore, "tenant", estate(3, 1));
    await owner.close();
    try {
      // The first request after the owner left meets a closed port, takes the directory over and is resent.
      expect((await sharer.store.getRun("tenant", run.id))?.id).toBe(run.id);
      expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid });
      expect((await sharer.store.loadState("tenant")).findings.length).toBeGreaterThan(0);
    } finally {
      await sharer.close();
    }
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  test("two processes finding the same stale lock start one server between them", async () => {
    const dir = tmp("race");
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    const pid = child.pid!;
    await new Promise((r) => child.on("exit", r));
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid, tableUrl: "http://127.0.0.1:9/devstoreaccount1" }));
    const [a, b] = await Promise.all([openSharedAzurite(dir, 5000), openSharedAzurite(dir, 5000)]);
    try {
      expect([a.shared, b.shared].sort()).toEqual([false, true]);
      expect(a.tableUrl).toBe(b.tableUrl);
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  test("a lock left by a process that died is taken over", async () => {
    const dir = tmp("stale");
    // A process that has exited: its PID is free.
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    const pid = child.pid!;
    await new Promise((r) => child.on("exit", r));
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid, tableUrl: "http://127.0.0.1:9/devstoreaccount1" }));
    const s = await openSharedAzurite(dir, 2000);
    try {
      expect(s.shared).toBe(false);
      expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid, tableUrl: s.tableUrl });
    } finally {
      await s.stop();
    }
  });

  test("a live owner whose server does not answer is a clear error, not a second server", async () => {
    const dir = tmp("stuck");
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, tableUrl: "http://127.0.0.1:9/devstoreaccount1" }));
    await expect(openSharedAzurite(dir, 500)).rejects.toThrow(/held by process/);
  });
});
