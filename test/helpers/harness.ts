/**
 * Test harness: real SDK clients over the ARM simulator, and the real table store on the shared Azurite.
 */
import { inject } from "vitest";
import { AzureNamedKeyCredential } from "@azure/data-tables";
import { runAudit, type AuditResult } from "../../src/core/audit.js";
import { cloudByName, CLOUDS, type Cloud } from "../../src/core/clouds.js";
import type { AuditScope, AuditStore } from "../../src/core/ports.js";
import { buildDiscovery } from "../../src/composition-root.js";
import { ArmSimulator, loadEstateFile, parseEstate, simulatorCredential, type Estate } from "../../src/adapters/simulator/index.js";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../../src/adapters/table-store/embedded-azurite.js";
import { createTableStore, type TableAuditStore } from "../../src/adapters/table-store/index.js";

let counter = 0;

/** A fresh store (own tables) on the shared test Azurite. */
export async function freshStore(label = "t"): Promise<TableAuditStore> {
  const prefix = `${label.replace(/[^a-z0-9]/gi, "").slice(0, 12)}${process.pid}x${++counter}${Math.floor(Math.random() * 1e6)}`;
  return createTableStore({
    endpoint: inject("azuriteTableUrl"),
    credential: new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    allowInsecureConnection: true,
    tablePrefix: `t${prefix}`.slice(0, 40),
  });
}

export const FAST_RETRY = { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 50 };

export function simulatorDiscovery(
  estate: Estate,
  opts: { cloud?: Cloud; overrides?: ConstructorParameters<typeof ArmSimulator>[1]; maxRetryAfterMs?: number } = {},
) {
  const simulator = new ArmSimulator(estate, opts.overrides);
  const cloud = opts.cloud ?? cloudByName(estate.cloud) ?? CLOUDS.AzureCloud;
  const discovery = buildDiscovery({
    cloud,
    credential: simulatorCredential(),
    httpClient: simulator,
    retryOptions: FAST_RETRY,
    maxRetryAfterMs: opts.maxRetryAfterMs ?? 2_000,
    defaultRetryAfterMs: 100,
  });
  return { simulator, discovery, cloud };
}

export async function auditEstate(
  estate: Estate | string,
  store: AuditStore,
  opts: {
    scope?: AuditScope;
    armPrivateLink?: boolean;
    now?: Date;
    overrides?: ConstructorParameters<typeof ArmSimulator>[1];
    leaseSeconds?: number;
  } = {},
): Promise<AuditResult & { simulator: ArmSimulator }> {
  const e = typeof estate === "string" ? loadEstateFile(estate) : estate;
  const { simulator, discovery, cloud } = simulatorDiscovery(e, { overrides: opts.overrides });
  const result = await runAudit(
    { discovery, store },
    {
      scope: opts.scope ?? { kind: "tenant" },
      cloud,
      armPrivateLink: opts.armPrivateLink ?? false,
      holder: `test-${process.pid}-${Math.random().toString(36).slice(2, 10)}`,
      now: opts.now ? () => opts.now! : undefined,
      leaseSeconds: opts.leaseSeconds,
    },
  );
  return { ...result, simulator };
}

export { parseEstate, loadEstateFile };
