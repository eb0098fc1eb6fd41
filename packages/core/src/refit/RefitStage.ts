/**
 * The spatially coherent refit as fan-out stages (docs/fan-out-stages.md): one stage per
 * Jacobi pass, each over every chunk with a halo of radius 1 of the previous pass's rows
 * (pass 1 reads the fit's). A chunk has only its own spectra, which is all a pass needs: the
 * pixels it refits are its own, and their neighbours' rows come from the halo. So every
 * pixel's result is a function of its neighbourhood alone, whatever the chunking, and the
 * chain gives the same rows as `refitBlock` with `passes` passes over the whole map. A
 * chunk is refitted on a worker thread of the {@link RefitPool} when one is in context (the
 * local CLI provides it), else inline: the same {@link refitChunk}, the same rows.
 * `phs pipeline --refit spatial` turns it on (`pipelineFor`).
 *
 * @since 0.2.0
 */
import { Effect, Option } from "effect"
import * as Stage from "../Stage.js"
import { DEFAULT_REFIT_OPTIONS } from "./Flags.js"
import { RefitInputError } from "./RefitBlock.js"
import { RADIUS, type RefitChunk, refitChunk } from "./RefitChunk.js"
import { RefitPool } from "./RefitPool.js"

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
 * `refitBlock` does between its own passes; the last pass publishes plain flags.
 *
 * @since 0.3.0
 * @category stages
 */
export const refitPass = (pass: number, of: number = DEFAULT_REFIT_OPTIONS.passes) =>
  Stage.fanOut({
    name: refitStageName(pass),
    after: pass === 1 ? "fit" : refitStageName(pass - 1),
    halo: RADIUS,
    run: (ctx) =>
      Effect.gen(function* () {
        const chunk: RefitChunk = {
          grid: ctx.grid,
          pixels: ctx.chunk.pixels,
          rows: [...ctx.rows, ...(yield* ctx.halo(RADIUS))],
          spectra: yield* ctx.spectra(),
          params: ctx.params,
          pass,
          passes: of,
          world: yield* ctx.world()
        }
        const pool = yield* Effect.serviceOption(RefitPool)
        return yield* Option.isSome(pool) ? pool.value.refit(chunk) : refitInline(chunk)
      })
  })

/** {@link refitChunk} on this thread; its `RefitInputError` a typed failure, as from a worker. */
const refitInline = (chunk: RefitChunk) =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(refitChunk(chunk))
    } catch (e) {
      return e instanceof RefitInputError ? Effect.fail(e) : Effect.die(e)
    }
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
