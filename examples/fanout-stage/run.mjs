// Runs the standard pipeline plus the despike fan-out stage on the bundled sample, in
// ./.phs-example-fanout. Build first (npm run build); this imports the compiled example.
import { Fitter } from "@phs/core"
import { DriverLock, LocalRun, RuntimeLocal } from "@phs/runtime-local"
import { Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { pipeline } from "./dist/despike.js"

const sample = fileURLToPath(new URL("../grs-5x5.fits", import.meta.url))
const workdir = ".phs-example-fanout"
const layer = Layer.mergeAll(RuntimeLocal.layer({ workdir }), DriverLock.layer({ workdir }), Fitter.layerNative())
const run = await Effect.runPromise(LocalRun.run(pipeline, { cube: sample, survey: "grs", chunkSize: 8 }).pipe(Effect.provide(layer)))
console.log(`run ${run.runId}: ${run.status}; the published table holds the despiked rows`)
