/** GET /api/runs/{runId}/changes: the findings that changed in that run (the drift feed), paged. */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { app, type HttpRequest } from "@azure/functions";
import { findingJson } from "../core/json.js";
import { parseRunId } from "../api/bodies.js";
import { DEFAULT_TOP, MAX_TOP, SKIP_TOKEN } from "../api/findings-query.js";
import { handler, jsonResponse, linkWithQuery } from "../api/http.js";
import { intValue, readQuery } from "../api/params.js";
import { changesPage, findRun, readDepsOf } from "../api/reads.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime } from "../runtime.js";

export const runsChanges = handler("runs-changes", async (request: HttpRequest) => {
  const runId = parseRunId(request.params.runId);
  const q = readQuery(request.query, ["top", SKIP_TOKEN]);
  const top = q.has("top") ? intValue("top", q.get("top")!, 1, MAX_TOP) : DEFAULT_TOP;
  const rt = await getRuntime();
  const run = await findRun(rt.store, rt.scopeKey, runId);
  const page = await changesPage(readDepsOf(rt), run, top, q.get(SKIP_TOKEN));
  const nextLink = page.next ? linkWithQuery(request, { [SKIP_TOKEN]: page.next }) : undefined;
  return jsonResponse(200, { value: page.items.map(findingJson), ...(nextLink ? { nextLink } : {}) });
});

app.http("runs-changes", { ...registrationOf("runs-changes"), handler: runsChanges });
