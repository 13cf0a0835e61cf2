/** The CLI contract: output shapes, exit codes, bad input, the embedded store. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inject, describe, expect, test } from "vitest";
import { AzureNamedKeyCredential } from "@azure/data-tables";
import { main } from "../src/cli.js";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../src/adapters/table-store/embedded-azurite.js";
import { createTableStore } from "../src/adapters/table-store/index.js";

const CASES = path.join(__dirname, "conformance");
let n = 0;

function io(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s), isTty: false, env } };
}

/** An env that points the CLI's store at the shared test Azurite, in tables of its own. */
function storeEnv(): Record<string, string> {
  const prefix = `cli${process.pid}x${++n}${Math.floor(Math.random() * 1e5)}`;
  const url = inject("azuriteTableUrl");
  return {
    AUDIT_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};TableEndpoint=${url};`,
    AUDIT_TABLE_PREFIX: prefix,
  };
}

describe("run --json", () => {
  test("prints exactly one JSON document with the contract's fields", async () => {
    const t = io(storeEnv());
    const code = await main(["run", "--estate", path.join(CASES, "declared-without-role.json"), "--json"], t.io);
    expect(code).toBe(0);
    expect(t.out).toHaveLength(1);
    const doc = JSON.parse(t.out[0]);
    expect(Object.keys(doc).sort()).toEqual(["findings", "run"]);
    for (const k of ["id", "startedAt", "finishedAt", "status", "scopes", "counts"]) expect(doc.run).toHaveProperty(k);
    expect(doc.run.status).toBe("succeeded");
    for (const f of doc.findings) {
      for (const k of [
        "ruleId",
        "status",
        "severity",
        "reason",
        "change",
        "previousStatus",
        "clusterId",
        "registryId",
        "message",
        "evidence",
      ])
        expect(f).toHaveProperty(k);
    }
    expect(doc.findings.some((f: { status: string }) => f.status === "pass")).toBe(true);
    const ghost = doc.findings.find(
      (f: { ruleId: string; registryId: string }) => f.ruleId === "registry.exists" && f.registryId === "ghostregistry",
    );
    expect(ghost).toMatchObject({ status: "unknown", reason: "unresolved-name" });
  });

  test("--fail-on: exit 3 when a finding at or above the severity fails, 0 below it", async () => {
    const env = storeEnv();
    expect(await main(["run", "--estate", path.join(CASES, "declared-without-role.json"), "--fail-on", "high", "--json"], io(env).io)).toBe(
      3,
    );
    expect(
      await main(["run", "--estate", path.join(CASES, "attached-basic.json"), "--fail-on", "medium", "--json"], io(storeEnv()).io),
    ).toBe(0);
    expect(await main(["run", "--estate", path.join(CASES, "attached-basic.json"), "--fail-on", "low", "--json"], io(storeEnv()).io)).toBe(
      3,
    );
  });

  test("--fail-on ignores exempted findings", async () => {
    const raw = JSON.parse(fs.readFileSync(path.join(CASES, "attached-basic.json"), "utf8"));
    const reg = raw.tables.resources.find((r: { type: string }) => r.type === "microsoft.containerregistry/registries");
    reg.tags = { "aks-acr-audit-exempt": "registry.public-unrestricted@2099-01-01" };
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cli-")), "exempt.json");
    fs.writeFileSync(file, JSON.stringify(raw));
    const t = io(storeEnv());
    expect(await main(["run", "--estate", file, "--fail-on", "low", "--json"], t.io)).toBe(0);
    const f = JSON.parse(t.out[0]).findings.find((x: { ruleId: string }) => x.ruleId === "registry.public-unrestricted");
    expect(f.status).toBe("fail");
    expect(f.exemption).toMatchObject({ source: "tag", expiresOn: "2099-01-01" });
  });
});

describe("bad input exits 2 with a one-line message", () => {
  test.each([
    [["run", "--bogus"], /bogus/],
    [["run", "--fail-on", "extreme"], /--fail-on/],
    [["run", "--cloud", "Mars"], /--cloud/],
    [["frobnicate"], /unknown command/],
    [["findings", "--status", "broken"], /--status/],
    [["triage"], /--cluster/],
  ])("%j", async (args, message) => {
    const t = io(storeEnv());
    expect(await main(args, t.io)).toBe(2);
    expect(t.err.join("\n")).toMatch(message);
    expect(t.out).toEqual([]);
  });

  test("a malformed estate names the file and the JSON path, and writes nothing", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-"));
    const file = path.join(dir, "bad.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ version: 1, tables: { resources: [{ id: 42, type: "x" }], resourcecontainers: [], authorizationresources: [] } }),
    );
    const env = storeEnv();
    const t = io(env);
    expect(await main(["run", "--estate", file, "--json"], t.io)).toBe(2);
    expect(t.err[0]).toContain("bad.json");
    expect(t.err[0]).toMatch(/\$\.tables\.resources\[0\]\.id/);
    const runs = io(env);
    expect(await main(["runs", "--json"], runs.io)).toBe(0);
    expect(JSON.parse(runs.out[0]).value).toEqual([]);
  });

  test("a file that is not JSON", async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cli-")), "x.json");
    fs.writeFileSync(file, "{ not json");
    const t = io(storeEnv());
    expect(await main(["run", "--estate", file], t.io)).toBe(2);
    expect(t.err[0]).toContain("x.json");
  });
});

describe("the store", () => {
  test("an unreachable store: exit 1 with a clear message", async () => {
    const t = io({
      AUDIT_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};TableEndpoint=http://127.0.0.1:9/${AZURITE_ACCOUNT};`,
    });
    expect(await main(["run", "--estate", path.join(CASES, "attached-basic.json")], t.io)).toBe(1);
    expect(t.err.join("\n")).toMatch(/store/i);
  });

  test("a held lease: exit 1 naming the holder", async () => {
    const env = storeEnv();
    const store = await createTableStore({
      endpoint: inject("azuriteTableUrl"),
      credential: new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      allowInsecureConnection: true,
      tablePrefix: env.AUDIT_TABLE_PREFIX,
    });
    const lease = await store.acquireLease("tenant", "someone-else", 60);
    expect(lease.acquired).toBe(true);
    const t = io(env);
    expect(await main(["run", "--estate", path.join(CASES, "attached-basic.json")], t.io)).toBe(1);
    expect(t.err.join("\n")).toMatch(/someone-else/);
  });

  test("embedded Azurite in --data-dir keeps history across runs; runs and findings read it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-data-"));
    const est = path.join(CASES, "drift-pull-removed.before.json");
    expect(await main(["run", "--estate", est, "--data-dir", dir, "--json"], io().io)).toBe(0);
    const second = io();
    expect(await main(["run", "--estate", path.join(CASES, "drift-pull-removed.json"), "--data-dir", dir, "--json"], second.io)).toBe(0);
    const pull = JSON.parse(second.out[0]).findings.find((f: { ruleId: string }) => f.ruleId === "pull.granted");
    expect(pull).toMatchObject({ status: "fail", change: "changed", previousStatus: "pass" });
    const runs = io();
    expect(await main(["runs", "--data-dir", dir, "--json"], runs.io)).toBe(0);
    expect(JSON.parse(runs.out[0]).value).toHaveLength(2);
    const failing = io();
    expect(await main(["findings", "--data-dir", dir, "--status", "fail", "--severity", "high", "--json"], failing.io)).toBe(0);
    const rules = JSON.parse(failing.out[0]).value.map((f: { ruleId: string }) => f.ruleId);
    expect(rules).toContain("pull.granted");
    expect(rules).not.toContain("registry.public-unrestricted");
    const table = io();
    expect(await main(["findings", "--data-dir", dir, "--cluster", "aks-retail"], table.io)).toBe(0);
    expect(table.out[0]).toMatch(/pull\.granted/);
  });
});

describe("text output", () => {
  test("the report lists clusters and their failing rules, without colour when not a TTY", async () => {
    const t = io(storeEnv());
    expect(await main(["run", "--estate", path.join(CASES, "private-endpoint-peering.json")], t.io)).toBe(0);
    const text = t.out.join("\n");
    expect(text).toMatch(/aks-b[\s\S]*FAIL network\.path -> hubacr/);
    expect(text).not.toMatch(/\u001b\[/);
  });
  test("triage counts the attachments the store remembers, as the audit and GET /api/triage do", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-triage-store-"));
    const week1 = path.join(__dirname, "../samples/contoso.estate.json");
    const week2 = path.join(__dirname, "../samples/contoso-next-week.estate.json");
    expect(await main(["run", "--estate", week1, "--data-dir", dir, "--json"], io().io)).toBe(0);
    const run2 = io();
    expect(await main(["run", "--estate", week2, "--data-dir", dir, "--json"], run2.io)).not.toBe(2);
    const audited = (
      JSON.parse(run2.out.join("\n")) as { findings: { ruleId: string; clusterId: string | null; status: string }[] }
    ).findings.filter((f) => f.ruleId === "pull.granted" && /aks-inventory-prod-weu$/i.test(f.clusterId ?? ""));
    expect(audited.length).toBeGreaterThan(0);
    const t = io();
    expect(await main(["triage", "--estate", week2, "--cluster", "aks-inventory-prod-weu", "--data-dir", dir, "--json"], t.io)).toBe(0);
    const verdict = JSON.parse(t.out.join("\n")) as { verdict: string; registries: unknown[] };
    expect(verdict.registries.length).toBe(audited.length);
    // The kubelet identity was replaced: the remembered registry's pull fails, and so does the verdict.
    expect(audited.some((f) => f.status === "fail")).toBe(true);
    expect(verdict.verdict).toBe("fail");
  });

  test("triage explains a broken attachment with the fix", async () => {
    const t = io();
    expect(await main(["triage", "--estate", path.join(CASES, "private-endpoint-peering.json"), "--cluster", "aks-b"], t.io)).toBe(0);
    expect(t.out[0]).toMatch(/Network path per node pool\s+FAIL/);
    expect(t.out[0]).toMatch(/az network vnet peering create .*vnet-b/);
    const j = io();
    expect(
      await main(["triage", "--estate", path.join(CASES, "private-endpoint-peering.json"), "--cluster", "AKS-A", "--json"], j.io),
    ).toBe(0);
    expect(JSON.parse(j.out[0])).toMatchObject({ verdict: "pass", cluster: { name: "aks-a" } });
    const missing = io();
    expect(await main(["triage", "--estate", path.join(CASES, "private-endpoint-peering.json"), "--cluster", "nope"], missing.io)).toBe(2);
  });
});

/** `serve` on a free port over `dir`'s store: its URL, what it printed, how to stop it and its exit code. */
async function serve(dir: string, estate?: string) {
  let stop!: () => void;
  const until = new Promise<void>((r) => (stop = r));
  const t = io();
  const serving = main(["serve", "--port", "0", "--data-dir", dir, ...(estate ? ["--estate", estate] : [])], { ...t.io, until });
  for (let i = 0; i < 100 && !t.out.length; i++) await new Promise((r) => setTimeout(r, 50));
  const url = /(http:\/\/127\.0\.0\.1:\d+)\/api/.exec(t.out.join("\n"))![1];
  return { url, out: t.out, stop, serving };
}

describe("serve", () => {
  test("serves the API over the CLI's store on 127.0.0.1 and prints URLs to try", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-serve-"));
    const estate = path.join(CASES, "private-endpoint-peering.json");
    expect(await main(["run", "--estate", estate, "--data-dir", dir, "--json"], io().io)).toBe(0);
    const { url, out, stop, serving } = await serve(dir, estate);
    expect(out.join("\n")).toMatch(/curl -s '.*\/api\/findings\?status=fail&severity=high'/);
    const res = await fetch(`${url}/api/findings?status=fail&severity=high`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { value: { ruleId: string; reason: string }[] };
    expect(body.value.map((f) => `${f.ruleId}:${f.reason}`)).toContain("network.path:private-endpoint-not-peered");
    const bad = await fetch(`${url}/api/findings?colour=red`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toMatch(/colour/);
    stop();
    expect(await serving).toBe(0);
  });

  test("without --estate, triage and POST /api/runs answer 503 naming the fix (the local default never reaches Azure)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-serve-noestate-"));
    const { url, stop, serving } = await serve(dir);
    const res = await fetch(`${url}/api/triage?cluster=aks-a`);
    expect(res.status).toBe(503);
    expect(JSON.stringify(await res.json())).toMatch(/--estate/);
    // POST /api/runs says the same at once, and records no run.
    const started = await fetch(`${url}/api/runs`, { method: "POST" });
    expect(started.status).toBe(503);
    expect(((await (await fetch(`${url}/api/runs`)).json()) as { value: unknown[] }).value).toEqual([]);
    stop();
    expect(await serving).toBe(0);
  });

  test("stopping the server lets an audit started by POST /api/runs finish before the store closes", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-serve-run-"));
    const { url, stop, serving } = await serve(dir, path.join(CASES, "private-endpoint-peering.json"));
    const started = await fetch(`${url}/api/runs`, { method: "POST" });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    stop(); // at once, while the audit runs
    expect(await serving).toBe(0);
    const runs = io();
    expect(await main(["runs", "--data-dir", dir, "--json"], runs.io)).toBe(0);
    const listed = JSON.parse(runs.out.join("\n")) as { value: { id: string; status: string }[] };
    expect(listed.value.find((r) => r.id === id)?.status).toBe("succeeded");
  });
});
