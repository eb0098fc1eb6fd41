#!/usr/bin/env node
// What it costs the main thread to hand one refit chunk to a worker thread and take its rows
// back (docs/architecture.md, "Refit worker threads"): structured clone of the row objects
// against RowBatch columns (fromRows, the copy a transfer makes none of, toRows), for a chunk of a
// GRS-tile-sized field (500 pixels in rows of 424: ~850 halo rows) with 1–3 components each.
// Then the halo reads of one pass over such a field (424 × 274 pixels in chunks of 500): every
// chunk's halo of radius 1 read from the chunk files, with and without decoded files kept.
//   npm run bench:refit-transfer [-- --rows 1350 --back 500 --reps 200]
import { BlobStore, Pipeline, ResultParquet, RowBatch } from "@phs/core"
import { Effect, Layer } from "effect"
import * as v8 from "node:v8"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const sent = arg("rows", 1350)
const back = arg("back", 500)
const reps = arg("reps", 200)

let seed = 1
const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647)
const list = (k) => Array.from({ length: k }, () => rand() * 100)
const row = (i) => {
  const k = 1 + Math.floor(rand() * 3)
  return {
    x: i % 424, y: Math.floor(i / 424), beta: 3.5, rms: 0.25 * rand(), min_persistence: rand(), n_components: k,
    component_amplitudes: list(k), component_means: list(k), component_stddevs: list(k), nan_channels: 0,
    residual_rms: rand(), chi2_reduced: 1 + rand(), aicc: -100 * rand(),
    component_amplitude_errors: list(k), component_mean_errors: list(k), component_stddev_errors: list(k),
    run_id: "f116-0123456789abcdef", cube: "cubes/f116-0123456789abcdef.fits", lon: 23 + rand(), lat: rand(),
    component_velocities: list(k), component_velocity_dispersions: list(k), component_integrated_intensities: list(k),
    refit: rand() < 0.2 ? "count" : null
  }
}
const out = Array.from({ length: sent }, (_, i) => row(i))
const reply = out.slice(0, back)

/** CPU ms (user + system: steady on a shared machine) per call of `f`, the best of 3 rounds of `reps` calls. */
const time = (f) => {
  let best = Infinity
  for (let round = 0; round < 3; round++) {
    const t = process.cpuUsage()
    for (let i = 0; i < reps; i++) f()
    const d = process.cpuUsage(t)
    best = Math.min(best, (d.user + d.system) / 1000 / reps)
  }
  return best
}
const cloneOut = v8.serialize(out)
const cloneBack = v8.serialize(reply)
const packedOut = RowBatch.fromRows(out)
const packedBack = RowBatch.fromRows(reply)
const bytes = (p) => RowBatch.buffersOf(p).reduce((n, b) => n + b.byteLength, 0)
// the string columns are not in typed arrays: the message clones them
const strings = (p) => p.columns.filter((c) => c.kind === "string").map((c) => c.values)
const stringsOut = v8.serialize(strings(packedOut))
const stringsBack = v8.serialize(strings(packedBack))

// main thread per chunk: clone = serialize what is sent + deserialize the reply; columns = fromRows + toRows
const clone = { send: time(() => v8.serialize(out)), receive: time(() => v8.deserialize(cloneBack)) }
const packed = {
  send: time(() => v8.serialize(strings(RowBatch.fromRows(out)))),
  receive: time(() => v8.deserialize(stringsBack) && RowBatch.toRows(packedBack))
}
// the worker's side, the mirror image
const cloneWorker = time(() => v8.deserialize(cloneOut)) + time(() => v8.serialize(reply))
const packedWorker = time(() => v8.deserialize(stringsOut) && RowBatch.toRows(packedOut)) + time(() => v8.serialize(strings(RowBatch.fromRows(reply))))
const f = (ms) => ms.toFixed(2).padStart(6)
console.log(`refit chunk transfer: ${sent} rows sent, ${back} back (CPU ms per chunk, best of 3 × ${reps})`)
console.log(`                 main: send  receive  total | worker: total | bytes sent`)
console.log(`structured clone      ${f(clone.send)}  ${f(clone.receive)}  ${f(clone.send + clone.receive)} |         ${f(cloneWorker)} | ${cloneOut.length}`)
console.log(`RowBatch              ${f(packed.send)}  ${f(packed.receive)}  ${f(packed.send + packed.receive)} |         ${f(packedWorker)} | ${bytes(packedOut)} transferred + ${stringsOut.length} cloned`)
console.log(`per pass of a 116k-spectrum field (233 chunks), main thread + worker: clone ${((clone.send + clone.receive + cloneWorker) * 233 / 1000).toFixed(2)} s CPU, packed ${((packed.send + packed.receive + packedWorker) * 233 / 1000).toFixed(2)} s CPU`)

// one pass's halo reads: 233 chunk files in a memory store
const NX = 424
const NY = 274
const field = Array.from({ length: NX * NY }, (_, i) => row(i))
const store = BlobStore.makeMemory()
const runId = "f116-0123456789abcdef"
const starts = Array.from({ length: Math.ceil(field.length / 500) }, (_, i) => i * 500)
await Effect.runPromise(
  Effect.forEach(starts, (start) => store.put(Pipeline.resultKeyOf(runId, "fit", start), ResultParquet.encodeRows(field.slice(start, start + 500))))
)
const pass = (files) =>
  Effect.forEach(starts, (start) =>
    Pipeline.haloRows({ runId, start, count: Math.min(500, field.length - start), nx: NX, ny: NY, chunkSize: 500, after: "fit" }, 1)
  ).pipe(Effect.provide(Layer.merge(Layer.succeed(BlobStore.BlobStore, store), files)))
const passCpu = async (files) => {
  let best = Infinity
  for (let round = 0; round < 3; round++) {
    const t = process.cpuUsage()
    await Effect.runPromise(pass(files))
    const d = process.cpuUsage(t)
    best = Math.min(best, (d.user + d.system) / 1e6)
  }
  return best
}
// as the halo was read before files were decoded into columns: each neighbouring file into row objects, per read
const objects = async () => {
  const t = process.cpuUsage()
  for (const start of starts) {
    const end = Math.min(field.length, start + 500)
    const near = new Set()
    for (let p = Math.max(0, start - NX - 1); p < Math.min(field.length, end + NX + 1); p++) if (p < start || p >= end) near.add(Math.floor(p / 500) * 500)
    for (const s of near) await Effect.runPromise(Effect.flatMap(store.get(Pipeline.resultKeyOf(runId, "fit", s)), ResultParquet.decodeRows))
  }
  const d = process.cpuUsage(t)
  return (d.user + d.system) / 1e6
}
const asObjects = await objects()
const plain = await passCpu(Layer.empty)
const kept = await passCpu(Pipeline.layerDecodedFiles)
console.log(`halo reads of one pass (${starts.length} chunks of ${NX} × ${NY}), CPU s: each file decoded into row objects per read ${asObjects.toFixed(2)}; into columns per read ${plain.toFixed(2)}, decoded files kept ${kept.toFixed(2)} (best of 3)`)
