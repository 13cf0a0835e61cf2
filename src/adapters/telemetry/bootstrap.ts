/**
 * Side-effect module, imported before anything else by the Functions app (first import of
 * src/telemetry-setup.ts, which the function files import first): starts Application Insights from the
 * environment when APPLICATIONINSIGHTS_CONNECTION_STRING is set, before the Azure SDK modules load, so
 * that their calls are collected as dependencies. It imports nothing heavy; without the setting it does
 * nothing. (The CLI starts telemetry itself, with the developer's credential for Entra ID ingestion.)
 */
import { startApplicationInsights } from "./client.js";

const connectionString = process.env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
if (connectionString) {
  try {
    startApplicationInsights({ connectionString, authenticationString: process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING });
  } catch (err) {
    // The settings are validated (and reported) by loadConfig; the audit runs without telemetry.
    console.warn(`aks-acr-audit: Application Insights not started: ${(err as Error).message}`);
  }
}
