/**
 * Telemetry for the Functions app. Every function file imports this module first: its first import
 * starts Application Insights before the Azure SDK modules load (dependency collection needs that),
 * then it plugs the telemetry observer into the runtime.
 */
import "./adapters/telemetry/bootstrap.js";
import { flushTelemetry, telemetryFromConfig, withTraceParent } from "./adapters/telemetry/index.js";
import { registerRuntimeExtensions } from "./runtime.js";

registerRuntimeExtensions({ observer: async (config) => telemetryFromConfig(config) });

export { flushTelemetry, withTraceParent };
