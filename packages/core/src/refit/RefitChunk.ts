/**
 * One chunk of one refit pass as a plain value (numbers, arrays, a `Float32Array` of
 * spectra): what the refit stage hands to {@link refitChunk}, inline or on a worker thread
 * of the {@link RefitPool} (docs/fan-out-stages.md, "Plugging in the coherent refit").
 *
 * @since 0.3.0
 */
import type { FitParams } from "@phs/fit-native"
import type { DecompositionRow } from "../ResultSchema.js"
import type { CubeWorld } from "../wcs/WorldColumns.js"
import { DEFAULT_REFIT_OPTIONS } from "./Flags.js"
import { refitBlock, type RefitRow } from "./RefitBlock.js"

/**
 * A chunk of refit pass `pass` of `passes`: its pixels (`y · nx + x`, in chunk order, the
 * order of `spectra`), the previous pass's rows of the chunk and its halo of radius 1, and
 * the chunk's spectra (`grid.nChannels` float32 per pixel).
 *
 * @since 0.3.0
 * @category models
 */
export interface RefitChunk {
  readonly grid: { readonly nx: number; readonly ny: number; readonly nChannels: number }
  readonly pixels: ReadonlyArray<number>
  readonly rows: ReadonlyArray<DecompositionRow>
  readonly spectra: Float32Array
  readonly params: FitParams
  readonly pass: number
  readonly passes: number
  /** the cube's world: a refitted row's km/s columns are recomputed from it (without it they are null) */
  readonly world?: CubeWorld
}

/**
 * The neighbourhood a pass reads (Chebyshev radius): the halo a refit stage asks for.
 *
 * @since 0.4.0
 * @category constants
 */
export const RADIUS = 1

/** The chunk's pixels as runs along x (sorted by y, then x): `refitBlock` boxes that hold only the chunk's pixels. */
const runsOf = (pixels: ReadonlyArray<number>, nx: number): Array<{ x0: number; y: number; n: number }> => {
  const runs: Array<{ x0: number; y: number; n: number }> = []
  for (const p of [...pixels].sort((a, b) => a - b)) {
    const x = p % nx
    const y = Math.floor(p / nx)
    const last = runs.at(-1)
    if (last !== undefined && last.y === y && last.x0 + last.n === x) last.n++
    else runs.push({ x0: x, y, n: 1 })
  }
  return runs
}

/** The rows by map row (`y`), each map row's in the order given: indexed once per chunk. */
const byMapRow = (rows: ReadonlyArray<DecompositionRow>): Map<number, Array<DecompositionRow>> => {
  const out = new Map<number, Array<DecompositionRow>>()
  for (const row of rows) {
    const line = out.get(row.y)
    if (line === undefined) out.set(row.y, [row])
    else line.push(row)
  }
  return out
}

/** The rows within `R` pixels of the run: all that `refitBlock` reads for it (one pass of radius `R`). */
const rowsNear = (lines: Map<number, Array<DecompositionRow>>, run: { x0: number; y: number; n: number }, R: number) => {
  const out: Array<DecompositionRow> = []
  for (let y = run.y - R; y <= run.y + R; y++)
    for (const row of lines.get(y) ?? []) if (row.x >= run.x0 - R && row.x < run.x0 + run.n + R) out.push(row)
  return out
}

/**
 * The chunk's rows after the pass, one per pixel of the chunk. A pass before the last marks
 * the rows it changed (`markChanged`), and a pass after the first revisits only the pixels
 * next to a marked row (`revisit: "changed"`). Each pixel's row is a function of its
 * neighbourhood's rows and its own spectrum alone, so the chunk is refitted run by run of
 * its pixels along x: a box over the whole chunk (a row-major chunk's spans whole rows of
 * the map) would also refit the halo pixels inside it, and throw their rows away. The rows
 * are indexed by map row once; each run is given only the rows within the radius of it, so
 * `refitBlock` indexes those alone (the same rows it would read of them all).
 * Throws `RefitInputError` as {@link refitBlock} does.
 *
 * @since 0.3.0
 * @category refit
 */
export const refitChunk = (chunk: RefitChunk): Array<RefitRow> => {
  const { nx, ny, nChannels } = chunk.grid
  const at = new Map(chunk.pixels.map((p, i) => [p, i]))
  const spectrum = (x: number, y: number) => {
    const i = at.get(y * nx + x)
    return i === undefined ? undefined : chunk.spectra.subarray(i * nChannels, (i + 1) * nChannels)
  }
  const options = { ...DEFAULT_REFIT_OPTIONS, passes: 1, radius: RADIUS, stack: false }
  const lines = byMapRow(chunk.rows)
  const out: Array<RefitRow> = []
  for (const run of runsOf(chunk.pixels, nx)) {
    const { rows } = refitBlock({
      map: { nx, ny },
      block: { x0: run.x0, y0: run.y, nx: run.n, ny: 1 },
      rows: rowsNear(lines, run, RADIUS),
      params: chunk.params,
      options,
      revisit: chunk.pass === 1 ? "all" : "changed",
      markChanged: chunk.pass < chunk.passes,
      ...(chunk.world !== undefined ? { world: chunk.world } : {}),
      spectrum
    })
    out.push(...rows)
  }
  return out
}
