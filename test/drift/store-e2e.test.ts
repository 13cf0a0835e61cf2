/**
 * Drift and history end to end, on a real Azurite: one run at a time, a store killed mid-run, store
 * faults, and the cost of an unchanged run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { AzureNamedKeyCredential } from "@azure/data-tables";
import { createDefaultHttpClient, type HttpClient, type PipelineRequest } from "@azure/core-rest-pipeline";
import { AuditError } from "../../src/core/audit.js";
import { findingKey, type Finding } from "../../src/core/findings.js";
import { AZURITE_ACCOUNT, AZURITE_KEY, startEmbeddedAzurite } from "../../src/adapters/table-store/embedded-azurite.js";
import { createTableStore } from "../../src/adapters/table-store/index.js";
import { loadEstateFile } from "../../src/adapters/simulator/index.js";
import { auditEstate, freshStore } from "../helpers/harness.js";

const CASES = path.join(__dirname, "../conformance");
const statusMap = (fs_: Finding[]) => Object.fromEntries(fs_.map((f) => [findingKey(f), `${f.status}:${f.reason}:${f.change}`]));
const cred = new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);

describe("one run at a time", () => {
  test("two audits at once: exactly one runs, the other reports the lease", async () => {
    const store = await freshStore("lease");
    const estate = loadEstateFile(path.join(CASES, "attached-basic.json"));
    const slow = { latencyMs: 150 };
    const results = await Promise.allSettled([
      auditEstate(estate, store, { overrides: slow }),
      auditEstate(estate, store, { overrides: slow }),
    ]);
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0].reason).toBeInstanceOf(AuditError);
    expect((refused[0].reason as AuditError).code).toBe("LeaseHeld");
    expect(String(refused[0].reason.message)).toMatch(/running/);
    // The lease is released: the next run goes ahead.
    await expect(auditEstate(estate, store)).resolves.toBeTruthy();
  });
});

describe("a store that dies mid-run", () => {
  test("stopping Azurite while the run writes leaves the previous run's state intact; the next run succeeds", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kill-"));
    let azurite = await startEmbeddedAzurite({ dataDir });
    const port = azurite.port;
    const base = createDefaultHttpClient();
    let killAfterBatches = -1;
    let batches = 0;
    const killer: HttpClient = {
      async sendRequest(req: PipelineRequest) {
        if (req.url.includes("$batch") && killAfterBatches >= 0 && ++batches > killAfterBatches) {
          await azurite.stop().catch(() => undefined);
          killAfterBatches = -1;
        }
        return base.sendRequest(req);
      },
    };
    const open = () =>
      createTableStore({
        endpoint: azurite.tableUrl,
        credential: cred,
        allowInsecureConnection: true,
        httpClient: killer,
        retryOptions: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
      });
    const store = await open();
    const first = await auditEstate(path.join(CASES, "drift-pull-removed.before.json"), store);
    const before = await store.loadState("tenant");

    killAfterBatches = 2; // let two transactions through, then the emulator dies
    // A crashed run cannot release its lease: a short lease shows that expiry frees the scope.
    const err = await auditEstate(path.join(CASES, "drift-pull-removed.json"), store, { leaseSeconds: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditError);
    expect((err as AuditError).code).toBe("StoreFailed");

    azurite = await startEmbeddedAzurite({ dataDir, port });
    const reader = await open();
    const after = await reader.loadState("tenant");
    expect(after.lastRunId).toBe(first.run.id);
    expect(statusMap(after.findings)).toEqual(statusMap(before.findings));
    const page = await reader.queryFindings("tenant", { status: "pass", severity: "high" }, 100);
    expect(page.items.map((f) => f.ruleId)).toContain("pull.granted");

    await expect(auditEstate(path.join(CASES, "drift-pull-removed.json"), reader)).rejects.toMatchObject({ code: "LeaseHeld" });
    await new Promise((r) => setTimeout(r, 1100));
    const next = await auditEstate(path.join(CASES, "drift-pull-removed.json"), reader);
    expect(next.run.status).toBe("succeeded");
    expect(next.findings.find((f) => f.ruleId === "pull.granted")).toMatchObject({ status: "fail", change: "changed" });
    await azurite.stop();
  });

  test("transient 503s from Table Storage are retried", async () => {
    const base = createDefaultHttpClient();
    let injected = 0;
    const flaky: HttpClient = {
      async sendRequest(req) {
        if (injected < 3 && req.method !== "GET") {
          injected++;
          return {
            request: req,
            status: 503,
            headers: base.sendRequest.length
              ? (await import("@azure/core-rest-pipeline")).createHttpHeaders({ "retry-after": "0" })
              : (undefined as never),
            bodyAsText: "",
          };
        }
        return base.sendRequest(req);
      },
    };
    const { inject } = await import("vitest");
    const store = await createTableStore({
      endpoint: inject("azuriteTableUrl"),
      credential: cred,
      allowInsecureConnection: true,
      tablePrefix: `flaky${process.pid}${Math.floor(Math.random() * 1e6)}`,
      httpClient: flaky,
      retryOptions: { maxRetries: 4, retryDelayInMs: 10, maxRetryDelayInMs: 50 },
    });
    const result = await auditEstate(path.join(CASES, "attached-basic.json"), store);
    expect(injected).toBe(3);
    expect(result.run.status).toBe("succeeded");
    expect((await store.loadState("tenant")).lastRunId).toBe(result.run.id);
  });
});
