/**
 * The viewer's JSON API (docs/viewer.md) and its page. Every parameter is decoded with a
 * Schema; a bad one is a 400, an unknown run or pixel a 404, both `{"error": "…"}`; an
 * unexpected failure a 500 with one line, never a stack trace. Nothing is read by a path
 * taken from the request: runs are looked up by id in the run table, assets by name in a
 * fixed list loaded at start.
 */
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { ResultSchema } from "@phs/core"
import { Cause, Effect, ParseResult, Schema } from "effect"
import * as Labels from "./Labels.js"
import { fitWindow } from "./HandFit.js"
import { QUANTITIES, QUANTITY_NAMES, valueOf, type QuantityName } from "./Quantities.js"
import { checkPixel, newest, ViewData, type LoadedRun } from "./ViewData.js"
import { BadRequest, NotFound } from "./ViewErrors.js"
import type { Asset } from "./Assets.js"

type Row = ResultSchema.DecompositionRow

/** A run id as the run table makes them: letters, digits, `-` and `_` (no dots, no slashes). */
export const RunId = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,128}$/, { message: () => "a run id is letters, digits, - and _" }))

/** A pixel or channel index in a URL: decimal digits only. */
const Index = Schema.compose(
  Schema.String.pipe(Schema.pattern(/^\d{1,7}$/, { message: () => "an index is a non-negative integer" })),
  Schema.NumberFromString
)

const Quantity = Schema.Literal(...QUANTITY_NAMES)

const MapQuery = Schema.Struct({
  run: RunId,
  value: Schema.optionalWith(Quantity, { default: () => "n_components" as const }),
  /** Another run of the same cube: the map is then run − minus. */
  minus: Schema.optional(RunId)
})
const RunQuery = Schema.Struct({ run: RunId })
const PixelPath = Schema.Struct({ x: Index, y: Index })
const FitBody = Schema.Struct({ lo: Schema.Int.pipe(Schema.nonNegative()), hi: Schema.Int.pipe(Schema.nonNegative()) })
const LabelBody = Schema.Struct({
  category: Labels.LabelledSpectrum.fields.category,
  components: Labels.LabelledSpectrum.fields.components.pipe(Schema.maxItems(64))
})

const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null)

const gaussianSum = (row: Row, c: number) => {
  let s = 0
  for (let k = 0; k < row.component_amplitudes.length; k++) {
    const d = (c - row.component_means[k]) / row.component_stddevs[k]
    s += row.component_amplitudes[k] * Math.exp(-0.5 * d * d)
  }
  return s
}

const rowAt = (run: LoadedRun, x: number, y: number) =>
  Effect.gen(function* () {
    yield* checkPixel(run, x, y)
    const row = run.rows[y * run.info.nx + x]
    if (row === undefined) return yield* Effect.fail(new NotFound({ message: `run ${run.info.runId} has no row for pixel (${x}, ${y})` }))
    return row
  })

/** The `/api/pixel` answer: the spectrum, its decomposition and model, and where it is. */
export const pixel = (run: LoadedRun, x: number, y: number) =>
  Effect.gen(function* () {
    const data = yield* ViewData
    const row = yield* rowAt(run, x, y)
    const values = yield* data.spectrum(run, x, y)
    const labels = yield* Labels.Labels
    const label = (yield* labels.all).spectra.find((s) => s.x === x && s.y === y) ?? null
    const v = run.velocity
    const where = run.galactic?.(x, y)
    // the table's world columns (core's WCS), else a plate carrée header read linearly
    const lon = row.lon ?? where?.lon ?? null
    const lat = row.lat ?? where?.lat ?? null
    const column = (list: ReadonlyArray<number> | null, k: number) => (list !== null && Number.isFinite(list[k]) ? list[k] : undefined)
    const components = row.component_amplitudes.map((amplitude, k) => {
      const mean = row.component_means[k]
      const stddev = row.component_stddevs[k]
      const errors = [row.component_amplitude_errors[k], row.component_mean_errors[k], row.component_stddev_errors[k]]
      return {
        amplitude,
        mean,
        stddev,
        velocity: column(row.component_velocities, k) ?? (v === undefined ? null : v.at(mean)),
        dispersion: column(row.component_velocity_dispersions, k) ?? (v === undefined ? null : stddev * Math.abs(v.step)),
        errors: errors.every((e) => e === undefined)
          ? null
          : { amplitude: finiteOrNull(errors[0] ?? Number.NaN), mean: finiteOrNull(errors[1] ?? Number.NaN), stddev: finiteOrNull(errors[2] ?? Number.NaN) }
      }
    })
    return {
      run: run.info.runId,
      beta: row.beta,
      x,
      y,
      lon,
      lat,
      spectrum: Array.from(values, finiteOrNull),
      velocities: v === undefined ? null : Array.from({ length: values.length }, (_, c) => v.at(c)),
      rms: row.rms,
      n_components: row.n_components,
      residual_rms: row.residual_rms,
      chi2_reduced: row.chi2_reduced,
      components,
      model: Array.from({ length: values.length }, (_, c) => gaussianSum(row, c)),
      label
    }
  })

/** Galactic (l, b) of pixel (0, 0) and per pixel step, for the map's world axes; null when unknown. */
const worldOf = (run: LoadedRun) => {
  const g = run.galactic
  if (g === undefined) return null
  const o = g(0, 0)
  const dx = g(1, 0)
  const dy = g(0, 1)
  return { lon0: o.lon, dlon: dx.lon - o.lon, lat0: o.lat, dlat: dy.lat - o.lat }
}

/** The `/api/map` answer: one value per pixel, row-major (index y·nx + x), null where none. */
export const map = (run: LoadedRun, value: QuantityName, minus: LoadedRun | undefined) => {
  const { nx, ny } = run.info
  const values = new Array<number | null>(nx * ny).fill(null)
  let min = Infinity
  let max = -Infinity
  for (let p = 0; p < nx * ny; p++) {
    const a = run.rows[p]
    let x = a === undefined ? null : valueOf(value, a, run.velocity)
    if (x !== null && minus !== undefined) {
      const b = minus.rows[p]
      const y = b === undefined ? null : valueOf(value, b, minus.velocity)
      x = y === null ? null : x - y
    }
    values[p] = x
    if (x !== null) {
      if (x < min) min = x
      if (x > max) max = x
    }
  }
  const q = QUANTITIES[value]
  const bunit = typeof run.header.cards.BUNIT === "string" ? run.header.cards.BUNIT.trim() || undefined : undefined
  return {
    run: run.info.runId,
    minus: minus?.info.runId ?? null,
    value,
    doc: minus === undefined ? q.doc : `difference of the ${q.doc}`,
    unit: q.unit(bunit, run.velocity !== undefined) ?? null,
    discrete: q.discrete,
    nx,
    ny,
    min: Number.isFinite(min) ? min : null,
    max: Number.isFinite(max) ? max : null,
    world: worldOf(run),
    values
  }
}

const firstLine = (e: ParseResult.ParseError) => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
  return issue === undefined ? e.message : `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`
}

const error = (status: number, message: string) => HttpServerResponse.unsafeJson({ error: message }, { status })

/** Turns a handler's failures into JSON errors. */
const handle = <R>(
  body: Effect.Effect<unknown, BadRequest | NotFound | ParseResult.ParseError | HttpServerError.RequestError, R>
) =>
  body.pipe(
    Effect.map((b) => HttpServerResponse.unsafeJson(b)),
    Effect.catchTags({
      ParseError: (e) => Effect.succeed(error(400, `bad request: ${firstLine(e)}`)),
      RequestError: (e) => Effect.succeed(error(400, `bad request body: ${e.reason}`)),
      BadRequest: (e) => Effect.succeed(error(400, e.message)),
      NotFound: (e) => Effect.succeed(error(404, e.message))
    })
  )

const loadRun = (id: string) => Effect.flatMap(ViewData, (d) => d.run(id))

/** Runs of the same cube only can be compared. */
const sameCube = (a: LoadedRun, b: LoadedRun) =>
  a.info.cubeKey === b.info.cubeKey && a.info.nx === b.info.nx && a.info.ny === b.info.ny
    ? Effect.void
    : Effect.fail(new BadRequest({ message: `runs ${a.info.runId} and ${b.info.runId} are not of the same cube` }))

const jsonBody = <A, I>(schema: Schema.Schema<A, I>) => HttpServerRequest.schemaBodyJson(schema)

/** The routes; `initialRun` is the run the page opens with. */
export const router = (assets: ReadonlyArray<Asset>, initialRun: string | null) => {
  const byPath = new Map(assets.map((a) => [a.path, a]))
  const asset = Effect.gen(function* () {
    const req = yield* HttpServerRequest.HttpServerRequest
    const path = new URL(req.url, "http://localhost").pathname
    const a = byPath.get(path)
    return a === undefined
      ? error(404, `no such page ${path}`)
      : HttpServerResponse.text(a.body, { contentType: a.contentType, headers: { "cache-control": "no-cache" } })
  })
  return HttpRouter.empty.pipe(
    HttpRouter.get("/", asset),
    HttpRouter.get("/assets/:name", asset),
    HttpRouter.get(
      "/api/runs",
      handle(
        Effect.gen(function* () {
          const data = yield* ViewData
          const labels = yield* Labels.Labels
          const runs = yield* data.runs
          return {
            runs,
            initial: initialRun ?? newest(runs),
            quantities: QUANTITY_NAMES.map((name) => ({ name, doc: QUANTITIES[name].doc, discrete: QUANTITIES[name].discrete })),
            labels: { file: labels.file }
          }
        })
      )
    ),
    HttpRouter.get(
      "/api/map",
      handle(
        Effect.gen(function* () {
          const q = yield* HttpServerRequest.schemaSearchParams(MapQuery)
          const run = yield* loadRun(q.run)
          const other = q.minus === undefined ? undefined : yield* loadRun(q.minus)
          if (other !== undefined) yield* sameCube(run, other)
          return map(run, q.value, other)
        })
      )
    ),
    HttpRouter.get(
      "/api/pixel/:x/:y",
      handle(
        Effect.gen(function* () {
          const p = yield* HttpRouter.schemaPathParams(PixelPath)
          const q = yield* HttpServerRequest.schemaSearchParams(RunQuery)
          return yield* pixel(yield* loadRun(q.run), p.x, p.y)
        })
      )
    ),
    HttpRouter.post(
      "/api/fit/:x/:y",
      handle(
        Effect.gen(function* () {
          const p = yield* HttpRouter.schemaPathParams(PixelPath)
          const q = yield* HttpServerRequest.schemaSearchParams(RunQuery)
          const b = yield* jsonBody(FitBody)
          const run = yield* loadRun(q.run)
          const row = yield* rowAt(run, p.x, p.y)
          const values = yield* Effect.flatMap(ViewData, (d) => d.spectrum(run, p.x, p.y))
          const lo = Math.min(b.lo, b.hi)
          const hi = Math.max(b.lo, b.hi)
          return { component: yield* fitWindow(values, lo, hi, row.rms) }
        })
      )
    ),
    HttpRouter.get("/api/labels", handle(Effect.flatMap(Labels.Labels, (l) => l.all))),
    HttpRouter.put(
      "/api/labels/:x/:y",
      handle(
        Effect.gen(function* () {
          const p = yield* HttpRouter.schemaPathParams(PixelPath)
          const b = yield* jsonBody(LabelBody)
          const labels = yield* Labels.Labels
          yield* labels.put({ x: p.x, y: p.y, ...(b.category === undefined ? {} : { category: b.category }), components: b.components })
          return { saved: labels.file, spectra: (yield* labels.all).spectra.length }
        })
      )
    ),
    HttpRouter.del(
      "/api/labels/:x/:y",
      handle(
        Effect.gen(function* () {
          const p = yield* HttpRouter.schemaPathParams(PixelPath)
          const labels = yield* Labels.Labels
          const removed = yield* labels.remove(p.x, p.y)
          return { removed, spectra: (yield* labels.all).spectra.length }
        })
      )
    ),
    HttpRouter.all("*", Effect.succeed(error(404, "no such endpoint")))
  )
}

/** Only requests addressed to this machine by name (a guard against DNS rebinding). */
const LOCAL_HOST = /^(127\.0\.0\.1|localhost)(:\d+)?$/

/** The whole app: the routes behind the host check, with defects answered by a one-line 500. */
export const app = (assets: ReadonlyArray<Asset>, initialRun: string | null) =>
  Effect.gen(function* () {
    const req = yield* HttpServerRequest.HttpServerRequest
    const host = req.headers.host ?? ""
    if (!LOCAL_HOST.test(host)) return error(403, `this server answers requests to 127.0.0.1 only, not ${host}`)
    if (req.method !== "GET" && req.method !== "HEAD") {
      // Changes come from this page only: another site's page may send a simple
      // cross-origin request here, but not one with its own Origin matching ours, nor
      // (without a CORS preflight we never grant) a JSON body.
      const origin = req.headers.origin
      if (origin !== undefined && origin !== `http://${host}`) return error(403, `changes are accepted from this server's page only, not from ${origin}`)
      if (!(req.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) {
        return error(415, "a change must be sent as application/json")
      }
    }
    return yield* router(assets, initialRun)
  }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.succeed(error(500, `internal error: ${Cause.squash(cause) instanceof Error ? (Cause.squash(cause) as Error).message : "unexpected failure"}`))
    )
  )
