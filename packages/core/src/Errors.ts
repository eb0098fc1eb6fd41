/**
 * The errors that cross package boundaries. Every error is a `Schema.TaggedError` and says
 * whether trying again can help (`retryable`): retry policies read that flag, nothing else.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A storage back end (blob store, queue, run table, journal, catalog) failed. `retryable`
 * is true for transient conditions (throttling, a lost connection, a busy database).
 *
 * @since 0.1.0
 * @category errors
 */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  key: Schema.optional(Schema.String),
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message(): string {
    return `${this.operation}${this.key === undefined ? "" : ` ${this.key}`}: ${this.reason}`
  }
}

/**
 * A blob that should exist does not.
 *
 * @since 0.1.0
 * @category errors
 */
export class BlobNotFound extends Schema.TaggedError<BlobNotFound>()("BlobNotFound", {
  key: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return `no blob at ${this.key}`
  }
}

/**
 * Input from a user (manifest, parameters, survey name, cube) that phs refuses.
 * The reason is one sentence a user can act on.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  reason: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return this.reason
  }
}

/**
 * The decomposer failed on a batch (not a per-spectrum timeout: those are results).
 *
 * @since 0.1.0
 * @category errors
 */
export class FitError extends Schema.TaggedError<FitError>()("FitError", {
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message(): string {
    return `fit failed: ${this.reason}`
  }
}

/**
 * A step ran past its timeout. Retryable: the next attempt may be luckier.
 *
 * @since 0.1.0
 * @category errors
 */
export class StepTimeout extends Schema.TaggedError<StepTimeout>()("StepTimeout", {
  step: Schema.String,
  timeoutMs: Schema.Number
}) {
  get retryable(): boolean {
    return true
  }
  override get message(): string {
    return `step ${this.step} timed out after ${this.timeoutMs} ms`
  }
}

/**
 * A re-execution asked for a different step (or a step with different input) than the
 * journal recorded at that point: the program is not deterministic, or it changed.
 *
 * @since 0.1.0
 * @category errors
 */
export class NondeterminismError extends Schema.TaggedError<NondeterminismError>()("NondeterminismError", {
  stage: Schema.String,
  scope: Schema.String,
  step: Schema.String,
  seq: Schema.Number,
  reason: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return `nondeterminism in ${this.stage}/${this.scope} at step #${this.seq} (${this.step}): ${this.reason}`
  }
}

/**
 * A run does not exist, or is in a state that forbids what was asked.
 *
 * @since 0.1.0
 * @category errors
 */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()("RunNotFound", {
  runId: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return `no run ${this.runId}`
  }
}

/**
 * A run ended FAILED. The reason is what the run table records.
 *
 * @since 0.1.0
 * @category errors
 */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", {
  runId: Schema.String,
  reason: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return `run ${this.runId} failed: ${this.reason}`
  }
}

/**
 * Whether an error says that trying again can help. Errors without the flag are fatal.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "retryable" in error && (error as { retryable: unknown }).retryable === true

/**
 * Operating-system error codes that trying again can help with: a busy or exhausted
 * resource, and a full disk or quota (space is freed, or the disk grown, and the run goes
 * on; `phs resume` reopens what failed meanwhile).
 *
 * @since 0.1.0
 * @category constants
 */
export const TRANSIENT_OS_CODES: ReadonlySet<string> = new Set(["EBUSY", "EAGAIN", "EMFILE", "ENFILE", "ENOSPC", "EDQUOT"])

/**
 * SQLite result codes (and their extended codes) that trying again can help with: busy or
 * locked, and a full database or disk (`SQLITE_FULL`, "database or disk is full").
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTransientSqliteCode = (code: string): boolean =>
  code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED") || code.startsWith("SQLITE_FULL") || code === "SQLITE_IOERR_WRITE"

/**
 * Wraps a value thrown by a storage client as a StorageError.
 *
 * @since 0.1.0
 * @category constructors
 */
export const storageError = (operation: string, cause: unknown, options?: { key?: string; retryable?: boolean }): StorageError =>
  new StorageError({
    operation,
    key: options?.key,
    reason: cause instanceof Error ? cause.message : String(cause),
    retryable: options?.retryable ?? false
  })
