import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Schema } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Fits from "../src/Fits.js"
import { formatCard, rawHeader, writeCube } from "../src/FitsWriter.js"

const example = (name: string) =>
  Fits.fromBytes(new Uint8Array(readFileSync(fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url)))))

/** A cube whose value at (pixel p, channel c) is p * 1000 + c: every value says where it came from. */
const indexed = (nx: number, ny: number, nchan: number) => {
  const data = new Float32Array(nx * ny * nchan)
  for (let p = 0; p < nx * ny; p++) for (let c = 0; c < nchan; c++) data[p * nchan + c] = p * 1000 + c
  return data
}

/** A source that records every read it serves. */
const recording = (bytes: Uint8Array) => {
  const reads: Array<{ offset: number; length: number }> = []
  const inner = Fits.fromBytes(bytes)
  const src: Fits.ByteSource<never> = {
    size: inner.size,
    read: (offset, length) => {
      reads.push({ offset, length })
      return inner.read(offset, length)
    }
  }
  return { src, reads }
}

const headerWith = (...cards: Array<string>) => rawHeader([...cards, "END"])

const failure = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)

describe("Fits.readHeader", () => {
  it.effect("reads the GRS 5×5 example's geometry, scaling and spectral axis", () =>
    Effect.gen(function*() {
      const h = yield* Fits.readHeader(example("grs-5x5.fits"))
      expect([h.nx, h.ny, h.nchan, h.bitpix]).toEqual([5, 5, 424, -32])
      expect(h.naxis).toEqual([5, 5, 424])
      expect([h.bscale, h.bzero, h.blank]).toEqual([1, 0, null])
      expect(h.dataOffset).toBe(2 * 2880)
      expect(h.dataBytes).toBe(5 * 5 * 424 * 4)
      expect(h.bytesPerValue).toBe(4)
      expect(h.wcs[2]).toEqual({ axis: 3, ctype: "VOPT", crval: 40000.10088552, crpix: 212.5368652344, cdelt: 212.5358581543, cunit: "m/s" })
      expect(h.wcs[0].ctype).toBe("GLON-CAR")
      expect(h.cards.SPECSYS).toBe("LSRK")
      expect(h.cards.OBJECT).toBe("(16.000,-1.050) to (14.000,1.050)")
      expect(h.cards).not.toHaveProperty("COMMENT")
      expect(Fits.pixelCount(h)).toBe(25)
    }))

  it.effect("parses strings with '' escapes, D exponents, logicals and comments; commentary cards carry no value", () =>
    Effect.gen(function*() {
      const cube = writeCube({ nx: 1, ny: 1, nchan: 1, data: new Float32Array([1]) })
      const header = headerWith(
        "SIMPLE  =                    T",
        "BITPIX  =                  -32",
        "NAXIS   =                    3",
        "NAXIS1  =                    1",
        "NAXIS2  =                    1",
        "NAXIS3  =                    1",
        "OBSERVER= 'O''Brien'           / who",
        "RESTFREQ=              1.0D+02 / Hz",
        "NEG     =               -.5E-3",
        "INTVAL  =                   42 / an integer",
        "FLAG    =                    F",
        "EMPTY   = ''",
        "SLASH   = 'a/b     '           / keeps the slash, drops trailing blanks",
        "NOVALUE =",
        "CPLX    = (1.0, 2.0)",
        "HISTORY = not a value",
        "COMMENT   INTVAL = 7",
        "CONTINUE  'more'",
        "INTVAL  =                   43 / a duplicate: the first wins"
      )
      const bytes = new Uint8Array(header.length + 2880)
      bytes.set(header)
      bytes.set(cube.subarray(2880), header.length)
      const h = yield* Fits.readHeader(Fits.fromBytes(bytes))
      expect(h.cards).toEqual({
        SIMPLE: true,
        BITPIX: -32,
        NAXIS: 3,
        NAXIS1: 1,
        NAXIS2: 1,
        NAXIS3: 1,
        OBSERVER: "O'Brien",
        RESTFREQ: 100,
        NEG: -0.0005,
        INTVAL: 42,
        FLAG: false,
        EMPTY: "",
        SLASH: "a/b",
        CPLX: "(1.0, 2.0)"
      })
    }))

  it.effect("accepts a degenerate 4th (Stokes) axis", () =>
    Effect.gen(function*() {
      const bytes = writeCube({ nx: 2, ny: 3, nchan: 4, data: indexed(2, 3, 4), degenerateFourthAxis: true })
      const h = yield* Fits.readHeader(Fits.fromBytes(bytes))
      expect(h.naxis).toEqual([2, 3, 4, 1])
      expect([h.nx, h.ny, h.nchan]).toEqual([2, 3, 4])
      expect(Array.from(yield* Fits.readSpectra(Fits.fromBytes(bytes), h, 0, 6))).toEqual(Array.from(indexed(2, 3, 4)))
    }))

  it.effect("ignores BLANK for floating-point data", () =>
    Effect.gen(function*() {
      const bytes = writeCube({ nx: 1, ny: 1, nchan: 1, data: new Float32Array([3]), cards: { OTHER: 1 } })
      const patched = bytes.slice()
      patched.set(new TextEncoder().encode(formatCard("BLANK", 3)), 6 * 80)
      const h = yield* Fits.readHeader(Fits.fromBytes(patched))
      expect(h.blank).toBeNull()
      expect(Array.from(yield* Fits.readSpectra(Fits.fromBytes(patched), h, 0, 1))).toEqual([3])
    }))

  it.effect("reads only the header blocks, not the data", () =>
    Effect.gen(function*() {
      const { src, reads } = recording(writeCube({ nx: 64, ny: 64, nchan: 64, data: new Float32Array(64 ** 3) }))
      yield* Fits.readHeader(src)
      const bytesRead = reads.reduce((n, r) => n + r.length, 0)
      expect(bytesRead).toBeLessThanOrEqual(4 * 2880)
    }))

  it.effect("finds an END card several read batches into a long header", () =>
    Effect.gen(function*() {
      const cards: Record<string, number> = {}
      for (let i = 0; i < 400; i++) cards[`K${i}`] = i
      const bytes = writeCube({ nx: 1, ny: 1, nchan: 2, data: new Float32Array([5, 6]), cards })
      const h = yield* Fits.readHeader(Fits.fromBytes(bytes))
      expect(h.dataOffset).toBe(12 * 2880)
      expect(h.cards.K399).toBe(399)
      expect(Array.from(yield* Fits.readSpectra(Fits.fromBytes(bytes), h, 0, 1))).toEqual([5, 6])
    }))

  it.effect("a header survives JSON through the CubeHeader schema (for journaling)", () =>
    Effect.gen(function*() {
      const h = yield* Fits.readHeader(example("grs-5x5.fits"))
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Fits.CubeHeader)(h)))
      expect(yield* Schema.decodeUnknown(Fits.CubeHeader)(json)).toEqual(h)
    }))

  it.effect("describes a header in one line", () =>
    Effect.gen(function*() {
      const h = yield* Fits.readHeader(example("grs-5x5.fits"))
      expect(Fits.describe(h)).toBe("5 × 5 × 424 cube, BITPIX -32, 42,400 data bytes at offset 5,760")
    }))
})

describe("Fits.readHeader refuses", () => {
  const reasonOf = (bytes: Uint8Array) =>
    Effect.map(failure(Fits.readHeader(Fits.fromBytes(bytes))), (e) => {
      expect(e._tag).toBe("FitsError")
      expect(e.retryable).toBe(false)
      expect(e.message).toBe(e.reason)
      return e.reason
    })
  const withData = (header: Uint8Array, dataBytes: number) => {
    const out = new Uint8Array(header.length + dataBytes)
    out.set(header)
    return out
  }
  const axes = (bitpix: number, ...naxis: Array<number>) => [
    "SIMPLE  =                    T",
    `BITPIX  = ${String(bitpix).padStart(20)}`,
    `NAXIS   = ${String(naxis.length).padStart(20)}`,
    ...naxis.map((n, i) => `NAXIS${i + 1}  = ${String(n).padStart(20)}`)
  ]

  it.effect("a file that does not start with SIMPLE = T", () =>
    Effect.gen(function*() {
      expect(yield* reasonOf(rawHeader(["PNG nonsense"]))).toBe("not a FITS file: first card is not SIMPLE = T")
      expect(yield* reasonOf(headerWith("SIMPLE  =                    F"))).toBe("not a standard FITS file: SIMPLE = F")
    }))

  it.effect("a file smaller than one block", () =>
    Effect.gen(function*() {
      expect(yield* reasonOf(new Uint8Array(100))).toBe("not a FITS file: 100 bytes is less than one 2,880-byte header block")
    }))

  it.effect("a cube whose data the file does not hold", () =>
    Effect.gen(function*() {
      const bytes = writeCube({ nx: 10, ny: 10, nchan: 10, data: new Float32Array(1000) })
      expect(yield* reasonOf(bytes.subarray(0, 2880 + 1200))).toBe(
        "truncated: header declares 4,000 data bytes but the file has 1,200"
      )
    }))

  it.effect("an unsupported BITPIX", () =>
    Effect.gen(function*() {
      expect(yield* reasonOf(headerWith(...axes(24, 1, 1, 1)))).toBe(
        "unsupported BITPIX 24 (supported: 8, 16, 32, -32, -64)"
      )
    }))

  it.effect("anything but 3 axes or 4 with a degenerate 4th", () =>
    Effect.gen(function*() {
      expect(yield* reasonOf(headerWith(...axes(-32, 5, 5)))).toBe(
        "NAXIS = 2: a cube needs 3 axes (or 4 with a degenerate 4th)"
      )
      expect(yield* reasonOf(headerWith(...axes(-32, 2, 2, 2, 2)))).toBe(
        "NAXIS4 = 2: a 4-axis cube needs a degenerate 4th axis (NAXIS4 = 1)"
      )
    }))

  it.effect("a zero-length axis", () =>
    Effect.gen(function*() {
      expect(yield* reasonOf(headerWith(...axes(-32, 5, 0, 5)))).toBe("NAXIS2 = 0: axis sizes must be positive integers")
    }))

  it.effect("mandatory keywords out of order or mistyped", () =>
    Effect.gen(function*() {
      expect(yield* reasonOf(headerWith("SIMPLE  =                    T", "NAXIS   =                    3"))).toBe(
        "card 2 must be BITPIX, found NAXIS"
      )
      expect(yield* reasonOf(headerWith(...axes(-32, 5, 5, 5).slice(0, 4), "NAXIS3  =                    5"))).toBe(
        "card 5 must be NAXIS2, found NAXIS3"
      )
      expect(yield* reasonOf(headerWith(...axes(-32, 5, 5).slice(0, 2), "NAXIS   =                  3.5"))).toBe(
        "NAXIS = 3.5 is not an integer"
      )
    }))

  it.effect("a data size that overflows a safe integer", () =>
    Effect.gen(function*() {
      expect(yield* reasonOf(headerWith(...axes(-64, 100000000, 100000000, 100000000)))).toBe(
        "data size overflows: 100000000 × 100000000 × 100000000 values of 8 bytes is 8,000,000,000,000,000,000,000,000 bytes"
      )
    }))

  it.effect("BSCALE = 0, a non-numeric BSCALE and a fractional BLANK", () =>
    Effect.gen(function*() {
      const cube = (...extra: Array<string>) => withData(headerWith(...axes(16, 1, 1, 1), ...extra), 2)
      expect(yield* reasonOf(cube("BSCALE  =                  0.0"))).toBe("BSCALE = 0")
      expect(yield* reasonOf(cube("BSCALE  =                  NaN"))).toBe("BSCALE = NaN is not a number")
      expect(yield* reasonOf(cube("BLANK   =                  1.5"))).toBe("BLANK = 1.5 is not an integer")
    }))

  it.effect("a header without END", () =>
    Effect.gen(function*() {
      expect(yield* reasonOf(rawHeader(axes(-32, 1, 1, 1)))).toBe("truncated: no END card in the file's 1 header blocks")
      const endless = new Uint8Array(1001 * 2880).fill(0x20)
      endless.set(rawHeader(axes(-32, 1, 1, 1)))
      expect(yield* reasonOf(endless)).toBe("no END card within the first 1,000 header blocks")
    }))

  it.effect("passes the source's own error through unchanged", () =>
    Effect.gen(function*() {
      const src: Fits.ByteSource<"offline"> = { size: 1e6, read: () => Effect.fail("offline" as const) }
      expect(yield* failure(Fits.readHeader(src))).toBe("offline")
    }))
})

describe("Fits.readSpectra", () => {
  it.effect("the GRS 3×3 field agrees with the corner of the 5×5 field", () =>
    Effect.gen(function*() {
      const small = example("grs-3x3.fits")
      const large = example("grs-5x5.fits")
      const hs = yield* Fits.readHeader(small)
      const hl = yield* Fits.readHeader(large)
      const all = yield* Fits.readSpectra(small, hs, 0, 9)
      expect(all.filter(Number.isFinite).length).toBeGreaterThan(9 * 400)
      for (let y = 0; y < 3; y++) {
        const fromSmall = yield* Fits.readSpectra(small, hs, y * 3, 3)
        const fromLarge = yield* Fits.readSpectra(large, hl, y * 5, 3)
        expect(Array.from(fromLarge)).toEqual(Array.from(fromSmall))
        expect(Array.from(fromSmall)).toEqual(Array.from(all.subarray(y * 3 * 424, (y + 1) * 3 * 424)))
      }
    }))

  it.effect("returns spectrum-major [count][nchan] for pixel p = y·nx + x", () =>
    Effect.gen(function*() {
      const bytes = writeCube({ nx: 4, ny: 3, nchan: 5, data: indexed(4, 3, 5) })
      const src = Fits.fromBytes(bytes)
      const h = yield* Fits.readHeader(src)
      const spectra = yield* Fits.readSpectra(src, h, 6, 2)
      expect(Array.from(spectra)).toEqual([6000, 6001, 6002, 6003, 6004, 7000, 7001, 7002, 7003, 7004])
      // channel c of pixel p sits at dataOffset + (c·nx·ny + p)·4, big-endian
      expect(new DataView(bytes.buffer).getFloat32(h.dataOffset + (2 * 12 + 7) * 4, false)).toBe(7002)
    }))

  it.effect.prop(
    "every BITPIX round-trips through writeCube, with BSCALE/BZERO and BLANK → NaN",
    [
      fc.constantFrom<Array<Fits.Bitpix>>(8, 16, 32, -32, -64),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 2 ** 31 - 1 })
    ],
    ([bitpix, nx, ny, nchan, scaled, seed]) =>
      Effect.gen(function*() {
        const bscale = scaled ? 0.5 : 1
        const bzero = scaled ? 10 : 0
        const data = new Float32Array(nx * ny * nchan)
        let s = seed
        for (let i = 0; i < data.length; i++) {
          s = (s * 1103515245 + 12345) % 2 ** 31
          const raw = bitpix === 8 ? s % 255 : (s % 2001) - 1000 // BITPIX 8 keeps 255 for BLANK
          data[i] = i % 7 === 3 ? Number.NaN : raw * bscale + bzero
        }
        const bytes = writeCube({ nx, ny, nchan, data, bitpix, ...(scaled ? { bscale, bzero } : {}) })
        expect(bytes.length % 2880).toBe(0)
        const src = Fits.fromBytes(bytes)
        const h = yield* Fits.readHeader(src)
        expect([h.bitpix, h.bscale, h.bzero]).toEqual([bitpix, bscale, bzero])
        expect(Array.from(yield* Fits.readSpectra(src, h, 0, nx * ny))).toEqual(Array.from(data))
      })
  )

  it.effect("reads BITPIX 8 as unsigned", () =>
    Effect.gen(function*() {
      const src = Fits.fromBytes(writeCube({ nx: 1, ny: 1, nchan: 2, data: new Float32Array([200, 7]), bitpix: 8 }))
      expect(Array.from(yield* Fits.readSpectra(src, yield* Fits.readHeader(src), 0, 1))).toEqual([200, 7])
    }))

  it.effect.prop(
    "any pixel range equals the same slice of the whole cube, however reads are merged",
    [
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 9 }),
      fc.nat(),
      fc.nat(),
      fc.constantFrom(0, 16, 1 << 20),
      fc.constantFrom(1, 64, 1 << 20),
      fc.integer({ min: 1, max: 8 })
    ],
    ([nx, ny, nchan, a, b, maxGapBytes, maxReadBytes, concurrency]) =>
      Effect.gen(function*() {
        const npix = nx * ny
        const start = a % npix
        const count = b % (npix - start + 1)
        const src = Fits.fromBytes(writeCube({ nx, ny, nchan, data: indexed(nx, ny, nchan), bitpix: -64 }))
        const h = yield* Fits.readHeader(src)
        const got = yield* Fits.readSpectra(src, h, start, count, { maxGapBytes, maxReadBytes, concurrency })
        expect(Array.from(got)).toEqual(Array.from(indexed(nx, ny, nchan).subarray(start * nchan, (start + count) * nchan)))
      })
  )

  it.effect("makes one read per channel for a partial range, and merges reads of whole planes", () =>
    Effect.gen(function*() {
      const { src, reads } = recording(writeCube({ nx: 300, ny: 300, nchan: 20, data: indexed(300, 300, 20) }))
      const h = yield* Fits.readHeader(src)
      reads.length = 0
      yield* Fits.readSpectra(src, h, 500, 500)
      expect(reads).toHaveLength(20)
      expect(reads.every((r) => r.length === 500 * 4)).toBe(true)
      expect(reads.map((r) => r.offset - reads[0].offset)).toEqual(reads.map((_, c) => c * 300 * 300 * 4))
      reads.length = 0
      const all = yield* Fits.readSpectra(src, h, 0, 90_000, { maxReadBytes: 4 * 360_000 })
      expect(reads).toHaveLength(5)
      expect(reads.reduce((n, r) => n + r.length, 0)).toBe(h.dataBytes)
      expect(all[89_999 * 20 + 19]).toBe(Math.fround(89_999 * 1000 + 19))
    }))

  it.effect("merges channel reads across a small gap when allowed", () =>
    Effect.gen(function*() {
      const { src, reads } = recording(writeCube({ nx: 10, ny: 10, nchan: 6, data: indexed(10, 10, 6) }))
      const h = yield* Fits.readHeader(src)
      reads.length = 0
      const merged = yield* Fits.readSpectra(src, h, 20, 10, { maxGapBytes: 90 * 4 })
      expect(reads).toEqual([{ offset: h.dataOffset + 20 * 4, length: (5 * 100 + 10) * 4 }])
      expect(Array.from(merged)).toEqual(Array.from(indexed(10, 10, 6).subarray(20 * 6, 30 * 6)))
      reads.length = 0
      yield* Fits.readSpectra(src, h, 20, 10, { maxGapBytes: 89 * 4 })
      expect(reads).toHaveLength(6)
    }))

  it.effect("refuses a pixel range outside the cube", () =>
    Effect.gen(function*() {
      const src = Fits.fromBytes(writeCube({ nx: 3, ny: 2, nchan: 2, data: indexed(3, 2, 2) }))
      const h = yield* Fits.readHeader(src)
      const reason = (start: number, count: number) =>
        Effect.map(failure(Fits.readSpectra(src, h, start, count)), (e) => e.reason)
      expect(yield* reason(4, 3)).toBe("pixel range start 4, count 3 is outside the cube's 6 pixels (3 × 2)")
      expect(yield* reason(-1, 1)).toBe("pixel range start -1, count 1 is outside the cube's 6 pixels (3 × 2)")
      expect(yield* reason(0.5, 1)).toBe("pixel range start 0.5, count 1 is outside the cube's 6 pixels (3 × 2)")
      expect(Array.from(yield* Fits.readSpectra(src, h, 6, 0))).toEqual([])
    }))

  it.effect("fails as truncated when the source returns fewer bytes than asked", () =>
    Effect.gen(function*() {
      const bytes = writeCube({ nx: 3, ny: 2, nchan: 2, data: indexed(3, 2, 2) })
      const h = yield* Fits.readHeader(Fits.fromBytes(bytes))
      const short: Fits.ByteSource<never> = { size: bytes.length, read: (o, n) => Effect.succeed(bytes.subarray(o, o + n - 1)) }
      const e = yield* failure(Fits.readSpectra(short, h, 0, 6))
      expect(e.reason).toBe("truncated: read of 48 bytes at offset 2,880 returned 47")
    }))

  it.effect("decodes a source whose bytes are a view into a larger buffer", () =>
    Effect.gen(function*() {
      const bytes = writeCube({ nx: 2, ny: 2, nchan: 3, data: indexed(2, 2, 3), bitpix: 16 })
      const padded = new Uint8Array(bytes.length + 1)
      padded.set(bytes, 1)
      const src = Fits.fromBytes(padded.subarray(1))
      const h = yield* Fits.readHeader(src)
      expect(Array.from(yield* Fits.readSpectra(src, h, 0, 4))).toEqual(Array.from(indexed(2, 2, 3)))
    }))
})
