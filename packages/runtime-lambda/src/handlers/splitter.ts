/**
 * The splitter: an EventBridge "Object Created" event for `manifests/*.json` → read the
 * manifest → `Pipeline.prepare` → `Pipeline.start` (split: payloads, run and chunk items,
 * one fit message per chunk). Starting the same run again resumes or returns it.
 *
 * A manifest or cube phs refuses fails its run with the reason in the run table: the run
 * split had created (status SPLITTING → FAILED), or else a FAILED run named after the
 * manifest key (`invalidRunId`). Transient errors fail the invocation, so that Lambda's
 * asynchronous retries try again. One JSON log line per event.
 *
 * @since 0.1.0
 */
import { BlobStore, Errors, Keys, Params, Pipeline, RunTable, Step } from "@phs/core"
import type { EventBridgeEvent, S3ObjectCreatedNotificationEventDetail } from "aws-lambda"
import { Clock, Effect, Either, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { fromEnv, log, once, type Setup } from "./setup.js"

/**
 * The event the splitter is invoked with.
 *
 * @since 0.1.0
 * @category models
 */
export type ObjectCreated = EventBridgeEvent<"Object Created", S3ObjectCreatedNotificationEventDetail>

/**
 * What the splitter did with an event.
 *
 * @since 0.1.0
 * @category models
 */
export type Result =
  | { readonly _tag: "Ignored"; readonly key: string }
  | { readonly _tag: "Started"; readonly key: string; readonly runId: string; readonly status: RunTable.RunStatus }
  | { readonly _tag: "Refused"; readonly key: string; readonly runId: string; readonly reason: string }

/**
 * The run id under which a refused manifest is recorded: derived from its key, so that
 * uploading it again updates the same record.
 *
 * @since 0.1.0
 * @category constructors
 */
export const invalidRunId = (manifestKey: string): string => `invalid-${createHash("sha256").update(manifestKey).digest("hex").slice(0, 16)}`

/** Keys in S3 event notifications are URL-encoded (`+` for a space); try the key as given first. */
const decodedKey = (key: string): Option.Option<string> => {
  try {
    const decoded = decodeURIComponent(key.replace(/\+/g, " "))
    return decoded === key ? Option.none() : Option.some(decoded)
  } catch {
    return Option.none()
  }
}

const readManifest = (key: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const bytes = yield* store.get(key).pipe(
      Effect.catchTag("BlobNotFound", (e) =>
        Option.match(decodedKey(key), { onNone: () => Effect.fail(e), onSome: (k) => store.get(k) })
      ),
      Effect.catchTag("BlobNotFound", () => Effect.fail(new Errors.InvalidInput({ reason: "the manifest is gone" })))
    )
    return yield* Effect.try({
      try: () => JSON.parse(new TextDecoder().decode(bytes)) as unknown,
      catch: (e) => new Errors.InvalidInput({ reason: `the manifest is not JSON: ${e instanceof Error ? e.message : String(e)}` })
    })
  })

const field = (json: unknown, name: string): unknown =>
  typeof json === "object" && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>)[name] : undefined

/** Records a refused manifest as a FAILED run (or updates the reason of the one recorded before). */
const recordRefused = (key: string, manifest: unknown, reason: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable.RunTable
    const now = yield* Clock.currentTimeMillis
    const runId = invalidRunId(key)
    const survey = field(manifest, "survey")
    const cubeKey = field(manifest, "cube_key")
    const text = `manifest ${key}: ${reason}`
    const run: RunTable.RunRecord = {
      runId,
      survey: typeof survey === "string" && Schema.is(Params.Survey)(survey) ? survey : "_invalid",
      cubeKey: typeof cubeKey === "string" ? cubeKey : "",
      createdAt: now,
      updatedAt: now,
      params: {},
      codeVersion: `phs-${Pipeline.CORE_VERSION}`,
      nx: 0,
      ny: 0,
      nChannels: 0,
      chunkSize: 0,
      nSpectra: 0,
      jobsTotal: 0,
      jobsCompleted: 0,
      jobsFailed: 0,
      spectraDone: 0,
      spectraDeferred: 0,
      slowPending: 0,
      status: "FAILED",
      reason: text
    }
    const stored = yield* table.createRun(run, [])
    if (stored.reason !== text) yield* table.transition(runId, ["FAILED"], "FAILED", text)
    return runId
  })

/** A split that failed for good: the run it created fails, else the manifest is recorded as refused. */
const recordFailed = (key: string, manifest: unknown, runId: string, reason: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable.RunTable
    const run = yield* table.getRun(runId)
    if (Option.isSome(run) && run.value.status === "SPLITTING") {
      yield* table.transition(runId, ["SPLITTING"], "FAILED", reason)
      return runId
    }
    return yield* recordRefused(key, manifest, reason)
  })

/** Fails with a retryable error (Lambda retries the event), or runs `onFatal` with its text. */
const settle = <A, E, R, B, E2, R2>(
  effect: Effect.Effect<A, E, R>,
  onFatal: (reason: string) => Effect.Effect<B, E2, R2>
): Effect.Effect<Either.Either<A, B>, E | E2, R | R2> =>
  effect.pipe(
    Effect.map(Either.right),
    Effect.catchIf(
      (e) => !Errors.isRetryable(e),
      (e) => Effect.map(onFatal(e instanceof Errors.InvalidInput ? e.reason : Pipeline.errorText(e)), Either.left)
    )
  )

/** Handles one event. */
const split = (pipeline: Pipeline.Pipeline | undefined, event: ObjectCreated) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const key = event.detail?.object?.key ?? ""
    const report = (result: Result) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.as(log({ handler: "splitter", ...result, ms: now - started }), result))
    if (!Keys.isManifest(key)) return yield* report({ _tag: "Ignored", key })

    const refused = (manifest: unknown) => (reason: string) =>
      Effect.map(recordRefused(key, manifest, reason), (runId): Result => ({ _tag: "Refused", key, runId, reason }))

    const attempt = Effect.gen(function* () {
      const manifest = yield* settle(readManifest(key), refused(undefined))
      if (Either.isLeft(manifest)) return manifest.left
      const input = yield* settle(Pipeline.prepare(manifest.right), refused(manifest.right))
      if (Either.isLeft(input)) return input.left
      const runId = input.right.runId
      // the pipeline of the manifest's refit mode (its split is every composition's)
      const run = yield* settle(Pipeline.start(pipeline ?? Pipeline.pipelineFor(input.right.refit ?? "none"), input.right), (reason) =>
        Effect.map(recordFailed(key, manifest.right, runId, reason), (id): Result => ({ _tag: "Refused", key, runId: id, reason }))
      )
      return Either.isLeft(run) ? run.left : ({ _tag: "Started", key, runId, status: run.right.status } satisfies Result)
    })
    // Everything above is idempotent: a transient failure is retried here first (Lambda's own
    // retries of an asynchronous invocation come minutes apart).
    const result = yield* Effect.retry(attempt, { schedule: Step.defaultRetry, while: Errors.isRetryable })
    return yield* report(result)
  })

/**
 * The handler over a setup (tests pass their own runtime).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (setup: () => Setup) => (event: ObjectCreated): Promise<Result> => {
  const s = setup()
  return s.runtime.runPromise(Effect.scoped(split(s.pipeline, event)))
}

/**
 * The Lambda entry point: the runtime is built from the environment on the first invocation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler = make(once(() => fromEnv()))
