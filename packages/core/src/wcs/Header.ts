/**
 * The WCS keywords of a primary header (paper I §2–3, paper II §2, paper III §4), read from
 * its `KEYWORD = value` cards into a typed description. Reading never fails: a keyword of
 * the wrong type is reported in `problems` and read as absent.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"

const Value = Schema.Union(Schema.String, Schema.Number, Schema.Boolean)

/**
 * The header cards as `Fits.CubeHeader.cards` holds them.
 *
 * @since 0.2.0
 * @category models
 */
export type Cards = Readonly<Record<string, typeof Value.Type>>

/**
 * One axis's keywords; axis indices in the maps are 0-based.
 *
 * @since 0.2.0
 * @category schemas
 */
export const AxisKeywords = Schema.Struct({
  ctype: Schema.String,
  cunit: Schema.optional(Schema.String),
  crval: Schema.Number,
  crpix: Schema.Number,
  cdelt: Schema.optional(Schema.Number),
  crota: Schema.optional(Schema.Number)
})

/**
 * @since 0.2.0
 * @category models
 */
export interface AxisKeywords extends Schema.Schema.Type<typeof AxisKeywords> {}

const Element = Schema.Struct({ i: Schema.Int, j: Schema.Int, value: Schema.Number })

/**
 * @since 0.2.0
 * @category schemas
 */
export const WcsKeywords = Schema.Struct({
  /** The number of WCS axes the header declares (NAXIS, WCSAXES, the highest PCi_j). */
  declaredAxes: Schema.Number,
  /** The keywords of the first `MAX_AXES` of them. */
  axes: Schema.Array(AxisKeywords),
  /** PCi_j and CDi_j elements present (i, j from 0). */
  pc: Schema.Array(Element),
  cd: Schema.Array(Element),
  /** PVi_m present (i from 0). */
  pv: Schema.Array(Schema.Struct({ i: Schema.Int, m: Schema.Int, value: Schema.Number })),
  lonpole: Schema.optional(Schema.Number),
  latpole: Schema.optional(Schema.Number),
  radesys: Schema.optional(Schema.String),
  equinox: Schema.optional(Schema.Number),
  restfrq: Schema.optional(Schema.Number),
  specsys: Schema.optional(Schema.String),
  velref: Schema.optional(Schema.Number),
  problems: Schema.Array(Schema.String)
})

/**
 * @since 0.2.0
 * @category models
 */
export interface WcsKeywords extends Schema.Schema.Type<typeof WcsKeywords> {}

/**
 * Axes beyond this are not read (the FITS limit is 999; a cube has 3 or 4).
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_AXES = 16

const MATRIX = /^(PC|CD)(\d{1,3})_(\d{1,3})$/
const PV = /^PV(\d{1,3})_(\d{1,2})$/

/**
 * Reads the WCS keywords of the primary (unlettered) description.
 *
 * @since 0.2.0
 * @category constructors
 */
export const readKeywords = (cards: Cards): WcsKeywords => {
  const problems: string[] = []
  const num = (key: string): number | undefined => {
    const v = cards[key]
    if (v === undefined) return undefined
    if (typeof v === "number" && Number.isFinite(v)) return v
    problems.push(`${key} = ${String(v)} is not a number`)
    return undefined
  }
  const str = (key: string): string | undefined => {
    const v = cards[key]
    if (v === undefined) return undefined
    if (typeof v === "string") return v.trim()
    problems.push(`${key} = ${String(v)} is not a string`)
    return undefined
  }
  const pc: Array<typeof Element.Type> = []
  const cd: Array<typeof Element.Type> = []
  const pv: Array<{ i: number; m: number; value: number }> = []
  let highest = 0
  for (const key of Object.keys(cards)) {
    const m = MATRIX.exec(key)
    if (m !== null) {
      const value = num(key)
      const i = Number(m[2]) - 1
      const j = Number(m[3]) - 1
      if (value !== undefined && i >= 0 && j >= 0) (m[1] === "PC" ? pc : cd).push({ i, j, value })
      highest = Math.max(highest, i + 1, j + 1)
      continue
    }
    const p = PV.exec(key)
    if (p !== null) {
      const value = num(key)
      if (value !== undefined && Number(p[1]) >= 1) pv.push({ i: Number(p[1]) - 1, m: Number(p[2]), value })
    }
  }
  const count = (key: string) => {
    const v = num(key)
    return v !== undefined && Number.isInteger(v) && v >= 0 ? v : 0
  }
  const declaredAxes = Math.max(count("WCSAXES"), count("NAXIS"), highest)
  const axes: AxisKeywords[] = []
  for (let a = 1; a <= Math.min(declaredAxes, MAX_AXES); a++) {
    const cdelt = num(`CDELT${a}`)
    const crota = num(`CROTA${a}`)
    const cunit = str(`CUNIT${a}`)
    axes.push({
      ctype: str(`CTYPE${a}`) ?? "",
      crval: num(`CRVAL${a}`) ?? 0,
      crpix: num(`CRPIX${a}`) ?? 0,
      ...(cdelt === undefined ? {} : { cdelt }),
      ...(crota === undefined ? {} : { crota }),
      ...(cunit === undefined ? {} : { cunit })
    })
  }
  const opt = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as { [P in K]: V }))
  return {
    declaredAxes,
    axes,
    pc,
    cd,
    pv,
    ...opt("lonpole", num("LONPOLE")),
    ...opt("latpole", num("LATPOLE")),
    ...opt("radesys", str("RADESYS") ?? str("RADECSYS")),
    ...opt("equinox", num("EQUINOX") ?? num("EPOCH")),
    ...opt("restfrq", num("RESTFRQ") ?? num("RESTFREQ")),
    ...opt("specsys", str("SPECSYS")),
    ...opt("velref", num("VELREF")),
    problems
  }
}
