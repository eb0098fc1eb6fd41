#!/usr/bin/env node
// What the world columns cost the pipeline (a benchmark, not a test), on the GRS 5×5
// sample: the fit's time per spectrum against the per-row cost of the world columns (their
// WCS evaluation, and the Parquet encoding of the six extra columns) and the per-chunk cost
// of building the WCS from the header. Best of --rounds runs of each.
//   npm run bench:wcs [-- --rounds 20]
// The WCS's accuracy against astropy is printed by packages/core/test/wcs/astropy.test.ts.
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { ByteWriter, parquetWrite } from "hyparquet-writer"
import { Fits, Fitter, Params, ResultParquet, Wcs, WorldColumns } from "../packages/core/dist/index.js"

const i = process.argv.indexOf("--rounds")
const rounds = i >= 0 ? Number(process.argv[i + 1]) : 20
const bytes = new Uint8Array(readFileSync(fileURLToPath(new URL("../examples/grs-5x5.fits", import.meta.url))))
const src = Fits.fromBytes(bytes)
const header = Effect.runSync(Fits.readHeader(src))
const n = Fits.pixelCount(header)
const spectra = Effect.runSync(Fits.readSpectra(src, header, 0, n))
const params = Effect.runSync(Params.resolve({}))
const fitter = Fitter.makeNative({ threads: 1 })

const best = async (f) => {
  let ms = Infinity
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint()
    await f()
    ms = Math.min(ms, Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return ms
}
const fitOnce = () => Effect.runPromise(fitter.decomposeBatch(spectra, header.nchan, Params.fitParams(params), { timeoutMs: 0 }))
const results = await fitOnce()
const fitMs = (await best(fitOnce)) / n

// Rows as a chunk of 500 would hold them: the 25 spectra repeated.
const REPS = 20
const world = { cube: "cubes/grs-0123456789abcdef.fits", wcs: Wcs.fromCards(header.cards) }
const base = (d, p) => ({
  x: p % header.nx, y: Math.floor(p / header.nx), beta: 3.5, rms: d.rms, min_persistence: Number.isFinite(d.minPersistence) ? d.minPersistence : null,
  n_components: d.components.length, component_amplitudes: d.components.map((c) => c.amplitude), component_means: d.components.map((c) => c.mean),
  component_stddevs: d.components.map((c) => c.stddev), nan_channels: d.nanChannels, run_id: "grs-0123456789abcdef"
})
const pixels = Array.from({ length: REPS * n }, (_, k) => k % n)
const worldMs = (await best(() => pixels.map((p) => WorldColumns.worldColumns(world, p % header.nx, Math.floor(p / header.nx), results[p].components)))) / pixels.length
const wcsMs = await best(() => Wcs.fromCards(header.cards))
const rows = pixels.map((p) => ({ ...base(results[p], p), ...WorldColumns.worldColumns(world, p % header.nx, Math.floor(p / header.nx), results[p].components) }))
const encodeAll = (await best(() => ResultParquet.encodeRows(rows))) / rows.length
// The same rows without the world columns, through the same writer settings.
const oldNames = ["x", "y", "beta", "rms", "min_persistence", "n_components", "component_amplitudes", "component_means", "component_stddevs", "nan_channels", "run_id"]
const oldSchema = [{ name: "schema", num_children: oldNames.length }, ...ResultParquet.PARQUET_SCHEMA.slice(1).filter((e, k, all) => {
  // Keep the elements of the old top-level columns (a list column is three elements).
  let top = k
  while (top > 0 && (all[top].name === "list" || all[top].name === "element")) top--
  return oldNames.includes(all[top].name)
})]
const encodeOld = (await best(() => {
  const writer = new ByteWriter()
  parquetWrite({ writer, schema: oldSchema, columnData: oldNames.map((name) => ({ name, data: rows.map((r) => r[name]) })), codec: "SNAPPY", rowGroupSize: ResultParquet.ROW_GROUP_ROWS })
  return writer.getBytes()
})) / rows.length
const perChunk = 500 // the default chunk size
const added = worldMs + (encodeAll - encodeOld) + wcsMs / perChunk
console.log(`world columns on the GRS 5×5 sample (${n} spectra, ${results.reduce((a, d) => a + d.components.length, 0)} components; best of ${rounds}):`)
console.log(`  fit (1 thread)              ${(fitMs * 1000).toFixed(1)} µs per spectrum`)
console.log(`  world columns (WCS)         ${(worldMs * 1000).toFixed(2)} µs per row`)
console.log(`  Parquet encode, all columns ${(encodeAll * 1000).toFixed(2)} µs per row (${(encodeOld * 1000).toFixed(2)} without the six world columns)`)
console.log(`  WCS from the header         ${(wcsMs * 1000).toFixed(1)} µs per chunk (${((wcsMs / perChunk) * 1000).toFixed(3)} µs per row at ${perChunk} spectra a chunk)`)
console.log(`  added per spectrum          ${(added * 1000).toFixed(2)} µs = ${((100 * added) / fitMs).toFixed(2)} % of the fit`)
