/**
 * Reading spectral cubes from FITS files (axes x, y, velocity) through ranged reads: the
 * header block by block until END, then the spectra of a pixel range with one read per
 * channel plane. The whole cube is never loaded. The cube is the first HDU holding a 3-D
 * image — the primary, or an IMAGE extension after an empty primary as archives write them —
 * or the HDU a caller names.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as internalData from "./internal/fitsData.js"
import * as internalHeader from "./internal/fitsHeader.js"

/**
 * A FITS file phs cannot read, or a request outside the cube. `reason` is one sentence
 * saying what is wrong. Never retryable: the bytes will not change.
 *
 * @since 0.1.0
 * @category errors
 */
export class FitsError extends Schema.TaggedError<FitsError>()("FitsError", { reason: Schema.String }) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return this.reason
  }
}

/**
 * Random access to the bytes of a file: a local file (pread) or an object (ranged GET).
 *
 * @since 0.1.0
 * @category models
 */
export interface ByteSource<E> {
  /** Size of the file in bytes. */
  readonly size: number
  /** `length` bytes from `offset` (fewer only past the end of the file). */
  read(offset: number, length: number): Effect.Effect<Uint8Array, E>
}

/**
 * The FITS data types phs reads: unsigned 8-bit, signed 16/32-bit integers, IEEE 32/64-bit floats.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Bitpix = Schema.Literal(8, 16, 32, -32, -64)

/**
 * @since 0.1.0
 * @category models
 */
export type Bitpix = typeof Bitpix.Type

/**
 * World coordinates of one axis, as far as the header gives them.
 *
 * @since 0.1.0
 * @category schemas
 */
export const WcsAxis = Schema.Struct({
  axis: Schema.Literal(1, 2, 3),
  ctype: Schema.optional(Schema.String),
  crval: Schema.optional(Schema.Number),
  crpix: Schema.optional(Schema.Number),
  cdelt: Schema.optional(Schema.Number),
  cunit: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface WcsAxis extends Schema.Schema.Type<typeof WcsAxis> {}

/**
 * The validated header of a cube: x = axis 1, y = axis 2, channels = axis 3.
 * A schema too, so a step can journal it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CubeHeader = Schema.Struct({
  /** The HDU holding the cube: 0 for the primary, n for the n-th extension. */
  hdu: Schema.Int,
  bitpix: Bitpix,
  nx: Schema.Int,
  ny: Schema.Int,
  nchan: Schema.Int,
  /** Axis sizes as declared (3, or 4 with a degenerate 4th). */
  naxis: Schema.Array(Schema.Int),
  bscale: Schema.Number,
  bzero: Schema.Number,
  /** The integer BLANK value (integer BITPIX only), read as NaN. */
  blank: Schema.NullOr(Schema.Int),
  /** Byte offset of the data in the file (after the HDU's header), a multiple of 2880. */
  dataOffset: Schema.Int,
  /** Bytes of data the header declares (without the final block padding). */
  dataBytes: Schema.Int,
  bytesPerValue: Schema.Int,
  /** Every `KEYWORD = value` card of the cube's HDU, first occurrence wins; strings without trailing blanks. */
  cards: Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean) }),
  wcs: Schema.Array(WcsAxis)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface CubeHeader extends Schema.Schema.Type<typeof CubeHeader> {}

/**
 * Tuning of `readSpectra`'s reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions {
  /** Reads in flight at once (default 8). */
  readonly concurrency?: number
  /** Merge two channel reads when the bytes between them are at most this (default 64 KiB). */
  readonly maxGapBytes?: number
  /** Upper bound of one merged read (default 8 MiB; a single channel may exceed it). */
  readonly maxReadBytes?: number
}

/**
 * Size of a FITS block; headers and data are padded to whole blocks.
 *
 * @since 0.1.0
 * @category constants
 */
export const BLOCK_SIZE = internalHeader.BLOCK_SIZE

/**
 * Headers longer than this many blocks are refused (a missing END would otherwise read
 * the whole file).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_HEADER_BLOCKS = 1000

/**
 * HDUs looked at for a cube before giving up (each costs a header read).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_HDUS = 1000

/**
 * Which HDU `readHeader` reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface HeaderOptions {
  /** The HDU holding the cube (0 = primary); default: the first HDU holding a 3-D image. */
  readonly hdu?: number
}

/**
 * The options that read HDU `hdu`, or the first 3-D image when it is undefined (a run
 * records an HDU only when `--hdu` named another one).
 *
 * @since 0.3.0
 * @category constructors
 */
export const hduOptions = (hdu: number | undefined): HeaderOptions => (hdu === undefined ? {} : { hdu })

const HEADER_READ_BLOCKS = 4

const fmt = (n: number): string => n.toLocaleString("en-US")

/**
 * A `ByteSource` over bytes in memory (tests, small cubes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromBytes = (bytes: Uint8Array): ByteSource<never> => ({
  size: bytes.length,
  read: (offset, length) => Effect.sync(() => bytes.subarray(offset, offset + length))
})

const readExactly = <E>(src: ByteSource<E>, offset: number, length: number): Effect.Effect<Uint8Array, FitsError | E> =>
  Effect.flatMap(src.read(offset, length), (bytes) =>
    bytes.length >= length
      ? Effect.succeed(bytes)
      : Effect.fail(
        new FitsError({
          reason: `truncated: read of ${fmt(length)} bytes at offset ${fmt(offset)} returned ${fmt(bytes.length)}`
        })
      ))

/** The cards of the header starting at `offset` (END excluded) and the blocks it took. */
const readCards = <E>(
  src: ByteSource<E>,
  offset: number,
  primary: boolean
): Effect.Effect<{ readonly cards: ReadonlyArray<string>; readonly blocks: number }, FitsError | E> =>
  Effect.gen(function*() {
    const cards: Array<string> = []
    const available = Math.min(MAX_HEADER_BLOCKS, Math.floor((src.size - offset) / BLOCK_SIZE))
    let block = 0
    while (block < available) {
      const n = Math.min(HEADER_READ_BLOCKS, available - block)
      const bytes = yield* readExactly(src, offset + block * BLOCK_SIZE, n * BLOCK_SIZE)
      for (let b = 0; b < n; b++) {
        const blockCards = internalHeader.blockCards(bytes.subarray(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE))
        if (primary && block === 0 && b === 0) {
          const reason = internalHeader.checkFirstCard(blockCards[0])
          if (reason !== undefined) return yield* new FitsError({ reason })
        }
        for (const card of blockCards) {
          if (internalHeader.isEnd(card)) return { cards, blocks: block + b + 1 }
          cards.push(card)
        }
      }
      block += n
    }
    return yield* new FitsError({
      reason: available === MAX_HEADER_BLOCKS
        ? `no END card within the first ${fmt(MAX_HEADER_BLOCKS)} header blocks`
        : `truncated: no END card in the file's ${fmt(available)} header blocks`
    })
  })

/**
 * Reads and validates the header of the cube, a few blocks per read until the END card:
 * the HDU `options.hdu`, or else the first HDU holding a 3-D image (the primary, or an
 * IMAGE extension). HDUs before it are skipped by their declared data size; their data is
 * never read. Fails with `FitsError` when the file holds no cube phs can read; for a file
 * without a cube the reason is the primary header's.
 *
 * @since 0.1.0
 * @category reading
 */
export const readHeader = <E>(src: ByteSource<E>, options: HeaderOptions = {}): Effect.Effect<CubeHeader, FitsError | E> =>
  Effect.gen(function*() {
    if (src.size < BLOCK_SIZE) {
      return yield* new FitsError({
        reason: `not a FITS file: ${fmt(src.size)} bytes is less than one ${fmt(BLOCK_SIZE)}-byte header block`
      })
    }
    const wanted = options.hdu
    if (wanted !== undefined && !(Number.isSafeInteger(wanted) && wanted >= 0 && wanted < MAX_HDUS)) {
      return yield* new FitsError({ reason: `HDU ${wanted}: an HDU number is an integer in [0, ${MAX_HDUS - 1}]` })
    }
    let primaryReason = ""
    let offset = 0
    let hdu = 0
    for (; hdu < MAX_HDUS && offset + BLOCK_SIZE <= src.size; hdu++) {
      // The primary header must read; a damaged or absent later header ends the search.
      const header = hdu === 0
        ? yield* readCards(src, 0, true)
        : yield* Effect.orElseSucceed(readCards(src, offset, false), () => undefined)
      if (header === undefined) break
      const shape = internalHeader.shapeOf(header.cards)
      // Bytes after the last HDU that do not start with XTENSION are not an HDU.
      if (hdu > 0 && shape.extension === undefined) break
      if (wanted === hdu || (wanted === undefined && shape.cube)) {
        const result = internalHeader.interpret(header.cards, header.blocks, src.size, hdu, offset)
        if (!result.ok) return yield* new FitsError({ reason: result.reason })
        return result.value
      }
      if (hdu === 0) {
        const result = internalHeader.interpret(header.cards, header.blocks, src.size)
        primaryReason = result.ok ? "no cube" : result.reason
      }
      if (shape.dataBytes === undefined) {
        hdu++
        break
      }
      offset += (header.blocks + Math.ceil(shape.dataBytes / BLOCK_SIZE)) * BLOCK_SIZE
    }
    if (wanted !== undefined) {
      return yield* new FitsError({ reason: `no HDU ${wanted}: the file has ${hdu === 1 ? "only the primary HDU (0)" : `HDUs 0 to ${hdu - 1}`}` })
    }
    return yield* new FitsError({ reason: hdu > 1 ? `${primaryReason}; and none of the file's ${hdu} HDUs holds a 3-D image` : primaryReason })
  })

/**
 * Number of spectra (pixels) in the cube: nx × ny.
 *
 * @since 0.1.0
 * @category getters
 */
export const pixelCount = (header: CubeHeader): number => header.nx * header.ny

/**
 * One line describing a header for messages and logs, e.g.
 * `357 × 325 × 424 cube, BITPIX -32, 196,794,400 data bytes at offset 8,640`.
 *
 * @since 0.1.0
 * @category getters
 */
export const describe = (header: CubeHeader): string =>
  `${header.nx} × ${header.ny} × ${header.nchan} cube${header.naxis.length === 4 ? " (degenerate 4th axis)" : ""}, ` +
  `BITPIX ${header.bitpix}, ${fmt(header.dataBytes)} data bytes at offset ${fmt(header.dataOffset)}` +
  (header.hdu === 0 ? "" : ` in ${describeHdu(header)}`)

/**
 * The HDU holding the cube, for messages: `HDU 1 (image extension "SCI")`, or `the primary HDU`.
 *
 * @since 0.1.0
 * @category getters
 */
export const describeHdu = (header: CubeHeader): string => {
  if (header.hdu === 0) return "the primary HDU"
  const name = typeof header.cards.EXTNAME === "string" ? ` ${JSON.stringify(header.cards.EXTNAME).replace(/[\u0000-\u001f\u007f-\u009f]/g, "?")}` : ""
  return `HDU ${header.hdu} (image extension${name})`
}

/**
 * Reads the spectra of pixels `start .. start+count` in (y, x) row-major order (pixel
 * p = y·nx + x) as a spectrum-major `[count][nchan]` Float32Array, physical values
 * (`raw·BSCALE + BZERO`, integer BLANK → NaN). BITPIX -64 is rounded to float32.
 *
 * @since 0.1.0
 * @category reading
 */
export const readSpectra = <E>(
  src: ByteSource<E>,
  header: CubeHeader,
  start: number,
  count: number,
  options: ReadOptions = {}
): Effect.Effect<Float32Array, FitsError | E> =>
  Effect.suspend(() => {
    const npix = pixelCount(header)
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > npix) {
      return Effect.fail(
        new FitsError({
          reason: `pixel range start ${start}, count ${count} is outside the cube's ${fmt(npix)} pixels (${header.nx} × ${header.ny})`
        })
      )
    }
    const out = new Float32Array(count * header.nchan)
    if (count === 0) return Effect.succeed(out)
    const segments = internalData.planSegments(
      header,
      start,
      count,
      options.maxGapBytes ?? 64 * 1024,
      options.maxReadBytes ?? 8 * 1024 * 1024
    )
    return Effect.as(
      Effect.forEach(
        segments,
        (segment) =>
          Effect.map(
            readExactly(src, segment.offset, segment.length),
            (bytes) => internalData.decodeSegment(header, segment, bytes, count, out)
          ),
        { concurrency: options.concurrency ?? 8, discard: true }
      ),
      out
    )
  })
