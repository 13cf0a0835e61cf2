/**
 * GET /api/clusters/{clusterId}/attachments: the route parameter (a resource ID URL-encoded in one segment,
 * the raw ID through the catch-all, or a name), and the view: each attachment of the cluster with how it
 * was inferred and its findings, plus the cluster's own findings.
 */
import { findingJson } from "../core/json.js";
import type { AttachmentSource, Finding } from "../core/findings.js";
import type { StoredAttachment, StoredState } from "../core/ports.js";
import { looksLikeResourceId, nameOf, normalizeId, sameId } from "../core/resource-id.js";
import { ApiError } from "./errors.js";
import type { SubjectRef } from "./findings-query.js";

/**
 * The cluster named by the catch-all route value (`<id or name>/attachments`). Undefined when the path
 * does not end with `/attachments` (no such route).
 */
export function clusterFromRoute(raw: string | undefined): SubjectRef | undefined {
  if (raw === undefined) return undefined;
  let v = raw;
  // The host may hand the one-segment form over still encoded.
  if (/%2f/i.test(v)) {
    try {
      v = decodeURIComponent(v);
    } catch {
      return undefined;
    }
  }
  const m = /^(.*?)\/+attachments\/*$/i.exec(v);
  if (!m || m[1].trim() === "") return undefined;
  let subject = m[1].trim();
  if (/^subscriptions\//i.test(subject)) subject = `/${subject}`; // `clusters/subscriptions/...` (catch-all)
  subject = subject.replace(/^\/+/, "/");
  if (subject.startsWith("/")) {
    if (!looksLikeResourceId(subject) || subject.length > 1024) {
      throw new ApiError("InvalidRouteParameter", "The cluster must be a resource ID (/subscriptions/...) or a cluster name.", "clusterId");
    }
    return { kind: "id", id: subject };
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(subject)) {
    throw new ApiError("InvalidRouteParameter", "The cluster must be a resource ID (/subscriptions/...) or a cluster name.", "clusterId");
  }
  return { kind: "name", name: subject };
}

export interface AttachmentView {
  registryId: string;
  registryName: string;
  sources: AttachmentSource[];
  /** A forget request waits for the next run. */
  forgetRequested: boolean;
  findings: Record<string, unknown>[];
}

export interface ClusterAttachmentsView {
  clusterId: string;
  name: string;
  findings: Record<string, unknown>[];
  value: AttachmentView[];
}

export function clusterAttachmentsView(
  clusterId: string,
  findings: Finding[],
  attachments: StoredAttachment[],
  forgotten: StoredState["forgotten"],
): ClusterAttachmentsView {
  const own = findings.filter((f) => sameId(f.clusterId, clusterId));
  const byRegistry = new Map<string, AttachmentView>();
  const entry = (registryId: string): AttachmentView => {
    const k = normalizeId(registryId);
    let a = byRegistry.get(k);
    if (!a) {
      a = {
        registryId,
        registryName: nameOf(registryId),
        sources: [],
        forgetRequested: forgotten.some((x) => sameId(x.clusterId, clusterId) && sameId(x.registryId, registryId)),
        findings: [],
      };
      byRegistry.set(k, a);
    }
    return a;
  };
  for (const a of attachments) if (sameId(a.clusterId, clusterId)) entry(a.registryId).sources = [...a.sources];
  // Attachment findings whose attachment ended in the last run (reported `removed` once) still show.
  for (const f of own) if (f.registryId) entry(f.registryId).findings.push(findingJson(f));
  return {
    clusterId,
    name: nameOf(clusterId),
    findings: own.filter((f) => !f.registryId).map(findingJson),
    value: [...byRegistry.values()].sort(
      (a, b) => a.registryName.localeCompare(b.registryName) || a.registryId.localeCompare(b.registryId),
    ),
  };
}
