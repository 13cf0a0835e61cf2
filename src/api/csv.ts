/**
 * CSV of findings (RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote or line break,
 * quotes doubled), with a header row and the evidence as JSON in one column. Cells that a spreadsheet would
 * read as a formula (starting with = + - @, or a tab or carriage return) are prefixed with a single quote.
 */
import type { Finding } from "../core/findings.js";
import { text } from "../core/text.js";

export const CSV_COLUMNS = [
  "ruleId",
  "status",
  "severity",
  "reason",
  "change",
  "previousStatus",
  "clusterId",
  "registryId",
  "subscriptionId",
  "message",
  "exemptionSource",
  "exemptionJustification",
  "exemptionExpiresOn",
  "remediation",
  "evidence",
] as const;

export const CSV_CONTENT_TYPE = "text/csv; charset=utf-8; header=present";

export function csvCell(value: unknown): string {
  let s =
    value === null || value === undefined
      ? ""
      : typeof value === "string"
        ? value
        : typeof value === "object"
          ? JSON.stringify(value)
          : text(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: unknown[]): string {
  return cells.map(csvCell).join(",") + "\r\n";
}

export function csvHeader(): string {
  return csvLine([...CSV_COLUMNS]);
}

export function csvRow(f: Finding): string {
  return csvLine([
    f.ruleId,
    f.status,
    f.severity,
    f.reason,
    f.change,
    f.previousStatus,
    f.clusterId,
    f.registryId,
    f.subscriptionId,
    f.message,
    f.exemption?.source,
    f.exemption?.justification,
    f.exemption?.expiresOn,
    f.remediation?.summary,
    JSON.stringify(f.evidence ?? {}),
  ]);
}
