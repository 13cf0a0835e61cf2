/**
 * `aks-acr-audit export`: writes the estate an audit reads (same queries, same rows, every column) from
 * a tenant, so a surprising result in Azure can be replayed offline with `run --estate FILE`.
 */
import { discover } from "./core/audit.js";
import type { Cloud } from "./core/clouds.js";
import type { AuditScope } from "./core/ports.js";
import { ArgQueryRunner } from "./adapters/resource-graph/arg-client.js";
import { ExportRecorder, fullRowQuery, tableOf } from "./adapters/export/recorder.js";
import { buildClients, discoveryOver, type DiscoveryOptions } from "./composition-root.js";

export interface ExportedEstate {
  version: 1;
  description: string;
  tenantId?: string;
  cloud: string;
  tables: {
    resources: Record<string, unknown>[];
    resourcecontainers: Record<string, unknown>[];
    authorizationresources: Record<string, unknown>[];
  };
}

export async function exportEstate(opts: DiscoveryOptions & { scope: AuditScope; cloud: Cloud; now?: Date }): Promise<ExportedEstate> {
  const recorder = new ExportRecorder();
  const clients = buildClients({
    ...opts,
    resourceGraphPolicies: [recorder.resourceGraphPolicy()],
    authorizationPolicies: [recorder.authorizationPolicy()],
  });
  const empty = { attachments: [], forgotten: [] };
  await discover(discoveryOver(clients, opts.concurrency), opts.scope, opts.cloud, empty);

  const runner = new ArgQueryRunner(clients.resourceGraph);
  const tables: ExportedEstate["tables"] = { resources: [], resourcecontainers: [], authorizationresources: [] };
  const seen = new Set<string>();
  for (const q of recorder.queries.values()) {
    const table = tableOf(q.query) as keyof ExportedEstate["tables"];
    if (!(table in tables)) continue;
    const rows = await runner.allPages(
      fullRowQuery(q.query),
      { subscriptions: q.subscriptions, managementGroups: q.managementGroups },
      q.authorizationScopeFilter as "AtScopeAboveAndBelow" | undefined,
    );
    for (const r of rows) {
      const k = `${table}|${String(r.id).toLowerCase()}`;
      if (seen.has(k)) continue;
      seen.add(k);
      tables[table].push(r);
    }
  }
  for (const d of recorder.roleDefinitions.values()) {
    const k = `authorizationresources|${String(d.id).toLowerCase()}`;
    if (!seen.has(k)) {
      seen.add(k);
      tables.authorizationresources.push(d);
    }
  }
  const tenantId = [...tables.resourcecontainers, ...tables.resources]
    .map((r) => r.tenantId)
    .find((t): t is string => typeof t === "string" && t.length > 0);
  return {
    version: 1,
    description: `Exported by aks-acr-audit on ${(opts.now ?? new Date()).toISOString()} (${opts.scope.kind === "managementGroup" ? `management group ${opts.scope.managementGroup}` : "every readable subscription"}); ${recorder.queries.size} queries`,
    ...(tenantId ? { tenantId } : {}),
    cloud: opts.cloud.name,
    tables,
  };
}
