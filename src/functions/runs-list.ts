/** GET /api/runs: the most recent runs, newest first. */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest } from "@azure/functions";
import { handler, jsonResponse } from "../api/http.js";
import { intValue, readQuery } from "../api/params.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime } from "../runtime.js";

export const RUNS_DEFAULT_TOP = 20;
export const RUNS_MAX_TOP = 100;

export const runsList = handler("runs-list", async (request: HttpRequest) => {
  const q = readQuery(request.query, ["top"]);
  const top = q.has("top") ? intValue("top", q.get("top")!, 1, RUNS_MAX_TOP) : RUNS_DEFAULT_TOP;
  const rt = await getRuntime();
  return jsonResponse(200, { value: await rt.store.listRuns(rt.scopeKey, top) });
});

app.http("runs-list", { ...registrationOf("runs-list"), handler: runsList });
