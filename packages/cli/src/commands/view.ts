/**
 * `phs view [RUN | --survey NAME] [--target aws]`: a local web page to look at a run's
 * decomposition or a survey's mosaic, compare it with another run of the cube, and label
 * spectra (docs/viewer.md).
 */
import { Args, Command, Options } from "@effect/cli"
import * as HttpServerError from "@effect/platform/HttpServerError"
import { Errors, RunTable } from "@phs/core"
import { Effect, Layer, Option } from "effect"
import { spawn } from "node:child_process"
import * as path from "node:path"
import { line } from "../Output.js"
import * as Target from "../target/Target.js"
import * as Labels from "../view/Labels.js"
import { QUANTITY_COLUMNS, QUANTITY_NAMES } from "../view/Quantities.js"
import { ROW_COLUMNS } from "../view/RunColumns.js"
import * as Server from "../view/Server.js"
import * as ViewData from "../view/ViewData.js"
import { findRun, onTarget, targetOptions } from "./shared.js"

const openInBrowser = (url: string) =>
  Effect.sync(() => {
    const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open"
    const child = spawn(opener, [url], { stdio: "ignore", detached: true })
    child.on("error", () => line(`phs view: could not start ${opener}; open ${url} yourself`))
    child.unref()
  })

export const view = Command.make(
  "view",
  {
    runId: Args.text({ name: "run" }).pipe(Args.withDescription("the run to open (a unique prefix will do); default the newest"), Args.optional),
    survey: Options.text("survey").pipe(Options.withDescription("open the mosaic of this survey's tiles, and list its runs only"), Options.optional),
    port: Options.integer("port").pipe(Options.withDescription("port on 127.0.0.1 (0: a free one)"), Options.withDefault(8080)),
    open: Options.boolean("open").pipe(Options.withDescription("open the page in the default browser")),
    labels: Options.file("labels").pipe(
      Options.withDescription("label file to continue and save to (phs tune --truth format); default WORKDIR/labels.json (--target aws: ./labels.json)"),
      Options.optional
    ),
    ...targetOptions
  },
  (o) =>
    Effect.gen(function* () {
      if (o.port < 0 || o.port > 65535) return yield* Effect.fail(new Errors.InvalidInput({ reason: `--port must be 0..65535, got ${o.port}` }))
      const survey = Option.getOrUndefined(o.survey)
      const labelFile = Option.getOrElse(o.labels, () => (o.target === "local" ? path.join(o.workdir, "labels.json") : "labels.json"))
      yield* Labels.read(labelFile).pipe(Effect.mapError((e) => new Errors.InvalidInput({ reason: e.message })))
      const body = Effect.gen(function* () {
        if (survey !== undefined && (yield* Effect.flatMap(RunTable.RunTable, (t) => t.listRuns({ survey, limit: 1 }))).length === 0) {
          const target = yield* Target.Target
          return yield* Effect.fail(new Errors.InvalidInput({ reason: `no runs of survey ${survey} ${target.where}` }))
        }
        const initial = yield* Option.match(o.runId, {
          onNone: () => Effect.succeed(null),
          onSome: (id) =>
            findRun(id).pipe(
              Effect.flatMap((r) =>
                survey !== undefined && r.survey !== survey
                  ? Effect.fail(new Errors.InvalidInput({ reason: `run ${r.runId} is of survey ${r.survey}, not ${survey}` }))
                  : Effect.succeed(r.runId)
              )
            )
        })
        const server = Server.layer({
          port: o.port,
          opening: { run: initial, survey: survey ?? null },
          onListen: (url) =>
            Effect.zipRight(
              Effect.sync(() => line(`phs view: ${url} (labels: ${labelFile}; Ctrl-C to stop)`)),
              o.open ? openInBrowser(url) : Effect.void
            )
        })
        // Start reading what the page opens with (its first map's columns, then a pixel's)
        // while the browser comes up.
        const preload = Layer.effectDiscard(
          Effect.gen(function* () {
            const data = yield* ViewData.ViewData
            const first = initial ?? ViewData.newest(yield* data.runs)
            // a quantity's columns at a time (the first map's first), so a map asked meanwhile waits for its own only
            const warm = (run: ViewData.LoadedRun) =>
              Effect.zipRight(Effect.forEach(QUANTITY_NAMES, (q) => run.columns(QUANTITY_COLUMNS[q]), { discard: true }), run.columns(ROW_COLUMNS))
            const work =
              survey !== undefined && initial === null
                ? Effect.flatMap(data.mosaic(survey), (m) => Effect.forEach(m.tiles, warm, { discard: true }))
                : first === null ? Effect.void : Effect.flatMap(data.run(first), warm)
            yield* Effect.forkDaemon(Effect.ignore(work))
          })
        )
        return yield* Layer.launch(
          Layer.merge(server, preload).pipe(
            Layer.provide(ViewData.layer(survey)),
            Layer.provide(
              Layer.unwrapEffect(
                Effect.gen(function* () {
                  // labels from before labels named their cube belong to the workdir's only cube, else to none
                  const cubes = new Set((yield* Effect.flatMap(RunTable.RunTable, (t) => t.listRuns())).map((r) => r.cubeKey))
                  const legacyCube = cubes.size === 1 ? [...cubes][0] : undefined
                  const legacy = (yield* Labels.read(labelFile)).spectra.filter((s) => s.cube === undefined).length
                  if (legacy > 0 && legacyCube === undefined)
                    line(`phs view: ${legacy} labels in ${labelFile} name no cube and there are ${cubes.size} cubes here: not shown (kept in the file; phs tune --truth still reads them)`)
                  return Labels.layer(labelFile, legacyCube)
                })
              )
            ),
            Layer.mapError((e) =>
              e instanceof HttpServerError.ServeError
                ? new Errors.InvalidInput({ reason: `cannot listen on ${Server.HOST}:${o.port}: ${String(e.cause instanceof Error ? e.cause.message : e.cause)}` })
                : e instanceof Labels.LabelFileError
                ? new Errors.InvalidInput({ reason: e.message })
                : e
            )
          )
        )
      })
      return yield* onTarget(o, "read")(body)
    })
).pipe(
  Command.withDescription(
    "a local web page (127.0.0.1) to explore a run's maps and spectra or a survey's mosaic, compare runs and label spectra (--target aws: results on S3)"
  )
)
