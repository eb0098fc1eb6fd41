/**
 * The common pixel grid of a survey's tiles, derived from their WCS (docs/results.md,
 * "Mosaics"). Tiles are placed exactly, by their CRPIX offsets, when they share projection,
 * frame, CRVAL, pixel scale and rotation and the offsets are whole pixels (within
 * `INTEGER_TOLERANCE`); anything else is refused with a `MosaicMismatch` naming the cubes
 * that differ — phs never resamples a map.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import type { Cards } from "../wcs/Header.js"
import type { LinearTransform } from "../wcs/Linear.js"
import * as Wcs from "../wcs/Wcs.js"

/**
 * How far from a whole pixel a CRPIX offset may be and still count as one.
 *
 * @since 0.2.0
 * @category constants
 */
export const INTEGER_TOLERANCE = 1e-6

/** Relative tolerance for CRVAL, pixel scale and rotation to count as equal. */
const SAME = 1e-9

/**
 * Tiles that cannot go on one grid: `cubes` differ from `reference` in `what` (one line).
 *
 * @since 0.2.0
 * @category errors
 */
export class MosaicMismatch extends Schema.TaggedError<MosaicMismatch>()("MosaicMismatch", {
  reference: Schema.String,
  cubes: Schema.Array(Schema.String),
  what: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return `cannot mosaic: ${this.cubes.join(", ")} ${this.cubes.length === 1 ? "differs" : "differ"} from ${this.reference} in ${this.what}`
  }
}

/**
 * One tile: its cube key, spatial size and header cards.
 *
 * @since 0.2.0
 * @category models
 */
export interface Tile {
  /** The cube's key (the result table's `cube`): the sort key. */
  readonly cube: string
  /** How messages name the tile (e.g. its run id); the cube key when absent. */
  readonly name?: string
  readonly nx: number
  readonly ny: number
  readonly cards: Cards
}

/**
 * A tile on the grid: its pixel (x, y) (0-based) is the grid's (x + dx, y + dy).
 *
 * @since 0.2.0
 * @category models
 */
export interface Placement {
  readonly cube: string
  readonly dx: number
  readonly dy: number
  readonly nx: number
  readonly ny: number
}

/**
 * The grid: its size, the tiles in cube order (the overlap order) and the header cards of
 * its WCS (the reference tile's, with CRPIX1/2 shifted and NAXIS1/2 the grid's size).
 *
 * @since 0.2.0
 * @category models
 */
export interface Grid {
  readonly nx: number
  readonly ny: number
  readonly reference: string
  readonly tiles: ReadonlyArray<Placement>
  readonly cards: Cards
}

const close = (a: number, b: number) => Math.abs(a - b) <= SAME * Math.max(1, Math.abs(a), Math.abs(b))

interface Placed {
  readonly tile: Tile
  readonly linear: LinearTransform
  readonly celestial: Wcs.Celestial
}

/**
 * The grid of `tiles` (any order; sorted by cube key here, and the first is the reference),
 * or the first reason they do not share one.
 *
 * @since 0.2.0
 * @category constructors
 */
export const grid = (tiles: ReadonlyArray<Tile>): Grid | MosaicMismatch => {
  if (tiles.length === 0) return new MosaicMismatch({ reference: "(none)", cubes: [], what: "number: there are no tiles" })
  const sorted = [...tiles].sort((a, b) => (a.cube < b.cube ? -1 : a.cube > b.cube ? 1 : 0))
  const nameOf = (t: Tile) => t.name ?? t.cube
  const ref = nameOf(sorted[0])
  const placed: Placed[] = []
  const noWcs: string[] = []
  for (const tile of sorted) {
    const w = Wcs.fromCards(tile.cards)
    if (w.linear._tag === "Unavailable" || w.celestial._tag === "Unavailable") noWcs.push(nameOf(tile))
    else placed.push({ tile, linear: w.linear, celestial: w.celestial })
  }
  if (noWcs.length > 0) return new MosaicMismatch({ reference: ref, cubes: noWcs, what: "having no usable celestial WCS (see phs status)" })
  const r = placed[0]
  const differing = (what: string, same: (p: Placed) => boolean): MosaicMismatch | undefined => {
    const cubes = placed.filter((p) => !same(p)).map((p) => nameOf(p.tile))
    return cubes.length === 0 ? undefined : new MosaicMismatch({ reference: ref, cubes, what })
  }
  const frameOf = (c: Wcs.Celestial) => `${c.frame.system}${c.frame.equinox === null ? "" : ` ${c.frame.equinox}`}`
  const block = (p: Placed) => {
    const [i, j] = [p.celestial.lonAxis, p.celestial.latAxis]
    const m = p.linear.matrix
    return [m[i][i] * p.celestial.scale[0], m[i][j] * p.celestial.scale[0], m[j][i] * p.celestial.scale[1], m[j][j] * p.celestial.scale[1]]
  }
  const refBlock = block(r)
  const offset = (p: Placed, axis: 0 | 1) => r.linear.crpix[axis] - p.linear.crpix[axis]
  const mismatch =
    differing(`projection or frame (${r.celestial.projection}, ${frameOf(r.celestial)})`, (p) => p.celestial.projection === r.celestial.projection && frameOf(p.celestial) === frameOf(r.celestial)) ??
    differing(`reference point CRVAL (${r.celestial.crval.join(", ")}); phs does not resample tiles`, (p) => p.celestial.crval.every((v, k) => close(v, r.celestial.crval[k])) && close(p.celestial.fiducial.theta0, r.celestial.fiducial.theta0) && close(p.celestial.fiducial.phi0, r.celestial.fiducial.phi0)) ??
    differing("pixel scale or rotation (CDELT/PC/CD/CROTA); phs does not resample tiles", (p) => block(p).every((v, k) => close(v, refBlock[k]))) ??
    differing(`whole-pixel CRPIX offsets (within ${INTEGER_TOLERANCE} px); phs does not resample tiles`, (p) => [0, 1].every((a) => Math.abs(offset(p, a as 0 | 1) - Math.round(offset(p, a as 0 | 1))) <= INTEGER_TOLERANCE))
  if (mismatch !== undefined) return mismatch
  const raw = placed.map((p) => ({ cube: p.tile.cube, dx: Math.round(offset(p, 0)), dy: Math.round(offset(p, 1)), nx: p.tile.nx, ny: p.tile.ny }))
  const minX = Math.min(...raw.map((t) => t.dx))
  const minY = Math.min(...raw.map((t) => t.dy))
  const placements = raw.map((t) => ({ ...t, dx: t.dx - minX, dy: t.dy - minY }))
  const nx = Math.max(...placements.map((t) => t.dx + t.nx))
  const ny = Math.max(...placements.map((t) => t.dy + t.ny))
  const cards: Record<string, string | number | boolean> = { ...r.tile.cards, NAXIS1: nx, NAXIS2: ny }
  cards.CRPIX1 = r.linear.crpix[0] - minX
  cards.CRPIX2 = r.linear.crpix[1] - minY
  return { nx, ny, reference: ref, tiles: placements, cards }
}

/**
 * The grid's owner of each pixel: the index in `grid.tiles` of the first tile (in cube
 * order) whose footprint covers it, −1 where none does. Overlaps go to the earlier tile for
 * every quantity alike, so the maps of one mosaic agree pixel by pixel.
 *
 * @since 0.2.0
 * @category getters
 */
export const owners = (g: Grid): Int32Array => {
  const out = new Int32Array(g.nx * g.ny).fill(-1)
  g.tiles.forEach((t, k) => {
    for (let y = 0; y < t.ny; y++) {
      for (let x = 0; x < t.nx; x++) {
        const at = (y + t.dy) * g.nx + x + t.dx
        if (out[at] === -1) out[at] = k
      }
    }
  })
  return out
}
