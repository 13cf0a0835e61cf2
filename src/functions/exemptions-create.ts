/**
 * POST /api/exemptions: accepts a finding on purpose (rules.md "Exemptions"). Stored now, applied from the
 * next run on (the run that evaluates it sets the findings' `exemption`).
 */
import "../telemetry-setup.js"; // first: Application Insights starts before the Azure SDK modules load
import { randomUUID } from "node:crypto";
import { app, type HttpRequest } from "@azure/functions";
import type { ApiExemption } from "../core/ports.js";
import { parseExemptionBody } from "../api/bodies.js";
import { childLink, handler, jsonResponse, readJsonObject } from "../api/http.js";
import { readQuery } from "../api/params.js";
import { registrationOf } from "../api/routes.js";
import { getRuntime } from "../runtime.js";

export const exemptionsCreate = handler("exemptions-create", async (request: HttpRequest) => {
  readQuery(request.query, []);
  const now = new Date();
  const body = parseExemptionBody((await readJsonObject(request, { required: true }))!, now.toISOString().slice(0, 10));
  const rt = await getRuntime();
  const exemption: ApiExemption = { id: randomUUID(), ...body, createdAt: now.toISOString() };
  // Only the platform's authentication (App Service / Functions) sets a user; it is informational.
  const user = request.user?.username;
  if (user) exemption.createdBy = user.slice(0, 200);
  await rt.store.putExemption(rt.scopeKey, exemption);
  return jsonResponse(201, exemption, { location: childLink(request, exemption.id) });
});

app.http("exemptions-create", { ...registrationOf("exemptions-create"), handler: exemptionsCreate });
