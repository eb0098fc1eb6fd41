/**
 * Replay: re-execute a finished run against a replay-only journal of its records and check
 * what the journal cannot say by itself — that every chunk the run table counts as done has
 * its records, that the recorded outcome is the run's status, and that the published
 * outputs still exist.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { BlobStore } from "../BlobStore.js"
import { InvalidInput, NondeterminismError } from "../Errors.js"
import * as Journal from "../Journal.js"
import * as Keys from "../Keys.js"
import { RunTable } from "../RunTable.js"
import * as Stage from "../Stage.js"
import { publishedStage, type Pipeline } from "./Compose.js"
import { chunkStage, stageTaskOf, startStage } from "./FanOut.js"
import { getRun, splitInputOf } from "./Prepare.js"

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

/** The per-run metadata catalog writes for a published run. */
const META = ["_stage_config.json", "_validation.json"] as const

/**
 * Re-executes every stage of a finished run against a replay-only journal of its records:
 * the same steps must be requested in the same order with the same inputs, else it fails
 * with `NondeterminismError` naming the first divergent step. Nothing runs or is written.
 * It also fails (with `NondeterminismError`) when:
 * - a chunk the run table has COMPLETED has no record of its fit (journal rows deleted);
 * - the replayed catalog ends in another status than the run table's (a record edited);
 * - a COMPLETED run's published parts or metadata no longer exist.
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
    const store = yield* BlobStore
    const chunks = new Map((yield* Effect.flatMap(RunTable, (t) => t.listChunks(runId))).map((c) => [c.start, c]))
    const entries = yield* journal.entries(runId)
    const recordedScopes = new Set(entries.map((e) => `${e.stage}/${e.scope}`))
    const completed = run.status === "COMPLETED"
    const r = yield* Journal.makeReplay(entries)
    const lastStep = (stage: string, scope: string) => {
      const mine = entries.filter((e) => e.stage === stage && e.scope === scope)
      return mine.length === 0 ? { step: "(none)", seq: 0 } : mine.reduce((a, b) => (b.seq > a.seq ? b : a))
    }
    const writerOf = (key: string) => entries.find((e) => e.output.includes(JSON.stringify(key)))
    const program = Effect.gen(function* () {
      const out = yield* Stage.execute(pipeline.split, { runId, scope: "run" }, splitInputOf(run))
      for (const task of out.tasks) {
        const scope = Keys.chunkName(task.start)
        const done = chunks.get(task.start)?.status === "COMPLETED"
        // A chunk the run table has COMPLETED must replay from its records; without them the
        // replay journal says what is missing.
        if (!done && !recordedScopes.has(`${pipeline.fit.name}/${scope}`)) continue
        const fitted = yield* Stage.execute(pipeline.fit, { runId, scope }, task)
        if (fitted.deferred.length > 0 && (completed || recordedScopes.has(`${pipeline.slowFit.name}/${scope}`)))
          yield* Stage.execute(pipeline.slowFit, { runId, scope }, { ...task, deferred: fitted.deferred })
      }
      // Fan-out stages: a COMPLETED run must replay every chunk of every one.
      for (const stage of pipeline.fanOut) {
        if (!completed && !recordedScopes.has(`${stage.name}/run`)) break
        yield* Stage.execute(startStage(stage), { runId, scope: "run" }, { runId })
        for (const chunk of chunks.values()) {
          const scope = Keys.chunkName(chunk.start)
          if (completed || recordedScopes.has(`${stage.name}/${scope}`))
            yield* Stage.execute(chunkStage(stage), { runId, scope }, stageTaskOf(stage, run, chunk))
        }
      }
      if (completed || recordedScopes.has(`${pipeline.catalog.name}/run`)) {
        const resultsFrom = publishedStage(pipeline)
        const cataloged = yield* Stage.execute(pipeline.catalog, { runId, scope: "run" }, resultsFrom === undefined ? { runId } : { runId, resultsFrom })
        if (cataloged.status !== run.status && !(cataloged.status === "COMPLETED" && run.status === "FAILED" && pipeline.after.length > 0)) {
          const last = lastStep(pipeline.catalog.name, "run")
          return yield* Effect.fail(
            new NondeterminismError({
              stage: pipeline.catalog.name,
              scope: "run",
              step: last.step,
              seq: last.seq,
              reason: `the journal ends the run ${cataloged.status}; the run table has it ${run.status}`
            })
          )
        }
        if (completed) {
          const missing = [...cataloged.parts, ...META.map((name) => Keys.runMeta(runId, name))]
          for (const key of missing) {
            if (Option.isNone(yield* store.size(key))) {
              const last = writerOf(key) ?? lastStep(pipeline.catalog.name, "run")
              return yield* Effect.fail(
                new NondeterminismError({ stage: pipeline.catalog.name, scope: "run", step: last.step, seq: last.seq, reason: `its output ${key} no longer exists` })
              )
            }
          }
        }
      }
      for (const stage of pipeline.after) {
        if (recordedScopes.has(`${stage.name}/run`)) yield* Stage.execute(stage, { runId, scope: "run" }, { runId })
      }
    })
    yield* program.pipe(Effect.provideService(Journal.Journal, r.journal))
    yield* r.verifyComplete
    return { runId, steps: yield* r.replayed } satisfies ReplayReport
  })
