/**
 * GET /api/clusters/{clusterId}/attachments: each attachment of a cluster (granted, declared, remembered)
 * with its findings. The cluster is a resource ID, URL-encoded in one segment or written out (catch-all
 * route), or a cluster name.
 */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest } from "@azure/functions";
import type { Finding } from "../core/findings.js";
import { clusterAttachmentsView, clusterFromRoute } from "../api/attachments.js";
import { ApiError } from "../api/errors.js";
import { handler, jsonResponse } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { cachedQuery, subjectIndex } from "../api/reads.js";
import { registrationOf } from "../api/routes.js";
import { findCluster, resolveClusterName } from "../api/subjects.js";
import { getRuntime } from "../runtime.js";

export const clusterAttachments = handler("cluster-attachments", async (request: HttpRequest) => {
  const ref = clusterFromRoute(request.params.clusterId);
  if (!ref) throw new ApiError("NotFound", "No such route: use /api/clusters/{clusterId}/attachments.");
  readQuery(request.query, []);
  const rt = await getRuntime();
  const idx = await subjectIndex(rt.store, rt.scopeKey);
  let clusterId: string | undefined;
  if (ref.kind === "id") clusterId = findCluster(idx, ref.id);
  else {
    const ids = resolveClusterName(idx, ref.name);
    if (ids.length > 1) {
      throw new ApiError(
        "AmbiguousName",
        `${ids.length} clusters are named '${ref.name}': use the resource ID (${ids.slice(0, 5).join(", ")}).`,
        "clusterId",
      );
    }
    clusterId = ids[0];
  }
  if (!clusterId) throw new ApiError("ClusterNotFound", "The latest run knows no such cluster.", "clusterId");
  // The cluster's partition holds its own and its attachments' findings.
  const query = cachedQuery(rt.store, rt.scopeKey);
  const findings: Finding[] = [];
  let continuation: string | undefined;
  do {
    const page = await query({ clusterId }, 1000, continuation);
    findings.push(...page.items);
    continuation = page.continuation;
  } while (continuation);
  return jsonResponse(200, clusterAttachmentsView(clusterId, findings, idx.attachments, idx.forgotten));
});

app.http("cluster-attachments", { ...registrationOf("cluster-attachments"), handler: clusterAttachments });
