/**
 * The cube worlds (`WorldColumns.cubeWorld`) a process has read, kept so that a run's
 * cube header is read once, not once per chunk. A service with a default (one memo per
 * process, of `CAPACITY` runs); `layer` provides a memo of its own (a test's, a smaller one).
 *
 * @since 0.4.0
 */
import { Context, Effect, Layer } from "effect"
import type { RunRecord } from "../RunTable.js"
import type { CubeWorld } from "./WorldColumns.js"

/**
 * How many runs' worlds a memo keeps; the least recently used one goes first.
 *
 * @since 0.4.0
 * @category constants
 */
export const CAPACITY = 64

/**
 * @since 0.4.0
 * @category models
 */
export interface Memo {
  /**
   * The world kept for this run and cube, else what `load` gives, then kept (a failure is
   * not). Two fibers that miss at once both load; either result is the same world.
   */
  readonly get: <E, R>(run: RunRecord, load: Effect.Effect<CubeWorld, E, R>) => Effect.Effect<CubeWorld, E, R>
  /** Runs kept now. */
  readonly size: () => number
}

/**
 * What a world is kept under: the run and everything that identifies its cube (key, HDU,
 * the object's identity and size when recorded, and the run's creation), so a run removed
 * and made again over a replaced cube, or another run of the same key, never gets this one.
 */
const keyOf = (run: RunRecord): string =>
  JSON.stringify([run.runId, run.createdAt, run.cubeKey, run.hdu ?? null, run.cubeEtag ?? null, run.cubeSize ?? null])

/**
 * @since 0.4.0
 * @category constructors
 */
export const makeMemo = (capacity: number = CAPACITY): Memo => {
  if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`a cube world memo keeps at least 1 run, not ${capacity}`)
  // A Map iterates in insertion order: re-inserting on a hit keeps the oldest first.
  const kept = new Map<string, CubeWorld>()
  return {
    get: (run, load) =>
      Effect.suspend(() => {
        const key = keyOf(run)
        const hit = kept.get(key)
        if (hit !== undefined) {
          kept.delete(key)
          kept.set(key, hit)
          return Effect.succeed(hit)
        }
        return Effect.tap(load, (world) =>
          Effect.sync(() => {
            kept.delete(key)
            kept.set(key, world)
            for (const oldest of kept.keys()) {
              if (kept.size <= capacity) break
              kept.delete(oldest)
            }
          })
        )
      }),
    size: () => kept.size
  }
}

/**
 * @since 0.4.0
 * @category tags
 */
export class CubeWorlds extends Context.Reference<CubeWorlds>()("@phs/core/CubeWorlds", { defaultValue: () => makeMemo() }) {}

/**
 * A memo of its own for what this layer provides.
 *
 * @since 0.4.0
 * @category layers
 */
export const layer = (capacity: number = CAPACITY): Layer.Layer<CubeWorlds> => Layer.sync(CubeWorlds, () => makeMemo(capacity))
