/**
 * The spatially coherent refit as fan-out stages (docs/fan-out-stages.md): one stage per
 * Jacobi pass, each over every chunk with a halo of radius 1 of the previous pass's rows
 * (pass 1 reads the fit's). A chunk has only its own spectra, which is all a pass needs: the
 * pixels it refits are its own, and their neighbours' rows come from the halo. So every
 * pixel's result is a function of its neighbourhood alone, whatever the chunking, and the
 * chain gives the same rows as {@link refitBlock} with `passes` passes over the whole map.
 * `phs pipeline --refit spatial` turns it on (`pipelineFor`).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as Stage from "../Stage.js"
import { DEFAULT_REFIT_OPTIONS } from "./Flags.js"
import { refitBlock } from "./RefitBlock.js"

/**
 * The stage name of refit pass `pass` (1-based): `refit`, `refit-2`, …
 *
 * @since 0.3.0
 * @category utils
 */
export const refitStageName = (pass: number): string => (pass === 1 ? "refit" : `refit-${pass}`)

/**
 * Refit pass `pass` of `of` as a fan-out stage, after the fit (pass 1) or the previous pass.
 * A pass before the last marks the rows it changed (`markChanged`), and a pass after the
 * first revisits only the pixels next to a marked row (`revisit: "changed"`), as
 * {@link refitBlock} does between its own passes; the last pass publishes plain flags.
 *
 * @since 0.3.0
 * @category stages
 */
export const refitPass = (pass: number, of: number = DEFAULT_REFIT_OPTIONS.passes) =>
  Stage.fanOut({
    name: refitStageName(pass),
    after: pass === 1 ? "fit" : refitStageName(pass - 1),
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
          options: { ...DEFAULT_REFIT_OPTIONS, passes: 1, radius: 1, stack: false },
          revisit: pass === 1 ? "all" : "changed",
          markChanged: pass < of,
          spectrum: (x, y) => {
            const i = at.get(y * nx + x)
            return i === undefined ? undefined : spectra.subarray(i * nChannels, (i + 1) * nChannels)
          }
        })
        const mine = new Set(ctx.chunk.pixels)
        return out.rows.filter((r) => mine.has(r.y * nx + r.x))
      })
  })

/**
 * The refit's passes as fan-out stages, in order (`DEFAULT_REFIT_OPTIONS.passes` of them).
 *
 * @since 0.3.0
 * @category stages
 */
export const refitStages = Array.from({ length: DEFAULT_REFIT_OPTIONS.passes }, (_, i) => refitPass(i + 1))

/**
 * The first pass alone (one refit stage).
 *
 * @since 0.2.0
 * @category stages
 */
export const refitStage = refitStages[0]
