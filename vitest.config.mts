import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup/no-network.ts"],
    globalSetup: ["test/setup/global-azurite.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    env: {
      // applicationinsights / OpenTelemetry must never probe the Azure metadata address in tests.
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true",
      WEBSITE_SITE_NAME: "aks-acr-auditor-test",
      FUNCTIONS_VERSION: "4",
      AZURE_IDENTITY_DISABLE_MULTITENANTAUTH: "true",
    },
  },
});
