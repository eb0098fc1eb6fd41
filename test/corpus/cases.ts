/**
 * The hostile-input corpus: bad cubes, bad options and bad manifests, each with the one
 * line phs must answer with. Files are generated at test time from this table (core's
 * `FitsWriter`), so the corpus costs a few KB on disk; `files/` holds the two inputs that
 * read better as literal text.
 *
 * CLI cases run `phs pipeline FILE ARGS…` and expect exit code 2 and exactly one stderr line
 * matching `error`. Manifest cases cannot be reached through the local CLI (it builds the
 * manifest itself): they go to `Params.decodeManifest` + `Params.resolve` and to
 * `Pipeline.prepare`, and expect a typed `InvalidInput` whose reason matches `error`.
 */
import * as fs from "node:fs"
import * as zlib from "node:zlib"
import { fileURLToPath } from "node:url"
import { formatCard, rawHeader, writeCube } from "../../packages/core/src/FitsWriter.js"

const BLOCK = 2880

/** A literal corpus file. */
export const corpusFile = (name: string): string => fileURLToPath(new URL(`./files/${name}`, import.meta.url))

/** What `phs pipeline` is given as its CUBE argument. */
export type Input =
  /** Bytes written to `cube.fits`. */
  | { readonly kind: "bytes"; readonly bytes: () => Uint8Array }
  /** A directory named `cube.fits`. */
  | { readonly kind: "directory" }

export interface CliCase {
  readonly name: string
  /** Default: a small valid cube (the case is about the options). */
  readonly input?: Input
  readonly args?: ReadonlyArray<string>
  /** The whole stderr line, `phs: ` included. */
  readonly error: RegExp
  /**
   * Checked in process instead of spawning phs, with what `phs pipeline` runs on it (the CLI
   * prints its reason after `phs: `): `LocalRun.checkCube` on the file, or
   * `Params.decodeSurvey` for `--survey NAME`. For variants of a path another CLI case
   * already takes: every spawn costs a Node start-up.
   */
  readonly inProcess?: boolean
}

export interface ManifestCase {
  readonly name: string
  /** The parsed manifest (what the aws splitter gets from `JSON.parse`). */
  readonly manifest: unknown
  readonly error: RegExp
  /** Only `Pipeline.prepare` can see this problem (it looks the cube up). */
  readonly prepareOnly?: boolean
}

// ---------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------

const bytes = (f: () => Uint8Array): Input => ({ kind: "bytes", bytes: f })

/** A card with a value written exactly as given (for values `formatCard` would normalise). */
const rawCard = (keyword: string, valueText: string): string => `${keyword.padEnd(8)}= ${valueText.padStart(20)}`

/** The mandatory cards of a primary header. */
const mandatory = (bitpix: number, ...naxis: ReadonlyArray<number>): Array<string> => [
  formatCard("SIMPLE", true),
  formatCard("BITPIX", bitpix),
  formatCard("NAXIS", naxis.length),
  ...naxis.map((n, i) => formatCard(`NAXIS${i + 1}`, n))
]

/** SIMPLE, BITPIX, NAXIS = 3 and then the given axis cards, as written. */
const threeAxes = (bitpix: number, ...axisCards: ReadonlyArray<string>): Array<string> => [
  formatCard("SIMPLE", true),
  formatCard("BITPIX", bitpix),
  formatCard("NAXIS", 3),
  ...axisCards
]

/** Header cards (END appended) followed by `dataBytes` zero bytes padded to whole blocks. */
const fits = (cards: ReadonlyArray<string>, dataBytes = 0): Uint8Array => {
  const header = rawHeader([...cards, "END"])
  const out = new Uint8Array(header.length + Math.ceil(dataBytes / BLOCK) * BLOCK)
  out.set(header)
  return out
}

/** A 2 × 2 × 16 cube of one Gaussian line per spectrum: valid in every respect. */
export const goodCube = (): Uint8Array =>
  writeCube({
    nx: 2,
    ny: 2,
    nchan: 16,
    data: new Float32Array(64).map((_, i) => 3 * Math.exp(-(((i % 16) - 8) ** 2) / 6) + 0.01 * Math.sin(i * 7.3))
  })

/** Data bytes of a cube header, for headers that should fail on something else. */
const dataOf = (bitpix: number, naxis: ReadonlyArray<number>) => naxis.reduce((a, n) => a * n, Math.abs(bitpix) / 8)

const withData = (bitpix: number, naxis: ReadonlyArray<number>, extra: ReadonlyArray<string> = []) =>
  fits([...mandatory(bitpix, ...naxis), ...extra], dataOf(bitpix, naxis))

const text = (s: string) => new TextEncoder().encode(s)

const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** An IMAGE extension HDU (header and zero data) of the given BITPIX and axes. */
export const imageExtension = (bitpix: number, naxis: ReadonlyArray<number>, extra: ReadonlyArray<string> = []): Uint8Array =>
  fits(
    [formatCard("XTENSION", "IMAGE"), formatCard("BITPIX", bitpix), formatCard("NAXIS", naxis.length), ...naxis.map((n, i) => formatCard(`NAXIS${i + 1}`, n)),
      formatCard("PCOUNT", 0), formatCard("GCOUNT", 1), ...extra],
    dataOf(bitpix, naxis)
  )

/** A BINTABLE extension of 10 rows of 8 bytes. */
export const bintable = (): Uint8Array =>
  fits(
    [formatCard("XTENSION", "BINTABLE"), formatCard("BITPIX", 8), formatCard("NAXIS", 2), formatCard("NAXIS1", 8), formatCard("NAXIS2", 10),
      formatCard("PCOUNT", 0), formatCard("GCOUNT", 1), formatCard("TFIELDS", 1), formatCard("TFORM1", "1D")],
    80
  )

/** A header written as text lines, one card a line (see files/*.hdr). */
const hdrFile = (name: string): Uint8Array => {
  const cards = fs.readFileSync(corpusFile(name), "utf8").split("\n").filter((l) => l.length > 0)
  const header = rawHeader(cards)
  const out = new Uint8Array(header.length + BLOCK)
  out.set(header)
  return out
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

const SURVEY_RULE = /a survey name is 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit$/.source

const surveyError = (name: string) => new RegExp(`^phs: bad survey name ${escape(JSON.stringify(name))}: ${SURVEY_RULE}`)

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const cubeError = (reason: string | RegExp) =>
  new RegExp(`^phs: cube\\.fits: ${typeof reason === "string" ? escape(reason) : reason.source}$`)

const VALID_PARAMS = escape(
  "Valid parameters: beta (0, 100], snr_min [0, 100], mf_snr_min [0, 1000], f_sep [0, 10], neg_thresh (0, 1000], max_refine_iter integer [0, 20] (the pipeline also takes timeout_ms)"
)

const paramError = (problem: string) => new RegExp(`^phs: invalid fit parameters: ${escape(problem)}\\. ${VALID_PARAMS}$`)

// ---------------------------------------------------------------------------------------
// Through the CLI
// ---------------------------------------------------------------------------------------

export const cliCases: ReadonlyArray<CliCase> = [
  // --- not FITS at all
  {
    name: "a text file",
    input: bytes(() => text("Dear observer,\nthis is a text file, not a cube.\n".repeat(80))),
    error: cubeError("not a FITS file: first card is not SIMPLE = T"),
    inProcess: true
  },
  {
    name: "a small CSV spectrum (literal file)",
    input: bytes(() => fs.readFileSync(corpusFile("spectrum.csv"))),
    error: cubeError(/not a FITS file: \d+ bytes is less than one 2,880-byte header block/)
  },
  {
    name: "an empty file",
    input: bytes(() => new Uint8Array(0)),
    error: cubeError("not a FITS file: 0 bytes is less than one 2,880-byte header block")
  },
  {
    name: "a PNG image",
    input: bytes(() => {
      const out = new Uint8Array(4000)
      out.set(PNG_SIGNATURE)
      out.set(text("\0\0\0\rIHDR"), 8)
      return out
    }),
    error: cubeError("not a FITS file: first card is not SIMPLE = T")
  },
  {
    name: "a gzip-compressed cube",
    input: bytes(() => new Uint8Array(zlib.gzipSync(goodCube(), { level: 0 }))),
    error: cubeError("not a FITS file: the file is gzip-compressed (decompress it first)")
  },
  // phs pipeline DIR runs the cubes in it (a survey's tiles): an empty one has none.
  { name: "a directory instead of a file", input: { kind: "directory" }, error: /^phs: .*cube\.fits: no FITS cubes there$/ },

  // --- header structure
  {
    name: "a header truncated mid-block",
    input: bytes(() => {
      const cards = [...mandatory(-32, 2, 2, 16), ...Array.from({ length: 40 }, (_, i) => formatCard(`KEY${i}`, i))]
      return fits(cards, 256).subarray(0, BLOCK + 1000)
    }),
    error: cubeError("truncated: no END card in the file's 1 header blocks")
  },
  {
    name: "a file cut inside its first header block",
    input: bytes(() => goodCube().subarray(0, 1000)),
    error: cubeError("not a FITS file: 1,000 bytes is less than one 2,880-byte header block"),
    inProcess: true
  },
  {
    name: "a header without END",
    input: bytes(() => {
      const header = rawHeader(mandatory(-32, 2, 2, 16))
      const out = new Uint8Array(header.length + BLOCK)
      out.set(header)
      return out
    }),
    error: cubeError("truncated: no END card in the file's 2 header blocks")
  },
  {
    name: "a header longer than the block cap (1,001 blocks, no END)",
    input: bytes(() => {
      const out = new Uint8Array(1001 * BLOCK).fill(0x20)
      out.set(rawHeader(mandatory(-32, 2, 2, 16)))
      return out
    }),
    error: cubeError("no END card within the first 1,000 header blocks")
  },
  {
    name: "truncated data",
    input: bytes(() => goodCube().subarray(0, BLOCK + 100)),
    error: cubeError("truncated: header declares 256 data bytes but the file has 100")
  },
  {
    name: "SIMPLE = F",
    input: bytes(() => fits([formatCard("SIMPLE", false), ...mandatory(-32, 2, 2, 16).slice(1)], 256)),
    error: cubeError("not a standard FITS file: SIMPLE = F")
  },
  {
    name: "SIMPLE without a value indicator",
    input: bytes(() => fits(["SIMPLE    T", ...mandatory(-32, 2, 2, 16).slice(1)], 256)),
    error: cubeError("not a FITS file: SIMPLE = (no value), expected T"),
    inProcess: true
  },

  // --- BITPIX
  {
    name: "BITPIX missing",
    input: bytes(() => fits(mandatory(-32, 2, 2, 16).filter((c) => !c.startsWith("BITPIX")), 256)),
    error: cubeError("card 2 must be BITPIX, found NAXIS")
  },
  {
    name: "BITPIX not an integer",
    input: bytes(() => fits([formatCard("SIMPLE", true), rawCard("BITPIX", "-32.5"), ...mandatory(-32, 2, 2, 16).slice(2)], 256)),
    error: cubeError("BITPIX = -32.5 is not an integer")
  },
  {
    name: "BITPIX a string",
    input: bytes(() => fits([formatCard("SIMPLE", true), formatCard("BITPIX", "E"), ...mandatory(-32, 2, 2, 16).slice(2)], 256)),
    error: cubeError("BITPIX = 'E       ' is not an integer"),
    inProcess: true
  },
  { name: "BITPIX 24", input: bytes(() => withData(24, [2, 2, 16])), error: cubeError("unsupported BITPIX 24 (supported: 8, 16, 32, -32, -64)") },
  { name: "BITPIX 0", input: bytes(() => withData(0, [2, 2, 16])), error: cubeError("unsupported BITPIX 0 (supported: 8, 16, 32, -32, -64)"), inProcess: true },
  { name: "BITPIX -16", input: bytes(() => withData(-16, [2, 2, 16])), error: cubeError("unsupported BITPIX -16 (supported: 8, 16, 32, -32, -64)"), inProcess: true },

  // --- NAXIS
  { name: "NAXIS = 0", input: bytes(() => withData(-32, [])), error: cubeError("NAXIS = 0: a cube needs 3 axes (or 4 with a degenerate 4th)") },
  { name: "NAXIS = 1", input: bytes(() => withData(-32, [64])), error: cubeError("NAXIS = 1: a cube needs 3 axes (or 4 with a degenerate 4th)"), inProcess: true },
  { name: "NAXIS = 2 (an image)", input: bytes(() => withData(-32, [4, 4])), error: cubeError("NAXIS = 2: a cube needs 3 axes (or 4 with a degenerate 4th)") },
  { name: "NAXIS = 5", input: bytes(() => withData(-32, [2, 2, 4, 1, 1])), error: cubeError("NAXIS = 5: a cube needs 3 axes (or 4 with a degenerate 4th)"), inProcess: true },
  {
    name: "NAXIS = 4 with NAXIS4 = 2",
    input: bytes(() => withData(-32, [2, 2, 4, 2])),
    error: cubeError("NAXIS4 = 2: a 4-axis cube needs a degenerate 4th axis (NAXIS4 = 1)")
  },
  { name: "NAXIS2 = 0", input: bytes(() => withData(-32, [2, 0, 16])), error: cubeError("NAXIS2 = 0: axis sizes must be positive integers") },
  { name: "NAXIS1 negative", input: bytes(() => fits(mandatory(-32, -4, 2, 16))), error: cubeError("NAXIS1 = -4: axis sizes must be positive integers"), inProcess: true },
  {
    name: "NAXIS3 not an integer",
    input: bytes(() => fits(threeAxes(-32, formatCard("NAXIS1", 2), formatCard("NAXIS2", 2), formatCard("NAXIS3", 2.5)), 256)),
    error: cubeError("NAXIS3 = 2.5 is not an integer")
  },
  {
    name: "NAXIS3 missing",
    input: bytes(() => fits(threeAxes(-32, formatCard("NAXIS1", 2), formatCard("NAXIS2", 2)), 256)),
    error: cubeError("card 6 must be NAXIS3, found END"),
    inProcess: true
  },
  {
    name: "an axis size beyond 2^53",
    input: bytes(() => fits(threeAxes(-32, formatCard("NAXIS1", 2), formatCard("NAXIS2", 2), rawCard("NAXIS3", "99999999999999999999")))),
    error: cubeError("NAXIS3 = 99999999999999999999 is out of range (beyond ±2^53)")
  },
  {
    name: "axes whose product overflows 2^53",
    input: bytes(() => fits(mandatory(-64, 2 ** 20, 2 ** 20, 2 ** 20))),
    error: cubeError("data size overflows: 1048576 × 1048576 × 1048576 values of 8 bytes is 9,223,372,036,854,775,808 bytes")
  },
  {
    name: "axes whose data exceed the file",
    input: bytes(() => fits(mandatory(-32, 1000, 1000, 1000), 256)),
    error: cubeError("truncated: header declares 4,000,000,000 data bytes but the file has 2,880")
  },

  // --- keywords as the reader defines them: positional mandatory cards, upper case, first occurrence wins
  {
    name: "lower-case mandatory keywords (literal header)",
    input: bytes(() => hdrFile("lowercase-keywords.hdr")),
    error: cubeError("card 2 must be BITPIX, found bitpix")
  },
  {
    name: "NAXIS duplicated where NAXIS1 belongs",
    input: bytes(() => fits([...mandatory(-32, 2, 2, 16).slice(0, 3), formatCard("NAXIS", 3), ...mandatory(-32, 2, 2, 16).slice(3)], 256)),
    error: cubeError("card 4 must be NAXIS1, found NAXIS")
  },
  {
    name: "NAXISn out of order",
    input: bytes(() => {
      const c = mandatory(-32, 2, 2, 16)
      return fits([c[0], c[1], c[2], c[4], c[3], c[5]], 256)
    }),
    error: cubeError("card 4 must be NAXIS1, found NAXIS2"),
    inProcess: true
  },
  {
    name: "a duplicated BSCALE (the first, 0, wins)",
    input: bytes(() => withData(16, [2, 2, 16], [formatCard("BSCALE", 0), formatCard("BSCALE", 1)])),
    error: cubeError("BSCALE = 0"),
    inProcess: true
  },
  {
    name: "a terminal escape where BITPIX belongs",
    input: bytes(() => fits([formatCard("SIMPLE", true), "\x1b[2J\x1b[H = -32", ...mandatory(-32, 2, 2, 16).slice(2)], 256)),
    error: cubeError("card 2 must be BITPIX, found \\x1b[2J\\x1b[H")
  },
  {
    name: "a line break inside a quoted BITPIX",
    input: bytes(() => fits([formatCard("SIMPLE", true), "BITPIX  = 'a\nb'", ...mandatory(-32, 2, 2, 16).slice(2)], 256)),
    error: cubeError("BITPIX = 'a\\x0ab' is not an integer")
  },

  // --- scaling
  { name: "BSCALE = 0", input: bytes(() => withData(16, [2, 2, 16], [formatCard("BSCALE", 0)])), error: cubeError("BSCALE = 0") },
  { name: "BSCALE not a number", input: bytes(() => withData(16, [2, 2, 16], [formatCard("BSCALE", "two")])), error: cubeError("BSCALE = two is not a number") },
  { name: "BLANK not an integer", input: bytes(() => withData(16, [2, 2, 16], [rawCard("BLANK", "1.5")])), error: cubeError("BLANK = 1.5 is not an integer"), inProcess: true },

  // --- data
  {
    name: "a cube of blank (NaN) spectra only",
    input: bytes(() => writeCube({ nx: 3, ny: 2, nchan: 16, data: new Float32Array(96).fill(Number.NaN) })),
    error: /^phs: every spectrum of the cube is blank \(NaN or infinite\): 3 × 2 × 16 cube, BITPIX -32, 384 data bytes at offset 2,880$/
  },
  {
    name: "a cube of +Inf spectra only (refused like all-NaN)",
    input: bytes(() => writeCube({ nx: 3, ny: 2, nchan: 16, data: new Float32Array(96).fill(Number.POSITIVE_INFINITY) })),
    error: /^phs: every spectrum of the cube is blank \(NaN or infinite\): 3 × 2 × 16 cube, BITPIX -32, 384 data bytes at offset 2,880$/
  },
  {
    name: "a cube of -Inf, +Inf and NaN only",
    input: bytes(() => writeCube({ nx: 2, ny: 2, nchan: 16, data: new Float32Array(64).map((_, i) => [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, Number.NaN][i % 3]) })),
    error: /^phs: every spectrum of the cube is blank \(NaN or infinite\): 2 × 2 × 16 cube/
  },
  {
    name: "more channels than the decomposer takes (65,537)",
    input: bytes(() => withData(-32, [1, 1, 65_537])),
    error: cubeError("65,537 channels per spectrum: the decomposer takes at most 65,536 (rebin or cut the velocity axis)")
  },

  // --- HDUs
  {
    name: "an empty primary HDU and a binary table",
    input: bytes(() => concat(fits([...mandatory(8), formatCard("EXTEND", true)]), bintable())),
    error: cubeError("NAXIS = 0: a cube needs 3 axes (or 4 with a degenerate 4th); and none of the file's 2 HDUs holds a 3-D image")
  },
  {
    name: "an empty primary HDU and an image extension with an unsupported BITPIX",
    input: bytes(() => concat(fits([...mandatory(8), formatCard("EXTEND", true)]), imageExtension(24, [2, 2, 16]))),
    error: cubeError("unsupported BITPIX 24 (supported: 8, 16, 32, -32, -64)"),
    inProcess: true
  },
  {
    name: "an image extension whose data the file does not hold",
    input: bytes(() => concat(fits([...mandatory(8), formatCard("EXTEND", true)]), imageExtension(-32, [4, 4, 64]).subarray(0, 2 * BLOCK))),
    error: cubeError("truncated: header declares 4,096 data bytes but the file has 2,880"),
    inProcess: true
  },

  // --- --concurrency
  { name: "--concurrency 0", args: ["--concurrency", "0"], error: /^phs: --concurrency 0: must be at least 1 \(chunks fitted at once\)$/ },
  { name: "--concurrency -1", args: ["--concurrency", "-1"], error: /^phs: --concurrency -1: must be at least 1 \(chunks fitted at once\)$/ },

  // --- --param
  { name: "an unknown --param", args: ["--param", "betta=3"], error: paramError('unknown parameter "betta"') },
  { name: "an out-of-range --param", args: ["--param", "beta=-1"], error: paramError("beta = -1 is out of range (beta (0, 100])") },
  { name: "a non-numeric --param", args: ["--param", "beta=high"], error: /^phs: --param beta=high: the value must be a number$/ },
  { name: "a --param name with a line break", args: ["--param", "be\nta=3"], error: paramError('unknown parameter "be\\u000ata"') },

  // --- --chunk-size
  { name: "--chunk-size 0", args: ["--chunk-size", "0"], error: /^phs: --chunk-size 0: must be 1 to 100000 \(spectra per chunk\)$/ },
  { name: "--chunk-size negative", args: ["--chunk-size", "-5"], error: /^phs: --chunk-size -5: must be 1 to 100000 \(spectra per chunk\)$/ },
  {
    name: "--chunk-size huge",
    args: ["--chunk-size", "99999999999"],
    error: /^phs: --chunk-size 99999999999: must be 1 to 100000 \(spectra per chunk\)$/
  },

  // --- --survey
  { name: "survey ../x", args: ["--survey", "../x"], error: surveyError("../x") },
  { name: "survey A (upper case)", args: ["--survey", "A"], error: surveyError("A"), inProcess: true },
  { name: "survey a/b", args: ["--survey", "a/b"], error: surveyError("a/b") },
  { name: "survey of 64 characters", args: ["--survey", "s".repeat(64)], error: surveyError("s".repeat(64)), inProcess: true },
  { name: "an empty survey", args: ["--survey", ""], error: surveyError(""), inProcess: true },
]

// ---------------------------------------------------------------------------------------
// Manifests (the aws trigger): Params.decodeManifest + Params.resolve, and Pipeline.prepare
// ---------------------------------------------------------------------------------------

const good = { cube_key: "cubes/good.fits", survey: "grs" }
const CUBE_KEY_RULE = "cube_key: cube_key must be a key under cubes/ without .. or empty segments"

const manifestError = (reason: string) => new RegExp(`^bad manifest: ${escape(reason)}$`)
const fitError = (problem: string) =>
  new RegExp(`^invalid fit parameters: ${escape(problem)}\\. ${VALID_PARAMS}$`)

export const manifestCases: ReadonlyArray<ManifestCase> = [
  { name: "null", manifest: null, error: manifestError("expected a JSON object, got null") },
  { name: "an array", manifest: [good], error: manifestError('expected a JSON object, got [{"cube_key":"cubes/good.fits","survey":"grs"}]') },
  { name: "a string", manifest: "cubes/good.fits", error: manifestError('expected a JSON object, got "cubes/good.fits"') },
  { name: "cube_key outside cubes/", manifest: { ...good, cube_key: "manifests/x.json" }, error: manifestError(CUBE_KEY_RULE) },
  { name: "cube_key escaping cubes/ with ..", manifest: { ...good, cube_key: "cubes/../runs/x.fits" }, error: manifestError(CUBE_KEY_RULE) },
  { name: "cube_key with a .. segment at the end", manifest: { ...good, cube_key: "cubes/a/.." }, error: manifestError(CUBE_KEY_RULE) },
  { name: "cube_key with an empty segment", manifest: { ...good, cube_key: "cubes//x.fits" }, error: manifestError(CUBE_KEY_RULE) },
  { name: "cube_key with backslashes", manifest: { ...good, cube_key: "cubes\\..\\x.fits" }, error: manifestError(CUBE_KEY_RULE) },
  { name: "cube_key absolute", manifest: { ...good, cube_key: "/cubes/x.fits" }, error: manifestError(CUBE_KEY_RULE) },
  { name: "cube_key a number", manifest: { ...good, cube_key: 42 }, error: manifestError("cube_key: Expected string, actual 42") },
  { name: "cube_key missing", manifest: { survey: "grs" }, error: manifestError("cube_key: is missing") },
  { name: "survey a boolean", manifest: { ...good, survey: true }, error: manifestError("survey: Expected string, actual true") },
  {
    name: "survey with a path",
    manifest: { ...good, survey: "../grs" },
    error: manifestError("survey: a survey name is 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit")
  },
  {
    name: "an unknown manifest field",
    manifest: { ...good, beta: 3 },
    error: manifestError('beta: is unexpected, expected: "cube_key" | "survey" | "params" | "chunk_size" | "refit" | "hdu" | "cube_name"')
  },
  {
    name: "a __proto__ manifest field",
    manifest: JSON.parse('{"cube_key":"cubes/good.fits","survey":"grs","__proto__":{"params":{"beta":200}}}'),
    error: manifestError('__proto__: is unexpected, expected: "cube_key" | "survey" | "params" | "chunk_size" | "refit" | "hdu" | "cube_name"')
  },
  {
    name: "an unknown field with a line break",
    manifest: { ...good, "a\nb": 1 },
    error: manifestError('a\\u000ab: is unexpected, expected: "cube_key" | "survey" | "params" | "chunk_size" | "refit" | "hdu" | "cube_name"')
  },
  { name: "params an array", manifest: { ...good, params: [3.5] }, error: manifestError('params: expected an object of parameter values such as {"beta": 3.5}, got [3.5]') },
  { name: "params null", manifest: { ...good, params: null }, error: manifestError('params: expected an object of parameter values such as {"beta": 3.5}, got null') },
  { name: "a param of the wrong type", manifest: { ...good, params: { beta: "3.5" } }, error: fitError("beta must be a number, got string") },
  { name: "a null param", manifest: { ...good, params: { snr_min: null } }, error: fitError("snr_min must be a number, got null") },
  { name: "an unknown param", manifest: { ...good, params: { betta: 3 } }, error: fitError('unknown parameter "betta"') },
  { name: "a param at its excluded minimum", manifest: { ...good, params: { beta: 0 } }, error: fitError("beta = 0 is out of range (beta (0, 100])") },
  { name: "a fractional integer param", manifest: { ...good, params: { max_refine_iter: 2.5 } }, error: fitError("max_refine_iter must be an integer, got 2.5") },
  {
    name: "timeout_ms out of range",
    manifest: { ...good, params: { timeout_ms: 1e6 } },
    error: /^timeout_ms must be a number of milliseconds in \[1, 900000\], got 1000000$/
  },
  {
    name: "a __proto__ param",
    manifest: JSON.parse('{"cube_key":"cubes/good.fits","survey":"grs","params":{"__proto__":{"beta":200}}}'),
    error: /^bad manifest: params: unknown parameter "__proto__"; valid parameters: beta \(default 3\.5\), .*timeout_ms \(default 5000\)$/
  },
  {
    name: "timeout_ms a string",
    manifest: { ...good, params: { timeout_ms: "5000" } },
    error: /^timeout_ms must be a number of milliseconds in \[1, 900000\], got "5000"$/
  },
  { name: "chunk_size a string", manifest: { ...good, chunk_size: "500" }, error: manifestError('chunk_size: Expected number, actual "500"') },
  { name: "chunk_size fractional", manifest: { ...good, chunk_size: 2.5 }, error: manifestError("chunk_size: Expected an integer, actual 2.5") },
  { name: "chunk_size 0", manifest: { ...good, chunk_size: 0 }, error: manifestError("chunk_size: Expected a number between 1 and 100000, actual 0") },
  { name: "no cube at cube_key", manifest: { ...good, cube_key: "cubes/missing.fits" }, error: /^no cube at cubes\/missing\.fits$/, prepareOnly: true },
  { name: "hdu negative", manifest: { ...good, hdu: -1 }, error: manifestError("hdu: hdu is an HDU number, 0 for the primary") },
  { name: "hdu a string", manifest: { ...good, hdu: "1" }, error: manifestError('hdu: Expected number, actual "1"') },
  { name: "hdu past the file's last HDU", manifest: { ...good, hdu: 3 }, error: /^no HDU 3: the file has only the primary HDU \(0\)$/, prepareOnly: true }
]
