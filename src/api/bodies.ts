/**
 * Request bodies of the POST routes, validated field by field; each error names the field (`target`).
 */
import { RULES, RULE_IDS } from "../core/catalog.js";
import { isIsoDate } from "../core/exemptions.js";
import { looksLikeResourceId } from "../core/resource-id.js";
import { ApiError } from "./errors.js";
import { quote } from "./params.js";

function bad(field: string, message: string): ApiError {
  return new ApiError("InvalidRequestBody", message, field);
}

function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) throw bad(k.slice(0, 100), `Unknown property ${quote(k, 60)}; allowed: ${allowed.join(", ")}.`);
  }
}

function resourceIdField(body: Record<string, unknown>, field: string, what: string): string {
  const v = body[field];
  if (typeof v !== "string" || !looksLikeResourceId(v) || v.length > 1024) {
    throw bad(field, `'${field}' must be the ${what} resource ID (/subscriptions/.../providers/...).`);
  }
  return v.trim();
}

/** A registry resource ID, or the declared text of a registry entry that resolves to nothing. */
function registryField(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== "string")
    throw bad(field, `'${field}' must be a registry resource ID, or the declared text of an unresolved registry entry.`);
  const t = v.trim();
  if (t.startsWith("/")) return resourceIdField(body, field, "registry's");
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(t)) {
    throw bad(
      field,
      `'${field}' must be a registry resource ID, or the declared text of an unresolved registry entry (a name or login server).`,
    );
  }
  return t;
}

export interface ForgetBody {
  clusterId: string;
  registryId: string;
}

export function parseForgetBody(body: Record<string, unknown>): ForgetBody {
  onlyFields(body, ["clusterId", "registryId"]);
  if (body.clusterId === undefined) throw bad("clusterId", "'clusterId' is required.");
  if (body.registryId === undefined) throw bad("registryId", "'registryId' is required.");
  return { clusterId: resourceIdField(body, "clusterId", "cluster's"), registryId: registryField(body, "registryId") };
}

export interface ExemptionBody {
  ruleId: string;
  clusterId: string | null;
  registryId: string | null;
  justification: string;
  expiresOn: string | null;
}

export const MAX_JUSTIFICATION = 500;

/** `today`: the UTC date (`YYYY-MM-DD`) a past expiry is judged against. */
export function parseExemptionBody(body: Record<string, unknown>, today: string): ExemptionBody {
  onlyFields(body, ["ruleId", "clusterId", "registryId", "justification", "expiresOn"]);
  const ruleId = body.ruleId;
  if (typeof ruleId !== "string" || !RULE_IDS.includes(ruleId)) {
    throw bad("ruleId", `'ruleId' must be one of ${RULE_IDS.join(", ")}.`);
  }
  const clusterId = body.clusterId === undefined || body.clusterId === null ? null : resourceIdField(body, "clusterId", "cluster's");
  const registryId = body.registryId === undefined || body.registryId === null ? null : registryField(body, "registryId");
  if (clusterId === null && registryId === null)
    throw bad("clusterId", "Give 'clusterId', 'registryId' or both: the subject the exemption covers.");
  const subject = RULES.find((r) => r.id === ruleId)!.subject;
  if (subject === "cluster" && (clusterId === null || registryId !== null)) {
    throw bad(clusterId === null ? "clusterId" : "registryId", `Rule ${ruleId} applies to clusters: give 'clusterId' only.`);
  }
  if (subject === "registry" && (registryId === null || clusterId !== null)) {
    throw bad(registryId === null ? "registryId" : "clusterId", `Rule ${ruleId} applies to registries: give 'registryId' only.`);
  }
  const j = body.justification;
  if (typeof j !== "string" || j.trim().length === 0 || j.trim().length > MAX_JUSTIFICATION) {
    throw bad("justification", `'justification' is required: 1 to ${MAX_JUSTIFICATION} characters saying why the finding is accepted.`);
  }
  // eslint-disable-next-line no-control-regex -- control characters are what this rejects
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(j)) throw bad("justification", "'justification' contains control characters.");
  let expiresOn: string | null = null;
  if (body.expiresOn !== undefined && body.expiresOn !== null) {
    if (typeof body.expiresOn !== "string" || !isIsoDate(body.expiresOn))
      throw bad("expiresOn", "'expiresOn' must be a date, YYYY-MM-DD (UTC, inclusive).");
    if (body.expiresOn < today) throw bad("expiresOn", `'expiresOn' is in the past (today is ${today} UTC).`);
    expiresOn = body.expiresOn;
  }
  return { ruleId, clusterId, registryId, justification: j.trim(), expiresOn };
}

const EXEMPTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseExemptionId(id: string | undefined): string {
  if (!id || !EXEMPTION_ID.test(id))
    throw new ApiError("InvalidRouteParameter", "The exemption ID must be a UUID (as returned by POST /api/exemptions).", "id");
  return id.toLowerCase();
}

/** `latest`, or a run ID as the auditor writes them (letters, digits and . _ : -). */
export function parseRunId(id: string | undefined): string {
  if (!id || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id)) {
    throw new ApiError("InvalidRouteParameter", "The run ID must be 'latest' or a run ID such as 20260101T000000Z-0a1b2c3d.", "runId");
  }
  return id;
}
