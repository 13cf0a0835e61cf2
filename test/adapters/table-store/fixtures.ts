/**
 * Fixtures for the table store tests: stores on the shared Azurite (own tables each), synthetic estates of
 * findings, run records, and a transport that dies on demand.
 */
import { inject } from "vitest";
import { AzureNamedKeyCredential, TableClient } from "@azure/data-tables";
import {
  createDefaultHttpClient,
  RestError,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../../../src/adapters/table-store/embedded-azurite.js";
import { createTableStore, type TableAuditStore, type TableStoreClientOptions } from "../../../src/adapters/table-store/index.js";
import { findingKey, type Finding, type Severity, type Status } from "../../../src/core/findings.js";
import type { NextState, RunRecord, StoredAttachment, StoredState } from "../../../src/core/ports.js";

export const credential = () => new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
export const FAST_RETRY = { maxRetries: 0 };

let seq = 0;
export function uniquePrefix(label = "ts"): string {
  return `${label}${process.pid}${++seq}${Math.floor(Math.random() * 1e6)}`.replace(/[^A-Za-z0-9]/g, "").slice(0, 40);
}

/** A store with its own tables on the shared Azurite. */
export async function newStore(opts: TableStoreClientOptions & { endpoint?: string } = {}): Promise<TableAuditStore> {
  return createTableStore({
    endpoint: opts.endpoint ?? inject("azuriteTableUrl"),
    credential: credential(),
    allowInsecureConnection: true,
    retryOptions: FAST_RETRY,
    ...opts,
    tablePrefix: opts.tablePrefix ?? uniquePrefix(),
  });
}

/** Raw access to one of a store's tables. */
export function rawTable(store: TableAuditStore, which: "findings" | "runs" | "state", endpoint = inject("azuriteTableUrl")): TableClient {
  return new TableClient(endpoint, store.tableNames()[which], credential(), { allowInsecureConnection: true });
}

export async function rawEntities(client: TableClient): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const e of client.listEntities<Record<string, unknown>>()) out.push(e);
  return out;
}

const SUB = "0b7e3c52-5a0e-4d51-9a4e-6c1d2a7f0e11";

export function clusterId(i: number): string {
  return `/subscriptions/${SUB}/resourceGroups/RG-Apps-${i % 40}/providers/Microsoft.ContainerService/managedClusters/aks-${i}`;
}

export function registryId(j: number): string {
  return `/subscriptions/${SUB}/resourceGroups/RG-Shared/providers/Microsoft.ContainerRegistry/registries/acr${j}`;
}

export function finding(p: Partial<Finding> & Pick<Finding, "ruleId">): Finding {
  return {
    status: "pass",
    severity: "high",
    clusterId: null,
    registryId: null,
    reason: null,
    message: `${p.ruleId} evaluated`,
    evidence: {},
    change: "new",
    previousStatus: null,
    subscriptionId: SUB,
    ...p,
  };
}

const ATTACHMENT_RULES: [string, Severity][] = [
  ["registry.exists", "high"],
  ["pull.granted", "high"],
  ["pull.least-privilege", "medium"],
  ["network.path", "high"],
  ["network.private-dns", "high"],
  ["registry.replica-nearby", "low"],
];
const REGISTRY_RULES: [string, Severity][] = [
  ["registry.admin-user", "medium"],
  ["registry.anonymous-pull", "medium"],
  ["registry.public-unrestricted", "low"],
];

/**
 * A synthetic estate's findings: per cluster two cluster-level findings and one attachment (six attachment
 * findings), per registry three registry findings. About 1 in 9 fail, 1 in 23 unknown.
 */
export function estate(clusters: number, registries: number, change: Finding["change"] = "new"): NextState {
  const findings: Finding[] = [];
  const attachments: StoredAttachment[] = [];
  const statusFor = (n: number): Status => (n % 9 === 0 ? "fail" : n % 23 === 0 ? "unknown" : "pass");
  for (let i = 0; i < clusters; i++) {
    const c = clusterId(i);
    const r = registryId(i % registries);
    findings.push(
      finding({ ruleId: "identity.kubelet-managed", severity: "low", clusterId: c, change, evidence: { objectId: `oid-${i}` } }),
    );
    findings.push(
      finding({ ruleId: "identity.kubelet-changed", severity: "medium", clusterId: c, change, evidence: { objectId: `oid-${i}` } }),
    );
    attachments.push({ clusterId: c, registryId: r, sources: ["granted"] });
    ATTACHMENT_RULES.forEach(([ruleId, severity], k) => {
      const status = statusFor(i * 7 + k);
      findings.push(
        finding({
          ruleId,
          severity,
          status,
          reason: status === "fail" ? "no-pull-role" : null,
          clusterId: c,
          registryId: r,
          change,
          evidence: {
            roleAssignmentIds: [`${c}/providers/Microsoft.Authorization/roleAssignments/ra-${i}-${k}`],
            pools: ["system", "user"],
          },
          remediation:
            status === "fail"
              ? {
                  summary: "grant AcrPull",
                  commands: [`az aks update --attach-acr acr${i % registries}`],
                  docs: "https://learn.microsoft.com",
                }
              : null,
        }),
      );
    });
  }
  for (let j = 0; j < registries; j++) {
    REGISTRY_RULES.forEach(([ruleId, severity], k) => {
      findings.push(
        finding({ ruleId, severity, status: statusFor(j + k), registryId: registryId(j), change, evidence: { sku: "Premium" } }),
      );
    });
  }
  return { findings, attachments };
}

/** What a reader of the next generation should see: drift fields as the next run stored them. */
export function sortFindings(fs: Finding[]): Finding[] {
  return [...fs].sort((a, b) => (findingKey(a) < findingKey(b) ? -1 : findingKey(a) > findingKey(b) ? 1 : 0));
}

export function sortAttachments(as: StoredAttachment[]): StoredAttachment[] {
  const k = (a: StoredAttachment) => `${a.clusterId.toLowerCase()}|${a.registryId.toLowerCase()}`;
  return [...as].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

/** A finding as readers see it in a later generation than the one that wrote it. */
export function asUnchanged(f: Finding): Finding {
  return { ...f, change: "unchanged", previousStatus: null };
}

/** Core-shaped run IDs: `YYYYMMDDTHHMMSSZ-<8 hex>`. */
export function runIdAt(d: Date, n = 0): string {
  return `${d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${n.toString(16).padStart(8, "0")}`;
}

let runSeq = 0;
export function runRecord(scope: string, opts: { startedAt?: Date; id?: string; status?: RunRecord["status"] } = {}): RunRecord {
  const startedAt = opts.startedAt ?? new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + ++runSeq * 60_000);
  return {
    id: opts.id ?? runIdAt(startedAt, runSeq),
    scope,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date(startedAt.getTime() + 5_000).toISOString(),
    durationMs: 5_000,
    status: opts.status ?? "succeeded",
    scopes: [SUB],
    missed: [],
    warnings: [],
    counts: {
      total: 0,
      byStatus: { pass: 0, fail: 0, unknown: 0 },
      byStatusSeverity: {},
      byChange: { new: 0, unchanged: 0, changed: 0, removed: 0 },
      openFailing: 0,
      exempted: 0,
    },
    stats: { resourceGraphRequests: 1, armRequests: 2, throttled: 0, tableOperations: 3 },
  };
}

/** loadState + startRun + commitRun, as the core does; returns the run and the state it was based on. */
export async function commit(
  store: TableAuditStore,
  scope: string,
  next: NextState,
  run = runRecord(scope),
): Promise<{ run: RunRecord; previous: StoredState }> {
  const previous = await store.loadState(scope);
  await store.startRun(scope, run);
  await store.commitRun(scope, run, previous, next);
  return { run, previous };
}

/** Comparable view of a state: findings and attachments sorted. */
export function comparable(s: { findings: Finding[]; attachments: StoredAttachment[] }) {
  return { findings: sortFindings(s.findings), attachments: sortAttachments(s.attachments) };
}

/**
 * A transport over the real one that, once `trigger` says so, fails every request (as if Azurite died).
 */
export class DyingHttpClient implements HttpClient {
  private readonly inner = createDefaultHttpClient();
  dead = false;
  sent = 0;
  constructor(private readonly trigger: (req: PipelineRequest, index: number) => boolean) {}
  async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
    const index = this.sent++;
    if (!this.dead && this.trigger(request, index)) this.dead = true;
    if (this.dead) throw new RestError("connect ECONNREFUSED (injected)", { code: "ECONNREFUSED", request });
    return this.inner.sendRequest(request);
  }
}

/** True for a write of the scope pointer entity (reservation or switch). */
export function isPointerWrite(req: PipelineRequest): boolean {
  if ((req.method !== "POST" && req.method !== "PUT") || isBatch(req)) return false;
  const body = typeof req.body === "string" ? req.body : "";
  return /RowKey='pointer'/.test(decodeURIComponent(req.url)) || /"RowKey":"pointer"/.test(body);
}

export function isBatch(req: PipelineRequest): boolean {
  return req.method === "POST" && /\$batch/.test(req.url);
}
