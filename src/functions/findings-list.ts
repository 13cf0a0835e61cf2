/** GET /api/findings: the current findings, filtered and paged (JSON, or CSV with format=csv / Accept: text/csv). */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { Readable } from "node:stream";
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { findingJson } from "../core/json.js";
import { csvHeader, csvRow, CSV_CONTENT_TYPE } from "../api/csv.js";
import { parseFindingsQuery, SKIP_TOKEN } from "../api/findings-query.js";
import { handler, jsonResponse, linkWithQuery, rawResponse, wantsCsv } from "../api/http.js";
import { findingsPage, readDepsOf, type ReadDeps } from "../api/reads.js";
import { registrationOf } from "../api/routes.js";
import type { FindingsFilter } from "../api/findings-query.js";
import { getRuntime } from "../runtime.js";

/** Page size while streaming a whole CSV export. */
const CSV_PAGE = 1000;

async function* csvExport(
  deps: ReadDeps,
  filter: FindingsFilter,
  first: { items: Parameters<typeof csvRow>[0][]; next?: string },
  context: InvocationContext,
) {
  yield csvHeader() + first.items.map(csvRow).join("");
  let next = first.next;
  try {
    while (next) {
      const page = await findingsPage(deps, filter, CSV_PAGE, next);
      if (page.items.length) yield page.items.map(csvRow).join("");
      next = page.next;
    }
  } catch (err) {
    // With the host's buffered responses (index.ts: enableHttpStream false) the body is read whole before
    // sending, so the invocation fails and the caller gets a 500; the local server has sent the headers
    // already and cuts the download short.
    context.error("findings-list: CSV export failed midway", err);
    throw err;
  }
}

export const findingsList = handler("findings-list", async (request: HttpRequest, context: InvocationContext) => {
  const req = parseFindingsQuery(request.query);
  const rt = await getRuntime();
  const deps = readDepsOf(rt);
  const csv = wantsCsv(request, req.format);
  if (csv && !req.topGiven && req.skipToken === undefined) {
    // The whole result, streamed; the first page is read before answering so a bad request still gets a 400.
    const first = await findingsPage(deps, req.filter, CSV_PAGE);
    return rawResponse(200, Readable.from(csvExport(deps, req.filter, first, context)), CSV_CONTENT_TYPE, {
      "content-disposition": 'attachment; filename="findings.csv"',
    });
  }
  const page = await findingsPage(deps, req.filter, req.top, req.skipToken);
  const nextLink = page.next ? linkWithQuery(request, { [SKIP_TOKEN]: page.next }) : undefined;
  if (csv) {
    return rawResponse(
      200,
      csvHeader() + page.items.map(csvRow).join(""),
      CSV_CONTENT_TYPE,
      nextLink ? { link: `<${nextLink}>; rel="next"` } : {},
    );
  }
  return jsonResponse(200, { value: page.items.map(findingJson), ...(nextLink ? { nextLink } : {}) });
});

app.http("findings-list", { ...registrationOf("findings-list"), handler: findingsList });
