/**
 * Durable steps. `Step.run(step, input)` looks the step up in the `Journal` first: a hit is
 * decoded and returned without running (that is what makes a retried or crashed execution
 * resume, and a finished run replay). A miss runs the step under its timeout and retry
 * schedule and records the output put-if-absent, returning whichever record stands.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Option, Schedule, Schema } from "effect"
import { isRetryable, NondeterminismError, StepTimeout, StorageError } from "./Errors.js"
import { canonicalJson, sha256 } from "./internal/canonical.js"
import { Journal } from "./Journal.js"
import { stepRetry } from "./Retry.js"

/**
 * Where steps run: a stage execution over one scope (a chunk, a run) of one run. `next`
 * hands out the position of each step call within the execution.
 *
 * @since 0.1.0
 * @category models
 */
export interface StepScope {
  readonly runId: string
  readonly stage: string
  readonly scope: string
  readonly next: () => number
}

/**
 * @since 0.1.0
 * @category tags
 */
export const StepScope = Context.GenericTag<StepScope>("@phs/core/StepScope")

/**
 * A fresh scope whose step positions count from 0.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeScope = (runId: string, stage: string, scope: string): StepScope => {
  let seq = 0
  return { runId, stage, scope, next: () => seq++ }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Step<I, IE, O, OE, E, R> {
  readonly name: string
  readonly input: Schema.Schema<I, IE>
  readonly output: Schema.Schema<O, OE>
  readonly run: (input: I) => Effect.Effect<O, E, R>
  /** Each attempt's limit (default: none). */
  readonly timeout?: Duration.DurationInput
  /** Schedule for retrying retryable errors (default: `defaultRetry`). */
  readonly retry?: Schedule.Schedule<unknown, unknown>
}

/**
 * Three retries with jittered exponential backoff from 200 ms (`Retry.stepRetry`).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetry: Schedule.Schedule<unknown, unknown> = stepRetry

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = <I, IE, O, OE, E, R>(step: Step<I, IE, O, OE, E, R>): Step<I, IE, O, OE, E, R> => step

/**
 * The hash of an input as the journal keys it: SHA-256 of the canonical JSON of the
 * schema-encoded input.
 *
 * @since 0.1.0
 * @category utils
 */
export const hashInput = <I, IE>(schema: Schema.Schema<I, IE>, input: I): Effect.Effect<string> =>
  Schema.encode(schema)(input).pipe(Effect.orDie, Effect.map((encoded) => sha256(canonicalJson(encoded))))

/**
 * Runs a step durably within the current `StepScope`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const run = <I, IE, O, OE, E, R>(
  step: Step<I, IE, O, OE, E, R>,
  input: I
): Effect.Effect<O, E | StepTimeout | StorageError | NondeterminismError, R | Journal | StepScope> =>
  Effect.gen(function* () {
    const scope = yield* StepScope
    const journal = yield* Journal
    const seq = scope.next()
    const inputHash = yield* hashInput(step.input, input)
    const call = { runId: scope.runId, stage: scope.stage, scope: scope.scope, step: step.name, inputHash, seq }
    const decodeRecorded = (text: string) =>
      Schema.decode(Schema.parseJson(step.output))(text).pipe(
        Effect.mapError(
          (e) =>
            new NondeterminismError({ stage: call.stage, scope: call.scope, step: call.step, seq, reason: `recorded output no longer decodes: ${e.message}` })
        )
      )
    const retryJournal = <A, E2>(op: Effect.Effect<A, E2>) => Effect.retry(op, { schedule: step.retry ?? defaultRetry, while: isRetryable })
    const hit = yield* retryJournal(journal.lookup(call))
    if (Option.isSome(hit)) return yield* decodeRecorded(hit.value.output)

    const attempt = step.timeout === undefined
      ? step.run(input)
      : step.run(input).pipe(
          Effect.timeoutFail({
            duration: step.timeout,
            onTimeout: () => new StepTimeout({ step: step.name, timeoutMs: Duration.toMillis(Duration.decode(step.timeout!)) })
          })
        )
    const output = yield* Effect.retry(attempt, { schedule: step.retry ?? defaultRetry, while: isRetryable })
    const encoded = yield* Schema.encode(step.output)(output).pipe(Effect.orDie)
    const recordedAt = yield* Clock.currentTimeMillis
    const stored = yield* retryJournal(journal.record({ ...call, output: canonicalJson(encoded), recordedAt }))
    return stored.output === canonicalJson(encoded) ? output : yield* decodeRecorded(stored.output)
  }).pipe(Effect.withSpan(`step ${step.name}`))
