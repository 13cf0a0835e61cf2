/**
 * The Functions app's runtime: settings validated once per worker, the store and a discovery factory
 * built from them. Handlers in src/functions get everything from `getRuntime()`; tests swap it with
 * `setRuntime()`.
 */
import os from "node:os";
import { AzureNamedKeyCredential } from "@azure/data-tables";
import { loadConfig, type AppConfig } from "./config.js";
import type { AuditObserver, AuditStore, DiscoveryPort } from "./core/ports.js";
import { scopeKeyOf } from "./core/ports.js";
import { azureCredential, buildDiscovery } from "./composition-root.js";
import { ArmSimulator, loadEstateFile, simulatorCredential } from "./adapters/simulator/index.js";
import { createTableStore, createTableStoreFromConnectionString } from "./adapters/table-store/index.js";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";

export interface AppRuntime {
  config: AppConfig;
  store: AuditStore;
  scopeKey: string;
  /** A fresh discovery adapter per run (its counters and caches are per run). */
  newDiscovery(): DiscoveryPort;
  /** Telemetry (when APPLICATIONINSIGHTS_CONNECTION_STRING is set). */
  observer?: AuditObserver;
  /** Who holds the run lease. */
  holder: string;
}

export interface RuntimeExtensions {
  /** Builds telemetry; called once with the config. */
  observer?: (config: AppConfig) => Promise<(AuditObserver & { policies?: PipelinePolicy[] }) | undefined>;
}

let current: Promise<AppRuntime> | undefined;
let extensions: RuntimeExtensions = {};

export function registerRuntimeExtensions(ext: RuntimeExtensions): void {
  extensions = { ...extensions, ...ext };
}

export async function buildRuntime(env: Record<string, string | undefined>): Promise<AppRuntime> {
  const config = loadConfig(env);
  const observer = extensions.observer ? await extensions.observer(config) : undefined;
  let store: AuditStore;
  if (config.tableEndpoint) {
    const credential = await azureCredential(config.cloud, config.managedIdentityClientId);
    store = await createTableStore({ endpoint: config.tableEndpoint, credential, tablePrefix: config.tablePrefix });
  } else if (config.storageConnectionString) {
    store = await createTableStoreFromConnectionString(config.storageConnectionString, { tablePrefix: config.tablePrefix });
  } else {
    throw new Error("Invalid configuration: set AUDIT_TABLE_ENDPOINT (Azure) or AUDIT_STORAGE_CONNECTION_STRING (local)");
  }
  const estate = config.estateFile ? loadEstateFile(config.estateFile) : undefined;
  const credential = estate ? simulatorCredential() : await azureCredential(config.cloud, config.managedIdentityClientId);
  return {
    config,
    store,
    scopeKey: scopeKeyOf(config.scope),
    holder: `${env.WEBSITE_INSTANCE_ID ?? os.hostname()}:${process.pid}`,
    observer,
    newDiscovery: () =>
      buildDiscovery({
        cloud: config.cloud,
        credential,
        httpClient: estate ? new ArmSimulator(estate) : undefined,
        policies: observer?.policies,
      }),
  };
}

/** The per-worker runtime, built on first use from process.env. */
export function getRuntime(): Promise<AppRuntime> {
  if (!current) {
    current = buildRuntime(process.env);
    current.catch(() => {
      current = undefined; // a bad setting is reported on every invocation until fixed, not cached
    });
  }
  return current;
}

/** Replaces the runtime (tests, the local `serve` command). */
export function setRuntime(rt: AppRuntime | Promise<AppRuntime> | undefined): void {
  current = rt === undefined ? undefined : Promise.resolve(rt);
}

export { AzureNamedKeyCredential };
