/**
 * Watching a run on the aws target: the run table is read every 5 s (the Lambdas do the
 * work; this process only looks) and the progress bar of the local target is drawn from
 * it, fan-out stages' chunks (`refit 3/5`) included, until the run is COMPLETED or FAILED.
 *
 * - A run that shows no progress (its status and counters unchanged) for 30 minutes ends
 *   the watch with `RunStalled`, which says what the run was doing. The run itself carries
 *   on; `phs status` and `phs resume` pick it up.
 * - While a manifest that was just put has no run yet: a manifest the splitter refused is
 *   recorded as a FAILED run named after the manifest's key (`invalid-…`): the watch fails
 *   with its reason. If the deployment runs another code version than this CLI, the run id
 *   differs from the one predicted: after a minute, the newest run of the survey with the
 *   same cube, parameters, chunk size and refit mode is followed instead.
 *
 * Time is Effect's `Clock`, so tests drive it with `TestClock`.
 */
import { Errors, type Params, Pipeline, RunTable } from "@phs/core"
import { SplitterHandler } from "@phs/runtime-lambda"
import { Clock, Duration, Effect, Option, Schema } from "effect"
import * as Progress from "../Progress.js"

/** How often the run table is read. */
export const POLL_MS = 5_000

/** How long a run may show no progress before the watch gives up on it. */
export const STALL_MS = 30 * 60_000

/** How long the predicted run id may be missing before runs of the survey are searched. */
export const FALLBACK_AFTER_MS = 60_000

/** A run that made no progress for the stall timeout (or never appeared). */
export class RunStalled extends Schema.TaggedError<RunStalled>()("RunStalled", {
  runId: Schema.String,
  minutes: Schema.Number,
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/** What a manifest that was just put should turn into. */
export interface Expecting {
  readonly manifestKey: string
  readonly survey: string
  readonly cubeKey: string
  readonly chunkSize: number
  /** Resolved parameters (as the run records them). */
  readonly params: Params.RunParams
  /** The `--refit` mode (absent: none): a plain run of the same cube is another run. */
  readonly refit?: Params.RefitMode
  /** The splitter's record of this manifest refused, as it stood before the manifest was put. */
  readonly refusedBefore: Option.Option<RunTable.RunRecord>
}

export interface WatchOptions {
  readonly tty: boolean
  /** No progress output (--json). */
  readonly quiet: boolean
  readonly pollMs?: number
  readonly stallMs?: number
  readonly fallbackAfterMs?: number
  readonly expecting?: Expecting
  /** `--target aws …` flags, for the commands a message suggests. */
  readonly flags?: string
  /** Where progress goes (default stderr). */
  readonly write?: (text: string) => void
  /** The display to draw on (a set's); default: one of its own. */
  readonly display?: Progress.Display
}

/** What counts as progress: the status, every counter, and the fan-out stages' chunks done (a refit's passes). */
export const signature = (r: RunTable.RunRecord, stages: Readonly<Record<string, number>> = {}): string =>
  [r.status, r.spectraDone, r.jobsCompleted, r.jobsFailed, r.spectraDeferred, r.slowPending, Pipeline.stageProgressText(stages, r.jobsTotal)].join("/")

const sameParams = (a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean => {
  const ka = Object.keys(a).sort()
  const kb = Object.keys(b).sort()
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k])
}

/** Whether the refused-manifest record changed since the manifest was put. */
const refusedNow = (before: Option.Option<RunTable.RunRecord>, now: RunTable.RunRecord): boolean =>
  Option.match(before, { onNone: () => true, onSome: (b) => b.updatedAt !== now.updatedAt || b.reason !== now.reason })

const minutes = (ms: number): number => Math.round(ms / 60_000)

/** Reads; a transient failure skips this poll. */
const observe = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Option.Option<A>, E> =>
  effect.pipe(
    Effect.map(Option.some),
    Effect.catchIf(
      (e) => Errors.isRetryable(e),
      () => Effect.succeed(Option.none<A>())
    )
  )

/**
 * Watches `runId` until it is COMPLETED or FAILED and returns it; fails with `RunStalled`
 * after the stall timeout, or `RunFailed` when the splitter refused the expected manifest.
 */
export const watch = (runId: string, options: WatchOptions) =>
  Effect.gen(function* () {
    const table = yield* RunTable.RunTable
    const write = options.write ?? ((text: string) => void process.stderr.write(text))
    const pollMs = options.pollMs ?? POLL_MS
    const stallMs = options.stallMs ?? STALL_MS
    const fallbackAfterMs = options.fallbackAfterMs ?? FALLBACK_AFTER_MS
    const flags = options.flags ?? " --target aws"
    const expecting = options.expecting
    const t0 = yield* Clock.currentTimeMillis
    let id = runId
    let lastChange = t0
    let last: RunTable.RunRecord | undefined
    let sig: string | undefined
    let waiting = false
    const display = options.display ?? Progress.makeDisplay({ tty: options.tty, quiet: options.quiet, write })
    const draw = display.draw
    const note = display.note
    let lastSeen: Option.Option<RunTable.RunRecord> = Option.none()
    let lastStages: Readonly<Record<string, number>> = {}

    const loop = Effect.gen(function* () {
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        const got = yield* observe(table.getRun(id))
        if (Option.isSome(got) && Option.isSome(got.value)) {
          const run = got.value.value
          // a transient failure keeps the stages last seen
          const stages = Option.getOrElse(yield* observe(table.stageProgress(id)), () => lastStages)
          lastStages = stages
          lastSeen = Option.some(run)
          draw(run, now, stages)
          if (run.status === "COMPLETED" || run.status === "FAILED") return run
          const s = signature(run, stages)
          if (s !== sig) {
            sig = s
            last = run
            lastChange = now
          }
        } else if (Option.isSome(got) && expecting !== undefined) {
          if (!waiting) {
            waiting = true
            note(`waiting for the splitter to start run ${id} (${expecting.manifestKey})`)
          }
          const invalidId = SplitterHandler.invalidRunId(expecting.manifestKey)
          const refused = yield* observe(table.getRun(invalidId))
          if (Option.isSome(refused) && Option.isSome(refused.value) && refusedNow(expecting.refusedBefore, refused.value.value)) {
            const r = refused.value.value
            return yield* Effect.fail(new Errors.RunFailed({ runId: r.runId, reason: r.reason ?? "the splitter refused the manifest" }))
          }
          if (now - t0 >= fallbackAfterMs) {
            const runs = yield* observe(table.listRuns({ survey: expecting.survey }))
            const match = Option.getOrElse(runs, () => [] as ReadonlyArray<RunTable.RunRecord>).find(
              (r) =>
                r.runId !== id &&
                r.cubeKey === expecting.cubeKey &&
                r.chunkSize === expecting.chunkSize &&
                (r.refit ?? "none") === (expecting.refit ?? "none") &&
                sameParams(r.params, expecting.params as unknown as Readonly<Record<string, number>>)
            )
            if (match !== undefined) {
              note(`the deployment named the run ${match.runId}, not ${id}: it runs code ${match.codeVersion}, this CLI another version; following ${match.runId}`)
              id = match.runId
              continue
            }
          }
        }
        if (now - lastChange >= stallMs) {
          const detail =
            last === undefined
              ? `no run ${id} after ${minutes(now - t0)} min: ${
                  expecting === undefined
                    ? "it is not in the run table"
                    : `the splitter has not started it from ${expecting.manifestKey} (see the splitter's log group SplitterLogGroup and the split-failure queue, docs/deploying.md)`
                }`
              : `run ${id} made no progress for ${minutes(now - lastChange)} min (${last.status.toLowerCase()}, ${last.spectraDone.toLocaleString("en-US")}/${last.nSpectra.toLocaleString("en-US")} spectra, ` +
                `${last.jobsCompleted}/${last.jobsTotal} chunks done, ${last.jobsFailed} failed, ${last.slowPending} slow pending); ` +
                `it may still finish: phs status ${id}${flags}, and phs resume ${id}${flags} re-drives it`
          return yield* Effect.fail(new RunStalled({ runId: id, minutes: minutes(stallMs), detail }))
        }
        yield* Effect.sleep(Duration.millis(pollMs))
      }
    })
    return yield* loop.pipe(Effect.ensuring(Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => display.end(lastSeen, now)))))
  })
