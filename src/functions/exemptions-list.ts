/** GET /api/exemptions: the exemptions created through the API (tag exemptions live on the resources). */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest } from "@azure/functions";
import { handler, jsonResponse } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime } from "../runtime.js";

export const exemptionsList = handler("exemptions-list", async (request: HttpRequest) => {
  readQuery(request.query, []);
  const rt = await getRuntime();
  const all = await rt.store.listExemptions(rt.scopeKey);
  all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  return jsonResponse(200, { value: all });
});

app.http("exemptions-list", { ...registrationOf("exemptions-list"), handler: exemptionsList });
