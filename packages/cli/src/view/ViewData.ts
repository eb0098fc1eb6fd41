/**
 * Everything the viewer reads about runs, behind one service, over any target's services
 * (run table and blob store: a local workdir or an aws deployment's table and bucket, one
 * code path): the run list, a run's result columns (core's `ResultColumns`: only the
 * columns asked for, read by byte ranges from its parts and kept), its pixel index and cube
 * header, single spectra, and survey mosaics.
 */
import { BlobStore, type Errors, type Fits, Keys, Mosaic, ResultColumns, RunTable } from "@phs/core"
import { Context, Effect, Layer, Option, Ref } from "effect"
import * as RunData from "../plot/RunData.js"
import { tileRuns } from "../plot/Survey.js"
import * as Target from "../target/Target.js"
import { galacticOf, velocityAxis, type VelocityAxis } from "./Quantities.js"
import { join, numberAt, type ColumnName } from "./RunColumns.js"
import { BadRequest, NotFound } from "./ViewErrors.js"

type Column = ResultColumns.NumberColumn | ResultColumns.ListColumn

/** What the run list shows of a run. */
export interface RunInfo {
  readonly runId: string
  readonly survey: string
  readonly status: RunTable.RunStatus
  readonly beta: number | null
  readonly cubeKey: string
  readonly nx: number
  readonly ny: number
  readonly nChannels: number
  readonly createdAt: number
}

/** A run ready to be shown. */
export interface LoadedRun {
  readonly info: RunInfo
  readonly record: RunTable.RunRecord
  readonly header: Fits.CubeHeader
  /** The row (in `columns`' order) of pixel y·nx + x; −1 where the run has none. */
  readonly index: Int32Array
  /** The named columns of the run's rows, read on first use and kept. */
  readonly columns: (names: ReadonlyArray<ColumnName>) => Effect.Effect<ReadonlyMap<string, Column>>
  readonly velocity: VelocityAxis | undefined
  readonly galactic: ((x: number, y: number) => { lon: number; lat: number }) | undefined
}

/** A survey's mosaic: its tiles' runs on core's common grid (as `phs export --survey` builds it). */
export interface LoadedMosaic {
  readonly survey: string
  readonly grid: Mosaic.Grid.Grid
  /** Index in `tiles` of the tile that shows each grid pixel (core's `Grid.owners`), −1 for none. */
  readonly owners: Int32Array
  /** The tiles' runs, in the grid's order. */
  readonly tiles: ReadonlyArray<LoadedRun>
  readonly galactic: ((x: number, y: number) => { lon: number; lat: number }) | undefined
}

export class ViewData extends Context.Tag("@phs/cli/view/ViewData")<
  ViewData,
  {
    readonly runs: Effect.Effect<ReadonlyArray<RunInfo>>
    /** A run by its exact id (loaded once, then cached). */
    readonly run: (runId: string) => Effect.Effect<LoadedRun, NotFound>
    /** The spectrum of a pixel of the run, NaN for blank channels. */
    readonly spectrum: (run: LoadedRun, x: number, y: number) => Effect.Effect<Float32Array, BadRequest | NotFound>
    /** The mosaic of a survey's tiles: per cube, its newest completed run (loaded once). */
    readonly mosaic: (survey: string) => Effect.Effect<LoadedMosaic, NotFound>
  }
>() {}

const infoOf = (r: RunTable.RunRecord): RunInfo => ({
  runId: r.runId,
  survey: r.survey,
  status: r.status,
  beta: typeof r.params.beta === "number" ? r.params.beta : null,
  cubeKey: r.cubeKey,
  nx: r.nx,
  ny: r.ny,
  nChannels: r.nChannels,
  createdAt: r.createdAt
})

/** The run the page opens with when none is named: the newest. */
export const newest = (runs: ReadonlyArray<RunInfo>): string | null =>
  runs.reduce<RunInfo | null>((best, r) => (best === null || r.createdAt > best.createdAt ? r : best), null)?.runId ?? null

/** Checks that (x, y) is a pixel of the run's cube. */
export const checkPixel = (run: LoadedRun, x: number, y: number): Effect.Effect<void, BadRequest> =>
  x < run.info.nx && y < run.info.ny
    ? Effect.void
    : Effect.fail(
      new BadRequest({ message: `pixel (${x}, ${y}) is outside the cube: x is 0..${run.info.nx - 1}, y is 0..${run.info.ny - 1}` })
    )

/** A blob read by ranges, for core's readers. */
const rangedBlob = (store: BlobStore.BlobStore, key: string) =>
  Effect.map(store.size(key), Option.map((size): Fits.ByteSource<Errors.BlobNotFound | Errors.StorageError> => ({ size, read: (o, n) => store.getRange(key, o, n) })))

/** Loads shared by concurrent requests; a failed one is forgotten (so a run that gets results later can be retried). */
const memo = <K, A, E>() =>
  Effect.gen(function* () {
    const cache = yield* Ref.make(new Map<K, Effect.Effect<A, E>>())
    const lock = yield* Effect.makeSemaphore(1)
    return (key: K, load: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.flatten(
        lock.withPermits(1)(
          Effect.gen(function* () {
            const hit = (yield* Ref.get(cache)).get(key)
            if (hit !== undefined) return hit
            const once = yield* Effect.cached(load.pipe(Effect.tapError(() => Ref.update(cache, (m) => (m.delete(key), m)))))
            yield* Ref.update(cache, (m) => m.set(key, once))
            return once
          })
        )
      )
  })

/**
 * The service over a target's run table and blob store, showing the runs of `survey` only
 * when given. Storage failures are defects: the API answers them with a 500.
 */
export const layer = (survey?: string): Layer.Layer<ViewData, never, RunTable.RunTable | BlobStore.BlobStore | Target.Target> =>
  Layer.scoped(
    ViewData,
    Effect.gen(function* () {
      const table = yield* RunTable.RunTable
      const store = yield* BlobStore.BlobStore
      const target = yield* Target.Target
      const provide = <A, E>(eff: Effect.Effect<A, E, RunTable.RunTable | BlobStore.BlobStore | Target.Target>) =>
        eff.pipe(Effect.provideService(RunTable.RunTable, table), Effect.provideService(BlobStore.BlobStore, store), Effect.provideService(Target.Target, target))
      const runMemo = yield* memo<string, LoadedRun, NotFound>()
      const mosaicMemo = yield* memo<string, LoadedMosaic, NotFound>()
      const notFound = (e: { readonly message: string }) => new NotFound({ message: e.message })

      const allRuns = table.listRuns({ limit: 1000, ...(survey === undefined ? {} : { survey }) }).pipe(Effect.orDie)
      const runs = Effect.map(allRuns, (all) => all.map(infoOf))

      /**
       * The columns of a run's parts, joined; each column read once, on first use. The
       * columns one request misses are read together; a request waits only for the reads of
       * its own columns (a map of one quantity is not held up by another's columns).
       */
      const columnsOf = (keys: ReadonlyArray<string>) =>
        Effect.sync(() => {
          const kept = new Map<string, Effect.Effect<Column>>()
          const readAll = (names: ReadonlyArray<ColumnName>) =>
            Effect.forEach(keys, (key) =>
              Effect.gen(function* () {
                const src = yield* rangedBlob(store, key)
                if (Option.isNone(src)) return yield* Effect.dieMessage(`${key} is gone`)
                return yield* ResultColumns.readColumns(src.value, names)
              }).pipe(Effect.mapError((e) => new Error(e.message)), Effect.orDie)
            ).pipe(Effect.tapErrorCause(() => Effect.sync(() => names.forEach((n) => kept.delete(n)))))
          return (names: ReadonlyArray<ColumnName>) =>
            Effect.gen(function* () {
              const missing = names.filter((n) => !kept.has(n))
              if (missing.length > 0) {
                // (a second request for the same columns before these are set reads them again: harmless)
                const group = yield* Effect.cached(readAll(missing))
                for (const n of missing) kept.set(n, yield* Effect.cached(Effect.map(group, (parts) => join(parts.map((p) => p.columns.get(n)!)))))
              }
              const out = new Map<string, Column>()
              for (const n of names) out.set(n, yield* kept.get(n)!)
              return out as ReadonlyMap<string, Column>
            })
        })

      const load = (runId: string) =>
        provide(
          Effect.gen(function* () {
            const record = yield* table.getRun(runId).pipe(Effect.orDie)
            if (record._tag === "None") return yield* Effect.fail(new NotFound({ message: `no run ${runId}` }))
            // phs view --survey shows that survey's runs only, as it lists them (and refuses another's RUN at start)
            if (survey !== undefined && record.value.survey !== survey)
              return yield* Effect.fail(new NotFound({ message: `run ${runId} is of survey ${record.value.survey}, not ${survey} (phs view --survey ${survey} shows that survey's runs only)` }))
            const r = record.value
            const keys = yield* RunData.resultKeys(r).pipe(Effect.orDie)
            if (keys.length === 0) {
              return yield* Effect.fail(new NotFound({ message: `run ${r.runId} has no results in the table (status ${r.status}${r.reason === null ? "" : `: ${r.reason}`})` }))
            }
            const header = yield* RunData.cubeHeader(r).pipe(
              Effect.catchTag("InvalidInput", (e) => Effect.fail(notFound(e))),
              Effect.orDie
            )
            const columns = yield* columnsOf(keys)
            const xy = yield* columns(["x", "y"])
            const index = new Int32Array(r.nx * r.ny).fill(-1)
            const xs = xy.get("x")!
            const ys = xy.get("y")!
            for (let i = 0; i < xs.nulls.length; i++) {
              const x = numberAt(xs, i)!
              const y = numberAt(ys, i)!
              if (x < r.nx && y < r.ny) index[y * r.nx + x] = i
            }
            const loaded: LoadedRun = { info: infoOf(r), record: r, header, index, columns, velocity: velocityAxis(header), galactic: galacticOf(header) }
            return loaded
          })
        )

      const run = (runId: string) => runMemo(runId, load(runId))

      const spectrum = (loaded: LoadedRun, x: number, y: number) =>
        Effect.gen(function* () {
          yield* checkPixel(loaded, x, y)
          const r = loaded.record
          // The chunk payload split wrote holds the spectrum in one range (what the fit saw);
          // the cube by ranges (one per channel) when the payload is gone.
          const p = y * r.nx + x
          const start = Math.floor(p / r.chunkSize) * r.chunkSize
          const payload = yield* store.getRange(Keys.chunkPayload(r.runId, start), (p - start) * r.nChannels * 4, r.nChannels * 4).pipe(
            Effect.map(Option.some),
            Effect.catchTag("BlobNotFound", () => Effect.succeed(Option.none<Uint8Array>()))
          )
          if (Option.isSome(payload) && payload.value.length === r.nChannels * 4) {
            const view = new DataView(payload.value.buffer, payload.value.byteOffset, payload.value.byteLength)
            return Float32Array.from({ length: r.nChannels }, (_, c) => view.getFloat32(c * 4, true))
          }
          return yield* provide(RunData.spectrum(r, loaded.header, x, y)).pipe(Effect.catchTag("InvalidInput", (e) => Effect.fail(notFound(e))))
        }).pipe(Effect.catchIf((e): e is Exclude<typeof e, NotFound | BadRequest> => e._tag !== "NotFound" && e._tag !== "BadRequest", Effect.die))

      const loadMosaic = (name: string) =>
        Effect.gen(function* () {
          const all = yield* table.listRuns({ survey: name }).pipe(Effect.orDie)
          const picked = tileRuns(all)
          if (picked.length === 0) {
            return yield* Effect.fail(new NotFound({ message: all.length === 0 ? `no runs of survey ${name}` : `survey ${name} has no completed runs yet` }))
          }
          const tiles = yield* Effect.forEach(picked, (r) => run(r.runId))
          const grid = Mosaic.Grid.grid(tiles.map((t) => ({ cube: t.info.cubeKey, name: t.info.runId, nx: t.info.nx, ny: t.info.ny, cards: t.header.cards })))
          if (grid instanceof Mosaic.Grid.MosaicMismatch) return yield* Effect.fail(new NotFound({ message: grid.message }))
          const byCube = new Map(tiles.map((t) => [t.info.cubeKey, t]))
          const mosaic: LoadedMosaic = {
            survey: name,
            grid,
            owners: Mosaic.Grid.owners(grid),
            tiles: grid.tiles.map((t) => byCube.get(t.cube)!),
            galactic: galacticOf({ cards: grid.cards })
          }
          return mosaic
        })

      const mosaic = (name: string) => mosaicMemo(name, loadMosaic(name))

      return { runs, run, spectrum, mosaic }
    })
  )
