/**
 * Pipeline composition and the engine that drives it. A pipeline is the four stages plus
 * any run-level stages a user appends; the engine turns queue messages into stage
 * executions (claim → execute → ack), runs the catalog when a run settles, drives a whole
 * run on one machine, and replays a finished run against its journal.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, type Either, Option, Schedule, Schema } from "effect"
import { BlobStore } from "./BlobStore.js"
import { Catalog } from "./Catalog.js"
import { InvalidInput, isRetryable, RunFailed, RunNotFound, StorageError } from "./Errors.js"
import { Fitter } from "./Fitter.js"
import { sha256Stream } from "./internal/hashBlob.js"
import * as Journal from "./Journal.js"
import * as Keys from "./Keys.js"
import * as Params from "./Params.js"
import { isSettled, RunTable, type RunRecord } from "./RunTable.js"
import * as Stage from "./Stage.js"
import { catalog } from "./stages/CatalogStage.js"
import { fit } from "./stages/Fit.js"
import { slowFit } from "./stages/SlowFit.js"
import { split } from "./stages/Split.js"
import { FitTask, RunParams, RunRef, SlowTask, type SplitInput } from "./stages/Tasks.js"
import type { StepScope } from "./Step.js"
import { WorkQueue, type Message, type QueueName } from "./WorkQueue.js"

/**
 * The services every stage may use; a runtime is a layer providing them.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = BlobStore | WorkQueue | RunTable | Journal.Journal | Catalog | Fitter

/**
 * A run-level stage appended after catalog: it gets the run id and may use every service.
 * (Its output schema is existential here, hence `any`; its own module keeps the real type.)
 *
 * @since 0.1.0
 * @category models
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RunStage = Stage.Stage<RunRef, RunRef, any, any, { readonly _tag: string; readonly message: string }, Services | StepScope>

/**
 * @since 0.1.0
 * @category models
 */
export interface Pipeline {
  readonly split: typeof split
  readonly fit: typeof fit
  readonly slowFit: typeof slowFit
  readonly catalog: typeof catalog
  readonly after: ReadonlyArray<RunStage>
}

/**
 * split → fit → slow-fit → catalog.
 *
 * @since 0.1.0
 * @category constructors
 */
export const standard: Pipeline = { split, fit, slowFit, catalog, after: [] }

/**
 * Appends a run-level stage, executed once the catalog has published the run.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withStage = (pipeline: Pipeline, stage: RunStage): Pipeline => {
  const names = [pipeline.split, pipeline.fit, pipeline.slowFit, pipeline.catalog, ...pipeline.after].map((s) => s.name)
  if (names.includes(stage.name)) throw new Error(`a stage named ${stage.name} is already in the pipeline`)
  return { ...pipeline, after: [...pipeline.after, stage] }
}

/**
 * The version that goes into run ids and `_stage_config.json`.
 *
 * @since 0.1.0
 * @category constants
 */
export const CORE_VERSION = "0.1.0"

/**
 * Validates a manifest, resolves its parameters, hashes the cube and derives the run id.
 * Nothing is created: a bad manifest or cube leaves no trace.
 *
 * @since 0.1.0
 * @category constructors
 */
export const prepare = (manifest: unknown): Effect.Effect<SplitInput, InvalidInput | StorageError, BlobStore | Fitter> =>
  Effect.gen(function* () {
    const m = yield* Params.decodeManifest(manifest)
    const params = yield* Params.resolve(m.params)
    const fitter = yield* Fitter
    const store = yield* BlobStore
    const size = yield* store.size(m.cube_key)
    if (Option.isNone(size)) return yield* Effect.fail(new InvalidInput({ reason: `no cube at ${m.cube_key}` }))
    const cubeSha256 = yield* sha256Stream(size.value, (offset, length) => store.getRange(m.cube_key, offset, length)).pipe(
      Effect.catchTag("BlobNotFound", (e) => Effect.fail(new InvalidInput({ reason: `no cube at ${e.key}` })))
    )
    const codeVersion = `phs-${CORE_VERSION}+fit-${fitter.version}`
    const runId = Params.runId({ cubeSha256, survey: m.survey, params, chunkSize: m.chunk_size, codeVersion })
    return { runId, survey: m.survey, cubeKey: m.cube_key, params, chunkSize: m.chunk_size, codeVersion }
  })

/**
 * Runs split unless the run already exists past it. Idempotent.
 *
 * @since 0.1.0
 * @category combinators
 */
export const start = (pipeline: Pipeline, input: SplitInput) =>
  Effect.gen(function* () {
    const table = yield* RunTable
    const existing = yield* table.getRun(input.runId)
    if (Option.isSome(existing) && existing.value.status !== "SPLITTING") return existing.value
    // A transient failure costs a retry of the split, whose finished steps the journal answers.
    yield* Stage.execute(pipeline.split, { runId: input.runId, scope: "run" }, input).pipe(
      Effect.retry({ while: isRetryable, schedule: engineRetry })
    )
    return yield* getRun(input.runId)
  })

const getRun = (runId: string) =>
  Effect.flatMap(RunTable, (t) => t.getRun(runId)).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(new RunNotFound({ runId })), onSome: Effect.succeed }))
  )

/**
 * What handling a message came to.
 *
 * @since 0.1.0
 * @category models
 */
export type Handled =
  | { readonly _tag: "Done"; readonly runId: string; readonly runSettled: boolean }
  | { readonly _tag: "Busy"; readonly retryInMs: number }
  | { readonly _tag: "Failed"; readonly runId: string; readonly reason: string; readonly runSettled: boolean }

const decodeMessage = <A, I>(schema: Schema.Schema<A, I>, body: string) =>
  Effect.try({ try: () => JSON.parse(body) as unknown, catch: () => new InvalidInput({ reason: "message body is not JSON" }) }).pipe(
    Effect.flatMap(Schema.decodeUnknown(schema)),
    Effect.mapError((e) => (e._tag === "InvalidInput" ? e : new InvalidInput({ reason: `bad message: ${e.message}` })))
  )

/**
 * Marks a chunk FAILED with a fatal error's reason; the run may settle by it.
 */
const failChunk = (runId: string, start: number, reason: string) =>
  Effect.flatMap(RunTable, (t) => t.failChunk(runId, start, reason)).pipe(
    Effect.map(({ run }): Handled => ({ _tag: "Failed", runId, reason, runSettled: isSettled(run) }))
  )

/**
 * Handles a `fit` message: claim the chunk, execute the fit stage (again, cheaply, when the
 * chunk is already COMPLETED: the journal answers and any step a crash cut off still runs),
 * fail the chunk on a fatal error. Retryable errors propagate: the message comes back.
 *
 * @since 0.1.0
 * @category engine
 */
export const handleFit = (pipeline: Pipeline, body: string, leaseMs: number) =>
  Effect.gen(function* () {
    const task = yield* decodeMessage(FitTask, body)
    const table = yield* RunTable
    const claim = yield* table.claimChunk(task.runId, task.start, leaseMs)
    if (claim._tag === "Busy") return { _tag: "Busy", retryInMs: Math.max(1000, claim.leaseUntil - (yield* Clock.currentTimeMillis)) } as Handled
    if (claim._tag === "Settled" && claim.status === "FAILED") return { _tag: "Done", runId: task.runId, runSettled: false } as Handled
    return yield* Stage.execute(pipeline.fit, { runId: task.runId, scope: Keys.chunkName(task.start) }, task).pipe(
      Effect.map((out): Handled => ({ _tag: "Done", runId: task.runId, runSettled: out.runSettled })),
      Effect.catchIf(
        (e) => !isRetryable(e),
        (e) => failChunk(task.runId, task.start, errorText(e))
      ),
      Effect.tapError((e) => Effect.ignore(table.noteChunkError(task.runId, task.start, errorText(e))))
    )
  })

/**
 * Handles a `slow` message: refit the chunk's deferred spectra and settle them.
 *
 * @since 0.1.0
 * @category engine
 */
export const handleSlow = (pipeline: Pipeline, body: string) =>
  Effect.gen(function* () {
    const task = yield* decodeMessage(SlowTask, body)
    return yield* Stage.execute(pipeline.slowFit, { runId: task.runId, scope: Keys.chunkName(task.start) }, task).pipe(
      Effect.map((out): Handled => ({ _tag: "Done", runId: task.runId, runSettled: out.runSettled }))
    )
  })

/**
 * Runs catalog and the appended stages for a settled run. Idempotent. A run with failed
 * chunks ends FAILED with the first chunk's error and is not cataloged; that decision is a
 * conditional status change, not a journaled step, so a redrive (which reopens the chunks)
 * can still catalog the run later.
 *
 * @since 0.1.0
 * @category engine
 */
export const finishRun = (pipeline: Pipeline, runId: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable
    const failed = (yield* table.listChunks(runId)).filter((c) => c.status === "FAILED")
    if (failed.length > 0) {
      const reason = `${failed.length} chunk(s) failed; first at spectrum ${failed[0].start}: ${failed[0].error ?? "unknown error"}`
      yield* table.transition(runId, ["RUNNING", "CATALOGING"], "FAILED", reason)
      return yield* getRun(runId)
    }
    const out = yield* Stage.execute(pipeline.catalog, { runId, scope: "run" }, { runId })
    if (out.status !== "COMPLETED") return yield* getRun(runId)
    for (const stage of pipeline.after) {
      const ok = yield* Stage.execute(stage, { runId, scope: "run" }, { runId }).pipe(
        Effect.as(true),
        Effect.catchIf(
          (e) => !isRetryable(e),
          (e) =>
            Effect.flatMap(RunTable, (t) => t.transition(runId, ["COMPLETED"], "FAILED", `stage ${stage.name}: ${errorText(e)}`)).pipe(Effect.as(false))
        )
      )
      if (!ok) break
    }
    return yield* getRun(runId)
  })

/**
 * One line describing an error, for the run table and the CLI.
 *
 * @since 0.1.0
 * @category utils
 */
export const errorText = (e: unknown): string => {
  if (typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" && e.message.length > 0) {
    const tag = "_tag" in e && typeof e._tag === "string" ? e._tag : "Error"
    return `${tag}: ${e.message}`
  }
  return String(e)
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DriveOptions {
  /** Chunks in flight at once (default 2). */
  readonly concurrency?: number
  /** Chunk lease and message visibility, ms (default 60 000; extended while working). */
  readonly leaseMs?: number
  /** Wait between polls when nothing is visible, ms (default 200). */
  readonly pollMs?: number
}

/**
 * Works a queue message: handle it, keep it invisible while working, then ack it, release
 * it for later, or dead-letter it when its deliveries are used up.
 */
const work = <E, R>(queue: QueueName, msg: Message, leaseMs: number, maxTries: number, handle: Effect.Effect<Handled, E, R>) =>
  Effect.gen(function* () {
    const q = yield* WorkQueue
    const beat = Duration.millis(Math.max(50, Math.floor(leaseMs / 3)))
    // Scoped, so the heartbeat stops however handling ends (success, failure, defect, interruption).
    const result = yield* Effect.scoped(
      Effect.zipRight(
        q.release(queue, msg.receipt, leaseMs).pipe(Effect.ignore, Effect.repeat(Schedule.spaced(beat)), Effect.delay(beat), Effect.forkScoped),
        Effect.either(handle)
      )
    )
    return yield* settle(q, queue, msg, maxTries, result)
  })

/** Acks, releases or dead-letters a handled message. If that call itself fails transiently
 * the message simply comes back later: handling it again changes nothing. */
const settle = <E>(q: WorkQueue, queue: QueueName, msg: Message, maxTries: number, result: Either.Either<Handled, E>) =>
  Effect.gen(function* () {
    if (result._tag === "Right") {
      if (result.right._tag === "Busy") yield* q.release(queue, msg.receipt, result.right.retryInMs)
      else yield* q.ack(queue, msg.receipt)
      return Option.some(result.right)
    }
    const reason = errorText(result.left)
    if (!isRetryable(result.left) || msg.receiveCount >= maxTries) {
      yield* q.deadLetter(queue, msg.receipt, reason)
    } else {
      yield* q.release(queue, msg.receipt, Math.min(30_000, 250 * 2 ** msg.receiveCount))
    }
    return Option.none<Handled>()
  }).pipe(Effect.catchIf(isRetryable, () => Effect.succeed(Option.none<Handled>())))

/**
 * Drives a run on this machine until it is COMPLETED or FAILED: work the `fit` queue, then
 * the `slow` queue, then catalog. Safe to call again after a crash (that is `phs resume`).
 *
 * @since 0.1.0
 * @category engine
 */
export const drive = (pipeline: Pipeline, runId: string, options: DriveOptions = {}) =>
  Effect.gen(function* () {
    const concurrency = options.concurrency ?? 2
    const leaseMs = options.leaseMs ?? 60_000
    const pollMs = options.pollMs ?? 200
    const q = yield* WorkQueue
    /** One round: finish the run if it is settled, else work what is visible. */
    const round = Effect.gen(function* () {
      const run = yield* getRun(runId)
      if (run.status === "COMPLETED" || run.status === "FAILED") return Option.some(run)
      if (run.status === "CATALOGING" || (run.status !== "SPLITTING" && isSettled(run))) return Option.some(yield* finishRun(pipeline, runId))
      const fits = yield* q.receive("fit", { max: concurrency, visibilityMs: leaseMs })
      const slows = fits.length > 0 ? [] : yield* q.receive("slow", { max: concurrency, visibilityMs: leaseMs })
      if (fits.length === 0 && slows.length === 0) {
        yield* sweepDeadLetters(runId)
        yield* Effect.sleep(Duration.millis(pollMs))
        return Option.none<RunRecord>()
      }
      yield* Effect.forEach(
        [
          ...fits.map((m) => work("fit", m, leaseMs, 3, handleFit(pipeline, m.body, leaseMs))),
          ...slows.map((m) => work("slow", m, leaseMs, 2, handleSlow(pipeline, m.body)))
        ],
        (eff) => eff,
        { concurrency: "unbounded", discard: true }
      )
      return Option.none<RunRecord>()
    })
    // A transient failure of the engine's own calls (a claim, a receive) costs a round, not the run.
    const resilient = round.pipe(Effect.retry({ while: isRetryable, schedule: engineRetry }))
    for (;;) {
      const finished = yield* resilient
      if (Option.isSome(finished)) return finished.value
    }
  })

/** Backoff for the engine's own calls: 100 ms doubling to 5 s, ten times. */
const engineRetry = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.intersect(Schedule.recurs(10))
)

/**
 * Works the queues until they are empty, waiting for in-flight messages to come back.
 * Whatever is left after a run finished (a duplicate, a message whose ack was lost) is
 * handled like any redelivery: it changes nothing already done.
 *
 * @since 0.1.0
 * @category engine
 */
export const drain = (pipeline: Pipeline, options: DriveOptions = {}) =>
  Effect.gen(function* () {
    const leaseMs = options.leaseMs ?? 60_000
    const q = yield* WorkQueue
    const round = Effect.gen(function* () {
      const fit = yield* q.depth("fit")
      const slow = yield* q.depth("slow")
      if (fit.visible + fit.inFlight + slow.visible + slow.inFlight === 0) return true
      const fits = yield* q.receive("fit", { max: options.concurrency ?? 2, visibilityMs: leaseMs })
      const slows = yield* q.receive("slow", { max: options.concurrency ?? 2, visibilityMs: leaseMs })
      if (fits.length + slows.length === 0) yield* Effect.sleep(Duration.millis(options.pollMs ?? 200))
      yield* Effect.forEach(
        [
          ...fits.map((m) => work("fit", m, leaseMs, 3, handleFit(pipeline, m.body, leaseMs))),
          ...slows.map((m) => work("slow", m, leaseMs, 2, handleSlow(pipeline, m.body)))
        ],
        (eff) => eff,
        { concurrency: "unbounded", discard: true }
      )
      return false
    }).pipe(Effect.retry({ while: isRetryable, schedule: engineRetry }))
    while (!(yield* round)) {
      // keep working
    }
  })

/**
 * A fit message that ended in the dead letters never completed its chunk: fail the chunk
 * with the dead letter's reason so the run settles (and says why). Slow dead letters leave
 * their spectra at `n_components = -1`, which validation reports.
 */
export const sweepDeadLetters = (runId: string) =>
  Effect.gen(function* () {
    const q = yield* WorkQueue
    const table = yield* RunTable
    for (const d of yield* q.deadLetters("fit")) {
      const task = yield* Effect.option(decodeMessage(FitTask, d.body))
      if (Option.isSome(task) && task.value.runId === runId) yield* table.failChunk(runId, task.value.start, d.reason)
    }
    for (const d of yield* q.deadLetters("slow")) {
      const task = yield* Effect.option(decodeMessage(SlowTask, d.body))
      if (Option.isSome(task) && task.value.runId === runId) {
        const chunks = yield* table.listChunks(runId)
        const chunk = chunks.find((c) => c.start === task.value.start)
        if (chunk !== undefined && chunk.deferred > 0) yield* table.transition(runId, ["RUNNING"], "FAILED", `slow fit of chunk ${task.value.start} dead-lettered: ${d.reason}`)
      }
    }
  })

/**
 * The result of replaying a finished run.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplayReport {
  readonly runId: string
  readonly steps: number
}

/**
 * Re-executes every stage of a finished run against a replay-only journal of its records:
 * the same steps must be requested in the same order with the same inputs, else it fails
 * with `NondeterminismError` naming the first divergent step. Nothing runs or is written.
 *
 * @since 0.1.0
 * @category engine
 */
export const replay = (pipeline: Pipeline, runId: string) =>
  Effect.gen(function* () {
    const run = yield* getRun(runId)
    if (run.status !== "COMPLETED" && run.status !== "FAILED")
      return yield* Effect.fail(new InvalidInput({ reason: `run ${runId} is ${run.status}: only a finished run can be replayed` }))
    const journal = yield* Journal.Journal
    const entries = yield* journal.entries(runId)
    const recordedScopes = new Set(entries.map((e) => `${e.stage}/${e.scope}`))
    const r = yield* Journal.makeReplay(entries)
    const program = Effect.gen(function* () {
      const out = yield* Stage.execute(pipeline.split, { runId, scope: "run" }, splitInputOf(run))
      for (const task of out.tasks) {
        const scope = Keys.chunkName(task.start)
        if (!recordedScopes.has(`${pipeline.fit.name}/${scope}`)) continue
        const fitted = yield* Stage.execute(pipeline.fit, { runId, scope }, task)
        if (fitted.deferred.length > 0 && recordedScopes.has(`${pipeline.slowFit.name}/${scope}`))
          yield* Stage.execute(pipeline.slowFit, { runId, scope }, { ...task, deferred: fitted.deferred })
      }
      for (const stage of [pipeline.catalog, ...pipeline.after]) {
        if (recordedScopes.has(`${stage.name}/run`)) yield* Stage.execute(stage, { runId, scope: "run" }, { runId })
      }
    })
    yield* program.pipe(Effect.provideService(Journal.Journal, r.journal))
    yield* r.verifyComplete
    return { runId, steps: yield* r.replayed } satisfies ReplayReport
  })

/**
 * The split input a run was started with, from its record.
 *
 * @since 0.1.0
 * @category utils
 */
export const splitInputOf = (run: RunRecord): SplitInput => ({
  runId: run.runId,
  survey: run.survey,
  cubeKey: run.cubeKey,
  params: Schema.decodeUnknownSync(RunParams)(run.params),
  chunkSize: run.chunkSize,
  codeVersion: run.codeVersion
})

/**
 * Fails with `RunFailed` when a run ended FAILED.
 *
 * @since 0.1.0
 * @category utils
 */
export const ensureCompleted = (run: RunRecord): Effect.Effect<RunRecord, RunFailed> =>
  run.status === "FAILED" ? Effect.fail(new RunFailed({ runId: run.runId, reason: run.reason ?? "unknown" })) : Effect.succeed(run)

/**
 * What starting a run can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type StartError = Effect.Effect.Error<ReturnType<typeof start>> | Effect.Effect.Error<ReturnType<typeof prepare>>

/**
 * What driving a run can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type DriveError = Effect.Effect.Error<ReturnType<typeof drive>>
