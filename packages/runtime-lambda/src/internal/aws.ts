/**
 * Calling the SDK from Effect, and what an SDK error means for phs: transient conditions
 * (throttling, 5xx, timeouts, lost connections) become retryable `StorageError`s, the rest
 * fatal ones. Layers look at the raw error first when a particular one has a meaning
 * (NoSuchKey, a failed condition, a cancelled transaction).
 */
import { Errors } from "@phs/core"
import { Effect } from "effect"

/** A failed SDK call, before it is given a phs meaning. Never leaves this package. */
export class AwsCallError {
  readonly _tag = "AwsCallError"
  constructor(
    readonly operation: string,
    readonly cause: unknown,
    readonly key?: string
  ) {}
}

/** Runs one SDK call; interruption aborts the HTTP request. */
export const call = <A>(operation: string, f: (signal: AbortSignal) => Promise<A>, key?: string): Effect.Effect<A, AwsCallError> =>
  Effect.tryPromise({ try: f, catch: (cause) => new AwsCallError(operation, cause, key) })

const field = (cause: unknown, name: string): unknown =>
  typeof cause === "object" && cause !== null && name in cause ? (cause as Record<string, unknown>)[name] : undefined

/** The error's name or code as the SDK reports it (`NoSuchKey`, `ThrottlingException`, `ECONNRESET`, …). */
export const errorName = (cause: unknown): string => {
  const name = field(cause, "name")
  const code = field(cause, "Code") ?? field(cause, "code")
  if (typeof name === "string" && name !== "Error") return name
  return typeof code === "string" ? code : typeof name === "string" ? name : "UnknownError"
}

/** The HTTP status of the response that carried the error, if there was one. */
export const httpStatus = (cause: unknown): number | undefined => {
  const meta = field(cause, "$metadata")
  const status = field(meta, "httpStatusCode")
  return typeof status === "number" ? status : undefined
}

const TRANSIENT = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "TransactionConflictException",
  "TransactionInProgressException",
  "InternalError",
  "InternalFailure",
  "InternalServerError",
  "InternalServerException",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "PriorRequestNotComplete",
  "KMSThrottlingException",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH"
])

/** Whether trying again can help: the SDK's own `$retryable` trait, a 5xx or 429, or a known transient name. */
export const isTransient = (cause: unknown): boolean => {
  if (field(cause, "$retryable") !== undefined) return true
  const status = httpStatus(cause)
  if (status !== undefined && (status >= 500 || status === 429)) return true
  if (TRANSIENT.has(errorName(cause))) return true
  const code = field(cause, "code")
  return typeof code === "string" && TRANSIENT.has(code)
}

const describe = (cause: unknown): string => {
  const name = errorName(cause)
  const message = cause instanceof Error ? cause.message : String(cause)
  return message.length === 0 || message === name ? name : `${name}: ${message}`
}

/** The phs meaning of a failed call that no layer gave a specific one. */
export const toStorageError = (e: AwsCallError): Errors.StorageError =>
  new Errors.StorageError({ operation: e.operation, key: e.key, reason: describe(e.cause), retryable: isTransient(e.cause) })

/** Runs one SDK call whose errors all take their default meaning. */
export const callStorage = <A>(operation: string, f: (signal: AbortSignal) => Promise<A>, key?: string): Effect.Effect<A, Errors.StorageError> =>
  Effect.mapError(call(operation, f, key), toStorageError)
