/**
 * The world columns of a result row: the cube, the pixel centre's (lon, lat) and, per
 * component, velocity, velocity dispersion and integrated intensity in km/s, from the
 * cube's WCS (docs/wcs.md). Null where the WCS cannot give them.
 *
 * @since 0.2.0
 */
import { Effect, Option, Schema } from "effect"
import { BlobStore } from "../BlobStore.js"
import { RunNotFound } from "../Errors.js"
import type { DecompositionRow } from "../ResultSchema.js"
import { RunTable } from "../RunTable.js"
import { readCubeHeader } from "../stages/Split.js"
import { CubeWorlds } from "./CubeWorlds.js"
import { CubeWcs, celestialAt, fromCards, summary, velocityAt, type WcsSummary } from "./Wcs.js"

/**
 * What a stage needs to add world columns to a cube's rows.
 *
 * @since 0.2.0
 * @category schemas
 */
export const CubeWorld = Schema.Struct({ cube: Schema.String, wcs: CubeWcs })

/**
 * @since 0.2.0
 * @category models
 */
export interface CubeWorld extends Schema.Schema.Type<typeof CubeWorld> {}

/**
 * The world of a run's cube: its key and the WCS of its header. The header is read once per
 * run and cube (`CubeWorlds`), not once per chunk.
 *
 * @since 0.2.0
 * @category constructors
 */
export const cubeWorld = (runId: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable
    const run = yield* table.getRun(runId)
    if (Option.isNone(run)) return yield* Effect.fail(new RunNotFound({ runId }))
    const { cubeKey, hdu } = run.value
    const memo = yield* CubeWorlds
    return yield* memo.get(
      run.value,
      Effect.map(readCubeHeader(cubeKey, hdu), (header): CubeWorld => ({ cube: cubeKey, wcs: fromCards(header.cards) })).pipe(Effect.withSpan("cube-world"))
    )
  }) satisfies Effect.Effect<CubeWorld, unknown, BlobStore | RunTable>

/**
 * What `_stage_config.json` records of a cube's WCS (`wcs`): frame, projection, velocity
 * axis, and why world columns are null, if they are.
 *
 * @since 0.2.0
 * @category constructors
 */
export const cubeWcsSummary = (cubeKey: string, hdu?: number) =>
  Effect.map(readCubeHeader(cubeKey, hdu), (header): WcsSummary => summary(fromCards(header.cards)))

/**
 * @since 0.2.0
 * @category models
 */
export type WorldColumns = Pick<
  DecompositionRow,
  "cube" | "lon" | "lat" | "component_velocities" | "component_velocity_dispersions" | "component_integrated_intensities"
>

/**
 * The world coordinates of one cube's pixels, one pixel at a time and without a row object:
 * the column writers (`worldColumns`, the fit's chunk batch) share it, so they give the same
 * values bit for bit. `moveTo` must come before `component`.
 *
 * @since 0.4.0
 * @category models
 */
export interface WorldPoint {
  /** Whether the cube has a usable spectral WCS (else the km/s lists are null). */
  readonly hasVelocity: boolean
  /** Moves to pixel (x, y) (from 0) and returns its (lon, lat), undefined without a usable celestial WCS. */
  readonly moveTo: (x: number, y: number) => { readonly lon: number; readonly lat: number } | undefined
  /**
   * Writes the velocity, velocity dispersion and integrated intensity of a component (mean
   * and σ in channels from 0) at the current pixel into `out[0..2]`. Only when `hasVelocity`.
   */
  readonly component: (amplitude: number, mean: number, stddev: number, out: Float64Array) => void
}

const SQRT_2PI = Math.sqrt(2 * Math.PI)

/**
 * (lon, lat) are taken at the spectral axis's reference pixel, a component's velocity at
 * its centre channel, σ_v = σ · |dv/dchannel| there.
 *
 * @since 0.4.0
 * @category constructors
 */
export const worldPoint = (world: CubeWorld): WorldPoint => {
  const { linear, celestial, spectral } = world.wcs
  const pixel: Array<number> = Array.from({ length: world.wcs.naxis }, () => 1)
  return {
    hasVelocity: linear._tag === "Linear" && spectral._tag === "Spectral",
    moveTo: (x, y) => {
      pixel.fill(1)
      pixel[0] = x + 1
      pixel[1] = y + 1
      if (linear._tag !== "Linear" || celestial._tag !== "Celestial") return undefined
      if (spectral._tag === "Spectral") pixel[spectral.axis] = linear.crpix[spectral.axis]
      return celestialAt(linear, celestial, pixel)
    },
    component: (amplitude, mean, stddev, out) => {
      if (linear._tag !== "Linear" || spectral._tag !== "Spectral") throw new Error("no spectral WCS: the cube has no velocity columns")
      pixel[spectral.axis] = mean + 1
      const { v, dvdp } = velocityAt(linear, spectral, pixel)
      const sigma = stddev * Math.abs(dvdp)
      out[0] = v
      out[1] = sigma
      out[2] = amplitude * sigma * SQRT_2PI
    }
  }
}

/**
 * The world columns of the spectrum at pixel (x, y) (from 0) with these components (mean
 * and σ in channels from 0), as `worldPoint` gives them.
 *
 * @since 0.2.0
 * @category constructors
 */
export const worldColumns = (
  world: CubeWorld,
  x: number,
  y: number,
  components: ReadonlyArray<{ readonly amplitude: number; readonly mean: number; readonly stddev: number }>
): WorldColumns => {
  const point = worldPoint(world)
  const sky = point.moveTo(x, y)
  const lon = sky === undefined ? null : sky.lon
  const lat = sky === undefined ? null : sky.lat
  if (!point.hasVelocity) {
    return { cube: world.cube, lon, lat, component_velocities: null, component_velocity_dispersions: null, component_integrated_intensities: null }
  }
  const out = new Float64Array(3)
  const velocities: number[] = []
  const dispersions: number[] = []
  const intensities: number[] = []
  for (const c of components) {
    point.component(c.amplitude, c.mean, c.stddev, out)
    velocities.push(out[0])
    dispersions.push(out[1])
    intensities.push(out[2])
  }
  return {
    cube: world.cube,
    lon,
    lat,
    component_velocities: velocities,
    component_velocity_dispersions: dispersions,
    component_integrated_intensities: intensities
  }
}
