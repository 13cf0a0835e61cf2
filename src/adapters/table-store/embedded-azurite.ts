/**
 * The embedded Table Storage emulator: the official Azurite Table service, started in-process on a free
 * loopback port. Used by the CLI's local default and by the tests; never in Azure.
 */
import fs from "node:fs";
import path from "node:path";

/** Azurite's well-known development account (public, documented; not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface EmbeddedAzurite {
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  tableUrl: string;
  connectionString: string;
  port: number;
  stop(): Promise<void>;
}

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
}

/**
 * Starts Azurite's Table service. With `dataDir` its database is a file there (kept across runs);
 * without, it lives in memory.
 */
export async function startEmbeddedAzurite(opts: { dataDir?: string; port?: number } = {}): Promise<EmbeddedAzurite> {
  // Untyped deep imports: the package's `main` is a VS Code extension entry and cannot be loaded here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const TableServer = (require("azurite/dist/src/table/TableServer.js") as { default: new (config: unknown) => AzuriteServer }).default;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const TableConfiguration = (require("azurite/dist/src/table/TableConfiguration.js") as { default: new (...args: unknown[]) => unknown })
    .default;
  let dbPath = "__azurite_table_memory__.json";
  const memory = !opts.dataDir;
  if (opts.dataDir) {
    fs.mkdirSync(opts.dataDir, { recursive: true });
    dbPath = path.join(opts.dataDir, "azurite-table.json");
  }
  const config = new TableConfiguration(
    "127.0.0.1",
    opts.port ?? 0,
    undefined,
    dbPath,
    false, // debug log
    false, // access log
    undefined,
    undefined,
    false, // loose
    true, // skipApiVersionCheck: newer SDKs send newer versions
    "",
    "",
    "",
    undefined,
    false,
    memory,
  );
  const server: AzuriteServer = new TableServer(config);
  await server.start();
  const address = server.getHttpServerAddress(); // http://127.0.0.1:PORT
  const port = Number(new URL(address).port);
  const tableUrl = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    tableUrl,
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};TableEndpoint=${tableUrl};`,
    stop: () => server.close(),
  };
}
