/**
 * POST /api/attachments/forget {clusterId, registryId}: ends a remembered attachment. The next run reports
 * its findings `removed` once; an attachment that is still granted or declared comes back.
 */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest } from "@azure/functions";
import { sameId } from "../core/resource-id.js";
import { parseForgetBody } from "../api/bodies.js";
import { invalidateReadCache } from "../api/cache.js";
import { ApiError } from "../api/errors.js";
import { handler, jsonResponse, readJsonObject } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { subjectIndex } from "../api/reads.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime } from "../runtime.js";

export const attachmentsForget = handler("attachments-forget", async (request: HttpRequest) => {
  readQuery(request.query, []);
  const body = parseForgetBody((await readJsonObject(request, { required: true }))!);
  const rt = await getRuntime();
  const idx = await subjectIndex(rt.store, rt.scopeKey, { fresh: true });
  const att = idx.attachments.find((a) => sameId(a.clusterId, body.clusterId) && sameId(a.registryId, body.registryId));
  if (!att) throw new ApiError("AttachmentNotFound", "The latest run has no attachment of this cluster to this registry.", "registryId");
  await rt.store.forgetAttachment(rt.scopeKey, att.clusterId, att.registryId);
  invalidateReadCache(rt.store);
  return jsonResponse(202, {
    clusterId: att.clusterId,
    registryId: att.registryId,
    sources: att.sources,
    status: "forgetRequested",
    message: att.sources.some((s) => s !== "remembered")
      ? "Recorded. The attachment is still granted or declared, so the next run will find it again unless that changes."
      : "Recorded. The next run reports this attachment's findings as removed.",
  });
});

app.http("attachments-forget", { ...registrationOf("attachments-forget"), handler: attachmentsForget });
