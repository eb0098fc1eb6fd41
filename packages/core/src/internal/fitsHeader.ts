/**
 * FITS header parsing: 80-character cards in 2880-byte blocks, and the interpretation of
 * the mandatory keywords of an HDU (the primary or an IMAGE extension) holding a spectral
 * cube. Pure functions: a failure is a reason string, turned into a `FitsError` by `Fits.ts`.
 */
import type { Bitpix, CubeHeader, WcsAxis } from "../Fits.js"

export const BLOCK_SIZE = 2880
export const CARD_SIZE = 80
export const CARDS_PER_BLOCK = BLOCK_SIZE / CARD_SIZE

export type CardValue = string | number | boolean

/** One header card: its keyword and, for a `KEYWORD = value` card, the parsed value. */
export interface Card {
  readonly keyword: string
  readonly value: CardValue | undefined
  /** The value text as written (before the comment), for error messages. */
  readonly text: string
}

const BYTES_PER_VALUE: Record<Bitpix, number> = { 8: 1, 16: 2, 32: 4, [-32]: 4, [-64]: 8 }

const INTEGER = /^[+-]?\d+$/
const REAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][+-]?\d+)?$/

const fmt = (n: number | bigint): string => n.toLocaleString("en-US")

/**
 * Reasons quote header bytes (keywords, value text); a hostile file must not put a line
 * break or a terminal escape into a one-line error, so control characters are shown as
 * `\xNN`.
 */
// eslint-disable-next-line no-control-regex
const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

/** Parses a quoted string starting at `rest[0] === "'"`; `''` is an escaped quote. */
const parseString = (rest: string): { value: string; end: number } | undefined => {
  let out = ""
  let i = 1
  while (i < rest.length) {
    const ch = rest[i]
    if (ch === "'") {
      if (rest[i + 1] === "'") {
        out += "'"
        i += 2
        continue
      }
      return { value: out.replace(/ +$/, ""), end: i + 1 }
    }
    out += ch
    i++
  }
  return undefined
}

/**
 * Parses one 80-character card. Commentary cards (COMMENT, HISTORY, blank, CONTINUE) and
 * cards without the `= ` value indicator in columns 9-10 have an undefined value. Values
 * that are not a string, logical, integer or real (a complex pair, garbage) are kept as
 * their trimmed text.
 */
export const parseCard = (card: string): Card => {
  const keyword = card.slice(0, 8).trimEnd()
  if (card.slice(8, 10) !== "= " || keyword === "COMMENT" || keyword === "HISTORY" || keyword === "CONTINUE") {
    return { keyword, value: undefined, text: "" }
  }
  const rest = card.slice(10).trimStart()
  if (rest.startsWith("'")) {
    const parsed = parseString(rest)
    if (parsed === undefined) return { keyword, value: rest.trimEnd(), text: rest.trimEnd() }
    return { keyword, value: parsed.value, text: rest.slice(0, parsed.end) }
  }
  const slash = rest.indexOf("/")
  const text = (slash === -1 ? rest : rest.slice(0, slash)).trim()
  if (text === "") return { keyword, value: undefined, text }
  if (text === "T") return { keyword, value: true, text }
  if (text === "F") return { keyword, value: false, text }
  if (INTEGER.test(text)) return { keyword, value: Number(text), text }
  if (REAL.test(text)) return { keyword, value: Number(text.replace(/[Dd]/, "E")), text }
  return { keyword, value: text, text }
}

/**
 * Bytes as ISO-8859-1: byte b is the character with code b, so any byte maps to one char and the
 * gzip magic and C1 control bytes survive. Not `TextDecoder("latin1")`: the WHATWG label
 * means windows-1252 (Node 24 follows it), which maps 0x80-0x9f to other characters.
 */
const latin1 = (bytes: Uint8Array): string => {
  let text = ""
  for (let i = 0; i < bytes.length; i += 1024) text += String.fromCharCode(...bytes.subarray(i, i + 1024))
  return text
}

/** Decodes one block into its 36 cards (bytes as Latin-1, so any byte maps to one char). */
export const blockCards = (block: Uint8Array): ReadonlyArray<string> => {
  const text = latin1(block)
  const cards: Array<string> = []
  for (let i = 0; i < CARDS_PER_BLOCK; i++) cards.push(text.slice(i * CARD_SIZE, (i + 1) * CARD_SIZE))
  return cards
}

/** True for the END card (keyword END; the rest is blank by the standard, not checked). */
export const isEnd = (card: string): boolean => card.slice(0, 8).trimEnd() === "END"

type Result<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reason: string }
const ok = <A>(value: A): Result<A> => ({ ok: true, value })
const fail = (reason: string): Result<never> => ({ ok: false, reason: printable(reason) })

/** Checks the first card of the file, before reading further blocks. */
export const checkFirstCard = (card: string): string | undefined => {
  const parsed = parseCard(card)
  if (card.startsWith("\x1f\x8b")) return "not a FITS file: the file is gzip-compressed (decompress it first)"
  if (parsed.keyword !== "SIMPLE") return "not a FITS file: first card is not SIMPLE = T"
  if (parsed.value === false) return "not a standard FITS file: SIMPLE = F"
  if (parsed.value !== true) return printable(`not a FITS file: SIMPLE = ${parsed.text || "(no value)"}, expected T`)
  return undefined
}

const requireInteger = (cards: ReadonlyArray<Card>, index: number, keyword: string): Result<number> => {
  const card = cards[index]
  if (card === undefined || card.keyword !== keyword) {
    return fail(`card ${index + 1} must be ${keyword}, found ${card === undefined ? "END" : card.keyword || "a blank card"}`)
  }
  if (typeof card.value === "number" && Number.isInteger(card.value) && !Number.isSafeInteger(card.value)) {
    return fail(`${keyword} = ${card.text} is out of range (beyond ±2^53)`)
  }
  if (typeof card.value !== "number" || !Number.isSafeInteger(card.value)) {
    return fail(`${keyword} = ${card.text || "(no value)"} is not an integer`)
  }
  return ok(card.value)
}

const optionalNumber = (cards: Record<string, CardValue>, keyword: string, fallback: number): Result<number> => {
  const value = cards[keyword]
  if (value === undefined) return ok(fallback)
  if (typeof value !== "number") return fail(`${keyword} = ${String(value)} is not a number`)
  return ok(value)
}

const wcsAxis = (cards: Record<string, CardValue>, axis: 1 | 2 | 3): WcsAxis => {
  const str = (k: string) => (typeof cards[k] === "string" ? (cards[k] as string).trim() : undefined)
  const num = (k: string) => (typeof cards[k] === "number" ? (cards[k] as number) : undefined)
  const out: { -readonly [K in keyof WcsAxis]: WcsAxis[K] } = { axis }
  const ctype = str(`CTYPE${axis}`)
  const crval = num(`CRVAL${axis}`)
  const crpix = num(`CRPIX${axis}`)
  const cdelt = num(`CDELT${axis}`)
  const cunit = str(`CUNIT${axis}`)
  if (ctype !== undefined) out.ctype = ctype
  if (crval !== undefined) out.crval = crval
  if (crpix !== undefined) out.crpix = crpix
  if (cdelt !== undefined) out.cdelt = cdelt
  if (cunit !== undefined) out.cunit = cunit
  return out
}

/** The XTENSION value of an extension header's first card, or undefined for a primary header. */
const extensionOf = (card: Card | undefined): string | undefined =>
  card?.keyword === "XTENSION" ? (typeof card.value === "string" ? card.value.trim() : String(card.value ?? "")) : undefined

/**
 * What the cards of one HDU's header (END excluded) say before the full interpretation:
 * whether it declares a cube (3 axes, or 4 with a degenerate 4th, in the primary or an IMAGE
 * extension), and the size of its data in bytes (undefined when the header does not say it
 * readably), to find the next HDU. Keywords are taken where they are, not checked for order.
 */
export const shapeOf = (
  raw: ReadonlyArray<string>
): { readonly extension: string | undefined; readonly cube: boolean; readonly dataBytes: number | undefined } => {
  const parsed = raw.map(parseCard)
  const extension = extensionOf(parsed[0])
  const cards: Record<string, CardValue> = {}
  for (const card of parsed) if (card.value !== undefined && !(card.keyword in cards)) cards[card.keyword] = card.value
  const int = (k: string, fallback?: number): number | undefined => {
    const v = cards[k] ?? fallback
    return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined
  }
  const bitpix = typeof cards.BITPIX === "number" ? Math.abs(cards.BITPIX) : undefined
  const n = int("NAXIS")
  const axes: Array<number> = []
  for (let i = 1; n !== undefined && i <= Math.min(n, 999); i++) {
    const a = int(`NAXIS${i}`)
    if (a === undefined) return { extension, cube: false, dataBytes: undefined }
    axes.push(a)
  }
  const cube = (extension === undefined || extension === "IMAGE") &&
    (axes.length === 3 || (axes.length === 4 && axes[3] === 1)) && axes.every((a) => a > 0)
  const pcount = int("PCOUNT", 0)
  const gcount = int("GCOUNT", 1)
  if (bitpix === undefined || n === undefined || pcount === undefined || gcount === undefined || bitpix % 8 !== 0) return { extension, cube, dataBytes: undefined }
  // Random groups (primary, GROUPS = T, NAXIS1 = 0) leave NAXIS1 out of the product.
  const counted = cards.GROUPS === true && axes[0] === 0 ? axes.slice(1) : axes
  const values = counted.length === 0 ? 0n : counted.reduce((acc, a) => acc * BigInt(a), 1n)
  const bytes = (BigInt(bitpix / 8) * BigInt(gcount) * (BigInt(pcount) + values))
  return { extension, cube, dataBytes: bytes > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(bytes) }
}

/**
 * Interprets the cards of a complete header (END excluded) of HDU `hdu` (0 = primary) that
 * starts at byte `hduOffset` and took `headerBlocks` blocks, in a file of `fileSize` bytes.
 */
export const interpret = (
  raw: ReadonlyArray<string>,
  headerBlocks: number,
  fileSize: number,
  hdu = 0,
  hduOffset = 0
): Result<CubeHeader> => {
  const parsed = raw.map(parseCard)
  if (hdu === 0) {
    const first = checkFirstCard(raw[0] ?? "")
    if (first !== undefined) return fail(first)
  } else {
    const extension = extensionOf(parsed[0])
    if (extension === undefined) return fail(`HDU ${hdu}: card 1 must be XTENSION, found ${parsed[0]?.keyword || "a blank card"}`)
    if (extension !== "IMAGE") return fail(`HDU ${hdu} is a ${extension} extension, not an image`)
  }

  const bitpixR = requireInteger(parsed, 1, "BITPIX")
  if (!bitpixR.ok) return bitpixR
  const bitpix = bitpixR.value
  if (!(bitpix in BYTES_PER_VALUE)) {
    return fail(`unsupported BITPIX ${bitpix} (supported: 8, 16, 32, -32, -64)`)
  }
  const naxisR = requireInteger(parsed, 2, "NAXIS")
  if (!naxisR.ok) return naxisR
  const naxisCount = naxisR.value
  if (naxisCount < 0 || naxisCount > 999) return fail(`NAXIS = ${naxisCount} is outside 0..999`)
  const naxis: Array<number> = []
  for (let i = 1; i <= naxisCount; i++) {
    const r = requireInteger(parsed, 2 + i, `NAXIS${i}`)
    if (!r.ok) return r
    if (r.value <= 0) return fail(`NAXIS${i} = ${r.value}: axis sizes must be positive integers`)
    naxis.push(r.value)
  }
  if (naxisCount !== 3 && naxisCount !== 4) {
    return fail(`NAXIS = ${naxisCount}: a cube needs 3 axes (or 4 with a degenerate 4th)`)
  }
  if (naxisCount === 4 && naxis[3] !== 1) {
    return fail(`NAXIS4 = ${naxis[3]}: a 4-axis cube needs a degenerate 4th axis (NAXIS4 = 1)`)
  }

  const cards: Record<string, CardValue> = {}
  for (const card of parsed) {
    if (card.value !== undefined && card.keyword !== "" && !(card.keyword in cards)) cards[card.keyword] = card.value
  }

  const bscaleR = optionalNumber(cards, "BSCALE", 1)
  if (!bscaleR.ok) return bscaleR
  const bscale = bscaleR.value
  if (bscale === 0) return fail("BSCALE = 0")
  if (!Number.isFinite(bscale)) return fail(`BSCALE = ${bscale} is not finite`)
  const bzeroR = optionalNumber(cards, "BZERO", 0)
  if (!bzeroR.ok) return bzeroR
  const bzero = bzeroR.value
  if (!Number.isFinite(bzero)) return fail(`BZERO = ${bzero} is not finite`)

  let blank: number | null = null
  if (bitpix > 0 && cards.BLANK !== undefined) {
    const value = cards.BLANK
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      return fail(`BLANK = ${String(value)} is not an integer`)
    }
    blank = value
  }

  if (hdu > 0 && ((cards.PCOUNT ?? 0) !== 0 || (cards.GCOUNT ?? 1) !== 1)) {
    return fail(`HDU ${hdu}: an IMAGE extension has PCOUNT = 0 and GCOUNT = 1, found ${String(cards.PCOUNT ?? 0)} and ${String(cards.GCOUNT ?? 1)}`)
  }

  const bytesPerValue = BYTES_PER_VALUE[bitpix as Bitpix]
  const dataBytesBig = naxis.reduce((acc, n) => acc * BigInt(n), BigInt(bytesPerValue))
  const dataOffset = hduOffset + headerBlocks * BLOCK_SIZE
  if (dataBytesBig + BigInt(dataOffset) > BigInt(Number.MAX_SAFE_INTEGER)) {
    return fail(`data size overflows: ${naxis.join(" × ")} values of ${bytesPerValue} bytes is ${fmt(dataBytesBig)} bytes`)
  }
  const dataBytes = Number(dataBytesBig)
  if (dataOffset + dataBytes > fileSize) {
    return fail(
      `truncated: header declares ${fmt(dataBytes)} data bytes but the file has ${fmt(Math.max(0, fileSize - dataOffset))}`
    )
  }

  return ok({
    hdu,
    bitpix: bitpix as Bitpix,
    nx: naxis[0],
    ny: naxis[1],
    nchan: naxis[2],
    naxis,
    bscale,
    bzero,
    blank,
    dataOffset,
    dataBytes,
    bytesPerValue,
    cards,
    wcs: [wcsAxis(cards, 1), wcsAxis(cards, 2), wcsAxis(cards, 3)]
  })
}
