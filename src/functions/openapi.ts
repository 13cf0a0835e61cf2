/**
 * GET /api/openapi.json: the OpenAPI document (openapi.yaml at the package root, the one source of truth),
 * as JSON, with `servers` pointing at the host that answered.
 */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import fs from "node:fs";
import path from "node:path";
import { app, type HttpRequest } from "@azure/functions";
import { handler, jsonResponse } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { registrationOf } from "../api/routes.js";

/** openapi.yaml sits at the package root: two levels above src/functions, three above dist/src/functions. */
export function locateOpenApi(from = __dirname): string {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, "openapi.yaml");
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`openapi.yaml not found above ${from}`);
}

let document: Promise<Record<string, unknown>> | undefined;

export function loadOpenApi(): Promise<Record<string, unknown>> {
  document ??= (async () => {
    const { parse } = await import("yaml");
    return parse(await fs.promises.readFile(locateOpenApi(), "utf8")) as Record<string, unknown>;
  })();
  document.catch(() => (document = undefined));
  return document;
}

export const openapi = handler("openapi", async (request: HttpRequest) => {
  readQuery(request.query, []);
  const doc = await loadOpenApi();
  const url = new URL(request.url);
  const base = url.pathname.replace(/\/openapi\.json$/i, "");
  return jsonResponse(200, { ...doc, servers: [{ url: `${url.origin}${base}` }] });
});

app.http("openapi", { ...registrationOf("openapi"), handler: openapi });
