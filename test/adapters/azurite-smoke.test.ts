import { inject, test, expect } from "vitest";
import { TableClient, AzureNamedKeyCredential } from "@azure/data-tables";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../../src/adapters/table-store/embedded-azurite.js";

test("the global Azurite answers table operations on loopback", async () => {
  const url = inject("azuriteTableUrl");
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
  const client = new TableClient(url, "smoke", new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY), {
    allowInsecureConnection: true,
  });
  await client.createTable();
  await client.upsertEntity({ partitionKey: "p", rowKey: "r", value: 42 });
  const e = await client.getEntity<{ value: number }>("p", "r");
  expect(e.value).toBe(42);
});
