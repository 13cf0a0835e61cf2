import { describe, expect, it } from "vitest";
import { isRestError } from "@azure/core-rest-pipeline";
import type { SimulationFault } from "../../../src/adapters/simulator/index.js";
import { ACR_PULL, SUB_A, SUB_B, authClient, rgClient, simulator } from "./helpers.js";

const QUERY = "resources | where type =~ 'microsoft.containerregistry/registries' | project id, name";
const ASSIGNMENTS = "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | project id";
const NO_RETRY = { maxRetries: 0, retryDelayInMs: 10, maxRetryDelayInMs: 50 };

async function rejection(p: Promise<unknown>): Promise<Error & { statusCode?: number; code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { statusCode?: number; code?: string };
  }
  throw new Error("expected the call to fail");
}

const withFaults = (faults: SimulationFault[], extra: Record<string, unknown> = {}) => simulator({ faults, ...extra });

describe("ARM simulator: scripted faults", () => {
  it("status faults answer with an ARM error; the SDK retries 5xx and succeeds", async () => {
    const sim = withFaults([{ service: "resourcegraph", status: 503, count: 2 }]);
    const res = await rgClient(sim).resources({ query: QUERY });
    expect(res.count).toBe(4);
    expect(sim.stats).toMatchObject({ faultsInjected: 2, resourceGraphRequests: 3 });
    const err = await rejection(
      rgClient(withFaults([{ service: "resourcegraph", status: 500, count: -1 }]), undefined, NO_RETRY).resources({ query: QUERY }),
    );
    expect(isRestError(err)).toBe(true);
    expect(err.statusCode).toBe(500);
    expect(err.code).toBe("InternalServerError");
  });

  it("a 429 fault with retryAfterSeconds is waited out by the SDK", async () => {
    const sim = withFaults([{ service: "authorization", status: 429, retryAfterSeconds: 1, count: 1 }]);
    const started = Date.now();
    const def = await authClient(sim).roleDefinitions.getById(`/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL}`);
    const elapsed = Date.now() - started;
    expect(def.roleName).toBe("AcrPull");
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(1900);
    expect(sim.stats).toMatchObject({ faultsInjected: 1, throttled: 1, authorizationRequests: 2 });
  });

  it("a 429 fault without Retry-After is not retried by the SDK (as in Azure)", async () => {
    const sim = withFaults([{ service: "resourcegraph", status: 429, count: 1 }], { quota: { requests: 10, windowSeconds: 5 } });
    let remaining: string | undefined;
    const err = await rejection(
      rgClient(sim).resources({ query: QUERY }, { onResponse: (r) => (remaining = r.headers.get("x-ms-user-quota-remaining")) }),
    );
    expect(err.statusCode).toBe(429);
    expect(err.code).toBe("RateLimiting");
    expect(remaining).toBe("10");
    expect(sim.stats.resourceGraphRequests).toBe(1);
  });

  it("reset drops the connection with ECONNRESET, which the SDK retries as a network error", async () => {
    const once = withFaults([{ service: "resourcegraph", kind: "reset" }]);
    const res = await rgClient(once).resources({ query: QUERY });
    expect(res.count).toBe(4);
    expect(once.stats).toMatchObject({ faultsInjected: 1, resourceGraphRequests: 2 });
    const always = withFaults([{ service: "any", kind: "reset", count: -1 }]);
    const err = await rejection(rgClient(always).resources({ query: QUERY }));
    expect(isRestError(err)).toBe(true);
    expect(err.code).toBe("ECONNRESET");
    expect(always.stats.resourceGraphRequests).toBe(4);
  });

  it("timeout fails with ETIMEDOUT after the wait, and the SDK retries it", async () => {
    const sim = withFaults([{ service: "authorization", kind: "timeout", timeoutMs: 60 }]);
    const started = Date.now();
    const list = [];
    for await (const d of authClient(sim).roleDefinitions.list("/", { filter: "roleName eq 'AcrPull'" })) list.push(d);
    expect(list).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(sim.stats.authorizationRequests).toBe(2);
    const err = await rejection(
      rgClient(withFaults([{ service: "resourcegraph", kind: "timeout", timeoutMs: 20, count: -1 }]), undefined, NO_RETRY).resources({
        query: QUERY,
      }),
    );
    expect(isRestError(err)).toBe(true);
    expect(err.code).toBe("ETIMEDOUT");
  });

  it("timeout ends as soon as the request's abortSignal fires", async () => {
    const sim = withFaults([{ service: "resourcegraph", kind: "timeout" }]);
    const started = Date.now();
    const err = await rejection(rgClient(sim).resources({ query: QUERY }, { abortSignal: AbortSignal.timeout(100) }));
    expect(err.name).toBe("AbortError");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("after lets the first matching requests through; faults apply in order", async () => {
    const sim = withFaults([
      { service: "resourcegraph", status: 500, after: 1 },
      { service: "any", status: 502 },
    ]);
    const client = rgClient(sim, undefined, NO_RETRY);
    const statuses: number[] = [];
    const onResponse = (r: { status: number }) => statuses.push(r.status);
    await rejection(client.resources({ query: QUERY }, { onResponse })); // fault 0 skips it, fault 1 takes it
    await rejection(client.resources({ query: QUERY }, { onResponse })); // fault 0 fires
    await client.resources({ query: QUERY }, { onResponse });
    expect(statuses).toEqual([502, 500, 200]);
  });

  it("subscriptionId and table narrow which requests a fault hits", async () => {
    const sim = withFaults([
      { service: "resourcegraph", status: 503, subscriptionId: SUB_B.toUpperCase(), count: -1 },
      { service: "resourcegraph", status: 504, table: "authorizationresources", count: -1 },
    ]);
    const client = rgClient(sim, undefined, NO_RETRY);
    expect((await client.resources({ query: QUERY, subscriptions: [SUB_A] })).count).toBe(2);
    expect((await rejection(client.resources({ query: QUERY, subscriptions: [SUB_B] }))).statusCode).toBe(503);
    expect((await rejection(client.resources({ query: QUERY }))).statusCode).toBe(503); // the tenant scope includes SUB_B
    expect((await rejection(client.resources({ query: ASSIGNMENTS, subscriptions: [SUB_A] }))).statusCode).toBe(504);
    expect(sim.stats.faultsInjected).toBe(3);
  });

  it("latencyMs delays every response and honours the abortSignal", async () => {
    const sim = simulator(undefined, { latencyMs: 120 });
    const started = Date.now();
    await rgClient(sim).resources({ query: QUERY });
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    const err = await rejection(rgClient(sim).resources({ query: QUERY }, { abortSignal: AbortSignal.timeout(30) }));
    expect(err.name).toBe("AbortError");
    sim.resetStats();
    expect(sim.stats).toEqual({
      resourceGraphRequests: 0,
      authorizationRequests: 0,
      throttled: 0,
      faultsInjected: 0,
      rowsReturned: 0,
      queries: [],
    });
  });

  it("constructor overrides replace the estate's settings and are validated", () => {
    const sim = simulator({ pageSize: 5, quota: { requests: 1, windowSeconds: 1 } }, { pageSize: 7, quota: undefined });
    expect(sim.settings.pageSize).toBe(7);
    expect(sim.settings.quota).toBeUndefined();
    expect(() => simulator(undefined, { pageSize: 0 })).toThrow(/overrides: \$\.pageSize: expected an integer from 1 to 1000/);
  });
});
