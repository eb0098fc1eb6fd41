/**
 * Stitching tiles' rows into one map per quantity on their common grid.
 *
 * @since 0.2.0
 */
import type { DecompositionRow } from "../ResultSchema.js"
import { type Grid, owners } from "./Grid.js"

/**
 * The map of a per-row value (e.g. `Quantities.valueOf` of a quantity; null for none): `[y][x]` row-major on the grid (index y·nx + x), NaN where no tile
 * covers the pixel or its owner (see `Grid.owners`) has no value there. `rows` holds each
 * tile's rows by cube key, with the tile's own (x, y).
 *
 * @since 0.2.0
 * @category constructors
 */
export const stitch = (
  g: Grid,
  rows: ReadonlyMap<string, ReadonlyArray<DecompositionRow>>,
  value: (row: DecompositionRow) => number | null
): Float64Array => {
  const owner = owners(g)
  const out = new Float64Array(g.nx * g.ny).fill(Number.NaN)
  g.tiles.forEach((t, k) => {
    for (const row of rows.get(t.cube) ?? []) {
      if (row.x < 0 || row.y < 0 || row.x >= t.nx || row.y >= t.ny) continue
      const at = (row.y + t.dy) * g.nx + row.x + t.dx
      if (owner[at] !== k) continue
      const v = value(row)
      out[at] = v === null ? Number.NaN : v
    }
  })
  return out
}
