/**
 * network.path and network.private-dns (rules.md): for each node pool, is there a private endpoint path
 * or a public path whose egress IPs the registry firewall allows, and does a private path resolve?
 */
import { ruleInfo } from "./catalog.js";
import { coveredBy, isIpv6Rule, parseIpv4Range, type Ipv4Range } from "./cidr.js";
import type { Evaluation, Status } from "./findings.js";
import type { Cluster, NodePool, Registry, VirtualNetwork } from "./inventory.js";
import type { InventoryIndex } from "./inventory-index.js";
import { nameOf, normalizeId, parentOf, sameId } from "./resource-id.js";
import { text } from "./text.js";

interface PoolResult {
  status: Status;
  reason: string | null;
  evidence: Record<string, unknown>;
  /** Set when the pool reaches the registry through a private endpoint. */
  privatePath?: { privateEndpointId: string; vnet: VirtualNetwork; via: string };
}

function make(
  ruleId: string,
  c: Cluster,
  r: Registry,
  status: Status,
  reason: string | null,
  message: string,
  evidence: Record<string, unknown>,
): Evaluation {
  return { ruleId, status, severity: ruleInfo(ruleId)!.severity, clusterId: c.id, registryId: r.id, reason, message, evidence };
}

/** The VNet of a node pool: its subnet's VNet, or the managed VNet in the node resource group. */
export function poolVnet(c: Cluster, pool: NodePool, idx: InventoryIndex): { vnetId?: string; vnet?: VirtualNetwork; managed: boolean } {
  if (pool.vnetSubnetId) {
    const vnetId = parentOf(pool.vnetSubnetId);
    return { vnetId, vnet: idx.vnets.get(vnetId), managed: false };
  }
  const vnet = idx.vnetsByResourceGroup.get(`${c.subscriptionId}/${c.nodeResourceGroup ?? ""}`.toLowerCase());
  return { vnetId: vnet?.id, vnet, managed: true };
}

interface Egress {
  source: string;
  ids: string[];
  natGatewayId?: string;
}

function egressOf(
  c: Cluster,
  pool: NodePool,
  vnet: VirtualNetwork | undefined,
  idx: InventoryIndex,
): Egress | { unresolvable: string; notVisible?: boolean } {
  const subnet = pool.vnetSubnetId ? vnet?.subnets.find((s) => sameId(s.id, pool.vnetSubnetId)) : undefined;
  const natId = subnet?.natGatewayId;
  if (natId) {
    const nat = idx.natGateways.get(natId);
    if (!nat && idx.missedAny("network:natGateways"))
      return { unresolvable: `NAT gateway ${natId} could not be read in this run`, notVisible: true };
    if (!nat) return { unresolvable: `NAT gateway ${natId} of subnet ${pool.vnetSubnetId} could not be read` };
    return { source: "subnetNatGateway", ids: [...nat.publicIpAddressIds, ...nat.publicIpPrefixIds], natGatewayId: nat.id };
  }
  const outbound = (c.outboundType ?? "loadBalancer").toLowerCase();
  switch (outbound) {
    case "loadbalancer":
      return { source: "loadBalancer", ids: c.loadBalancerOutboundIps };
    case "managednatgateway":
      return { source: "managedNATGateway", ids: c.natGatewayOutboundIps };
    case "userassignednatgateway":
      return {
        unresolvable: `outboundType userAssignedNATGateway, but node subnet ${pool.vnetSubnetId ?? "(managed)"} has no readable NAT gateway`,
      };
    default:
      return { unresolvable: `outboundType ${c.outboundType}: egress goes through routes or appliances that ARM does not describe` };
  }
}

function resolveEgress(ids: string[], idx: InventoryIndex): { ranges: Ipv4Range[]; unresolved: string[]; shown: string[] } {
  const ranges: Ipv4Range[] = [];
  const unresolved: string[] = [];
  const shown: string[] = [];
  for (const id of ids) {
    const ip = idx.publicIps.get(id);
    const prefix = ip ? undefined : idx.publicIpPrefixes.get(id);
    const text = ip?.ipAddress ?? prefix?.ipPrefix;
    const range = text ? parseIpv4Range(text) : undefined;
    if (!range) {
      unresolved.push(id);
      continue;
    }
    ranges.push(range);
    shown.push(text!);
  }
  return { ranges, unresolved, shown };
}

function evaluatePool(c: Cluster, pool: NodePool, r: Registry, idx: InventoryIndex): PoolResult {
  const { vnetId, vnet, managed } = poolVnet(c, pool, idx);
  const ev: Record<string, unknown> = { nodePool: pool.name, vnet: vnetId ?? null, managedVnet: managed };
  const approved = r.privateEndpointConnections.filter((p) => (p.status ?? "").toLowerCase() === "approved" && p.privateEndpointId);
  const others = r.privateEndpointConnections.filter((p) => (p.status ?? "").toLowerCase() !== "approved");
  if (others.length) ev.notApprovedPrivateEndpoints = others.map((p) => ({ id: p.privateEndpointId ?? p.id, status: p.status ?? null }));
  let unseenEndpoint = false;

  // 1. Private path.
  if (approved.length) {
    const tried: Record<string, unknown>[] = [];
    for (const conn of approved) {
      const pe = conn.privateEndpointId ? idx.privateEndpoints.get(conn.privateEndpointId) : undefined;
      if (!pe || !pe.subnetId) {
        unseenEndpoint = true;
        tried.push({ privateEndpoint: conn.privateEndpointId, vnet: null, note: "not visible" });
        continue;
      }
      const peVnet = parentOf(pe.subnetId);
      tried.push({ privateEndpoint: pe.id, vnet: peVnet });
      if (!vnet) continue;
      if (sameId(peVnet, vnet.id)) {
        return {
          status: "pass",
          reason: null,
          evidence: { ...ev, path: "private-endpoint", privateEndpoint: pe.id, via: "same VNet" },
          privatePath: { privateEndpointId: pe.id, vnet, via: "same VNet" },
        };
      }
      const peering = vnet.peerings.find((p) => sameId(p.remoteVnetId, peVnet));
      if (peering && (peering.peeringState ?? "").toLowerCase() === "connected") {
        return {
          status: "pass",
          reason: null,
          evidence: { ...ev, path: "private-endpoint", privateEndpoint: pe.id, peering: peering.id, peeringState: peering.peeringState },
          privatePath: { privateEndpointId: pe.id, vnet, via: `peering ${peering.name}` },
        };
      }
      if (peering) tried[tried.length - 1].peering = { id: peering.id, peeringState: peering.peeringState ?? null };
    }
    ev.privateEndpointsTried = tried;
  }

  const publicAccess = (r.publicNetworkAccess ?? "Enabled").toLowerCase();
  const missingVnet = !vnet && approved.length > 0;
  // 2. Public access disabled.
  if (publicAccess === "disabled") {
    if (!approved.length)
      return {
        status: "fail",
        reason: "public-access-disabled-no-private-endpoint",
        evidence: { ...ev, publicNetworkAccess: r.publicNetworkAccess },
      };
    if (missingVnet || unseenEndpoint)
      return {
        status: "unknown",
        reason: "not-visible",
        evidence: { ...ev, note: missingVnet ? `VNet ${vnetId ?? "(managed)"} could not be read` : "a private endpoint could not be read" },
      };
    return { status: "fail", reason: "private-endpoint-not-peered", evidence: { ...ev, publicNetworkAccess: r.publicNetworkAccess } };
  }
  // 3. Public, no firewall.
  const premium = (r.skuName ?? "").toLowerCase() === "premium";
  const deny = (r.defaultAction ?? "Allow").toLowerCase() === "deny";
  if (!premium || !deny)
    return {
      status: "pass",
      reason: null,
      evidence: { ...ev, path: "public", sku: r.skuName ?? null, defaultAction: r.defaultAction ?? "Allow" },
    };

  // 4. Firewall: every egress IP must be allowed.
  if (!vnet && (idx.missedAny("network:vnets") || (pool.vnetSubnetId && idx.visibilityOfId(pool.vnetSubnetId) !== "visible"))) {
    return { status: "unknown", reason: "not-visible", evidence: { ...ev, note: `VNet ${vnetId} is not visible` } };
  }
  const egress = egressOf(c, pool, vnet, idx);
  if ("unresolvable" in egress)
    return {
      status: "unknown",
      reason: egress.notVisible ? "not-visible" : "egress-unresolvable",
      evidence: { ...ev, outboundType: c.outboundType ?? null, note: egress.unresolvable },
    };
  const { ranges, unresolved, shown } = resolveEgress(egress.ids, idx);
  const egressEv = {
    ...ev,
    egressSource: egress.source,
    natGateway: egress.natGatewayId ?? null,
    egressIpIds: egress.ids,
    egressIps: shown,
  };
  if (unresolved.length && idx.missedAny("network:publicIps")) {
    return {
      status: "unknown",
      reason: "not-visible",
      evidence: { ...egressEv, unresolvedIpIds: unresolved, note: "public IP addresses could not be read in this run" },
    };
  }
  if (egress.ids.length === 0 || unresolved.length) {
    return {
      status: "unknown",
      reason: "egress-unresolvable",
      evidence: {
        ...egressEv,
        unresolvedIpIds: unresolved,
        note: egress.ids.length === 0 ? "no effective outbound IPs" : "outbound IP resources could not be resolved to addresses",
      },
    };
  }
  const allowRules = r.ipRules.filter((x) => (x.action ?? "Allow").toLowerCase() === "allow");
  const valid: Ipv4Range[] = [];
  const invalid: string[] = [];
  const ipv6: string[] = [];
  for (const rule of allowRules) {
    const range = parseIpv4Range(rule.value);
    if (range) valid.push(range);
    else if (isIpv6Rule(rule.value))
      ipv6.push(rule.value); // valid, and never covers an IPv4 egress address
    else invalid.push(String(rule.value));
  }
  const blocked = ranges.filter((x) => !coveredBy(x, valid));
  const fwEv = {
    ...egressEv,
    ipRules: allowRules.map((x) => x.value),
    blockedEgress: blocked.map((x) => x.text),
    ...(invalid.length ? { invalidIpRules: invalid } : {}),
    ...(ipv6.length ? { ipv6IpRules: ipv6 } : {}),
  };
  if (!blocked.length) return { status: "pass", reason: null, evidence: { ...fwEv, path: "public-firewall" } };
  if (invalid.length) return { status: "unknown", reason: "invalid-ip-rule", evidence: fwEv };
  // An egress prefix counts as covered only when all of it is (rules.md); a half-allowed prefix is blocked.
  const reason = blocked.length === ranges.length ? "egress-ips-blocked" : "some-egress-ips-blocked";
  return { status: "fail", reason, evidence: fwEv };
}

/** A pool's private path cannot be ruled out: the registry has approved endpoints, and its VNet or one of them is not visible. */
function privatePathUndetermined(c: Cluster, pool: NodePool, r: Registry, idx: InventoryIndex): boolean {
  const approved = r.privateEndpointConnections.filter((p) => (p.status ?? "").toLowerCase() === "approved" && p.privateEndpointId);
  if (!approved.length) return false;
  if (!poolVnet(c, pool, idx).vnet) return true;
  return approved.some((conn) => !idx.privateEndpoints.get(conn.privateEndpointId!)?.subnetId);
}

const STATUS_ORDER: Status[] = ["fail", "unknown", "pass"];

export function evaluateNetwork(c: Cluster, r: Registry, idx: InventoryIndex): Evaluation[] {
  const pools = c.nodePools.length ? c.nodePools : [{ name: "(none)" }];
  const results = pools.map((p) => ({ pool: p, result: evaluatePool(c, p, r, idx) }));
  const worst = STATUS_ORDER.find((s) => results.some((x) => x.result.status === s)) ?? "pass";
  const decisive = results.find((x) => x.result.status === worst)!;
  // Whether some pool could have a private path that this run cannot see (its VNet or an approved endpoint
  // not read): then whether network.private-dns applies is not known either (drift keeps it not-visible).
  const privatePathUnknown = results.some(({ pool, result }) => !result.privatePath && privatePathUndetermined(c, pool, r, idx));
  const evidence = {
    nodePools: results.map((x) => ({ status: x.result.status, reason: x.result.reason, ...x.result.evidence })),
    ...(privatePathUnknown ? { privatePathUnknown: true } : {}),
  };
  const out: Evaluation[] = [];
  const describe: Record<string, string> = {
    "public-access-disabled-no-private-endpoint": `registry ${r.name} has public access disabled and no approved private endpoint: pulls fail with 403 "client with IP ... is not allowed access"`,
    "private-endpoint-not-peered": `no approved private endpoint of ${r.name} is in the pool's VNet or a VNet peered with it (Connected), and public access is disabled: pulls fail with 403, or time out (i/o timeout) where the name resolves to the unreachable private IP`,
    "egress-ips-blocked": `none of the pool's egress IPs is allowed by ${r.name}'s firewall: pulls fail with 403 "client with IP ... is not allowed access"`,
    "some-egress-ips-blocked": `some of the pool's egress IPs are not allowed by ${r.name}'s firewall: some pulls fail with 403`,
    "egress-unresolvable": `the pool's egress IPs cannot be determined from ARM, so ${r.name}'s firewall cannot be checked`,
    "invalid-ip-rule": `${r.name}'s firewall has IP rules that are not valid IPv4 addresses or CIDRs, and the pool's egress is not covered by the valid ones`,
    "not-visible": `network facts needed for the decision could not be read in this run`,
  };
  const message =
    worst === "pass"
      ? `Every node pool of ${c.name} reaches ${r.name} (${results.map((x) => `${x.pool.name}: ${x.result.privatePath ? `private endpoint via ${x.result.privatePath.via}` : text(x.result.evidence.path, "public")}`).join("; ")})`
      : `Node pool ${decisive.pool.name} of ${c.name}: ${describe[decisive.result.reason ?? ""] ?? decisive.result.reason}`;
  out.push(make("network.path", c, r, worst, worst === "pass" ? null : decisive.result.reason, message, evidence));

  // network.private-dns applies to pools on a private path.
  const priv = results.filter((x) => x.result.privatePath);
  if (priv.length) {
    const zone = idx.cloud.privateLinkZone;
    const dns = priv.map(({ pool, result }) => {
      const vnet = result.privatePath!.vnet;
      const base = { nodePool: pool.name, vnet: vnet.id, zone };
      if (vnet.dnsServers.length)
        return { status: "unknown" as Status, reason: "custom-dns", evidence: { ...base, dnsServers: vnet.dnsServers } };
      if (idx.missedAny("network:dnsZoneLinks")) return { status: "unknown" as Status, reason: "not-visible", evidence: base };
      const link = idx.dnsLinks.get(`${zone}|${normalizeId(vnet.id)}`);
      if (link) return { status: "pass" as Status, reason: null, evidence: { ...base, link: link.id, linkState: link.state ?? null } };
      return { status: "fail" as Status, reason: "zone-not-linked", evidence: base };
    });
    const w = STATUS_ORDER.find((s) => dns.some((d) => d.status === s)) ?? "pass";
    const d = dns.find((x) => x.status === w)!;
    const msgs: Record<string, string> = {
      "zone-not-linked": `no ${zone} private DNS zone is linked to VNet ${nameOf(String(d.evidence.vnet))}: ${r.loginServer ?? r.name} resolves to its public IP and pulls time out or get 403`,
      "custom-dns": `VNet ${nameOf(String(d.evidence.vnet))} uses custom DNS servers; whether they forward ${zone} cannot be seen from ARM`,
      "not-visible": `private DNS zone links could not be read in this run`,
    };
    out.push(
      make(
        "network.private-dns",
        c,
        r,
        w,
        w === "pass" ? null : d.reason,
        w === "pass"
          ? `Node pools on a private path resolve ${r.name} through a linked ${zone} zone`
          : `Node pool ${String(d.evidence.nodePool)} of ${c.name}: ${msgs[d.reason ?? ""]}`,
        { nodePools: dns.map((x) => ({ status: x.status, reason: x.reason, ...x.evidence })) },
      ),
    );
  }
  return out;
}
