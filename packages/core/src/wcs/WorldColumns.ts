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
 * The world of a run's cube: its key and the WCS of its header.
 *
 * @since 0.2.0
 * @category constructors
 */
export const cubeWorld = (runId: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable
    const run = yield* table.getRun(runId)
    if (Option.isNone(run)) return yield* Effect.fail(new RunNotFound({ runId }))
    const header = yield* readCubeHeader(run.value.cubeKey, run.value.hdu)
    return { cube: run.value.cubeKey, wcs: fromCards(header.cards) } satisfies CubeWorld
  }).pipe(Effect.withSpan("cube-world")) satisfies Effect.Effect<CubeWorld, unknown, BlobStore | RunTable>

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

const SQRT_2PI = Math.sqrt(2 * Math.PI)

/**
 * The world columns of the spectrum at pixel (x, y) (from 0) with these components (mean
 * and σ in channels from 0). (lon, lat) are taken at the spectral axis's reference pixel,
 * a component's velocity at its centre channel, σ_v = σ · |dv/dchannel| there.
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
  const { linear, celestial, spectral } = world.wcs
  const pixel = Array.from({ length: world.wcs.naxis }, () => 1)
  pixel[0] = x + 1
  pixel[1] = y + 1
  let lon: number | null = null
  let lat: number | null = null
  if (linear._tag === "Linear" && celestial._tag === "Celestial") {
    if (spectral._tag === "Spectral") pixel[spectral.axis] = linear.crpix[spectral.axis]
    const sky = celestialAt(linear, celestial, pixel)
    if (sky !== undefined) ({ lon, lat } = sky)
  }
  if (linear._tag !== "Linear" || spectral._tag !== "Spectral") {
    return { cube: world.cube, lon, lat, component_velocities: null, component_velocity_dispersions: null, component_integrated_intensities: null }
  }
  const velocities: number[] = []
  const dispersions: number[] = []
  const intensities: number[] = []
  for (const c of components) {
    pixel[spectral.axis] = c.mean + 1
    const { v, dvdp } = velocityAt(linear, spectral, pixel)
    const sigma = c.stddev * Math.abs(dvdp)
    velocities.push(v)
    dispersions.push(sigma)
    intensities.push(c.amplitude * sigma * SQRT_2PI)
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
