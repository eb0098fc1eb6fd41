/**
 * 2-D FITS images (BITPIX -32) of per-pixel quantities, with the cube's celestial WCS.
 * Built from core's card formatting (`FitsWriter.formatCard`, `FitsWriter.rawHeader`).
 */
import { FitsWriter, type Fits } from "@phs/core"

const BLOCK = 2880

/** Keywords of the spatial WCS copied from the cube when present. */
export const WCS_KEYWORDS: ReadonlyArray<string> = [
  "CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "CUNIT1", "CUNIT2",
  "CROTA1", "CROTA2", "PC1_1", "PC1_2", "PC2_1", "PC2_2", "CD1_1", "CD1_2", "CD2_1", "CD2_2",
  "LONPOLE", "LATPOLE", "EQUINOX", "EPOCH", "RADESYS", "RADECSYS"
]

/** A real-valued card in fixed format, with a decimal point or exponent so it reads as real. */
const realCard = (keyword: string, value: number, comment?: string): string => {
  let text = String(value).toUpperCase()
  if (!/[.E]/.test(text) && Number.isFinite(value)) text = `${text}.0`
  const card = `${keyword.padEnd(8)}= ${text.padStart(20)}${comment === undefined ? "" : ` / ${comment}`}`
  return card.slice(0, 80).padEnd(80)
}

/** A card keeping the cube's value type: reals stay reals, strings stay strings. */
const copyCard = (keyword: string, value: string | number | boolean): string =>
  typeof value === "number" ? realCard(keyword, value) : FitsWriter.formatCard(keyword, typeof value === "string" ? FitsWriter.toAscii(value) : value)

export interface ImageSpec {
  readonly nx: number
  readonly ny: number
  /** `[y][x]` row-major (index y·nx + x); NaN where there is no value. */
  readonly data: Float64Array | Float32Array
  /** The cube's header (or a mosaic grid's cards), whose spatial WCS is copied. */
  readonly cube: Pick<Fits.CubeHeader, "cards">
  readonly bunit?: string
  /** BTYPE: what the image shows. */
  readonly btype: string
  /** HISTORY/COMMENT lines. */
  readonly comments?: ReadonlyArray<string>
}

/** A FITS file of one 2-D float32 image: header, big-endian data, both padded to 2880 bytes. */
export const write = (spec: ImageSpec): Uint8Array => {
  const { nx, ny, data } = spec
  if (data.length !== nx * ny) throw new RangeError(`image has ${data.length} values, expected ${nx * ny}`)
  const cards = [
    FitsWriter.formatCard("SIMPLE", true, "conforms to FITS standard"),
    FitsWriter.formatCard("BITPIX", -32, "IEEE single precision"),
    FitsWriter.formatCard("NAXIS", 2, "number of array dimensions"),
    FitsWriter.formatCard("NAXIS1", nx),
    FitsWriter.formatCard("NAXIS2", ny),
    FitsWriter.formatCard("WCSAXES", 2)
  ]
  for (const keyword of WCS_KEYWORDS) {
    const value = spec.cube.cards[keyword]
    if (value !== undefined) cards.push(copyCard(keyword, value))
  }
  cards.push(FitsWriter.formatCard("BTYPE", FitsWriter.toAscii(spec.btype)))
  if (spec.bunit !== undefined) cards.push(FitsWriter.formatCard("BUNIT", FitsWriter.toAscii(spec.bunit)))
  for (const c of spec.comments ?? []) cards.push(...FitsWriter.commentCards(c))
  cards.push("END")
  const header = FitsWriter.rawHeader(cards)
  const bytes = nx * ny * 4
  const out = new Uint8Array(header.length + Math.ceil(bytes / BLOCK) * BLOCK)
  out.set(header)
  const view = new DataView(out.buffer, header.length)
  for (let i = 0; i < nx * ny; i++) view.setFloat32(i * 4, data[i], false)
  return out
}
