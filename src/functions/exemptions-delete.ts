/** DELETE /api/exemptions/{id}: removes an API exemption; findings lose it at the next run. */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest } from "@azure/functions";
import { parseExemptionId } from "../api/bodies.js";
import { ApiError } from "../api/errors.js";
import { emptyResponse, handler } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime } from "../runtime.js";

export const exemptionsDelete = handler("exemptions-delete", async (request: HttpRequest) => {
  const id = parseExemptionId(request.params.id);
  readQuery(request.query, []);
  const rt = await getRuntime();
  if (!(await rt.store.deleteExemption(rt.scopeKey, id))) throw new ApiError("ExemptionNotFound", `There is no exemption '${id}'.`, "id");
  return emptyResponse(204);
});

app.http("exemptions-delete", { ...registrationOf("exemptions-delete"), handler: exemptionsDelete });
