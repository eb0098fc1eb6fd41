import { Options } from "@effect/cli"
import { Errors, RunTable } from "@phs/core"
import { Effect, Option } from "effect"
import { defaultWorkdir } from "../Local.js"

export const workdir = Options.directory("workdir").pipe(
  Options.withDescription("where runs live: SQLite run table, journal, queue, blobs (default .phs, or $PHS_WORKDIR)"),
  Options.withDefault(defaultWorkdir())
)

export const json = Options.boolean("json").pipe(Options.withDescription("print one JSON object instead of text"))

/** The run, or a one-line error naming what exists. */
export const findRun = (runId: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable.RunTable
    const run = yield* table.getRun(runId)
    if (Option.isSome(run)) return run.value
    const all = yield* table.listRuns({ limit: 1000 })
    const prefixed = all.filter((r) => r.runId.startsWith(runId))
    if (prefixed.length === 1) return prefixed[0]
    return yield* Effect.fail(
      new Errors.InvalidInput({
        reason: prefixed.length > 1 ? `run id ${runId} is ambiguous: ${prefixed.map((r) => r.runId).join(", ")}` : `no run ${runId} in this workdir (see phs runs)`
      })
    )
  })
