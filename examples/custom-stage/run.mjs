// Runs the standard pipeline plus the custom stage on the bundled sample, in ./.phs-example.
// Build first (npm run build); this imports the compiled example from examples/custom-stage/dist.
import { Fitter } from "@phs/core"
import { DriverLock, LocalRun, RuntimeLocal } from "@phs/runtime-local"
import { Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { pipeline } from "./dist/velocityHistogram.js"

const sample = fileURLToPath(new URL("../grs-5x5.fits", import.meta.url))
const layer = Layer.mergeAll(RuntimeLocal.layer({ workdir: ".phs-example" }), DriverLock.layer({ workdir: ".phs-example" }), Fitter.layerNative())
const run = await Effect.runPromise(LocalRun.run(pipeline, { cube: sample, survey: "grs" }).pipe(Effect.provide(layer)))
console.log(`run ${run.runId}: ${run.status}; histogram in .phs-example/blobs/runs/${run.runId}/velocity_histogram.json`)
