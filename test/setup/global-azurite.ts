/**
 * One real Azurite Table service for the whole test run (in memory, free loopback port). Tests that
 * need a store read its URL with `inject("azuriteTableUrl")` and use their own table prefix or scope key.
 */
import type { TestProject } from "vitest/node" with { "resolution-mode": "import" };
import { startEmbeddedAzurite, type EmbeddedAzurite } from "../../src/adapters/table-store/embedded-azurite.js";

let azurite: EmbeddedAzurite | undefined;

export async function setup(project: TestProject): Promise<void> {
  azurite = await startEmbeddedAzurite();
  project.provide("azuriteTableUrl", azurite.tableUrl);
}

export async function teardown(): Promise<void> {
  await azurite?.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    azuriteTableUrl: string;
  }
}
