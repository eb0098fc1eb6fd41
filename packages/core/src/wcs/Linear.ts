/**
 * The linear part of a FITS WCS (Greisen & Calabretta 2002, "paper I", §2): pixel
 * coordinates p (from 1) to intermediate world coordinates x = M (p − CRPIX), with M the
 * CDi_j matrix, or CDELTi × PCi_j, or for the old AIPS convention CDELTi × the rotation
 * CROTA2 gives (paper II eq. 188). PC takes precedence over CD, and CD over CROTA, as in
 * WCSLIB; with CD, CDELT is ignored and an axis no CDi_j mentions has CDi_i = 1.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import { cosd, sind } from "./Trig.js"

/**
 * `matrix[i][j]` is ∂x_i/∂p_j (both 0-based axis indices), in the axes' header units.
 *
 * @since 0.2.0
 * @category schemas
 */
export const LinearTransform = Schema.TaggedStruct("Linear", {
  crpix: Schema.Array(Schema.Number),
  matrix: Schema.Array(Schema.Array(Schema.Number)),
  /** Which keywords gave the matrix. */
  source: Schema.Literal("PC", "CD", "CROTA", "CDELT")
})

/**
 * @since 0.2.0
 * @category models
 */
export interface LinearTransform extends Schema.Schema.Type<typeof LinearTransform> {}

/** The per-axis keywords the linear transform reads, axis indices from 0. */
export interface LinearKeywords {
  readonly n: number
  readonly crpix: ReadonlyArray<number>
  /** CDELTi, undefined where absent (read as 1, as paper I says, but callers may refuse). */
  readonly cdelt: ReadonlyArray<number | undefined>
  readonly pc: ReadonlyMap<string, number>
  readonly cd: ReadonlyMap<string, number>
  readonly crota: ReadonlyArray<number | undefined>
  /** The celestial axes, when there are (CROTA applies to them). */
  readonly lonLat: readonly [number, number] | undefined
}

/** Key of matrix element (i, j), 0-based. */
export const elementKey = (i: number, j: number): string => `${i},${j}`

/**
 * The transform, or a string when its matrix is singular (a world axis depends on no pixel
 * axis, or two on the same combination).
 *
 * @since 0.2.0
 * @category constructors
 */
export const linearTransform = (k: LinearKeywords): LinearTransform | string => {
  const n = k.n
  const cdelt = k.cdelt.map((c) => c ?? 1)
  const identity = (i: number, j: number) => (i === j ? 1 : 0)
  let source: LinearTransform["source"]
  let matrix: number[][]
  if (k.pc.size > 0 || k.cd.size === 0) {
    const rho = k.lonLat === undefined ? undefined : (k.crota[k.lonLat[1]] ?? k.crota[k.lonLat[0]])
    const useCrota = k.pc.size === 0 && rho !== undefined && rho !== 0 && k.lonLat !== undefined
    source = k.pc.size > 0 ? "PC" : useCrota ? "CROTA" : "CDELT"
    const pc = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => k.pc.get(elementKey(i, j)) ?? identity(i, j)))
    if (useCrota && k.lonLat !== undefined && rho !== undefined) {
      const [lon, lat] = k.lonLat
      pc[lon][lon] = cosd(rho)
      pc[lon][lat] = -sind(rho) * (cdelt[lat] / cdelt[lon])
      pc[lat][lon] = sind(rho) * (cdelt[lon] / cdelt[lat])
      pc[lat][lat] = cosd(rho)
    }
    matrix = pc.map((row, i) => row.map((v) => v * cdelt[i]))
  } else {
    source = "CD"
    matrix = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => k.cd.get(elementKey(i, j)) ?? 0))
    // An axis no CDi_j mentions gets CDi_i = 1 (WCSLIB's cdfix), e.g. a degenerate STOKES axis.
    for (let i = 0; i < n; i++) {
      if (matrix[i].every((v) => v === 0) && matrix.every((row) => row[i] === 0)) matrix[i][i] = 1
    }
  }
  if (matrix.some((row) => row.some((v) => !Number.isFinite(v)))) return `the ${source} matrix has a non-finite element`
  const zeroCdelt = source !== "CD" ? cdelt.findIndex((c) => c === 0) : -1
  if (zeroCdelt !== -1) return `CDELT${zeroCdelt + 1} = 0 makes the transformation singular`
  if (isSingular(matrix)) return `the ${source === "CDELT" ? "PC" : source} matrix is singular`
  return { _tag: "Linear", crpix: [...k.crpix], matrix, source }
}

/** Gaussian elimination with partial pivoting, each row scaled to unit max first. */
const isSingular = (m: ReadonlyArray<ReadonlyArray<number>>): boolean => {
  const a = m.map((row) => {
    const max = Math.max(...row.map(Math.abs))
    return row.map((v) => (max === 0 ? 0 : v / max))
  })
  const n = a.length
  for (let col = 0; col < n; col++) {
    let pivot = col
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r
    if (Math.abs(a[pivot][col]) < 1e-12) return true
    ;[a[col], a[pivot]] = [a[pivot], a[col]]
    for (let r = col + 1; r < n; r++) {
      const f = a[r][col] / a[col][col]
      for (let c = col; c < n; c++) a[r][c] -= f * a[col][c]
    }
  }
  return false
}

/**
 * Intermediate world coordinate `i` at pixel `p` (from 1, one value per axis).
 *
 * @since 0.2.0
 * @category transforms
 */
export const intermediate = (t: LinearTransform, i: number, p: ReadonlyArray<number>): number => {
  const row = t.matrix[i]
  let x = 0
  for (let j = 0; j < row.length; j++) if (row[j] !== 0) x += row[j] * ((p[j] ?? 1) - t.crpix[j])
  return x
}
