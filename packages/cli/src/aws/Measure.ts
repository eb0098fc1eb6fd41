/**
 * The measured inputs of `phs cost`: the native fitter's CPU time per spectrum on this
 * machine, on a sample of a cube's own spectra (spread over the cube in 20 runs of adjacent
 * pixels, blank ones included: a blank spectrum is cheap, and the cube's mix is what a run
 * pays for), on one thread; the Parquet bytes of their result rows; and the CPU time of
 * decoding and encoding those rows, as the catalog does.
 */
import { chunkBatch, Errors, Fits, Fitter, Params, ResultParquet, type Tasks, Wcs } from "@phs/core"
import { LocalRun } from "@phs/runtime-local"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { fileURLToPath } from "node:url"

/** The GRS sample shipped with phs (5 × 5 spectra × 424 channels). */
export const BUNDLED_SAMPLE = fileURLToPath(new URL("../../../../examples/grs-5x5.fits", import.meta.url))

export interface Measurement {
  readonly file: string
  readonly nx: number
  readonly ny: number
  readonly channels: number
  readonly fileBytes: number
  /** Spectra in the sample. */
  readonly sampled: number
  /** Times the sample was fitted (after one warm-up). */
  readonly rounds: number
  readonly cpuMsPerSpectrum: number
  readonly wallMsPerSpectrum: number
  readonly meanComponents: number
  /** Spectra that hit the per-spectrum budget (they would go to the slow queue). */
  readonly overBudget: number
  readonly resultBytesPerSpectrum: number
  readonly catalogCpuMsPerRow: number
  /** What measured it. */
  readonly machine: string
}

export interface MeasureOptions {
  /** Spectra to sample (default 500, a chunk). */
  readonly sample?: number
  /** Keep fitting the sample until this much CPU time was measured (default 2 s). */
  readonly minCpuMs?: number
  readonly maxRounds?: number
  /** The HDU holding the cube (default: the first 3-D image). */
  readonly hdu?: number
}

/** Pixel indices: up to `sample` of `npix`, in 20 runs of adjacent pixels spread evenly. */
export const samplePixels = (npix: number, sample: number): number[] => {
  if (npix <= sample) return Array.from({ length: npix }, (_, i) => i)
  const runs = Math.min(20, sample)
  const length = Math.ceil(sample / runs)
  const out: number[] = []
  for (let r = 0; r < runs && out.length < sample; r++) {
    const start = Math.floor((r * (npix - length)) / Math.max(1, runs - 1))
    for (let i = 0; i < length && out.length < sample; i++) out.push(start + i)
  }
  return out
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since)
  return (d.user + d.system) / 1000
}

/** Measures a cube's sample with the given run parameters. */
export const measure = (
  file: string,
  params: Readonly<Record<string, number>>,
  options: MeasureOptions = {}
): Effect.Effect<Measurement, Errors.InvalidInput> =>
  Effect.gen(function* () {
    const header = yield* LocalRun.checkCube(file, Fits.hduOptions(options.hdu))
    const resolved = yield* Params.resolve(params)
    const npix = header.nx * header.ny
    const pixels = samplePixels(npix, options.sample ?? 500)
    const fd = fs.openSync(file, "r")
    const src = LocalRun.fileSource(fd)
    // Adjacent pixels are read together.
    const spectra = new Float32Array(pixels.length * header.nchan)
    const read = Effect.gen(function* () {
      let i = 0
      while (i < pixels.length) {
        let j = i + 1
        while (j < pixels.length && pixels[j] === pixels[j - 1] + 1) j++
        spectra.set(yield* Fits.readSpectra(src, header, pixels[i], j - i), i * header.nchan)
        i = j
      }
    })
    yield* read.pipe(
      Effect.mapError((e) => new Errors.InvalidInput({ reason: `${file}: ${e.reason}` })),
      Effect.ensuring(Effect.sync(() => fs.closeSync(fd)))
    )
    const fitter = Fitter.makeNative({ threads: 1 })
    const fit = Effect.flatMap(
      Effect.sync(() => ({ cpu: process.cpuUsage(), wall: performance.now() })),
      (t0) =>
        fitter.decomposeBatch(spectra, header.nchan, Params.fitParams(resolved), { timeoutMs: resolved.timeout_ms }).pipe(
          Effect.map((results) => ({ results, cpuMs: cpuMs(t0.cpu), wallMs: performance.now() - t0.wall }))
        )
    ).pipe(Effect.mapError((e) => new Errors.InvalidInput({ reason: `cannot measure the fitter: ${e.message}` })))

    const warmup = yield* fit
    const minCpuMs = options.minCpuMs ?? 2000
    const maxRounds = options.maxRounds ?? 200
    let rounds = 0
    let totalCpu = 0
    let totalWall = 0
    while (rounds < maxRounds && (rounds === 0 || totalCpu < minCpuMs)) {
      const r = yield* fit
      rounds++
      totalCpu += r.cpuMs
      totalWall += r.wallMs
    }
    const results = warmup.results
    const world = { cube: "cubes/survey-0123456789abcdef.fits", wcs: Wcs.fromCards(header.cards) }
    // The sampled pixels' rows as the fit writes them (pixel offsets from a chunk at 0).
    const task: Tasks.FitTask = {
      runId: "survey-0123456789abcdef", survey: "survey", start: 0, count: npix, nx: header.nx, nChannels: header.nchan,
      params: resolved, payloadKey: "", outputKey: ""
    }
    const empty = ResultParquet.encodeRows([]).length
    const encoded = ResultParquet.encodeBatch(chunkBatch(task, results, world, pixels))
    // The catalog decodes every chunk's rows and encodes them again; time that on ≥ 5,000 rows.
    const copies = Math.ceil(5000 / Math.max(1, results.length))
    const manyBytes = ResultParquet.encodeBatch(
      chunkBatch(task, Array.from({ length: copies }, () => results).flat(), world, Array.from({ length: copies }, () => pixels).flat())
    )
    const c0 = process.cpuUsage()
    const many = yield* ResultParquet.decodeRows(manyBytes).pipe(Effect.mapError((e) => new Errors.InvalidInput({ reason: `cannot measure Parquet: ${e.message}` })))
    ResultParquet.encodeRows(many)
    const catalogCpu = cpuMs(c0)
    const cpus = os.cpus()
    return {
      file,
      nx: header.nx,
      ny: header.ny,
      channels: header.nchan,
      fileBytes: src.size,
      sampled: pixels.length,
      rounds,
      cpuMsPerSpectrum: totalCpu / rounds / pixels.length,
      wallMsPerSpectrum: totalWall / rounds / pixels.length,
      meanComponents: results.reduce((s, d) => s + d.components.length, 0) / results.length,
      overBudget: results.filter((d) => d.status === "timeout").length,
      resultBytesPerSpectrum: (encoded.length - empty) / results.length,
      catalogCpuMsPerRow: catalogCpu / many.length,
      machine: `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${os.availableParallelism()} cores, ${process.arch}`
    } satisfies Measurement
  })
