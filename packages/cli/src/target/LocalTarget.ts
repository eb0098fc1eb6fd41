/**
 * The local target: a workdir on this machine (SQLite state + blobs), the native fitter,
 * and, for the commands that drive runs, the workdir's driver lease (runtime-local's
 * `DriverLock`), held as long as the layer. A command that only reads never creates a
 * workdir: a directory without one is a one-line error.
 */
import { Errors, Faults, Fitter, Keys, Pipeline, RunTable, WorkQueue } from "@phs/core"
import { RefitPool } from "@phs/core/refit"
import { BlobStoreFs, CubeCheck, Dirs, DriverLock, LocalRun, RuntimeLocal, Sqlite } from "@phs/runtime-local"
import { Config, Effect, Fiber, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { shellWord } from "../Output.js"
import * as Progress from "../Progress.js"
import { type Error as TargetError, type Mode, ofRun, ResultQuery, type Services, Target } from "./Target.js"

/** The CLI's settings from the environment. */
const settings = Config.all({
  /** Where runs live when `--workdir` is not given. */
  workdir: Config.string("PHS_WORKDIR").pipe(Config.withDefault(".phs")),
  /** A fault plan (tests only). */
  faults: Config.string("PHS_FAULTS").pipe(Config.withDefault(""))
})

const read = () => Effect.runSync(Effect.orDie(settings))

/** Where runs live when `--workdir` is not given: `$PHS_WORKDIR`, else `.phs`. */
export const defaultWorkdir = (): string => read().workdir

/** The `--workdir` flag that reaches `workdir` again (nothing for the default). */
export const workdirFlag = (workdir: string): string => (path.resolve(workdir) === path.resolve(defaultWorkdir()) ? "" : ` --workdir ${shellWord(workdir)}`)

/**
 * Every service a stage needs, for a workdir, and the refit's worker pool. With `PHS_FAULTS` set (tests only: a JSON
 * fault plan, see core's Faults), the services fail as the plan says and an injected crash
 * is a real SIGKILL of this process.
 */
export const runtime = (workdir: string) => {
  // the refit's worker threads (started only by a refit run): its passes on every core; the
  // fan-out stages' decoded chunk files, each decoded once per pass (Pipeline.DecodedFiles)
  const base = Layer.mergeAll(RuntimeLocal.layer({ workdir }), Fitter.layerNative({ threads: os.availableParallelism() }), RefitPool.layer, Pipeline.layerDecodedFiles)
  const plan = read().faults
  if (plan === "") return base
  return Layer.merge(base, Faults.layer(Faults.decodePlan(plan), Faults.killProcess).pipe(Layer.provide(base)))
}

/** Fails unless `workdir` holds phs state (opening it would create an empty one). */
export const requireWorkdir = (workdir: string): Effect.Effect<void, Errors.InvalidInput> =>
  Effect.suspend(() =>
    fs.existsSync(path.join(workdir, Sqlite.FILE_NAME))
      ? Effect.void
      : Effect.fail(new Errors.InvalidInput({ reason: `no workdir at ${workdir}: run phs pipeline CUBE.fits first, or pass --workdir DIR` }))
  )

/** How long messages of other runs are set aside while one run is driven (given back when the driver ends). */
const SET_ASIDE_MS = 6 * 3600_000

/**
 * The queue as the driver of one run sees it: messages of other runs are set aside (hidden
 * until the driver gives its lease back), so the run that was asked for is the one driven.
 */
const focused = (q: WorkQueue.WorkQueue, runId: string): WorkQueue.WorkQueue => {
  const mine = ofRun(runId)
  return {
    ...q,
    receive: (queue, options) =>
      Effect.gen(function* () {
        for (;;) {
          const got = yield* q.receive(queue, options)
          const others = got.filter((m) => !mine(m.body))
          yield* Effect.forEach(others, (m) => q.release(queue, m.receipt, SET_ASIDE_MS), { discard: true })
          if (others.length === 0 || others.length < got.length) return got.filter((m) => mine(m.body))
        }
      })
  }
}

const makeTarget = (workdir: string, drive: Option.Option<Target["drive"]>) =>
  Effect.gen(function* () {
    const flags = workdirFlag(workdir)
    const context = yield* Effect.context<Pipeline.Services>()
    const inWorkdir = <A, E>(effect: Effect.Effect<A, E, Pipeline.Services>) => Effect.provide(effect, context)
    return Target.of({
      name: "local",
      flags,
      where: `in this workdir (${workdir}; see phs runs${flags})`,
      resultsAt: (survey) => path.join(RuntimeLocal.blobRoot(workdir), Keys.surveyPartition(survey)),
      queuesUnknown: Option.none(),
      submit: (s) =>
        inWorkdir(
          Effect.gen(function* () {
            const table = yield* RunTable.RunTable
            const known = yield* table.listRuns({ survey: s.survey })
            const runId = yield* LocalRun.submit(Pipeline.pipelineFor(s.refit), s)
            return { runId, before: Option.fromNullable(known.find((r) => r.runId === runId)) }
          })
        ),
      checkCube: (run) => inWorkdir(CubeCheck.verify(run, "content")),
      drive: Option.getOrElse(drive, () => () => Effect.dieMessage("the local target was opened read-only")),
      unstick: (run) =>
        run.status === "SPLITTING"
          ? inWorkdir(Effect.flatMap(LocalRun.pipelineOf(run), (p) => Pipeline.start(p, Pipeline.splitInputOf(run)))).pipe(Effect.as([]))
          : Effect.succeed([]),
      drivenBy: (run) =>
        DriverLock.holder({ workdir }).pipe(
          Effect.map(
            Option.flatMap((h) =>
              h.runId === run.runId || (h.runId === null && run.status === "SPLITTING")
                ? Option.some(`phs pid ${h.pid}${h.host === os.hostname() ? "" : ` on ${h.host}`}`)
                : Option.none()
            )
          )
        ),
      summaryExtra: () => ({ maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })
    })
  })

/** Drives a run as the workdir's driver, with the progress display. */
const driver = (lock: DriverLock.DriverLock) =>
  Effect.map(Effect.context<Pipeline.Services>(), (context): Target["drive"] => (runId, options) =>
    Effect.gen(function* () {
      yield* lock.driving(runId)
      const tty = process.stderr.isTTY === true
      const display = options.display ?? Progress.makeDisplay({ tty, quiet: options.quiet })
      // Scoped: however driving ends (interrupted too), the display ends first, on its own line.
      const progress = yield* Effect.forkScoped(Progress.follow(runId, display, { tty }))
      const q = yield* WorkQueue.WorkQueue
      // the pipeline the run was submitted with (the refit mode its record carries)
      const pipeline = yield* LocalRun.pipelineOf(yield* Pipeline.getRun(runId))
      const run = yield* lock
        .guard(Pipeline.drive(pipeline, runId, { concurrency: options.concurrency }))
        .pipe(Effect.provideService(WorkQueue.WorkQueue, focused(q, runId)))
      yield* Fiber.interrupt(progress)
      return run
    }).pipe(Effect.scoped, Effect.provide(context))
  )

/** The local target over a workdir, for a command that reads or one that drives. */
export const layer = (workdir: string, mode: Mode): Layer.Layer<Services | Pipeline.Services, TargetError> => {
  const services = runtime(workdir)
  if (mode === "read")
    return Layer.unwrapEffect(Effect.as(requireWorkdir(workdir), Layer.merge(Layer.effect(Target, makeTarget(workdir, Option.none())).pipe(Layer.provide(services)), services)))
  const lock = DriverLock.layer({ workdir })
  return Layer.unwrapEffect(
    Effect.map(Effect.zipRight(ensureWorkdir(workdir), Effect.sync(() => Date.now())), (since) => {
      const target = Layer.effect(
        Target,
        Effect.flatMap(DriverLock.DriverLock, (l) =>
          // Whoever holds the lease owns the workdir's writes: temporary files older than it
          // are leftovers of a killed put, never of a live one.
          BlobStoreFs.removeStaleTemps(RuntimeLocal.blobRoot(workdir), since).pipe(
            Effect.zipRight(driver(l)),
            Effect.flatMap((d) => makeTarget(workdir, Option.some(d)))
          )
        )
      ).pipe(Layer.provide(Layer.merge(services, lock)))
      return Layer.merge(target, services)
    })
  )
}

/** Creates the workdir; a path where that cannot be done (under /proc, through a file, no permission) is a usage error at once. */
export const ensureWorkdir = (workdir: string): Effect.Effect<void, Errors.InvalidInput> =>
  Effect.try({
    try: () => Dirs.makeDirsSync(workdir),
    catch: (e) => new Errors.InvalidInput({ reason: `cannot use the workdir ${workdir}: ${e instanceof Dirs.DirError ? e.detail : String(e)}` })
  })

/**
 * `phs query` on the local target: a read-only DuckDB over the workdir's published parts
 * (query/LocalSql.ts, query/QuerySandbox.ts), rows streamed. Only the directory must exist:
 * nothing else of the workdir is opened.
 */
export const resultQuery = (workdir: string): Layer.Layer<ResultQuery, Errors.InvalidInput> =>
  Layer.scoped(
    ResultQuery,
    Effect.gen(function* () {
      if (!fs.existsSync(workdir))
        return yield* Effect.fail(new Errors.InvalidInput({ reason: `no workdir ${workdir}: run phs pipeline CUBE.fits first, or pass --workdir DIR` }))
      // DuckDB loads on use, not at every command's start-up.
      const LocalSql = yield* Effect.promise(() => import("../query/LocalSql.js"))
      const local = yield* LocalSql.make(workdir)
      return ResultQuery.of({
        name: "local",
        notes: local.files === 0 ? [`note: no results in ${workdir} yet, the table is empty (phs pipeline CUBE.fits makes some)`] : [],
        stream: local.engine.stream
      })
    })
  )
