import { describe, expect, it } from "vitest";
import { compileQuery, KqlError } from "../../../src/adapters/simulator/index.js";
import { SUB_A, SUB_B, VNET_A, VNET_B, queryAll, rgClient, simulator } from "./helpers.js";

const client = rgClient(simulator());
const REG = "resources | where type == 'microsoft.containerregistry/registries'";
const names = async (q: string) => (await queryAll(client, q)).map((r) => r.name);

describe("ARM simulator KQL through the real ResourceGraphClient", () => {
  it("== and != are case-sensitive, =~ and !~ are not", async () => {
    expect(await names(`${REG} | where name == 'corpacr1' | project id, name`)).toEqual(["corpacr1"]);
    expect(await names(`${REG} | where name == 'CORPACR1' | project id, name`)).toEqual([]);
    expect(await names(`${REG} | where name =~ 'CORPACR1' | project id, name`)).toEqual(["corpacr1"]);
    expect(await names(`${REG} | where name != 'corpacr1' | project id, name`)).toEqual(["corpacr2", "onlineacr", "sharedacr"]);
    expect(await names(`${REG} | where name !~ 'CORPACR1' | project id, name`)).toEqual(["corpacr2", "onlineacr", "sharedacr"]);
    expect(await names(`resources | where type == 'Microsoft.ContainerRegistry/registries' | project id, name`)).toEqual([]);
  });

  it("contains, !contains, startswith, !startswith, endswith, !endswith and has ignore case", async () => {
    expect(await names(`${REG} | where name contains 'ACR' | project id, name`)).toHaveLength(4);
    expect(await names(`${REG} | where name !contains 'corp' | project id, name`)).toEqual(["onlineacr", "sharedacr"]);
    expect(await names(`${REG} | where name startswith 'CORP' | project id, name`)).toEqual(["corpacr1", "corpacr2"]);
    expect(await names(`${REG} | where name !startswith 'corp' | project id, name`)).toEqual(["onlineacr", "sharedacr"]);
    expect(await names(`${REG} | where name endswith 'ACR' | project id, name`)).toEqual(["onlineacr", "sharedacr"]);
    expect(await names(`${REG} | where name !endswith 'acr' | project id, name`)).toEqual(["corpacr1", "corpacr2"]);
    // has matches whole terms: 'registries' is a term of the id, 'registr' is not
    expect(await names(`${REG} | where id has 'REGISTRIES' | project id, name`)).toHaveLength(4);
    expect(await names(`${REG} | where id has 'registr' | project id, name`)).toEqual([]);
    expect(await names(`${REG} | where id !has 'rg-shared' | project id, name`)).toEqual(["corpacr1", "corpacr2", "onlineacr"]);
  });

  it("in and !in are case-sensitive, in~ and !in~ are not", async () => {
    expect(await names(`${REG} | where name in ('corpacr1', 'ONLINEACR') | project id, name`)).toEqual(["corpacr1"]);
    expect(await names(`${REG} | where name in~ ('corpacr1', 'ONLINEACR') | project id, name`)).toEqual(["corpacr1", "onlineacr"]);
    expect(await names(`${REG} | where name !in ('corpacr1') | project id, name`)).toEqual(["corpacr2", "onlineacr", "sharedacr"]);
    expect(await names(`${REG} | where name !in~ ('CORPACR1', "SharedAcr") | project id, name`)).toEqual(["corpacr2", "onlineacr"]);
  });

  it("and, or, not() and parentheses", async () => {
    expect(await names(`${REG} | where name startswith 'corp' and tags.env == 'prod' | project id, name`)).toEqual(["corpacr2"]);
    expect(await names(`${REG} | where name == 'corpacr1' or name == 'sharedacr' | project id, name`)).toEqual(["corpacr1", "sharedacr"]);
    expect(await names(`${REG} | where not(name startswith 'corp') | project id, name`)).toEqual(["onlineacr", "sharedacr"]);
    expect(
      await names(`${REG} | where (name == 'corpacr1' or name == 'onlineacr') and subscriptionId == '${SUB_B}' | project id, name`),
    ).toEqual(["onlineacr"]);
    expect(
      await names(`${REG} | where name == 'corpacr1' or name == 'onlineacr' and subscriptionId == '${SUB_B}' | project id, name`),
    ).toEqual(["corpacr1", "onlineacr"]);
  });

  it("functions: tostring, tolower, toupper, isempty, isnotempty, isnull, isnotnull", async () => {
    const rows = await queryAll(
      client,
      `${REG} | where name == 'corpacr2' | project id, s = tostring(properties.networkRuleSet.ipRules), l = tolower(properties.networkRuleSet.defaultAction), u = toupper(name), n = tostring(properties.missing)`,
    );
    expect(rows[0]).toMatchObject({ s: '[{"action":"Allow","value":"20.1.2.3"}]', l: "deny", u: "CORPACR2", n: "" });
    expect(await names(`${REG} | where isnotempty(tags.env) | project id, name`)).toEqual(["corpacr2", "onlineacr"]);
    expect(await names(`${REG} | where isempty(tags.env) | project id, name`)).toEqual(["corpacr1", "sharedacr"]);
    expect(await names(`${REG} | where isnull(properties.anonymousPullEnabled) | project id, name`)).toEqual([
      "corpacr1",
      "corpacr2",
      "onlineacr",
    ]);
    expect(await names(`${REG} | where isnotnull(properties.anonymousPullEnabled) | project id, name`)).toEqual(["sharedacr"]);
  });

  it("literals: both quote styles with escapes, numbers and booleans compare by string form", async () => {
    expect(await names(`${REG} | where name == "corp\\u0061cr1" | project id, name`)).toEqual(["corpacr1"]);
    expect(await names(`${REG} | where properties.adminUserEnabled == true | project id, name`)).toEqual(["onlineacr"]);
    expect(await names(`${REG} | where properties.adminUserEnabled == 'true' | project id, name`)).toEqual(["onlineacr"]);
    expect(
      await names(
        `resources | where type == 'microsoft.containerservice/managedclusters' and properties.agentPoolProfiles[0].count == 3 | project id, name`,
      ),
    ).toEqual(["aks-corp", "aks-online"]);
    expect(await names(`${REG} | where properties['loginServer'] == 'sharedacr.azurecr.io' | project id, name`)).toEqual(["sharedacr"]);
    expect(await names(`${REG} | where tags.team == 'web' | project id, name`)).toEqual(["onlineacr"]);
    expect(await names(`${REG} | where properties.networkRuleSet.ipRules[0].value == '20.1.2.3' | project id, name`)).toEqual(["corpacr2"]);
  });

  it("project with aliases and paths, project-away, extend, order by, take and limit", async () => {
    const projected = await queryAll(
      client,
      `${REG} | where name == 'corpacr1' | project id, name, loginServer = properties.loginServer, properties.networkRuleSet.defaultAction`,
    );
    expect(Object.keys(projected[0])).toEqual(["id", "name", "loginServer", "properties_networkRuleSet_defaultAction"]);
    expect(projected[0].properties_networkRuleSet_defaultAction).toBe("Allow");
    const away = await queryAll(client, `${REG} | where name == 'corpacr1' | project-away properties, tags, sku`);
    expect(away[0]).not.toHaveProperty("properties");
    expect(away[0]).toHaveProperty("location", "westeurope");
    const extended = await queryAll(
      client,
      `${REG} | extend admin = tostring(properties.adminUserEnabled), isAdmin = properties.adminUserEnabled == true | where isAdmin | project id, name, admin`,
    );
    expect(extended).toEqual([expect.objectContaining({ name: "onlineacr", admin: "true" })]);
    expect(await names(`${REG} | order by name asc | project id, name`)).toEqual(["corpacr1", "corpacr2", "onlineacr", "sharedacr"]);
    expect(await names(`${REG} | order by name | project id, name`)).toEqual(["sharedacr", "onlineacr", "corpacr2", "corpacr1"]);
    expect(await names(`${REG} | sort by subscriptionId desc, name asc | project id, name`)).toEqual([
      "sharedacr",
      "onlineacr",
      "corpacr1",
      "corpacr2",
    ]);
    expect(await names(`${REG} | take 2 | project id, name`)).toEqual(["corpacr1", "corpacr2"]);
    expect(await names(`${REG} | limit 1 | project id, name`)).toEqual(["corpacr1"]);
    expect(
      await names(`Resources | where type =~ 'microsoft.containerregistry/registries' // registries only
      | project id, name | take 1`),
    ).toEqual(["corpacr1"]);
  });

  it("serves the production registry and virtual network link queries", async () => {
    const regs = await queryAll(
      client,
      "resources | where type =~ 'microsoft.containerregistry/registries' | project id, name, location, subscriptionId, resourceGroup, tags, sku, loginServer = properties.loginServer, networkRuleSet = properties.networkRuleSet",
      { subscriptions: [SUB_A] },
    );
    expect(regs[1]).toEqual({
      id: expect.stringContaining("corpacr2"),
      name: "corpacr2",
      location: "westeurope",
      subscriptionId: SUB_A,
      resourceGroup: "rg-acr",
      tags: { env: "prod" },
      sku: { name: "Premium", tier: "Premium" },
      loginServer: "corpacr2.azurecr.io",
      networkRuleSet: { defaultAction: "Deny", ipRules: [{ action: "Allow", value: "20.1.2.3" }] },
    });
    const links = await queryAll(
      client,
      `resources | where type =~ 'microsoft.network/privatednszones/virtualnetworklinks' and tostring(properties.virtualNetwork.id) in~ ('${VNET_A.toLowerCase()}', '${VNET_B}') | project id, vnetId = tostring(properties.virtualNetwork.id)`,
    );
    expect(links.map((l) => l.vnetId)).toEqual([VNET_A, VNET_B.toUpperCase()]);
  });
});

describe("KQL compiler errors", () => {
  const cols = () => ["id", "name", "type", "properties", "tags"];
  const problem = (q: string) => {
    try {
      compileQuery(q, cols);
    } catch (err) {
      expect(err).toBeInstanceOf(KqlError);
      return (err as KqlError).message;
    }
    throw new Error(`expected '${q}' to be rejected`);
  };

  it.each([
    ["resources | summarize count()", /operator 'summarize' is not supported.*column 13/],
    ["resources | mv-expand properties.subnets", /operator 'mv-expand' is not supported/],
    ["resources | join (resourcecontainers) on subscriptionId", /operator 'join' is not supported/],
    ["resources | where name matches regex 'a'", /operator 'matches' is not supported/],
    ["resources | where name < 'a'", /operator '<' is not supported/],
    ["resources | where name = 'a'", /operator '=' is not supported/],
    ["resources | where name contains_cs 'a'", /operator 'contains_cs' is not supported/],
    ["resources | where strlen(name) == 1", /function 'strlen' is not supported/],
    ["resources | where tostring(name, 1) == 'a'", /tostring\(\) takes 1 argument/],
    ["resources | where nme == 'a'", /failed to resolve .* 'nme'.*column 19/],
    ["resources | where name", /where expects a boolean expression/],
    ["resources | where name == 'a' and tags", /operands of 'and' must be boolean/],
    ["resources | where not(name)", /not\(\) expects a boolean/],
    ["resources | project tostring(name)", /needs a name/],
    ["resources | project id, id", /projected twice/],
    ["resources | project id | where name == 'a'", /'name'/],
    ["resources | project-away nothere", /no column named 'nothere'/],
    ["resources | where name in (name)", /list of literals/],
    ["resources | where name in ()", /list of literals/],
    ["resources | where name == 'unterminated", /unterminated string/],
    ["resources | where name == 'bad \\q escape'", /escape sequence/],
    ["resources | take -1", /whole number/],
    ["resources | take 1.5", /whole number/],
    ["resources | order name", /expected 'by'/],
    ["resources | where name == 1d", /unsupported literal/],
    ["resources | where name == 'a' |", /expected an operator after '\|'/],
    ["resources where name == 'a'", /expected '\|'/],
    ["let x = 1; resources", /'let' statements are not supported/],
    ["advisorresources | take 1", /table 'advisorresources' is not served/],
    ["resources | where name == 'a' # comment", /unexpected character '#'/],
    ["resources |\n  where nme == 'a'", /line 2, column 9/],
  ])("rejects %j", (q, expected) => {
    expect(problem(q)).toMatch(expected);
  });

  it.each([
    "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' | project id, name, subscriptionId, managementGroups = properties.managementGroupAncestorsChain",
    "authorizationresources | where type =~ 'microsoft.authorization/roledefinitions' | where name in~ ('a', 'b') | project id, name, roleName = tostring(properties.roleName), roleType = tostring(properties.type), permissions = properties.permissions",
    "resources | where type =~ 'microsoft.network/virtualnetworks' | where resourceGroup in~ ('mc_rg') | project id, name, subnets = properties.subnets, dnsServers = properties.dhcpOptions.dnsServers",
    "resources | where type in~ ('microsoft.network/publicipaddresses', 'microsoft.network/publicipprefixes') | where id in~ ('x') | project id, type, ipAddress = tostring(properties.ipAddress)",
    "resources | where type =~ 'microsoft.network/privatednszones/virtualnetworklinks' | where id contains '/privateDnsZones/privatelink.azurecr.io/' | where tostring(properties.virtualNetwork.id) in~ ('v') | project id, state = tostring(properties.virtualNetworkLinkState)",
    "resources | where type =~ 'microsoft.containerregistry/registries/replications' | where id startswith '/subscriptions/s/a/replications/' or id startswith 'it\\'s/replications/' | project id, location, provisioningState = tostring(properties.provisioningState)",
  ])("compiles the discovery adapter's query shape %#", (q) => {
    expect(() => compileQuery(q, () => ["id", "name", "type", "location", "resourceGroup", "subscriptionId", "properties"])).not.toThrow();
  });

  it("accepts the documented subset", () => {
    const q = compileQuery(
      "Resources | where type =~ 'x' and (name != \"y\" or not(isempty(tags.a))) | extend b = tolower(properties['k'][0]) | project id, b, c = toupper(name) | order by b desc, id asc | take 5",
      cols,
    );
    expect(q.table).toBe("resources");
    expect(q.columns).toEqual(["id", "b", "c"]);
    expect(q.wholeRows).toBe(false);
  });
});
