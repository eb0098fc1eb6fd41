/**
 * Where a command acts: the `Target` service. A target is a layer that provides the core's
 * services (run table, blob store, work queues; the local one also the journal, catalog and
 * fitter) plus the few things that differ between this machine's workdir and an aws
 * deployment: how a cube becomes a run, how a run is driven (here) or followed (the Lambdas
 * drive it), how stuck work is put back, and the flags that reach the target again. Each
 * command is written once against it.
 */
import { type BlobStore, type Errors, Keys, type Params, Pipeline, type RunTable, type Tasks, WorkQueue } from "@phs/core"
import { Context, Effect, Layer, Option, type Scope } from "effect"
import type * as Progress from "../Progress.js"
import type { RowStream } from "../query/SqlEngine.js"

/** Where a command acts. */
export const TARGETS = ["local", "aws"] as const
export type Name = (typeof TARGETS)[number]

/** The options that choose a target. */
export interface Options {
  readonly target: Name
  readonly workdir: string
  readonly stack: string
  readonly awsConfig: Option.Option<string>
}

/** A checked cube to start a run from. */
export interface Submission {
  readonly cube: string
  readonly survey: string
  readonly params: Readonly<Record<string, number>>
  readonly chunkSize: number
  /** `--refit` mode: the pipeline the run drives (recorded with the run). */
  readonly refit: Params.RefitMode
  /** `--hdu`: the HDU holding the cube (absent: the first 3-D image). */
  readonly hdu?: number
  /** No notes on stderr (--json). */
  readonly quiet: boolean
}

/** A started run: its id, and the run as it was before this submission (none: it is new). */
export interface Submitted {
  readonly runId: string
  readonly before: Option.Option<RunTable.RunRecord>
}

export interface DriveOptions {
  readonly concurrency: number
  /** No progress display (--json). */
  readonly quiet: boolean
  /** The display to draw on (a set's, shared by its cubes); default: one of the run's own. */
  readonly display?: Progress.Display
}

/** Whatever a target's operations fail with: phs's tagged errors (main.ts turns each into an exit code and one line). */
export type Error = { readonly _tag: string; readonly message: string }

export interface Target {
  readonly name: Name
  /** The flags that reach this target again, for the commands a message suggests (" --workdir W", " --target aws"). */
  readonly flags: string
  /** Where run ids are looked up, for a "no run" error. */
  readonly where: string
  /** Where a survey's results are, for people. */
  readonly resultsAt: (survey: string) => string
  /** Why the work queues cannot be read here, if they cannot (an aws deployment whose queue URLs are not known). */
  readonly queuesUnknown: Option.Option<string>
  /** Puts a checked cube where the target starts runs from, and starts its run. */
  readonly submit: (s: Submission) => Effect.Effect<Submitted, Error>
  /** Drives a run to its end on this machine (local), or follows it while the deployment does (aws); draws progress. */
  readonly drive: (runId: string, options: DriveOptions) => Effect.Effect<RunTable.RunRecord, Error>
  /**
   * Fails in one line when the run's cube is gone or is no longer the one it was split from
   * (`CubeCheck.verify`: re-hashed locally, its ETag on aws); before a resume or redrive.
   */
  readonly checkCube: (run: RunTable.RunRecord) => Effect.Effect<void, Error>
  /** Puts back what a run is stuck on besides its dead letters (a split to restart, a catalog to send again); notes what was done. */
  readonly unstick: (run: RunTable.RunRecord) => Effect.Effect<ReadonlyArray<string>, Error>
  /** Who drives a run now, in words; none when nothing does. */
  readonly drivenBy: (run: RunTable.RunRecord) => Effect.Effect<Option.Option<string>, Error>
  /** Extra fields of a `--json` run summary. */
  readonly summaryExtra: () => Record<string, unknown>
}

export const Target = Context.GenericTag<Target>("@phs/cli/Target")

/** The services every target provides. */
export type Services = Target | RunTable.RunTable | BlobStore.BlobStore | WorkQueue.WorkQueue

/** Whether a command only reads (and must not create a workdir), or drives runs (and holds the workdir's driver lease). */
export type Mode = "read" | "drive"

/** The target the options name, as a layer; the aws target's modules (and the AWS SDK) load only when it is chosen. */
export const layer = (o: Options, mode: Mode): Layer.Layer<Services, Error> =>
  o.target === "aws"
    ? Layer.unwrapEffect(Effect.map(Effect.promise(() => import("./AwsTarget.js")), (m) => m.layer(o)))
    : Layer.unwrapEffect(Effect.map(Effect.promise(() => import("./LocalTarget.js")), (m) => m.layer(o.workdir, mode)))

/**
 * Where `phs query` runs its SQL: the target's engine over the result table
 * `phspectra.decompositions` (locally a read-only DuckDB over the workdir's published Parquet
 * parts, on aws Athena in the deployment's workgroup). A service of its own, not part of
 * `Target`: a query opens no run state, so the workdir is only read (its SQLite state is not
 * opened, and stays byte for byte what it was) and a deployment needs no more than its
 * workgroup.
 */
export interface ResultQuery {
  readonly name: Name
  /** Notes to print before the result (an empty table, and how to fill it). */
  readonly notes: ReadonlyArray<string>
  /** Runs one SQL text; the rows are read as the stream is pulled, and the query ends with the scope. */
  readonly stream: (sql: string) => Effect.Effect<RowStream, Errors.InvalidInput | Errors.StorageError, Scope.Scope>
}

export const ResultQuery = Context.GenericTag<ResultQuery>("@phs/cli/ResultQuery")

/** The result table of the target the options name, for as long as the layer lives; the engine (DuckDB, or the AWS SDK) loads only then. */
export const resultQueryLayer = (o: Options): Layer.Layer<ResultQuery, Error> =>
  o.target === "aws"
    ? Layer.unwrapEffect(Effect.map(Effect.promise(() => import("./AwsTarget.js")), (m) => m.resultQuery(o)))
    : Layer.unwrapEffect(Effect.map(Effect.promise(() => import("./LocalTarget.js")), (m) => m.resultQuery(o.workdir)))

/** Whether a queue message (fit, slow or catalog task) belongs to a run: core's one filter. */
export const ofRun = Pipeline.isOfRun

/** The manifest that starts a run, as it is written (locally and in a bucket). */
export const manifestOf = (
  input: Pick<Tasks.SplitInput, "cubeKey" | "survey" | "chunkSize" | "hdu" | "refit" | "cubeName"> & { readonly params: Readonly<Record<string, unknown>> }
): typeof Params.Manifest.Encoded => ({
  cube_key: input.cubeKey,
  survey: input.survey,
  params: input.params,
  chunk_size: input.chunkSize,
  ...(input.hdu === undefined ? {} : { hdu: input.hdu }),
  ...(input.refit === undefined || input.refit === "none" ? {} : { refit: input.refit }),
  ...(input.cubeName === undefined ? {} : { cube_name: input.cubeName })
})

/** Where a run's manifest is kept. */
export const manifestKey = Keys.manifest

export const manifestBytes = (manifest: typeof Params.Manifest.Encoded): Uint8Array => new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)

/** A run's dead letters (fit and slow), or why they cannot be read here. */
export const deadLetters = (
  runId: string
): Effect.Effect<{ readonly letters: ReadonlyArray<WorkQueue.DeadLetter>; readonly unknown: Option.Option<string> }, Errors.StorageError, Target | WorkQueue.WorkQueue> =>
  Effect.gen(function* () {
    const t = yield* Target
    if (Option.isSome(t.queuesUnknown)) return { letters: [] as ReadonlyArray<WorkQueue.DeadLetter>, unknown: t.queuesUnknown }
    const q = yield* WorkQueue.WorkQueue
    const mine = ofRun(runId)
    const all = [...(yield* q.deadLetters("fit")), ...(yield* q.deadLetters("slow"))]
    return { letters: all.filter((d) => mine(d.body)), unknown: Option.none<string>() }
  })

/**
 * Puts a run's dead-lettered messages back on their queues and reopens its FAILED chunks
 * (core's `Pipeline.reopen`), so the run is live again. Nothing for a run that ended COMPLETED.
 */
export const redrive = (
  run: RunTable.RunRecord
): Effect.Effect<
  { readonly redriven: number; readonly reopened: number; readonly note: Option.Option<string> },
  Errors.StorageError | Errors.RunNotFound,
  Target | WorkQueue.WorkQueue | RunTable.RunTable
> =>
  Effect.gen(function* () {
    const t = yield* Target
    if (run.status === "COMPLETED") return { redriven: 0, reopened: 0, note: Option.none<string>() }
    if (Option.isSome(t.queuesUnknown)) return { redriven: 0, reopened: 0, note: Option.some(`dead letters not re-driven: ${t.queuesUnknown.value}`) }
    const r = yield* Pipeline.reopen(run.runId)
    return { redriven: r.redriven, reopened: r.reopenedChunks, note: Option.none<string>() }
  })
