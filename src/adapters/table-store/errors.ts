/** Errors of the table store, with a stable `code` (mapped to HTTP status in src/functions). */
export type TableStoreErrorCode =
  /** A `queryFindings` continuation that this store did not issue for this scope and query. */
  | "InvalidContinuationToken"
  /** Another writer committed (or reserved) the scope since `previous` was loaded. */
  | "ConcurrentCommit"
  /** An argument the store cannot accept (bad table prefix, bad page size...). */
  | "InvalidArgument"
  /** Stored data that fails its checks (a change feed whose chunks are missing or do not match its hash). */
  | "CorruptData"
  /** The tables were written by a version with another findings layout (see docs/storage.md). */
  | "IncompatibleLayout"
  /** A commit switched the state but could not write its run record (core: RUN_RECORD_FAILED). */
  | "RunRecordFailed";

export class TableStoreError extends Error {
  override readonly name = "TableStoreError";
  constructor(
    readonly code: TableStoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}
