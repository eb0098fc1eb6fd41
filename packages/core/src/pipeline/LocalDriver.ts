/**
 * The local polling driver: one machine works a run's queues until the run is COMPLETED or
 * FAILED (`drive`), or until the queues are empty (`drain`). What to do with each handled
 * message is `Delivery.decide`, as on Lambda.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Exit, Option, Queue, Schedule } from "effect"
import { availableParallelism } from "node:os"
import * as Delivery from "../Delivery.js"
import { isRetryable } from "../Errors.js"
import { engineRetry } from "../Retry.js"
import { isSettled, type RunRecord } from "../RunTable.js"
import { QUEUE_NAMES, WorkQueue, type Message, type QueueName } from "../WorkQueue.js"
import type { Pipeline } from "./Compose.js"
import { handleStage } from "./FanOut.js"
import { abandon, errorText, finishRun, handleFit, handleSlow } from "./Handlers.js"
import { getRun } from "./Prepare.js"
import { isOfRun, reopen } from "./Recovery.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface DriveOptions {
  /** Chunks in flight at once (default `defaultConcurrency()`). */
  readonly concurrency?: number
  /** Chunk lease and message visibility, ms (default 60 000; extended while working). */
  readonly leaseMs?: number
  /** Wait between polls when nothing is visible, ms (default 200). */
  readonly pollMs?: number
}

/**
 * Chunks in flight by default for a fitter of `threads` threads (default: the cores, as the
 * native pool is sized): one more than its threads, so a whole chunk always waits in the
 * pool while the main thread writes the last one's results and fetches the next; a slow
 * fsync or a GC pause then never leaves a fitter thread idle (docs/results.md, issue 15).
 *
 * @since 0.4.0
 * @category constants
 */
export const defaultConcurrency = (threads: number = availableParallelism()): number => threads + 1

/** Carries out a decision. If that call itself fails transiently the message simply comes
 * back later: handling it again changes nothing. */
const apply = (queue: QueueName, msg: Message, decision: Delivery.Decision) =>
  Effect.gen(function* () {
    const q = yield* WorkQueue
    switch (decision._tag) {
      case "Ack":
        return yield* q.ack(queue, msg.receipt)
      case "Release":
        return yield* q.release(queue, msg.receipt, decision.delayMs)
      case "DeadLetter":
        if (decision.settle) yield* abandon(queue, msg.body, decision.reason)
        return yield* q.deadLetter(queue, msg.receipt, decision.reason)
    }
  }).pipe(Effect.catchIf(isRetryable, () => Effect.void))

/**
 * Works a queue message: handle it, keep it invisible while working, then carry out what
 * `Delivery.decide` says.
 */
const work = (pipeline: Pipeline, queue: QueueName, msg: Message, leaseMs: number) =>
  Effect.gen(function* () {
    const q = yield* WorkQueue
    const beat = Duration.millis(Math.max(50, Math.floor(leaseMs / 3)))
    const handle =
      queue === "fit" ? handleFit(pipeline, msg.body, leaseMs) : queue === "slow" ? handleSlow(pipeline, msg.body) : handleStage(pipeline, msg.body, errorText)
    // Scoped, so the heartbeat stops however handling ends (success, failure, defect, interruption).
    const result = yield* Effect.scoped(
      Effect.zipRight(
        q.release(queue, msg.receipt, leaseMs).pipe(Effect.ignore, Effect.repeat(Schedule.spaced(beat)), Effect.delay(beat), Effect.forkScoped),
        Effect.either(handle)
      )
    )
    yield* apply(queue, msg, Delivery.decide(queue, msg.receiveCount, result, errorText))
  })

/**
 * Receives up to `max` messages: fit first; slow only when `slowToo` or no fit is visible;
 * fan-out stage chunks last, since they start only once the fit is done.
 */
const receiveVisible = (max: number, leaseMs: number, slowToo: boolean) =>
  Effect.gen(function* () {
    const q = yield* WorkQueue
    const fits = yield* q.receive("fit", { max, visibilityMs: leaseMs })
    const slows = fits.length > 0 && !slowToo ? [] : yield* q.receive("slow", { max, visibilityMs: leaseMs })
    const stages = fits.length + slows.length > 0 ? [] : yield* q.receive("stage", { max, visibilityMs: leaseMs })
    return [
      ...fits.map((m) => ["fit", m] as const),
      ...slows.map((m) => ["slow", m] as const),
      ...stages.map((m) => ["stage", m] as const)
    ]
  })

/**
 * Up to `concurrency` messages worked at once, each in its own fiber of the caller's scope,
 * a new one received as soon as one is done: the decomposer's pool always has the next
 * chunk while the last one's results are written (no round waits for its slowest chunk).
 * Only the driver's own loop touches the count; a message's failure is the loop's.
 */
type WorkExit = Exit.Exit<void, Effect.Effect.Error<ReturnType<typeof work>>>

const makeWorkers = (pipeline: Pipeline, concurrency: number, leaseMs: number) =>
  Effect.gen(function* () {
    const done = yield* Queue.unbounded<WorkExit>()
    let busy = 0
    /** Counts the messages done since the last call; fails as the first failed one did. */
    const settle = (exits: Iterable<WorkExit>): Effect.Effect<void, Effect.Effect.Error<ReturnType<typeof work>>> => {
      let failed: WorkExit | undefined
      for (const exit of exits) {
        busy--
        if (failed === undefined && Exit.isFailure(exit)) failed = exit
      }
      return failed ?? Effect.void
    }
    const collect = Effect.flatMap(Queue.takeAll(done), settle)
    return {
      busy: () => busy,
      /** Receives what the free slots can take and starts it; returns how many started. */
      fill: (slowToo: boolean) =>
        Effect.gen(function* () {
          yield* collect
          if (busy >= concurrency) return 0
          const got = yield* receiveVisible(concurrency - busy, leaseMs, slowToo)
          for (const [queue, msg] of got) {
            busy++
            yield* Effect.forkScoped(Effect.exit(work(pipeline, queue, msg, leaseMs)).pipe(Effect.flatMap((exit) => Queue.offer(done, exit))))
          }
          return got.length
        }),
      /** Waits until a message is done, at most `ms` (at once when none is in flight). */
      awaitOne: (ms: number) =>
        busy === 0
          ? Effect.void
          : Effect.flatMap(Effect.timeout(Queue.take(done), Duration.millis(ms)).pipe(Effect.option), (first) =>
              Option.isSome(first) ? Effect.zipRight(settle([first.value]), collect) : Effect.void
            ),
      /** Waits for every message in flight. */
      awaitAll: Effect.suspend(function loop(): Effect.Effect<void, Effect.Effect.Error<ReturnType<typeof work>>> {
        return busy === 0 ? Effect.void : Effect.flatMap(Queue.take(done), (exit) => Effect.zipRight(settle([exit]), loop()))
      })
    }
  })

const settings = (options: DriveOptions) => ({
  concurrency: options.concurrency ?? defaultConcurrency(),
  leaseMs: options.leaseMs ?? 60_000,
  pollMs: options.pollMs ?? 200
})

/**
 * Drives a run on this machine until it is COMPLETED or FAILED: work the `fit` queue, then
 * the `slow` queue, then each fan-out stage's chunks on the `stage` queue, then catalog. Safe to call again after a crash (that is `phs resume`):
 * a FAILED run's failed chunks and dead letters are reopened first (`Recovery.reopen`).
 *
 * @since 0.1.0
 * @category engine
 */
export const drive = (pipeline: Pipeline, runId: string, options: DriveOptions = {}) =>
  Effect.gen(function* () {
    const { concurrency, leaseMs, pollMs } = settings(options)
    yield* reopen(runId).pipe(Effect.retry({ while: isRetryable, schedule: engineRetry }))
    const workers = yield* makeWorkers(pipeline, concurrency, leaseMs)
    /** One turn: finish the run if it is settled (with nothing of it in flight here), else keep the workers busy. */
    const turn = Effect.gen(function* () {
      const run = yield* getRun(runId)
      if (run.status === "COMPLETED" || run.status === "FAILED") return Option.some(run)
      if (workers.busy() === 0 && (run.status === "CATALOGING" || (run.status !== "SPLITTING" && isSettled(run)))) {
        // Between the fit and the catalog, fan-out stages: finishRun starts the next one
        // when the stage queue has nothing of this run left.
        const stageWork = yield* Effect.flatMap(WorkQueue, (q) => q.depth("stage"))
        if (stageWork.visible + stageWork.inFlight === 0) {
          const after = yield* finishRun(pipeline, runId)
          if (after.status === "COMPLETED" || after.status === "FAILED") return Option.some(after)
        }
      }
      const started = yield* workers.fill(false)
      if (started === 0 && workers.busy() === 0) {
        yield* sweepDeadLetters(runId)
        yield* Effect.sleep(Duration.millis(pollMs))
      } else if (started === 0 || workers.busy() >= concurrency) yield* workers.awaitOne(pollMs)
      return Option.none<RunRecord>()
    })
    // A transient failure of the engine's own calls (a claim, a receive) costs a turn, not the run.
    const resilient = turn.pipe(Effect.retry({ while: isRetryable, schedule: engineRetry }))
    for (;;) {
      const finished = yield* resilient
      if (Option.isSome(finished)) {
        yield* workers.awaitAll
        return finished.value
      }
    }
  }).pipe(Effect.scoped)

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
    const { concurrency, leaseMs, pollMs } = settings(options)
    const q = yield* WorkQueue
    const workers = yield* makeWorkers(pipeline, concurrency, leaseMs)
    const turn = Effect.gen(function* () {
      const depths = yield* Effect.forEach(QUEUE_NAMES, (name) => q.depth(name))
      if (workers.busy() === 0 && depths.every((d) => d.visible + d.inFlight === 0)) return true
      const started = yield* workers.fill(true)
      if (started === 0 && workers.busy() === 0) yield* Effect.sleep(Duration.millis(pollMs))
      else if (started === 0 || workers.busy() >= concurrency) yield* workers.awaitOne(pollMs)
      return false
    }).pipe(Effect.retry({ while: isRetryable, schedule: engineRetry }))
    while (!(yield* turn)) {
      // keep working
    }
  }).pipe(Effect.scoped)

/**
 * A message the queue itself dead-lettered (delivered too often without an ack: a crash
 * loop) never completed its work: settle it as giving up on it would (`abandon`), so the
 * run settles and says why. Slow dead letters of a chunk with no deferred spectra left
 * change nothing.
 *
 * @since 0.1.0
 * @category engine
 */
export const sweepDeadLetters = (runId: string) =>
  Effect.gen(function* () {
    const q = yield* WorkQueue
    for (const queue of QUEUE_NAMES) {
      for (const d of yield* q.deadLetters(queue)) if (isOfRun(runId)(d.body)) yield* abandon(queue, d.body, d.reason)
    }
  })
