/**
 * Opening the edges for the CLI: discovery against an estate (simulator) or Azure, and the store on the
 * embedded Azurite (default), a connection string, or a table endpoint with the Azure credential.
 */
import path from "node:path";
import { AzureNamedKeyCredential } from "@azure/data-tables";
import type { Cloud } from "./core/clouds.js";
import { cloudByName, CLOUDS } from "./core/clouds.js";
import type { AuditStore } from "./core/ports.js";
import type { ResourceGraphDiscovery } from "./adapters/resource-graph/discovery.js";
import { ArmSimulator, loadEstateFile, simulatorCredential, type Estate } from "./adapters/simulator/index.js";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "./adapters/table-store/embedded-azurite.js";
import { openSharedAzurite, type SharedAzurite } from "./adapters/table-store/shared-azurite.js";
import { createDefaultHttpClient, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { createTableStore, createTableStoreFromConnectionString } from "./adapters/table-store/index.js";
import { azureCredential, buildDiscovery } from "./composition-root.js";

export interface Opened {
  close(): Promise<void>;
}

export interface OpenedDiscovery extends Opened {
  discovery: ResourceGraphDiscovery;
  cloud: Cloud;
  simulator?: ArmSimulator;
  estate?: Estate;
}

export interface OpenedStore extends Opened {
  store: AuditStore;
  description: string;
}

export const DEFAULT_DATA_DIR = ".aks-acr-audit";

/** Discovery through the simulator for an estate file, else through Azure with the developer's credential. */
export async function openDiscovery(opts: {
  estate?: string;
  cloud?: Cloud;
  env: Record<string, string | undefined>;
}): Promise<OpenedDiscovery> {
  if (opts.estate) {
    const estate = loadEstateFile(opts.estate);
    const cloud = opts.cloud ?? cloudByName(estate.cloud) ?? cloudByName(opts.env.AZURE_CLOUD) ?? CLOUDS.AzureCloud;
    const simulator = new ArmSimulator(estate);
    const discovery = buildDiscovery({
      cloud,
      credential: simulatorCredential(),
      httpClient: simulator,
      retryOptions: { maxRetries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000 },
    });
    return { discovery, cloud, simulator, estate, close: async () => undefined };
  }
  const cloud = opts.cloud ?? cloudByName(opts.env.AZURE_CLOUD) ?? CLOUDS.AzureCloud;
  const credential = await azureCredential(cloud, opts.env.AZURE_CLIENT_ID || undefined);
  return { discovery: buildDiscovery({ cloud, credential }), cloud, close: async () => undefined };
}

/** A fresh simulator-backed discovery for an estate file (one per run: counters and caches are per run). */
export function openDiscoverySync(estateFile: string, cloud: Cloud): ResourceGraphDiscovery {
  const estate = loadEstateFile(estateFile);
  return buildDiscovery({
    cloud,
    credential: simulatorCredential(),
    httpClient: new ArmSimulator(estate),
    retryOptions: { maxRetries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000 },
  });
}

/**
 * The store: AUDIT_TABLE_ENDPOINT (Azure, Entra ID credential) or AUDIT_STORAGE_CONNECTION_STRING when set,
 * else the embedded Azurite keeping its files in `dataDir`.
 */
export async function openStore(opts: { dataDir?: string; env: Record<string, string | undefined> }): Promise<OpenedStore> {
  const prefix = opts.env.AUDIT_TABLE_PREFIX || undefined;
  try {
    if (opts.env.AUDIT_TABLE_ENDPOINT) {
      const cloud = cloudByName(opts.env.AZURE_CLOUD) ?? CLOUDS.AzureCloud;
      const credential = await azureCredential(cloud, opts.env.AZURE_CLIENT_ID || undefined);
      const store = await createTableStore({ endpoint: opts.env.AUDIT_TABLE_ENDPOINT, credential, tablePrefix: prefix });
      return { store, description: opts.env.AUDIT_TABLE_ENDPOINT, close: async () => undefined };
    }
    if (opts.env.AUDIT_STORAGE_CONNECTION_STRING) {
      const store = await createTableStoreFromConnectionString(opts.env.AUDIT_STORAGE_CONNECTION_STRING, { tablePrefix: prefix });
      return { store, description: "connection string", close: async () => undefined };
    }
  } catch (err) {
    throw new Error(`Cannot open the store: ${(err as Error).message.split("\n")[0]}`, { cause: err });
  }
  const dataDir = path.resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  let azurite;
  try {
    // Shared with any other process of ours on the same directory (two servers over one file lose writes).
    azurite = await openSharedAzurite(dataDir);
  } catch (err) {
    throw new Error(`Cannot start the embedded store in ${dataDir}: ${(err as Error).message.split("\n")[0]}`, { cause: err });
  }
  const transport = new SharedStoreTransport(azurite, () => openSharedAzurite(dataDir));
  try {
    const store = await createTableStore({
      endpoint: azurite.tableUrl,
      credential: new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      allowInsecureConnection: true,
      tablePrefix: prefix,
      httpClient: transport,
    });
    const description = `embedded Azurite in ${dataDir}${azurite.shared ? ` (run by process ${azurite.ownerPid})` : ""}`;
    return { store, description, close: () => transport.azurite.stop() };
  } catch (err) {
    await azurite.stop().catch(() => undefined);
    throw new Error(`Cannot open the embedded store in ${dataDir}: ${(err as Error).message.split("\n")[0]}`, { cause: err });
  }
}

/**
 * The transport of a store on a shared embedded Azurite. When the server another process ran is gone (that
 * process exited), the directory is opened again, this process then owning a server of its own over the
 * file the other one saved, and the request goes there (the shared key signs paths, not hosts).
 */
class SharedStoreTransport implements HttpClient {
  private readonly inner = createDefaultHttpClient();
  private readonly origins = new Set<string>();
  private reopening: Promise<SharedAzurite> | undefined;

  constructor(
    public azurite: SharedAzurite,
    private readonly reopen: () => Promise<SharedAzurite>,
  ) {
    this.origins.add(new URL(azurite.tableUrl).origin);
  }

  async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
    this.route(request);
    try {
      return await this.inner.sendRequest(request);
    } catch (err) {
      if (!this.azurite.shared || (err as { code?: unknown }).code !== "ECONNREFUSED") throw err;
      const gone = this.azurite;
      this.reopening ??= this.reopen().finally(() => (this.reopening = undefined));
      const next = await this.reopening;
      if (this.azurite === gone) {
        this.azurite = next;
        this.origins.add(new URL(next.tableUrl).origin);
      }
      this.route(request);
      return this.inner.sendRequest(request);
    }
  }

  /** Points a request at the current server (it may name one that has gone). */
  private route(request: PipelineRequest): void {
    const u = new URL(request.url);
    const current = new URL(this.azurite.tableUrl).origin;
    if (u.origin !== current && this.origins.has(u.origin)) request.url = current + request.url.slice(u.origin.length);
  }
}
