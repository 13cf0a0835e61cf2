/** GET /api/runs/{runId}: one run (status, duration, counts, missed scopes); `latest` is the most recent. */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest } from "@azure/functions";
import { parseRunId } from "../api/bodies.js";
import { handler, jsonResponse } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { findRun } from "../api/reads.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime } from "../runtime.js";

export const runsGet = handler("runs-get", async (request: HttpRequest) => {
  const runId = parseRunId(request.params.runId);
  readQuery(request.query, []);
  const rt = await getRuntime();
  return jsonResponse(200, await findRun(rt.store, rt.scopeKey, runId));
});

app.http("runs-get", { ...registrationOf("runs-get"), handler: runsGet });
