/** The Table Storage adapter of the `AuditStore` port (Azure Table Storage; Azurite locally). */
export {
  createTableStore,
  createTableStoreFromConnectionString,
  tableNames,
  TableAuditStore,
  DEFAULT_TABLE_PREFIX,
  type TableStoreOptions,
  type TableStoreClientOptions,
  type SnapshotStats,
  type CommitPhases,
} from "./table-store.js";
export { TableStoreError, type TableStoreErrorCode } from "./errors.js";
export { encodeKeyPart, keys, runRowKey, MAX_KEY_LENGTH } from "./keys.js";
export { MAX_STRING_CHARS, TRUNCATION_MARKER } from "./codec.js";
