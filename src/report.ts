/** Human-readable reports of an audit for the terminal (the CLI's default output). */
import type { Attachment, Finding } from "./core/findings.js";
import { severityRank } from "./core/findings.js";
import type { RunRecord } from "./core/ports.js";
import { nameOf, normalizeId } from "./core/resource-id.js";
import { text } from "./core/text.js";

export interface Style {
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function style(colour: boolean): Style {
  const wrap = (code: number) => (s: string) => (colour ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { red: wrap(31), yellow: wrap(33), green: wrap(32), dim: wrap(2), bold: wrap(1) };
}

function pad(s: string, n: number): string {
  // pad by visible length (ANSI escapes do not count)
  // eslint-disable-next-line no-control-regex
  const visible = s.replace(/\u001b\[\d+m/g, "").length;
  return s + " ".repeat(Math.max(0, n - visible));
}

export function statusText(f: Pick<Finding, "status">, st: Style): string {
  return f.status === "fail" ? st.red("FAIL") : f.status === "unknown" ? st.yellow("UNKNOWN") : st.green("pass");
}

export function runHeadline(run: RunRecord): string {
  const secs = run.durationMs != null ? `${(run.durationMs / 1000).toFixed(1)} s` : "-";
  return `Run ${run.id} ${run.status} in ${secs}: ${run.counts.total} findings, ${run.counts.byStatus.fail} failing (${run.counts.openFailing} open, ${run.counts.exempted} exempted), ${run.counts.byStatus.unknown} unknown`;
}

/** The summary table: per cluster, its attachments and failing rules. */
export function renderReport(run: RunRecord, findings: Finding[], attachments: Attachment[], st: Style): string {
  const lines: string[] = [];
  lines.push(st.bold(runHeadline(run)));
  if (run.missed.length) lines.push(st.yellow(`Partial: could not read ${run.missed.join(", ")}`));
  for (const w of run.warnings) lines.push(st.yellow(`Warning: ${w.message}`));
  lines.push("");
  const clusters = new Map<string, { name: string; attachments: number; problems: Finding[] }>();
  for (const f of findings) {
    if (!f.clusterId) continue;
    const k = normalizeId(f.clusterId);
    if (!clusters.has(k)) clusters.set(k, { name: nameOf(f.clusterId), attachments: 0, problems: [] });
    if (f.status !== "pass" && f.change !== "removed") clusters.get(k)!.problems.push(f);
  }
  for (const a of attachments) {
    const c = clusters.get(normalizeId(a.clusterId));
    if (c) c.attachments++;
  }
  const rows = [...clusters.values()].sort((a, b) => b.problems.length - a.problems.length || a.name.localeCompare(b.name));
  const w = Math.max(8, ...rows.map((r) => r.name.length)) + 2;
  lines.push(st.bold(pad("CLUSTER", w) + pad("ATTACHED", 10) + "PROBLEMS"));
  for (const r of rows) {
    const first = r.problems.length ? "" : st.green("none");
    lines.push(pad(r.name, w) + pad(String(r.attachments), 10) + first);
    r.problems
      .sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.ruleId.localeCompare(b.ruleId))
      .forEach((f) => {
        const target = f.registryId ? ` -> ${nameOf(f.registryId)}` : "";
        const ex = f.exemption ? st.dim(` [exempt: ${f.exemption.justification}]`) : "";
        lines.push(`${" ".repeat(w + 10)}${statusText(f, st)} ${f.ruleId}${target} ${st.dim(`(${f.severity}, ${f.reason ?? "-"})`)}${ex}`);
      });
  }
  const registryProblems = findings.filter((f) => !f.clusterId && f.status !== "pass" && f.change !== "removed");
  if (registryProblems.length) {
    lines.push("");
    lines.push(st.bold("REGISTRIES"));
    for (const f of registryProblems) {
      const ex = f.exemption ? st.dim(` [exempt]`) : "";
      lines.push(
        `  ${pad(nameOf(f.registryId ?? ""), w)}${statusText(f, st)} ${f.ruleId} ${st.dim(`(${f.severity}, ${f.reason ?? "-"})`)}${ex}`,
      );
    }
  }
  const changed = findings.filter((f) => f.change === "changed" || f.change === "removed");
  if (changed.length) {
    lines.push("");
    lines.push(st.bold("CHANGED SINCE THE LAST RUN"));
    for (const f of changed) {
      const subject = [f.clusterId, f.registryId]
        .filter(Boolean)
        .map((x) => nameOf(x!))
        .join(" -> ");
      lines.push(`  ${f.ruleId} ${subject}: ${f.change === "removed" ? "removed" : `${f.previousStatus} -> ${f.status}`}`);
    }
  }
  return lines.join("\n");
}

export function renderFindingsTable(findings: Finding[], st: Style): string {
  const lines = [st.bold(pad("STATUS", 9) + pad("SEVERITY", 10) + pad("RULE", 30) + "SUBJECT")];
  for (const f of findings) {
    const subject = [f.clusterId, f.registryId]
      .filter(Boolean)
      .map((x) => nameOf(x!))
      .join(" -> ");
    lines.push(pad(statusText(f, st), 9) + pad(f.severity, 10) + pad(f.ruleId, 30) + subject + (f.reason ? st.dim(` (${f.reason})`) : ""));
  }
  return lines.join("\n");
}

/** The triage answer, in the order an engineer checks it. */
export function renderTriage(t: import("./core/triage.js").TriageResult, st: Style): string {
  const lines: string[] = [];
  const verdict = (s: string): string =>
    s === "fail" ? st.red("FAIL") : s === "unknown" ? st.yellow("UNKNOWN") : s === "n/a" ? st.dim("n/a") : st.green("pass");
  lines.push(st.bold(`Triage of ${t.cluster.name} (${t.cluster.location}), kubelet identity ${t.cluster.kubeletObjectId ?? "none"}`));
  lines.push(`Node pools: ${t.cluster.nodePools.join(", ") || "-"}   Verdict: ${verdict(t.verdict)}`);
  if (!t.registries.length)
    lines.push(
      st.yellow(
        "No attached registry found (no grant at a registry or its resource group, no aks-acr-audit-registries tag). Use --registry to ask about one.",
      ),
    );
  for (const r of t.registries) {
    lines.push("");
    lines.push(st.bold(`Registry ${r.name}${r.loginServer ? ` (${r.loginServer})` : ""}: ${r.sources.join(", ")}: ${verdict(r.verdict)}`));
    r.steps.forEach((s, i) => {
      lines.push(`  ${i + 1}. ${pad(s.title, 40)}${verdict(s.status)}`);
      for (const f of s.findings) {
        if (f.status === "pass" && s.findings.length > 1) continue;
        lines.push(`       ${f.ruleId}: ${f.message}`);
        const pools = (f.evidence.nodePools as Record<string, unknown>[] | undefined) ?? [];
        for (const p of pools) {
          const facts = [
            p.vnet ? `vnet ${nameOf(text(p.vnet))}` : null,
            p.egressIps ? `egress ${(p.egressIps as string[]).join(", ")}` : null,
            p.privateEndpoint ? `private endpoint ${nameOf(text(p.privateEndpoint))}` : null,
            p.peering ? `peering ${nameOf(text(p.peering))}` : null,
            p.ipRules ? `allowed ${(p.ipRules as string[]).join(", ") || "none"}` : null,
          ]
            .filter(Boolean)
            .join("; ");
          lines.push(
            st.dim(
              `         pool ${text(p.nodePool)}: ${text(p.status)}${p.reason ? ` (${text(p.reason)})` : ""}${facts ? ` - ${facts}` : ""}`,
            ),
          );
        }
        const grants = (f.evidence.grants ?? f.evidence.ignoredGrants ?? f.evidence.writeCapable) as
          { assignmentId?: string; role?: string; level?: string }[] | undefined;
        for (const g of grants ?? []) lines.push(st.dim(`         ${g.role ?? "?"} at ${g.level ?? "?"}: ${g.assignmentId ?? ""}`));
        if (f.remediation && f.status !== "pass") {
          lines.push(`       fix: ${f.remediation.summary}`);
          for (const c of f.remediation.commands) lines.push(st.bold(`         $ ${c}`));
          lines.push(st.dim(`         see ${f.remediation.docs}`));
        }
      }
    });
  }
  lines.push("");
  lines.push(
    st.dim(`Read ${t.stats.rows} rows in ${t.stats.resourceGraphRequests} Resource Graph and ${t.stats.armRequests} other ARM requests.`),
  );
  return lines.join("\n");
}
