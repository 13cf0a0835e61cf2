/** GET /api/findings/summary: counts of the latest run's findings, and the clusters with most open failures. */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest } from "@azure/functions";
import { handler, jsonResponse } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { summary } from "../api/reads.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime } from "../runtime.js";

export const findingsSummary = handler("findings-summary", async (request: HttpRequest) => {
  readQuery(request.query, []);
  const rt = await getRuntime();
  return jsonResponse(200, await summary(rt.store, rt.scopeKey));
});

app.http("findings-summary", { ...registrationOf("findings-summary"), handler: findingsSummary });
