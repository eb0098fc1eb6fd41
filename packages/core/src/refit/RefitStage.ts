/**
 * The spatially coherent refit as a fan-out stage (docs/fan-out-stages.md): one pass over
 * each chunk with a halo of radius 1 of the fit's rows. A chunk has only its own spectra, so
 * the stage runs without the stacked-spectrum guess; every pixel's result is still a function
 * of its neighbourhood alone, whatever the chunking. `phs pipeline --refit spatial` turns it on
 * (`pipelineFor`).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as Stage from "../Stage.js"
import { refitBlock } from "./RefitBlock.js"

/**
 * @since 0.2.0
 * @category stages
 */
export const refitStage = Stage.fanOut({
  name: "refit",
  after: "fit",
  halo: 1,
  run: (ctx) =>
    Effect.gen(function* () {
      const spectra = yield* ctx.spectra()
      const around = yield* ctx.halo(1)
      const { nx, ny, nChannels } = ctx.grid
      const at = new Map(ctx.chunk.pixels.map((p, i) => [p, i]))
      const { x0, y0, x1, y1 } = ctx.chunk.box
      const out = refitBlock({
        map: { nx, ny },
        block: { x0, y0, nx: x1 - x0 + 1, ny: y1 - y0 + 1 },
        rows: [...ctx.rows, ...around],
        params: ctx.params,
        options: { passes: 1, radius: 1, stack: false },
        spectrum: (x, y) => {
          const i = at.get(y * nx + x)
          return i === undefined ? undefined : spectra.subarray(i * nChannels, (i + 1) * nChannels)
        }
      })
      const mine = new Set(ctx.chunk.pixels)
      return out.rows.filter((r) => mine.has(r.y * nx + r.x))
    })
})
