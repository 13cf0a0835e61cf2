/**
 * Starting Application Insights (applicationinsights 3.x, the OpenTelemetry based SDK) once per process.
 *
 * The SDK's global providers are used on purpose: the Azure SDK instrumentation turns every ARM and Table
 * Storage call into dependency telemetry, and in the Functions host the SDK's pre-invocation hook
 * parents them to the invocation. `applicationinsights` is loaded lazily (it takes ~1.5 s), so a process
 * without a connection string never pays for it.
 */
import type { TokenCredential } from "@azure/core-auth";
import { AzureLogger, getLogLevel, setLogLevel } from "@azure/logger";
import type { TelemetryClient } from "applicationinsights";

export interface IngestionSettings {
  /** APPLICATIONINSIGHTS_CONNECTION_STRING */
  connectionString: string;
  /** APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=AAD` or `Authorization=AAD;ClientId=<guid>`. */
  authenticationString?: string;
}

export interface StartOptions {
  /** Credential for Entra ID ingestion; replaces the managed identity credential (tests inject one). */
  credential?: TokenCredential;
  /** Builds the managed identity credential from the client ID (default: lazy ManagedIdentityCredential). */
  managedIdentityCredential?: (clientId: string | undefined) => TokenCredential;
  /** Keep telemetry on disk while ingestion is unreachable and resend it later (default true). */
  offlineStorage?: boolean;
}

const AUTH = /^Authorization=AAD(?:;ClientId=([0-9a-f-]{36}))?$/i;

/** The credential for Entra ID ingestion, or undefined for instrumentation-key ingestion. */
export function ingestionCredential(settings: IngestionSettings, opts: StartOptions = {}): TokenCredential | undefined {
  const auth = settings.authenticationString?.trim();
  if (!auth) return opts.credential;
  const m = AUTH.exec(auth);
  if (!m)
    throw new Error("APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be 'Authorization=AAD' optionally followed by ';ClientId=<guid>'");
  return opts.credential ?? (opts.managedIdentityCredential ?? lazyManagedIdentityCredential)(m[1]);
}

/**
 * A ManagedIdentityCredential built on first use: @azure/identity is not loaded (and nothing probes the
 * managed identity endpoint) until the exporter asks for a token.
 */
export function lazyManagedIdentityCredential(clientId: string | undefined): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  return {
    async getToken(scopes, options) {
      credential ??= import("@azure/identity").then(({ ManagedIdentityCredential }) =>
        clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential(),
      );
      return (await credential).getToken(scopes, options);
    },
  };
}

let started: { client: TelemetryClient; connectionString: string } | undefined;

/** The process's client, started on the first call. Later calls return it (the SDK is global). */
export function startApplicationInsights(settings: IngestionSettings, opts: StartOptions = {}): TelemetryClient {
  if (started) {
    if (started.connectionString !== settings.connectionString) {
      console.warn("aks-acr-audit: Application Insights is already started with another connection string; keeping the first");
    }
    return started.client;
  }
  const credential = ingestionCredential(settings, opts);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ai = require("applicationinsights") as typeof import("applicationinsights");
  const client = new ai.TelemetryClient(settings.connectionString);
  const c = client.config;
  if (credential) c.aadTokenCredential = credential;
  c.enableSendLiveMetrics = false;
  c.enableAutoCollectPerformance = false; // the Functions host reports the process counters
  c.enableAutoCollectExceptions = false; // failed invocations are reported by the host; no process-wide handlers
  c.enableAutoCollectConsole = false;
  c.enableAutoCollectExternalLoggers = false;
  c.enableUseDiskRetryCaching = opts.offlineStorage ?? true;
  c.azureMonitorOpenTelemetryOptions = {
    // Every trace and every event: a run is a few hundred calls every few hours, and the default rate
    // limit (5 traces/s) would drop dependencies and, with trace-based log sampling, the run's events.
    tracesPerSecond: 0,
    samplingRatio: 1,
    enableTraceBasedSamplingForLogs: false,
    instrumentationOptions: {
      // Azure SDK spans are the ARM and Table Storage dependencies. The raw HTTP instrumentation would
      // report each of them a second time (and the worker's HTTP proxy's requests twice).
      azureSdk: { enabled: true },
      http: { enabled: false },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      postgreSql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
    },
  };
  const azureLog = { log: AzureLogger.log, level: getLogLevel() };
  client.initialize();
  keepAzureSdkLogging(azureLog);
  started = { client, connectionString: settings.connectionString };
  return client;
}

/**
 * The SDK turns the Azure SDK's logger on at "warning" and prints it on stdout: SDK warnings (e.g. ARM
 * clients' deprecation notices) would land in the CLI's `--json` output and in the host's logs on every
 * run. The Azure SDK's logging stays as the process had it (AZURE_LOG_LEVEL; off by default), unless the
 * SDK's own logging settings are used on purpose.
 */
function keepAzureSdkLogging(before: { log: typeof AzureLogger.log; level: ReturnType<typeof getLogLevel> }): void {
  if (process.env.APPLICATIONINSIGHTS_INSTRUMENTATION_LOGGING_LEVEL || process.env.APPLICATIONINSIGHTS_LOG_DESTINATION) return;
  AzureLogger.log = before.log;
  setLogLevel(before.level);
}

/** Flushes and stops the SDK (the CLI before it exits; tests). Gives up waiting after `timeoutMs`. */
export async function stopApplicationInsights(timeoutMs = 10_000): Promise<void> {
  if (!started) return;
  started = undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ai = require("applicationinsights") as typeof import("applicationinsights");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([ai.shutdownAzureMonitor(), timeout]);
  } catch (err) {
    console.warn(`aks-acr-audit: telemetry shutdown failed: ${(err as Error)?.message ?? String(err)}`);
  } finally {
    clearTimeout(timer);
  }
}
