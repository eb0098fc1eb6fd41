/**
 * Everything the viewer reads about runs, behind one service: the run list, a run's rows
 * indexed by pixel with its cube header, and single spectra. The local layer reads a
 * workdir through the same code as `phs plot` (plot/RunData.ts); another layer (e.g. AWS)
 * only has to provide this service.
 */
import { BlobStore, Fits, RunTable, type Pipeline, type ResultSchema } from "@phs/core"
import { RuntimeLocal } from "@phs/runtime-local"
import { Context, Effect, Layer, Ref } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as RunData from "../plot/RunData.js"
import * as LocalTarget from "../target/LocalTarget.js"
import type * as Target from "../target/Target.js"
import { galacticOf, velocityAxis, type VelocityAxis } from "./Quantities.js"
import { BadRequest, NotFound } from "./ViewErrors.js"

type Row = ResultSchema.DecompositionRow

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

/** A run ready to be shown: rows by pixel index y·nx + x. */
export interface LoadedRun {
  readonly info: RunInfo
  readonly header: Fits.CubeHeader
  readonly rows: ReadonlyArray<Row | undefined>
  readonly velocity: VelocityAxis | undefined
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

/**
 * The service over a local workdir (which must exist), showing the runs of `survey` only
 * when given. Storage failures are defects: the API answers them with a 500.
 */
export const layerLocal = (workdir: string, survey?: string): Layer.Layer<ViewData, Target.Error> =>
  Layer.scoped(
    ViewData,
    Effect.gen(function* () {
      yield* LocalTarget.requireWorkdir(workdir)
      const context = yield* Layer.build(RunData.layer(workdir))
      const local = <A, E>(eff: Effect.Effect<A, E, Target.Services | Pipeline.Services>) =>
        Effect.provide(eff, context)
      const cache = yield* Ref.make(new Map<string, Effect.Effect<LoadedRun, NotFound>>())

      const runs = local(
        Effect.gen(function* () {
          const table = yield* RunTable.RunTable
          const all = yield* table.listRuns({ limit: 1000, ...(survey === undefined ? {} : { survey }) })
          return all.map(infoOf)
        })
      ).pipe(Effect.orDie)

      const load = (runId: string) =>
        local(
          Effect.gen(function* () {
            const table = yield* RunTable.RunTable
            const record = yield* table.getRun(runId)
            if (record._tag === "None" || (survey !== undefined && record.value.survey !== survey)) {
              return yield* Effect.fail(new NotFound({ message: `no run ${runId}` }))
            }
            const data = yield* RunData.load(record.value.runId).pipe(
              Effect.catchTag("InvalidInput", (e) => Effect.fail(new NotFound({ message: e.reason })))
            )
            const rows = new Array<Row | undefined>(data.run.nx * data.run.ny)
            for (const row of data.rows) if (row.x < data.run.nx && row.y < data.run.ny) rows[row.y * data.run.nx + row.x] = row
            const loaded: LoadedRun = {
              info: infoOf(data.run),
              header: data.header,
              rows,
              velocity: velocityAxis(data.header),
              galactic: galacticOf(data.header)
            }
            return loaded
          })
        ).pipe(Effect.catchIf((e): e is Exclude<typeof e, NotFound> => e._tag !== "NotFound", Effect.die))

      // One load per run, shared by concurrent requests (the first map of a tile waits for
      // its 116k rows); a failed load is forgotten, so a run that gets results can be retried.
      const lock = yield* Effect.makeSemaphore(1)
      const run = (runId: string): Effect.Effect<LoadedRun, NotFound> =>
        Effect.flatten(
          lock.withPermits(1)(
            Effect.gen(function* () {
              const hit = (yield* Ref.get(cache)).get(runId)
              if (hit !== undefined) return hit
              const once = yield* Effect.cached(
                load(runId).pipe(Effect.tapError(() => Ref.update(cache, (m) => (m.delete(runId), m))))
              )
              yield* Ref.update(cache, (m) => m.set(runId, once))
              return once
            })
          )
        )

      // A spectrum of a channel-major cube is one small read per channel: read them from one
      // open descriptor per cube (closed with the server) instead of opening the blob each time.
      const root = path.resolve(RuntimeLocal.blobRoot(workdir))
      const open = new Map<string, { readonly fd: number; readonly size: number } | null>()
      yield* Effect.addFinalizer(() => Effect.sync(() => open.forEach((f) => f !== null && fs.closeSync(f.fd))))
      const cubeFile = (key: string) => {
        if (!open.has(key)) {
          const file = path.resolve(root, key)
          const inside = BlobStore.isSafeKey(key) && file.startsWith(root + path.sep)
          try {
            const fd = inside ? fs.openSync(file, "r") : -1
            open.set(key, fd < 0 ? null : { fd, size: fs.fstatSync(fd).size })
          } catch {
            open.set(key, null)
          }
        }
        return open.get(key) ?? null
      }
      const sourceOf = (f: { readonly fd: number; readonly size: number }): Fits.ByteSource<never> => ({
        size: f.size,
        read: (offset, length) =>
          Effect.sync(() => {
            const bytes = new Uint8Array(Math.max(0, Math.min(length, f.size - offset)))
            let done = 0
            while (done < bytes.length) {
              const n = fs.readSync(f.fd, bytes, done, bytes.length - done, offset + done)
              if (n === 0) break
              done += n
            }
            return done === bytes.length ? bytes : bytes.subarray(0, done)
          })
      })

      const spectrum = (run: LoadedRun, x: number, y: number) =>
        Effect.gen(function* () {
          yield* checkPixel(run, x, y)
          const f = cubeFile(run.info.cubeKey)
          if (f !== null) {
            return yield* Fits.readSpectra(sourceOf(f), run.header, y * run.info.nx + x, 1).pipe(
              Effect.mapError((e) => new NotFound({ message: `${run.info.cubeKey}: ${e.reason}` }))
            )
          }
          // the cube is gone: the chunk payloads, as phs plot reads them
          const table = yield* RunTable.RunTable
          const record = yield* table.getRun(run.info.runId)
          if (record._tag === "None") return yield* Effect.fail(new NotFound({ message: `no run ${run.info.runId}` }))
          return yield* RunData.spectrum(record.value, run.header, x, y).pipe(
            Effect.catchTag("InvalidInput", (e) => Effect.fail(new NotFound({ message: e.reason })))
          )
        }).pipe(
          local,
          Effect.catchIf((e): e is Exclude<typeof e, NotFound | BadRequest> => e._tag !== "NotFound" && e._tag !== "BadRequest", Effect.die)
        )

      return { runs, run, spectrum }
    })
  )
