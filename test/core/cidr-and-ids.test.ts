import { describe, expect, test } from "vitest";
import { coveredBy, isIpv6Rule, parseIpv4Range } from "../../src/core/cidr.js";
import {
  looksLikeResourceId,
  normalizeId,
  parentOf,
  resourceGroupIdOf,
  sameId,
  scopeContains,
  subscriptionOf,
} from "../../src/core/resource-id.js";

const r = (s: string) => parseIpv4Range(s)!;

describe("IPv4 CIDR", () => {
  test("parses IPs as /32 and CIDRs, rejects garbage", () => {
    expect(r("20.1.2.3")).toMatchObject({ end: r("20.1.2.3").start });
    expect(r("10.0.0.0/8").end - r("10.0.0.0/8").start).toBe(2 ** 24 - 1);
    for (const bad of ["", "1.2.3", "1.2.3.256", "1.2.3.4/33", "::1", "not-an-ip", "1.2.3.4/", "01.2.3.4.5"]) {
      expect(parseIpv4Range(bad)).toBeUndefined();
    }
  });
  test("a prefix is covered only when all of it is", () => {
    expect(coveredBy(r("20.0.0.0/30"), [r("20.0.0.0/31")])).toBe(false);
    expect(coveredBy(r("20.0.0.0/30"), [r("20.0.0.0/31"), r("20.0.0.2/31")])).toBe(true);
    expect(coveredBy(r("20.0.0.0/30"), [r("20.0.0.0/24")])).toBe(true);
    expect(coveredBy(r("20.0.0.1"), [r("20.0.0.1")])).toBe(true);
    expect(coveredBy(r("20.0.0.1"), [])).toBe(false);
    expect(coveredBy(r("0.0.0.0/0"), [r("0.0.0.0/1"), r("128.0.0.0/1")])).toBe(true);
  });
});

describe("resource IDs are case-insensitive", () => {
  const a = "/subscriptions/ABC/resourceGroups/RG/providers/Microsoft.ContainerRegistry/registries/Reg";
  const b = "/subscriptions/abc/resourcegroups/rg/providers/microsoft.containerregistry/registries/reg/";
  test("normalise and compare", () => {
    expect(sameId(a, b)).toBe(true);
    expect(normalizeId("//subscriptions//x/")).toBe("/subscriptions/x");
    expect(subscriptionOf(a)).toBe("abc");
    expect(resourceGroupIdOf(a)).toBe("/subscriptions/abc/resourcegroups/rg");
    expect(parentOf(`${a}/replications/westus`)).toBe(a);
    expect(sameId(parentOf(`${b}replications/westus`), a)).toBe(true);
    expect(scopeContains("/", a)).toBe(true);
    expect(scopeContains("/subscriptions/ABC", a)).toBe(true);
    expect(scopeContains("/subscriptions/AB", a)).toBe(false);
    expect(looksLikeResourceId(a)).toBe(true);
    expect(looksLikeResourceId("myregistry.azurecr.io")).toBe(false);
  });
});

describe("IPv6 rules", () => {
  test.each([
    "2001:db8::/32",
    "::1",
    "::",
    "fe80::1%eth0".split("%")[0],
    "2001:0db8:0000:0000:0000:ff00:0042:8329",
    "::ffff:1.2.3.4",
    "::ffff:1.2.3.4/128",
    "2001:db8::/128",
  ])("%s is an IPv6 rule", (v) => expect(isIpv6Rule(v)).toBe(true));
  test.each([
    "1.2.3.4",
    "1.2.3.0/24",
    "2001:db8::/129",
    "2001:::1",
    ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:",
    "1::2::3",
    "2001:db8:zz::",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "",
    "::ffff:1.2.3.400",
    "abc",
    "2001:db8::/x",
  ])("%s is not", (v) => expect(isIpv6Rule(v)).toBe(false));
});
