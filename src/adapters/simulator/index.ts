export {
  CLOUD_NAMES,
  DEFAULT_SIMULATION,
  ESTATE_LIMITS,
  EstateError,
  loadEstateFile,
  parseEstate,
  parseEstateText,
  TABLE_NAMES,
  validateSimulation,
  type Estate,
  type EstateCloud,
  type FaultKind,
  type FaultService,
  type QuotaSettings,
  type Row,
  type SimulationFault,
  type SimulationSettings,
  type TableName,
} from "./estate.js";
export { ArmSimulator, simulatorCredential, type SimulatorStats } from "./simulator.js";
export { BUILTIN_ROLES, builtinRoleRow, findBuiltinRole, type BuiltinRole, type RolePermission } from "./builtin-roles.js";
export { compileQuery, KqlError, MAX_QUERY_LENGTH, runQuery, type CompiledQuery } from "./kql.js";
