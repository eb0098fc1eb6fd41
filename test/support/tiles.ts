/**
 * Cutting a FITS cube (BITPIX -32, 3 axes) into rectangular tiles, as a survey's tiles are
 * cut from one field: every card is kept verbatim but NAXIS1/2 (the tile's size) and
 * CRPIX1/2 (shifted by the tile's corner, so each tile's WCS is the field's).
 */
import { formatCard } from "../../packages/core/src/FitsWriter.js"

export interface Rect {
  readonly x0: number
  readonly y0: number
  readonly nx: number
  readonly ny: number
}

const BLOCK = 2880

const cardsOf = (bytes: Uint8Array): { cards: string[]; dataOffset: number } => {
  const text = new TextDecoder("latin1").decode(bytes)
  const cards: string[] = []
  for (let i = 0; ; i++) {
    const card = text.slice(i * 80, i * 80 + 80)
    if (card.length < 80) throw new Error("no END card")
    cards.push(card)
    if (card.slice(0, 8).trimEnd() === "END") return { cards, dataOffset: Math.ceil(((i + 1) * 80) / BLOCK) * BLOCK }
  }
}

const numberOf = (cards: ReadonlyArray<string>, keyword: string): number => {
  const card = cards.find((c) => c.slice(0, 8).trimEnd() === keyword)
  if (card === undefined) throw new Error(`no ${keyword}`)
  return Number(card.slice(10).split("/")[0].trim())
}

/** The tile `rect` of `field` as FITS bytes; `overrides` replace (or add) cards, for bad-input tiles. */
export const cutTile = (field: Uint8Array, rect: Rect, overrides: Readonly<Record<string, string | number>> = {}): Uint8Array => {
  const { cards, dataOffset } = cardsOf(field)
  if (numberOf(cards, "BITPIX") !== -32 || numberOf(cards, "NAXIS") !== 3) throw new Error("cutTile reads BITPIX -32 cubes of 3 axes")
  const [nx, ny, nchan] = [numberOf(cards, "NAXIS1"), numberOf(cards, "NAXIS2"), numberOf(cards, "NAXIS3")]
  if (rect.x0 < 0 || rect.y0 < 0 || rect.x0 + rect.nx > nx || rect.y0 + rect.ny > ny) throw new Error("tile outside the field")
  const replaced: Record<string, string> = {
    NAXIS1: formatCard("NAXIS1", rect.nx),
    NAXIS2: formatCard("NAXIS2", rect.ny),
    CRPIX1: formatCard("CRPIX1", numberOf(cards, "CRPIX1") - rect.x0),
    CRPIX2: formatCard("CRPIX2", numberOf(cards, "CRPIX2") - rect.y0)
  }
  for (const [k, v] of Object.entries(overrides)) replaced[k] = formatCard(k, v)
  const kept = cards.slice(0, -1).map((c) => replaced[c.slice(0, 8).trimEnd()] ?? c)
  const added = Object.keys(overrides).filter((k) => !cards.some((c) => c.slice(0, 8).trimEnd() === k)).map((k) => replaced[k])
  const header = [...kept, ...added, cards[cards.length - 1]].join("")
  const headerBytes = Math.ceil(header.length / BLOCK) * BLOCK
  const dataBytes = rect.nx * rect.ny * nchan * 4
  const out = new Uint8Array(headerBytes + Math.ceil(dataBytes / BLOCK) * BLOCK)
  out.fill(0x20, 0, headerBytes)
  for (let i = 0; i < header.length; i++) out[i] = header.charCodeAt(i)
  for (let c = 0; c < nchan; c++) {
    for (let y = 0; y < rect.ny; y++) {
      const from = dataOffset + ((c * ny + rect.y0 + y) * nx + rect.x0) * 4
      out.set(field.subarray(from, from + rect.nx * 4), headerBytes + ((c * rect.ny + y) * rect.nx) * 4)
    }
  }
  return out
}

/** Four tiles covering a field, split at (sx, sy). */
export const quadrants = (nx: number, ny: number, sx: number, sy: number): ReadonlyArray<Rect> => [
  { x0: 0, y0: 0, nx: sx, ny: sy },
  { x0: sx, y0: 0, nx: nx - sx, ny: sy },
  { x0: 0, y0: sy, nx: sx, ny: ny - sy },
  { x0: sx, y0: sy, nx: nx - sx, ny: ny - sy }
]
