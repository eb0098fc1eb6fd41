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
import { QUANTITIES, QUANTITY_COLUMNS, QUANTITY_NAMES, quantityNamed, valueOf, type QuantityName } from "./Quantities.js"
import { ROW_COLUMNS, rowOf } from "./RunColumns.js"
import { checkPixel, newest, ViewData, type LoadedMosaic, type LoadedRun } from "./ViewData.js"
import { BadRequest, NotFound } from "./ViewErrors.js"
import type { Asset } from "./Assets.js"

type Row = ResultSchema.DecompositionRow

/**
 * A bad parameter's message names the value it got (the parameter's name is the issue's
 * path): `value bogus: expected one of …`. Long values are cut, and shown as JSON when
 * they hold anything but printable ASCII.
 */
const got = (actual: unknown): string => {
  const text = typeof actual === "string" ? actual : String(actual)
  const cut = text.length > 40 ? `${text.slice(0, 39)}…` : text
  return /^[\x21-\x7e…]*$/.test(cut) && cut !== "" ? cut : JSON.stringify(cut)
}
const saying = (what: string) => ({ message: (issue: ParseResult.ParseIssue) => `${got(issue.actual)}: ${what}` })

/** A run id as the run table makes them: letters, digits, `-` and `_` (no dots, no slashes). */
export const RunId = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,128}$/, saying("a run id is letters, digits, - and _")))

/** A pixel or channel index in a URL: decimal digits only. */
const Index = Schema.compose(
  Schema.String.pipe(Schema.pattern(/^\d{1,7}$/, saying("an index is a non-negative integer"))),
  Schema.NumberFromString
)

/** A quantity by its name, or by a name the API took before (`QUANTITY_ALIASES`), decoded as its name. */
const Quantity = Schema.transform(
  Schema.String.pipe(Schema.filter((s) => quantityNamed(s) !== undefined, saying(`expected one of ${QUANTITY_NAMES.join(", ")}`))),
  Schema.Literal(...QUANTITY_NAMES),
  { strict: true, decode: (s) => quantityNamed(s) ?? "n_components", encode: (q) => q }
)

/** A survey name as `phs pipeline --survey` takes them. */
const SurveyName = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, saying("a survey is letters, digits, - and _")))

/** A request's query: an unknown parameter (a typo: `vlaue=`) is refused rather than ignored. */
const query = <A, I extends Readonly<Record<string, string | ReadonlyArray<string> | undefined>>, R>(schema: Schema.Schema<A, I, R>) =>
  HttpServerRequest.schemaSearchParams(schema, { onExcessProperty: "error" })

const MapQuery = Schema.Struct({
  run: Schema.optional(RunId),
  /** The survey's mosaic instead of a run. */
  survey: Schema.optional(SurveyName),
  value: Schema.optionalWith(Quantity, { default: () => "n_components" as const }),
  /** Another run of the same cube: the map is then run − minus. */
  minus: Schema.optional(RunId)
})
const RunQuery = Schema.Struct({ run: RunId })
const PixelQuery = Schema.Struct({ run: Schema.optional(RunId), survey: Schema.optional(SurveyName) })
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
    const i = run.index[y * run.info.nx + x]
    if (i < 0) return yield* Effect.fail(new NotFound({ message: `run ${run.info.runId} has no row for pixel (${x}, ${y})` }))
    return rowOf(yield* run.columns(ROW_COLUMNS), i, run.info)
  })

/** The `/api/pixel` answer: the spectrum, its decomposition and model, and where it is. */
export const pixel = (run: LoadedRun, x: number, y: number) =>
  Effect.gen(function* () {
    const data = yield* ViewData
    const row = yield* rowAt(run, x, y)
    const values = yield* data.spectrum(run, x, y)
    const labels = yield* Labels.Labels
    const label = (yield* labels.ofCube(run.info.cubeKey)).find((s) => s.x === x && s.y === y) ?? null
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
const worldOf = (g: LoadedRun["galactic"]) => {
  if (g === undefined) return null
  const o = g(0, 0)
  const dx = g(1, 0)
  const dy = g(0, 1)
  return { lon0: o.lon, dlon: dx.lon - o.lon, lat0: o.lat, dlat: dy.lat - o.lat }
}

/** A quantity's value at each pixel of a run (index y·nx + x), NaN where none; reads only the quantity's columns. */
export const valuesOf = (run: LoadedRun, value: QuantityName) =>
  Effect.gen(function* () {
    const columns = yield* run.columns(QUANTITY_COLUMNS[value])
    const out = new Float64Array(run.index.length).fill(Number.NaN)
    for (let p = 0; p < out.length; p++) {
      const i = run.index[p]
      if (i < 0) continue
      const v = valueOf(value, rowOf(columns, i, run.info), run.velocity)
      if (v !== null) out[p] = v
    }
    return out
  })

const bunitOf = (header: Pick<LoadedRun["header"], "cards">) =>
  typeof header.cards.BUNIT === "string" ? header.cards.BUNIT.trim() || undefined : undefined

/** The map answer's common part: the values as JSON (null where none), their range, the quantity's doc and unit. */
const mapAnswer = (values: Float64Array, value: QuantityName, o: { readonly difference: boolean; readonly bunit: string | undefined; readonly velocity: boolean }) => {
  let min = Infinity
  let max = -Infinity
  const json = new Array<number | null>(values.length)
  for (let p = 0; p < values.length; p++) {
    const x = values[p]
    if (Number.isNaN(x)) json[p] = null
    else {
      json[p] = x
      if (x < min) min = x
      if (x > max) max = x
    }
  }
  const q = QUANTITIES[value]
  return {
    value,
    doc: o.difference ? `difference of the ${q.doc}` : q.doc,
    unit: q.unit(o.bunit, o.velocity) ?? null,
    discrete: q.discrete,
    min: Number.isFinite(min) ? min : null,
    max: Number.isFinite(max) ? max : null,
    values: json
  }
}

/** The `/api/map` answer: one value per pixel, row-major (index y·nx + x), null where none. */
export const map = (run: LoadedRun, value: QuantityName, minus: LoadedRun | undefined) =>
  Effect.gen(function* () {
    const values = yield* valuesOf(run, value)
    if (minus !== undefined) {
      const other = yield* valuesOf(minus, value)
      for (let p = 0; p < values.length; p++) values[p] -= other[p] // NaN where either has none
    }
    const { nx, ny } = run.info
    const answer = mapAnswer(values, value, { difference: minus !== undefined, bunit: bunitOf(run.header), velocity: run.velocity !== undefined })
    return { run: run.info.runId, survey: null, minus: minus?.info.runId ?? null, nx, ny, world: worldOf(run.galactic), ...answer }
  })

/** The tile of a mosaic pixel and the pixel in it; NotFound where no tile covers it. */
const tileAt = (m: LoadedMosaic, x: number, y: number) =>
  Effect.gen(function* () {
    if (x >= m.grid.nx || y >= m.grid.ny) {
      return yield* Effect.fail(new BadRequest({ message: `pixel (${x}, ${y}) is outside the mosaic: x is 0..${m.grid.nx - 1}, y is 0..${m.grid.ny - 1}` }))
    }
    const k = m.owners[y * m.grid.nx + x]
    if (k < 0) return yield* Effect.fail(new NotFound({ message: `no tile of survey ${m.survey} covers pixel (${x}, ${y})` }))
    const t = m.grid.tiles[k]
    return { run: m.tiles[k], x: x - t.dx, y: y - t.dy }
  })

/** The `/api/map?survey=` answer: the mosaic of the survey's tiles on their grid (each pixel from the tile that owns it). */
export const mosaicMap = (m: LoadedMosaic, value: QuantityName) =>
  Effect.gen(function* () {
    const { nx, ny } = m.grid
    const values = new Float64Array(nx * ny).fill(Number.NaN)
    yield* Effect.forEach(m.grid.tiles, (t, k) =>
      Effect.map(valuesOf(m.tiles[k], value), (own) => {
        for (let y = 0; y < t.ny; y++) {
          for (let x = 0; x < t.nx; x++) {
            const at = (y + t.dy) * nx + x + t.dx
            if (m.owners[at] === k) values[at] = own[y * t.nx + x]
          }
        }
      }), { discard: true })
    const reference = m.tiles[0]
    const answer = mapAnswer(values, value, { difference: false, bunit: bunitOf(reference.header), velocity: reference.velocity !== undefined })
    const tiles = m.grid.tiles.map((t, k) => ({ run: m.tiles[k].info.runId, cubeKey: t.cube, dx: t.dx, dy: t.dy, nx: t.nx, ny: t.ny }))
    return { run: null, survey: m.survey, minus: null, nx, ny, world: worldOf(m.galactic), tiles, ...answer }
  })

/** `value bogus: expected one of …` (our messages, which start with the value), else `components.0.stddev: Expected …`. */
const firstLine = (e: ParseResult.ParseError) => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
  if (issue === undefined) return e.message
  const where = issue.path.join(".")
  if (where === "") return issue.message
  return /^(Expected |is missing|is unexpected)/.test(issue.message) ? `${where}: ${issue.message}` : `${where} ${issue.message}`
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
const loadMosaic = (survey: string) => Effect.flatMap(ViewData, (d) => d.mosaic(survey))

/** Runs of the same cube only can be compared. */
const sameCube = (a: LoadedRun, b: LoadedRun) =>
  a.info.cubeKey === b.info.cubeKey && a.info.nx === b.info.nx && a.info.ny === b.info.ny
    ? Effect.void
    : Effect.fail(new BadRequest({ message: `runs ${a.info.runId} and ${b.info.runId} are not of the same cube` }))

const jsonBody = <A, I>(schema: Schema.Schema<A, I>) => HttpServerRequest.schemaBodyJson(schema)

/** What the page opens with: a run (null: the newest), or the mosaic of a survey (when `survey` is given and no run is named). */
export interface Opening {
  readonly run: string | null
  readonly survey: string | null
}

/** The routes. */
export const router = (assets: ReadonlyArray<Asset>, opening: Opening) => {
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
            initial: opening.run ?? newest(runs),
            mosaic: opening.survey === null ? null : { survey: opening.survey, open: opening.run === null },
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
          const q = yield* query(MapQuery)
          if (q.survey !== undefined) {
            if (q.run !== undefined || q.minus !== undefined) return yield* Effect.fail(new BadRequest({ message: "survey= takes neither run= nor minus=" }))
            return yield* mosaicMap(yield* loadMosaic(q.survey), q.value)
          }
          if (q.run === undefined) return yield* Effect.fail(new BadRequest({ message: "bad request: run= or survey= is required" }))
          const run = yield* loadRun(q.run)
          const other = q.minus === undefined ? undefined : yield* loadRun(q.minus)
          if (other !== undefined) yield* sameCube(run, other)
          return yield* map(run, q.value, other)
        })
      )
    ),
    HttpRouter.get(
      "/api/pixel/:x/:y",
      handle(
        Effect.gen(function* () {
          const p = yield* HttpRouter.schemaPathParams(PixelPath)
          const q = yield* query(PixelQuery)
          if (q.survey !== undefined) {
            if (q.run !== undefined) return yield* Effect.fail(new BadRequest({ message: "survey= does not take run=" }))
            const m = yield* loadMosaic(q.survey)
            const t = yield* tileAt(m, p.x, p.y)
            return { ...(yield* pixel(t.run, t.x, t.y)), mosaic: { survey: m.survey, x: p.x, y: p.y } }
          }
          if (q.run === undefined) return yield* Effect.fail(new BadRequest({ message: "bad request: run= or survey= is required" }))
          return { ...(yield* pixel(yield* loadRun(q.run), p.x, p.y)), mosaic: null }
        })
      )
    ),
    HttpRouter.post(
      "/api/fit/:x/:y",
      handle(
        Effect.gen(function* () {
          const p = yield* HttpRouter.schemaPathParams(PixelPath)
          const q = yield* query(RunQuery)
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
    HttpRouter.get(
      "/api/labels",
      handle(
        Effect.gen(function* () {
          const q = yield* query(Schema.Struct({ run: Schema.optional(RunId) }))
          const labels = yield* Labels.Labels
          if (q.run === undefined) return yield* labels.all
          const run = yield* loadRun(q.run)
          return { cube: run.info.cubeKey, spectra: yield* labels.ofCube(run.info.cubeKey) }
        })
      )
    ),
    HttpRouter.put(
      "/api/labels/:x/:y",
      handle(
        Effect.gen(function* () {
          const p = yield* HttpRouter.schemaPathParams(PixelPath)
          const q = yield* query(RunQuery)
          const b = yield* jsonBody(LabelBody)
          const run = yield* loadRun(q.run)
          yield* checkPixel(run, p.x, p.y)
          const labels = yield* Labels.Labels
          yield* labels.put(run.info.cubeKey, { x: p.x, y: p.y, ...(b.category === undefined ? {} : { category: b.category }), components: b.components })
          return { saved: labels.file, spectra: (yield* labels.all).spectra.length }
        })
      )
    ),
    HttpRouter.del(
      "/api/labels/:x/:y",
      handle(
        Effect.gen(function* () {
          const p = yield* HttpRouter.schemaPathParams(PixelPath)
          const q = yield* query(RunQuery)
          const run = yield* loadRun(q.run)
          const labels = yield* Labels.Labels
          const removed = yield* labels.remove(run.info.cubeKey, p.x, p.y)
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
export const app = (assets: ReadonlyArray<Asset>, opening: Opening) =>
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
    return yield* router(assets, opening)
  }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.succeed(error(500, `internal error: ${Cause.squash(cause) instanceof Error ? (Cause.squash(cause) as Error).message : "unexpected failure"}`))
    )
  )
