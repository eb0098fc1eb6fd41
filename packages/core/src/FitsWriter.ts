/**
 * Writing small FITS cubes for tests and fixtures: the inverse of `Fits.readSpectra`.
 * Not a general FITS writer: it throws a `RangeError` on malformed arguments, which in a
 * fixture is a bug to fix, not a condition to handle.
 *
 * @since 0.1.0
 */
import type { Bitpix } from "./Fits.js"

/**
 * A cube to write. `data` is spectrum-major `[ny·nx][nchan]` in (y, x) row-major order,
 * as `Fits.readSpectra` returns it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CubeSpec {
  readonly nx: number
  readonly ny: number
  readonly nchan: number
  readonly data: Float32Array
  /** Data type on disk (default -32). Integer types are quantised: round((v - BZERO) / BSCALE). */
  readonly bitpix?: Bitpix
  /** Written as the BSCALE card when given; the stored values are divided by it. */
  readonly bscale?: number
  /** Written as the BZERO card when given; subtracted from the stored values. */
  readonly bzero?: number
  /** Integer BLANK, written for integer BITPIX; NaN is stored as it (default: the type's minimum, 255 for BITPIX 8). */
  readonly blank?: number
  /** Declare NAXIS = 4 with NAXIS4 = 1 (a Stokes axis), as radio cubes often do. */
  readonly degenerateFourthAxis?: boolean
  /** Extra cards, after the mandatory ones, in insertion order. */
  readonly cards?: Readonly<Record<string, string | number | boolean>>
}

const BLOCK = 2880
const CARD = 80

const RANGE: Record<8 | 16 | 32, readonly [number, number]> = {
  8: [0, 255],
  16: [-32768, 32767],
  32: [-2147483648, 2147483647]
}
const DEFAULT_BLANK: Record<8 | 16 | 32, number> = { 8: 255, 16: -32768, 32: -2147483648 }
const BYTES: Record<Bitpix, number> = { 8: 1, 16: 2, 32: 4, [-32]: 4, [-64]: 8 }
const RESERVED = /^(SIMPLE|BITPIX|NAXIS\d*|BSCALE|BZERO|BLANK|END)$/

/** Printable ASCII (0x20–0x7E), the only bytes a FITS header may hold (FITS 4.0 §4.1.1). */
const PRINTABLE = /^[\x20-\x7E]*$/

/** Spellings of the symbols phs's texts use, for `toAscii`. */
const SPELLED: Readonly<Record<string, string>> = {
  "Σ": "sum", "√": "sqrt", "σ": "sigma", "μ": "mu", "χ": "chi", "²": "^2", "·": "*", "×": "x",
  "−": "-", "–": "-", "—": "-", "≤": "<=", "≥": ">=", "≠": "!=", "π": "pi", "Δ": "delta", "…": "..."
}

/**
 * A text as printable ASCII for a FITS header: known symbols spelled out (Σ → sum,
 * √ → sqrt, σ → sigma, …), anything else non-printable as `?`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const toAscii = (text: string): string =>
  Array.from(text, (ch) => (PRINTABLE.test(ch) ? ch : SPELLED[ch] ?? "?")).join("")

/**
 * COMMENT cards holding `text` (made ASCII by `toAscii`), 72 characters each.
 *
 * @since 0.2.0
 * @category formatting
 */
export const commentCards = (text: string): ReadonlyArray<string> => {
  const ascii = toAscii(text)
  const out: string[] = []
  for (let i = 0; i < Math.max(1, ascii.length); i += 72) out.push(`COMMENT ${ascii.slice(i, i + 72)}`.padEnd(CARD))
  return out
}

const formatValue = (value: string | number | boolean): string => {
  if (typeof value === "boolean") return (value ? "T" : "F").padStart(20)
  if (typeof value === "number") return String(value).toUpperCase().padStart(20)
  return `'${value.replace(/'/g, "''").padEnd(8)}'`
}

/**
 * Formats one 80-character `KEYWORD = value / comment` card (fixed format: numbers and
 * logicals right-aligned to column 30, strings quoted from column 11 with `''` escapes).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatCard = (keyword: string, value: string | number | boolean, comment?: string): string => {
  const card = `${keyword.padEnd(8)}= ${formatValue(value)}${comment === undefined ? "" : ` / ${comment}`}`
  if (keyword.length > 8 || card.length > CARD) {
    throw new RangeError(`card ${keyword} does not fit in ${CARD} characters`)
  }
  if (!PRINTABLE.test(card)) throw new RangeError(`card ${keyword} holds characters that are not printable ASCII (use toAscii)`)
  return card.padEnd(CARD)
}

/**
 * Header blocks from raw card images, each padded to 80 characters, the whole padded with
 * blanks to a multiple of 2880 bytes. No END is added: include `"END"` to terminate.
 * For writing deliberately malformed headers in tests.
 *
 * @since 0.1.0
 * @category formatting
 */
export const rawHeader = (cards: ReadonlyArray<string>): Uint8Array => {
  const size = Math.max(1, Math.ceil((cards.length * CARD) / BLOCK)) * BLOCK
  const out = new Uint8Array(size).fill(0x20)
  cards.forEach((card, i) => {
    if (card.length > CARD) throw new RangeError(`card ${i + 1} is longer than ${CARD} characters`)
    for (let j = 0; j < card.length; j++) {
      const code = card.charCodeAt(j)
      if (code > 0xff) throw new RangeError(`card ${i + 1} holds a character beyond one byte (use toAscii)`)
      out[i * CARD + j] = code
    }
  })
  return out
}

/**
 * Writes a cube as a FITS file: header, channel-major big-endian data, both padded to
 * 2880-byte blocks. Integer BITPIX values are rounded and clamped to the type's range.
 *
 * @since 0.1.0
 * @category constructors
 */
export const writeCube = (spec: CubeSpec): Uint8Array => {
  const { nx, ny, nchan, data } = spec
  const bitpix: Bitpix = spec.bitpix ?? -32
  for (const [name, n] of [["nx", nx], ["ny", ny], ["nchan", nchan]] as const) {
    if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`${name} = ${n} is not a positive integer`)
  }
  const npix = nx * ny
  if (data.length !== npix * nchan) {
    throw new RangeError(`data has ${data.length} values, expected nx·ny·nchan = ${npix * nchan}`)
  }
  const bscale = spec.bscale ?? 1
  const bzero = spec.bzero ?? 0
  const integer = bitpix > 0 ? (bitpix as 8 | 16 | 32) : undefined
  const blank = integer === undefined
    ? undefined
    : spec.blank ?? (data.some(Number.isNaN) ? DEFAULT_BLANK[integer] : undefined)

  const cards = [
    formatCard("SIMPLE", true, "conforms to FITS standard"),
    formatCard("BITPIX", bitpix, "array data type"),
    formatCard("NAXIS", spec.degenerateFourthAxis ? 4 : 3, "number of array dimensions"),
    formatCard("NAXIS1", nx),
    formatCard("NAXIS2", ny),
    formatCard("NAXIS3", nchan)
  ]
  if (spec.degenerateFourthAxis) cards.push(formatCard("NAXIS4", 1))
  if (spec.bscale !== undefined) cards.push(formatCard("BSCALE", spec.bscale))
  if (spec.bzero !== undefined) cards.push(formatCard("BZERO", spec.bzero))
  if (blank !== undefined) cards.push(formatCard("BLANK", blank))
  for (const [keyword, value] of Object.entries(spec.cards ?? {})) {
    if (RESERVED.test(keyword)) throw new RangeError(`card ${keyword} is written by writeCube; use its option`)
    cards.push(formatCard(keyword, value))
  }
  cards.push("END")
  const header = rawHeader(cards)

  const bpv = BYTES[bitpix]
  const dataBytes = npix * nchan * bpv
  const out = new Uint8Array(header.length + Math.ceil(dataBytes / BLOCK) * BLOCK)
  out.set(header)
  const view = new DataView(out.buffer, header.length)
  const [lo, hi] = integer === undefined ? [0, 0] : RANGE[integer]
  for (let p = 0; p < npix; p++) {
    for (let c = 0; c < nchan; c++) {
      const v = data[p * nchan + c]
      const at = (c * npix + p) * bpv
      const stored = (v - bzero) / bscale
      if (integer === undefined) {
        if (bitpix === -32) view.setFloat32(at, stored, false)
        else view.setFloat64(at, stored, false)
        continue
      }
      const q = Number.isNaN(stored) ? (blank ?? 0) : Math.min(hi, Math.max(lo, Math.round(stored)))
      if (bitpix === 8) view.setUint8(at, q)
      else if (bitpix === 16) view.setInt16(at, q, false)
      else view.setInt32(at, q, false)
    }
  }
  return out
}
