/**
 * Builds the adapters once per process and wires them into the core: against Azure (managed identity or
 * a developer's `az login`), or against the ARM simulator serving an estate file (local default, tests).
 */
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ResourceGraphClient } from "@azure/arm-resourcegraph";
import type { TokenCredential } from "@azure/core-auth";
import type { HttpClient, PipelinePolicy } from "@azure/core-rest-pipeline";
import type { Cloud } from "./core/clouds.js";
import type { AuditStore } from "./core/ports.js";
import { ResourceGraphDiscovery } from "./adapters/resource-graph/discovery.js";
import { QuotaLimiter, throttleCapPolicy } from "./adapters/resource-graph/quota-limiter.js";

/** Subscription ID the authorization client requires even for scope-level calls. */
const PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";

export interface DiscoveryOptions {
  cloud: Cloud;
  credential: TokenCredential;
  /** The transport: the ARM simulator locally, the SDK default (undefined) in Azure. */
  httpClient?: HttpClient;
  /** SDK retry options; defaults are the SDK's (3 retries). Tests pass small delays. */
  retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  /** Longest Retry-After the auditor honours before giving up a request (bounded run time). */
  maxRetryAfterMs?: number;
  /** Wait given to a 429/503 that names none (the SDK would not retry a 429 without Retry-After). */
  defaultRetryAfterMs?: number;
  concurrency?: number;
  /** Extra pipeline policies (telemetry) on both clients. */
  policies?: PipelinePolicy[];
  resourceGraphPolicies?: PipelinePolicy[];
  authorizationPolicies?: PipelinePolicy[];
}

export interface ArmClients {
  resourceGraph: ResourceGraphClient;
  authorization: AuthorizationManagementClient;
  limiter: QuotaLimiter;
  authorizationStats: { requests: number; throttled: number };
}

/** The SDK clients with our policies: quota limiter, throttle cap, and any extra ones. */
export function buildClients(opts: DiscoveryOptions): ArmClients {
  const throttle = { maxRetryAfterMs: opts.maxRetryAfterMs ?? 30_000, defaultRetryAfterMs: opts.defaultRetryAfterMs ?? 2_000 };
  const common = {
    endpoint: opts.cloud.armEndpoint,
    credentialScopes: [opts.cloud.armAudience],
    httpClient: opts.httpClient,
    retryOptions: opts.retryOptions,
    userAgentOptions: { userAgentPrefix: "aks-acr-auditor" },
  };
  const resourceGraph = new ResourceGraphClient(opts.credential, common);
  const limiter = new QuotaLimiter(throttle);
  resourceGraph.pipeline.addPolicy(limiter.policy(), { afterPhase: "Retry" });
  const authorizationStats = { requests: 0, throttled: 0 };
  const authorization = new AuthorizationManagementClient(opts.credential, PLACEHOLDER_SUBSCRIPTION, common);
  authorization.pipeline.addPolicy(throttleCapPolicy(throttle, authorizationStats), { afterPhase: "Retry" });
  for (const p of opts.policies ?? []) {
    resourceGraph.pipeline.addPolicy(p, { afterPhase: "Retry" });
    authorization.pipeline.addPolicy(p, { afterPhase: "Retry" });
  }
  for (const p of opts.resourceGraphPolicies ?? []) resourceGraph.pipeline.addPolicy(p);
  for (const p of opts.authorizationPolicies ?? []) authorization.pipeline.addPolicy(p);
  return { resourceGraph, authorization, limiter, authorizationStats };
}

export function buildDiscovery(opts: DiscoveryOptions): ResourceGraphDiscovery {
  return discoveryOver(buildClients(opts), opts.concurrency);
}

export function discoveryOver(c: ArmClients, concurrency?: number): ResourceGraphDiscovery {
  return new ResourceGraphDiscovery(
    {
      resourceGraph: c.resourceGraph,
      authorization: c.authorization,
      authorizationStats: c.authorizationStats,
      limiterStats: () => c.limiter.stats,
    },
    { concurrency },
  );
}

/**
 * The Azure credential: managed identity in Azure (AZURE_CLIENT_ID selects a user-assigned one), the
 * developer's Azure CLI login on a workstation. Built only when auditing real Azure.
 */
export async function azureCredential(cloud: Cloud, managedIdentityClientId?: string): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new DefaultAzureCredential({ authorityHost: cloud.authorityHost, managedIdentityClientId });
}

export interface Runtime {
  store: AuditStore;
  close(): Promise<void>;
}
