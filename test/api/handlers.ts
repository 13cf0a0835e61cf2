/** Every HTTP handler by operation name (imported directly, as the tests call them). */
import type { OperationName } from "../../src/api/routes.js";
import type { AuditStore } from "../../src/core/ports.js";
import { attachmentsForget } from "../../src/functions/attachments-forget.js";
import { clusterAttachments } from "../../src/functions/cluster-attachments.js";
import { exemptionsCreate } from "../../src/functions/exemptions-create.js";
import { exemptionsDelete } from "../../src/functions/exemptions-delete.js";
import { exemptionsList } from "../../src/functions/exemptions-list.js";
import { findingsList } from "../../src/functions/findings-list.js";
import { findingsSummary } from "../../src/functions/findings-summary.js";
import { health } from "../../src/functions/health.js";
import { openapi } from "../../src/functions/openapi.js";
import { runsChanges } from "../../src/functions/runs-changes.js";
import { runsGet } from "../../src/functions/runs-get.js";
import { runsList } from "../../src/functions/runs-list.js";
import { runsStart } from "../../src/functions/runs-start.js";
import { triage } from "../../src/functions/triage.js";
import type { Handler } from "./harness.js";

export const HANDLER_TABLE: Record<OperationName, Handler> = {
  "findings-list": findingsList,
  "findings-summary": findingsSummary,
  "runs-list": runsList,
  "runs-start": runsStart,
  "runs-get": runsGet,
  "runs-changes": runsChanges,
  "cluster-attachments": clusterAttachments,
  "attachments-forget": attachmentsForget,
  health,
  openapi,
  "exemptions-list": exemptionsList,
  "exemptions-create": exemptionsCreate,
  "exemptions-delete": exemptionsDelete,
  triage,
};

/** A store whose every method fails like an unreachable service (with a detail that must not leak). */
export function brokenStore(): AuditStore {
  return new Proxy({} as AuditStore, {
    get: (_t, name) =>
      name === "then"
        ? undefined
        : () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED 10.1.2.3:443 key=SECRETKEY"), { code: "ECONNREFUSED" })),
  });
}

/** A request that reaches each operation's store call (route params and bodies that pass validation). */
export function validRequest(name: OperationName): { url: string; method: string; params?: Record<string, string>; body?: unknown } {
  const cluster =
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks";
  const registry =
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr";
  switch (name) {
    case "findings-list":
      return { url: "/api/findings", method: "GET" };
    case "findings-summary":
      return { url: "/api/findings/summary", method: "GET" };
    case "runs-list":
      return { url: "/api/runs", method: "GET" };
    case "runs-start":
      return { url: "/api/runs", method: "POST" };
    case "runs-get":
      return { url: "/api/runs/latest", method: "GET", params: { runId: "latest" } };
    case "runs-changes":
      return { url: "/api/runs/latest/changes", method: "GET", params: { runId: "latest" } };
    case "cluster-attachments":
      return { url: "/api/clusters/aks/attachments", method: "GET", params: { clusterId: "aks/attachments" } };
    case "attachments-forget":
      return { url: "/api/attachments/forget", method: "POST", body: { clusterId: cluster, registryId: registry } };
    case "health":
      return { url: "/api/health", method: "GET" };
    case "openapi":
      return { url: "/api/openapi.json", method: "GET" };
    case "exemptions-list":
      return { url: "/api/exemptions", method: "GET" };
    case "exemptions-create":
      return { url: "/api/exemptions", method: "POST", body: { ruleId: "pull.granted", clusterId: cluster, justification: "j" } };
    case "exemptions-delete":
      return {
        url: "/api/exemptions/6f1c2c9e-4a55-4cf4-9a53-2f1f3f0a1b2c",
        method: "DELETE",
        params: { id: "6f1c2c9e-4a55-4cf4-9a53-2f1f3f0a1b2c" },
      };
    case "triage":
      return { url: `/api/triage?cluster=${encodeURIComponent(cluster)}`, method: "GET" };
  }
}
