/**
 * GET /api/health (anonymous): liveness and the age of the last completed run. Nothing about the tenant:
 * no IDs, no counts, no error text.
 */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { handler, jsonResponse } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime } from "../runtime.js";

export const health = handler("health", async (request: HttpRequest, context: InvocationContext) => {
  readQuery(request.query, []);
  let lastRunAgeSeconds: number | null = null;
  try {
    const rt = await getRuntime();
    const runs = await rt.store.listRuns(rt.scopeKey, 10);
    const last = runs.find((r) => (r.status === "succeeded" || r.status === "partial") && r.finishedAt);
    if (last) lastRunAgeSeconds = Math.max(0, Math.round((Date.now() - Date.parse(last.finishedAt!)) / 1000));
  } catch (err) {
    context.warn("health: the store cannot be read", err);
    return jsonResponse(503, { status: "unavailable", lastRunAgeSeconds: null });
  }
  return jsonResponse(200, { status: "ok", lastRunAgeSeconds });
});

app.http("health", { ...registrationOf("health"), handler: health });
