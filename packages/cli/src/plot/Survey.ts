/**
 * What a survey's mosaic reads: the runs of its tiles (the newest completed run of each cube
 * of the survey, or the runs named), their rows and headers, and the common grid core's
 * `Mosaic.Grid` derives from their WCS.
 */
import { type BlobStore, Errors, Mosaic, RunTable, type ResultSchema } from "@phs/core"
import { Effect } from "effect"
import { findRun } from "../commands/shared.js"
import * as Target from "../target/Target.js"
import * as RunData from "./RunData.js"

export interface SurveyData {
  /** What the files and titles are named after: the survey, or "mosaic" for named runs. */
  readonly label: string
  readonly grid: Mosaic.Grid.Grid
  /** Each tile's rows, by cube key. */
  readonly rows: ReadonlyMap<string, ReadonlyArray<ResultSchema.DecompositionRow>>
  /** The tiles' runs, in the grid's (cube) order. */
  readonly runs: ReadonlyArray<RunTable.RunRecord>
  /** The reference tile's BUNIT, when it has one. */
  readonly bunit: string | undefined
}

/** A survey's tiles among its runs: per cube, its newest COMPLETED run (`listRuns` is newest first). */
export const tileRuns = (all: ReadonlyArray<RunTable.RunRecord>): ReadonlyArray<RunTable.RunRecord> => {
  const byCube = new Map<string, RunTable.RunRecord>()
  for (const r of all) if (r.status === "COMPLETED" && !byCube.has(r.cubeKey)) byCube.set(r.cubeKey, r)
  return [...byCube.values()]
}

/** The survey's tiles (`tileRuns`); none is a one-line error. */
const surveyRuns = (survey: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable.RunTable
    const target = yield* Target.Target
    const all = yield* table.listRuns({ survey })
    const tiles = tileRuns(all)
    if (tiles.length === 0) {
      return yield* Effect.fail(new Errors.InvalidInput({ reason: all.length === 0 ? `no runs of survey ${survey} ${target.where}` : `survey ${survey} has no completed runs yet (see phs status --survey ${survey}${target.flags})` }))
    }
    return tiles
  })

/** The mosaic of a survey (`survey`) or of named runs (`runIds`, unique prefixes will do). */
export const load = (
  selection: { readonly survey: string } | { readonly runIds: ReadonlyArray<string> }
): Effect.Effect<SurveyData, Errors.InvalidInput | Errors.StorageError | Errors.BlobNotFound, RunTable.RunTable | BlobStore.BlobStore | Target.Target> =>
  Effect.gen(function* () {
    const runs = "survey" in selection ? yield* surveyRuns(selection.survey) : yield* Effect.forEach(selection.runIds, (id) => findRun(id))
    const cubes = new Set<string>()
    for (const r of runs) {
      if (cubes.has(r.cubeKey)) return yield* Effect.fail(new Errors.InvalidInput({ reason: `runs ${runs.filter((o) => o.cubeKey === r.cubeKey).map((o) => o.runId).join(" and ")} are of the same cube: name one run per tile` }))
      cubes.add(r.cubeKey)
    }
    const tiles = yield* Effect.forEach(runs, (r) => RunData.load(r.runId))
    // Messages name each tile by its run and its cube.
    const grid = Mosaic.Grid.grid(tiles.map((t) => ({ cube: t.run.cubeKey, name: `run ${t.run.runId} (${t.run.cubeKey})`, nx: t.run.nx, ny: t.run.ny, cards: t.header.cards })))
    if (grid instanceof Mosaic.Grid.MosaicMismatch) return yield* Effect.fail(new Errors.InvalidInput({ reason: grid.message }))
    const byCube = new Map(tiles.map((t) => [t.run.cubeKey, t]))
    const reference = byCube.get(grid.tiles[0].cube)!
    const bunit = reference.header.cards.BUNIT
    const data: SurveyData = {
      label: "survey" in selection ? selection.survey : "mosaic",
      grid,
      rows: new Map(tiles.map((t) => [t.run.cubeKey, t.rows])),
      runs: grid.tiles.map((t) => byCube.get(t.cube)!.run),
      bunit: typeof bunit === "string" && bunit.trim() !== "" ? bunit.trim() : undefined
    }
    return data
  })
