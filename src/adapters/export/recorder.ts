/**
 * Export: records the Resource Graph queries (and role definitions) an audit reads, then fetches the
 * same queries with every column, so the estate file it writes replays offline with `run --estate`
 * to the same findings (same queries, same rows).
 */
import type { PipelinePolicy } from "@azure/core-rest-pipeline";

export const FULL_COLUMNS =
  "project id, name, type, tenantId, kind, location, resourceGroup, subscriptionId, managedBy, sku, plan, properties, tags, identity, zones, extendedLocation";

export interface RecordedQuery {
  query: string;
  subscriptions?: string[];
  managementGroups?: string[];
  authorizationScopeFilter?: string;
}

/** The same query with its final `project` replaced by every column of the row. */
export function fullRowQuery(query: string): string {
  const i = query.lastIndexOf("| project ");
  return i < 0 ? `${query} | ${FULL_COLUMNS}` : `${query.slice(0, i)}| ${FULL_COLUMNS}`;
}

/** The table a query reads (its first token). */
export function tableOf(query: string): string {
  return query.trim().split(/[\s|]/)[0].toLowerCase();
}

export class ExportRecorder {
  readonly queries = new Map<string, RecordedQuery>();
  readonly roleDefinitions = new Map<string, Record<string, unknown>>();

  /** Policy for the Resource Graph client: remembers each distinct first-page request. */
  resourceGraphPolicy(): PipelinePolicy {
    return {
      name: "exportRecorderResourceGraph",
      sendRequest: async (request, next) => {
        if (request.method === "POST" && typeof request.body === "string") {
          try {
            const body = JSON.parse(request.body) as {
              query: string;
              subscriptions?: string[];
              managementGroups?: string[];
              options?: Record<string, unknown>;
            };
            if (!body.options?.$skipToken) {
              const rec: RecordedQuery = {
                query: body.query,
                subscriptions: body.subscriptions,
                managementGroups: body.managementGroups,
                authorizationScopeFilter: body.options?.authorizationScopeFilter as string | undefined,
              };
              this.queries.set(JSON.stringify(rec), rec);
            }
          } catch {
            // not a query body: nothing to record
          }
        }
        return next(request);
      },
    };
  }

  /** Policy for the authorization client: keeps every role definition it reads. */
  authorizationPolicy(): PipelinePolicy {
    return {
      name: "exportRecorderAuthorization",
      sendRequest: async (request, next) => {
        const response = await next(request);
        if (response.status === 200 && /\/roledefinitions\/[^/?]+(\?|$)/i.test(request.url) && response.bodyAsText) {
          try {
            const d = JSON.parse(response.bodyAsText) as { id?: string; name?: string; properties?: unknown };
            if (d.id) {
              this.roleDefinitions.set(d.id.toLowerCase(), {
                id: d.id,
                name: d.name,
                type: "microsoft.authorization/roledefinitions",
                tenantId: "",
                kind: "",
                location: "",
                resourceGroup: "",
                subscriptionId: "",
                managedBy: "",
                sku: null,
                plan: null,
                tags: null,
                identity: null,
                zones: null,
                extendedLocation: null,
                properties: d.properties,
              });
            }
          } catch {
            // ignore bodies that are not JSON
          }
        }
        return response;
      },
    };
  }
}
