/**
 * `phs cost CUBE.fits | --spectra N`: what running that many spectra on the aws target
 * costs, item by item with the arithmetic shown. The fitting time comes from measuring the
 * native fitter here, on a sample of the cube's own spectra (or of the bundled GRS sample);
 * the rest from counted requests and the list prices in aws/Prices.ts.
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors, Params } from "@phs/core"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Cost from "../aws/Cost.js"
import * as Measure from "../aws/Measure.js"
import * as Prices from "../aws/Prices.js"
import { line, note } from "../Output.js"
import { checkCube, hdu, hduNote } from "./hdu.js"
import { parseParams } from "./pipeline.js"
import { json } from "./shared.js"

/** Result bytes and catalog CPU when nothing is measured (--cpu-ms): the GRS sample's, rounded up. */
export const UNMEASURED = { resultBytesPerSpectrum: 160, catalogCpuMsPerRow: 0.02, channels: 424 } as const

const cube = Args.file({ name: "cube", exists: "yes" }).pipe(
  Args.withDescription("a cube to estimate for: its spectra are counted and a sample of them is fitted here"),
  Args.optional
)
const spectra = Options.integer("spectra").pipe(
  Options.withDescription("spectra to estimate for (default: the cube's, times --runs); without a cube the bundled GRS sample is measured"),
  Options.optional
)
const runs = Options.integer("runs").pipe(
  Options.withDescription("cubes (runs) the spectra come in, e.g. the tiles of a survey: splitter and catalog run once per cube"),
  Options.withDefault(1)
)
const arch = Options.choice("arch", ["arm64", "x86_64"] as const).pipe(
  Options.withDescription("the workers' architecture (the stack deploys arm64)"),
  Options.withDefault("arm64" as const)
)
const memory = Options.integer("memory").pipe(
  Options.withDescription("worker memory, MB (cdk context phs:workerMemory; 1,769 MB = 1 vCPU)"),
  Options.withDefault(1024)
)
const archFactor = Options.float("arch-factor").pipe(
  Options.withDescription("per-core time on Lambda's --arch ÷ per-core time on this machine (default arm64 1.3, x86_64 1.0)"),
  Options.optional
)
const cpuMs = Options.float("cpu-ms").pipe(
  Options.withDescription("CPU ms per spectrum instead of measuring (then result size and catalog time take the GRS sample's figures)"),
  Options.optional
)
const sample = Options.integer("sample").pipe(Options.withDescription("spectra of the cube to fit for the measurement"), Options.withDefault(500))
const param = Options.keyValueMap("param").pipe(
  Options.withDescription(`decomposition parameter k=v, as for phs pipeline: ${Params.describeParams()}`),
  Options.optional
)
const chunkSize = Options.integer("chunk-size").pipe(Options.withDescription("spectra per chunk"), Options.withDefault(Params.DEFAULT_CHUNK_SIZE))
const queries = Options.integer("queries").pipe(Options.withDescription("Athena queries over the results, each scanning all of them"), Options.withDefault(10))
const concurrency = Options.integer("concurrency").pipe(
  Options.withDescription("workers at once (cdk context phs:workerConcurrency): bounds the cold starts"),
  Options.withDefault(500)
)

const bad = (reason: string) => Effect.fail(new Errors.InvalidInput({ reason }))

export const cost = Command.make(
  "cost",
  { cube, hdu, spectra, runs, arch, memory, archFactor, cpuMs, sample, param, chunkSize, queries, concurrency, json },
  (o) =>
    Effect.gen(function* () {
      if (Option.isNone(o.cube) && Option.isNone(o.spectra)) return yield* bad("give a cube (phs cost CUBE.fits) or a number of spectra (--spectra N)")
      if (Option.isSome(o.spectra) && o.spectra.value < 1) return yield* bad("--spectra must be at least 1")
      if (o.runs < 1) return yield* bad("--runs must be at least 1")
      if (o.memory < 128 || o.memory > 10240) return yield* bad("--memory must be a Lambda memory size, 128 to 10240 MB")
      if (o.chunkSize < 1 || o.chunkSize > 100_000) return yield* bad("--chunk-size must be in [1, 100000]")
      if (o.queries < 0) return yield* bad("--queries cannot be negative")
      if (o.concurrency < 1) return yield* bad("--concurrency must be at least 1")
      if (o.sample < 1) return yield* bad("--sample must be at least 1")
      if (Option.isSome(o.cpuMs) && !(o.cpuMs.value > 0)) return yield* bad("--cpu-ms must be a positive number of milliseconds")
      if (Option.isSome(o.archFactor) && !(o.archFactor.value > 0)) return yield* bad("--arch-factor must be positive")
      const params = yield* parseParams(o.param)
      yield* Params.resolve(params)

      if (Option.isNone(o.cube) && Option.isSome(o.hdu)) return yield* bad("--hdu names the HDU of a cube: give the cube too (phs cost CUBE.fits --hdu N)")
      const header = Option.isSome(o.cube) ? Option.some(yield* checkCube(o.cube.value, o.hdu)) : Option.none()
      const inHdu = Option.flatMap(header, (h) => hduNote(h, o.hdu))
      if (Option.isSome(inHdu) && !o.json) note(`note: ${inHdu.value}`)
      const measured = Option.isSome(o.cpuMs)
        ? Option.none<Measure.Measurement>()
        : Option.some(
            yield* Measure.measure(Option.getOrElse(o.cube, () => Measure.BUNDLED_SAMPLE), params, {
              sample: o.sample,
              ...Option.match(header, { onNone: () => ({}), onSome: (h) => ({ hdu: h.hdu }) })
            })
          )
      const cubeSpectra = Option.map(header, (h) => h.nx * h.ny)
      const n = Option.getOrElse(o.spectra, () => Option.getOrElse(cubeSpectra, () => 0) * o.runs)
      if (n < o.runs) return yield* bad(`--runs ${o.runs} is more than the ${n} spectra`)
      const channels = Option.match(header, {
        onSome: (h) => h.nchan,
        onNone: () => Option.match(measured, { onSome: (m) => m.channels, onNone: () => UNMEASURED.channels })
      })
      // A real cube's bytes per spectrum (header and padding included) scale to the spectra asked for.
      const cubeBytes = Option.isSome(o.cube) && Option.isSome(cubeSpectra) ? (fs.statSync(o.cube.value).size / cubeSpectra.value) * n : undefined
      const inputs: Cost.Inputs = {
        spectra: n,
        channels,
        runs: o.runs,
        chunkSize: o.chunkSize,
        arch: o.arch,
        memoryMb: o.memory,
        archFactor: Option.getOrElse(o.archFactor, () => Cost.ASSUMPTIONS.archFactor[o.arch]),
        cpuMsPerSpectrum: Option.match(measured, { onSome: (m) => m.cpuMsPerSpectrum, onNone: () => Option.getOrElse(o.cpuMs, () => 0) }),
        resultBytesPerSpectrum: Option.match(measured, { onSome: (m) => m.resultBytesPerSpectrum, onNone: () => UNMEASURED.resultBytesPerSpectrum }),
        catalogCpuMsPerRow: Option.match(measured, { onSome: (m) => m.catalogCpuMsPerRow, onNone: () => UNMEASURED.catalogCpuMsPerRow }),
        ...(cubeBytes === undefined ? {} : { cubeBytes }),
        queries: o.queries,
        workerConcurrency: o.concurrency
      }
      const e = Cost.estimate(inputs)
      if (o.json) {
        return line(
          JSON.stringify({
            inputs,
            derived: e.derived,
            measurement: Option.getOrNull(measured),
            assumptions: Cost.ASSUMPTIONS,
            items: e.items,
            total: e.total,
            storagePerMonth: e.storage,
            prices: { asOf: Prices.AS_OF, region: Prices.REGION, ...Prices.PRICES }
          })
        )
      }
      line(header0(e))
      line(measuredText(measured, inputs))
      line(assumptionsText(inputs))
      line(`prices: AWS ${Prices.REGION} list prices as of ${Prices.AS_OF}, without free tiers (packages/cli/src/aws/Prices.ts)`)
      line("")
      line(Cost.render(e))
      line("")
      line(
        `per million spectra: ${Cost.usd((e.total / n) * 1e6)}; a worker invocation fits a chunk of ${num(o.chunkSize)} in ~${num(e.derived.chunkSeconds, 1)} s, ` +
          `${num(Math.min(e.derived.chunks, o.concurrency))} at once`
      )
    })
).pipe(Command.withDescription("estimate what running a cube (or N spectra) on the aws target costs, item by item"))

const num = Cost.num

const header0 = (e: Cost.Estimate): string => {
  const i = e.inputs
  return (
    `phs cost: ${num(i.spectra)} spectra × ${num(i.channels)} channels in ${num(i.runs)} run${i.runs === 1 ? "" : "s"} → ${num(e.derived.chunks)} chunks of ≤ ${num(i.chunkSize)}; ` +
    `workers on Lambda ${i.arch}, ${num(i.memoryMb)} MB (${num(e.derived.vcpus, 3)} vCPU)`
  )
}

const measuredText = (m: Option.Option<Measure.Measurement>, i: Cost.Inputs): string =>
  Option.match(m, {
    onNone: () =>
      `not measured: ${num(i.cpuMsPerSpectrum, 3)} ms CPU per spectrum (--cpu-ms); results ${num(i.resultBytesPerSpectrum)} B per spectrum and catalog ${num(i.catalogCpuMsPerRow, 4)} ms per row (the GRS sample's)`,
    onSome: (m) =>
      `measured on this machine (${m.machine}): the native fitter on ${num(m.sampled)} spectra of ${path.relative(process.cwd(), m.file) || m.file} (${m.nx} × ${m.ny} × ${m.channels}), ${num(m.rounds)} rounds, one thread:\n` +
      `  ${num(m.cpuMsPerSpectrum, 3)} ms CPU per spectrum (wall ${num(m.wallMsPerSpectrum, 3)} ms), ${num(m.meanComponents, 2)} components per spectrum, ${num(m.overBudget)} over the time budget;\n` +
      `  Parquet results ${num(m.resultBytesPerSpectrum, 1)} B per spectrum; catalog decode + encode ${num(m.catalogCpuMsPerRow, 4)} ms CPU per row`
  })

const assumptionsText = (i: Cost.Inputs): string => {
  const A = Cost.ASSUMPTIONS
  return (
    `assumptions: Lambda ${i.arch} takes ${num(i.archFactor, 2)}× this machine's per-core time (arm64 ${A.archFactor.arm64.toFixed(1)}, x86_64 ${A.archFactor.x86_64.toFixed(1)} unless --arch-factor); ` +
    `${num(A.fullVcpuMb)} MB = 1 vCPU;\n  ${A.fitIoMs} ms of I/O per fit invocation; ${A.coldStartS} s per new worker container; ${A.s3MBps} MB/s from S3 per function; ` +
    `splitter ${num(A.splitterMemoryMb)} MB, catalog ${num(A.catalogMemoryMb)} MB; no spectrum over its time budget; each query scans every result row`
  )
}
