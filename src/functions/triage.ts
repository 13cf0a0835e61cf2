/** GET /api/triage?cluster=...&registry=...: why can't this cluster pull, and how to fix it (same JSON as `triage --json`). */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest } from "@azure/functions";
import { ApiError } from "../api/errors.js";
import { handler, jsonResponse } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { registrationOf } from "../api/routes.js";
import { triageJson } from "../core/json.js";
import { triage as runTriage, TriageError } from "../core/triage.js";
import { getRuntime } from "../runtime.js";

export const triage = handler("triage", async (request: HttpRequest) => {
  const q = readQuery(request.query, ["cluster", "registry"]);
  const cluster = q.get("cluster")?.trim();
  if (!cluster)
    throw new ApiError("InvalidQueryParameter", "Query parameter 'cluster' is required: a cluster resource ID or name.", "cluster");
  const registryRaw = q.get("registry");
  // Given but empty is a mistake (as on /api/findings), not "every registry".
  if (registryRaw !== undefined && registryRaw.trim() === "")
    throw new ApiError(
      "InvalidQueryParameter",
      "Query parameter 'registry' is empty: give a registry resource ID or name, or leave it out.",
      "registry",
    );
  const registry = registryRaw?.trim();
  const rt = await getRuntime();
  // Remembered attachments count too: the store's state is read like the timer's audit reads it.
  const previous = await rt.store.loadState(rt.scopeKey);
  try {
    const result = await runTriage(rt.newDiscovery(), {
      cluster,
      registry,
      scope: rt.config.scope,
      cloud: rt.config.cloud,
      armPrivateLink: rt.config.armPrivateLink,
      previous,
    });
    return jsonResponse(200, triageJson(result));
  } catch (err) {
    if (!(err instanceof TriageError)) throw err;
    switch (err.code) {
      case "ClusterNotFound":
        throw new ApiError("ClusterNotFound", err.message, "cluster");
      case "RegistryNotFound":
        throw new ApiError("NotFound", err.message, "registry");
      case "AmbiguousCluster":
        throw new ApiError("AmbiguousName", `${err.message.split("\n")[0]}: ${err.candidates.join(", ")}`, "cluster");
      default:
        throw new ApiError("InvalidQueryParameter", err.message, "cluster");
    }
  }
});

app.http("triage", { ...registrationOf("triage"), handler: triage });
