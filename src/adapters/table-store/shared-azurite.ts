/**
 * One embedded Azurite per data directory, shared by every process of ours that opens it. Two Azurite
 * servers over one database file each keep their own copy in memory and the last to close overwrites the
 * other's writes (a run lost, a lease that does not exclude): so the first process to open the directory
 * owns its Azurite and records where it listens in a lock file, and the others use that server.
 */
import fs from "node:fs";
import path from "node:path";
import { startEmbeddedAzurite } from "./embedded-azurite.js";

export interface SharedAzurite {
  tableUrl: string;
  /** True when another process owns the server (closing then leaves it running). */
  shared: boolean;
  /** The owner's process ID. */
  ownerPid: number;
  stop(): Promise<void>;
}

export const LOCK_FILE = "azurite.lock";

interface LockContent {
  pid: number;
  tableUrl?: string;
}

function readLock(file: string): LockContent | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<LockContent>;
    if (typeof v.pid !== "number" || !Number.isInteger(v.pid)) return undefined;
    return { pid: v.pid, ...(typeof v.tableUrl === "string" ? { tableUrl: v.tableUrl } : {}) };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether Azurite's Table service answers at `tableUrl` (its Server header says so; only loopback is tried). */
async function answers(tableUrl: string): Promise<boolean> {
  const u = new URL(tableUrl);
  if (u.hostname !== "127.0.0.1") return false;
  try {
    const r = await fetch(`${u.origin}/`, { signal: AbortSignal.timeout(2000) });
    // Another server on a reused port (the owner's PID reused too) is not ours.
    return /^Azurite-Table\//i.test(r.headers.get("server") ?? "");
  } catch {
    return false;
  }
}

/**
 * Runs `fn` holding `dir`'s takeover mutex (a directory: mkdir is atomic), so that two processes finding
 * the same stale lock do not both remove it and start two servers. A mutex older than 30 s is a dead one.
 */
async function withTakeover<T>(lock: string, fn: () => T): Promise<T | undefined> {
  const mutex = `${lock}.takeover`;
  try {
    fs.mkdirSync(mutex);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    try {
      if (Date.now() - fs.statSync(mutex).mtimeMs > 30_000) fs.rmSync(mutex, { recursive: true, force: true });
    } catch {
      // gone meanwhile
    }
    return undefined;
  }
  try {
    return fn();
  } finally {
    fs.rmSync(mutex, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The Azurite of `dataDir`: the running one another live process of ours owns, else a new one this process
 * owns (a lock left by a process that died is taken over). Waits up to `waitMs` for an owner still starting.
 */
export async function openSharedAzurite(dataDir: string, waitMs = 15_000): Promise<SharedAzurite> {
  fs.mkdirSync(dataDir, { recursive: true });
  const lock = path.join(dataDir, LOCK_FILE);
  const deadline = Date.now() + waitMs;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(lock, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (fd !== undefined) return own(dataDir, lock, fd);
    const held = readLock(lock);
    if (held && alive(held.pid)) {
      if (held.tableUrl && (await answers(held.tableUrl))) {
        return { tableUrl: held.tableUrl, shared: true, ownerPid: held.pid, stop: async () => undefined };
      }
      // The owner is still starting its server (or is stuck): wait for it, then give up with a clear error.
      if (Date.now() < deadline) {
        await sleep(200);
        continue;
      }
      throw new Error(
        `the store in ${dataDir} is held by process ${held.pid}, whose Azurite does not answer: stop that process, or delete ${lock} if it is not ours`,
      );
    }
    // Nobody alive holds it (a crashed process's lock, or a half-written one): take it over.
    if (!held && Date.now() < deadline) {
      // Possibly being written right now by a starting owner: look again shortly before removing it.
      await sleep(100);
      if (readLock(lock)) continue;
    }
    // Under the mutex, and only if the lock is still the one judged stale (not a new owner's meanwhile).
    const removed = await withTakeover(lock, () => {
      const now = readLock(lock);
      if (now && (now.pid !== held?.pid || now.tableUrl !== held?.tableUrl)) return false;
      fs.rmSync(lock, { force: true });
      return true;
    });
    if (!removed) await sleep(50 + Math.random() * 100);
  }
}

async function own(dataDir: string, lock: string, fd: number): Promise<SharedAzurite> {
  fs.writeSync(fd, JSON.stringify({ pid: process.pid }));
  fs.closeSync(fd);
  let azurite: Awaited<ReturnType<typeof startEmbeddedAzurite>>;
  try {
    azurite = await startEmbeddedAzurite({ dataDir });
  } catch (err) {
    fs.rmSync(lock, { force: true });
    throw err;
  }
  fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, tableUrl: azurite.tableUrl }));
  let stopped = false;
  return {
    tableUrl: azurite.tableUrl,
    shared: false,
    ownerPid: process.pid,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        await azurite.stop();
      } finally {
        if (readLock(lock)?.pid === process.pid) fs.rmSync(lock, { force: true });
      }
    },
  };
}
