/** Remediation for failing findings (filled in by the triage work; none yet). */
import type { Finding, Remediation } from "./findings.js";
import type { InventoryIndex } from "./inventory-index.js";

export function remediate(_f: Finding, _idx: InventoryIndex): Remediation | null {
  return null;
}
