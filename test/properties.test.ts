/**
 * Property-based tests of the two parsers that take hostile input: the FITS header reader
 * and the manifest / parameter decoder. Neither may throw or die, whatever the input: it
 * succeeds with a self-consistent value or fails with its typed error and one readable line.
 *
 * Default: a few thousand cases in all. Long mode: `PHS_PROPERTY_RUNS=N` spreads N cases
 * over the properties (`npm run test:properties:long` runs 100,000).
 */
import { BlobStore, Errors, Fits, FitsWriter, Params } from "@phs/core"
import * as Native from "@phs/fit-native"
import { Cause, Effect, Exit, Option, Schema } from "effect"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"

// ---------------------------------------------------------------------------------------
// Budget
// ---------------------------------------------------------------------------------------

const LONG = Number(process.env.PHS_PROPERTY_RUNS ?? "")
const isLong = Number.isFinite(LONG) && LONG > 0

/** Runs of a property: its default, or its share of `PHS_PROPERTY_RUNS`. */
const runsFor = (defaultRuns: number, share: number): number => (isLong ? Math.max(1, Math.round(LONG * share)) : defaultRuns)

const TIMEOUT = isLong ? 60 * 60_000 : 60_000

const stats: Array<{ name: string; runs: number; ok: number; failed: number; ms: number }> = []

afterAll(() => {
  const total = stats.reduce((n, s) => n + s.runs, 0)
  const ms = stats.reduce((n, s) => n + s.ms, 0)
  const lines = stats.map((s) => `  ${s.name}: ${s.runs} cases (${s.ok} accepted, ${s.failed} refused) in ${(s.ms / 1000).toFixed(1)} s`)
  process.stdout.write(`\nproperty cases: ${total} in ${(ms / 1000).toFixed(1)} s${isLong ? " (long mode)" : ""}\n${lines.join("\n")}\n`)
})

/** Cases per `fc.assert`: a long run yields to the event loop between batches (vitest's worker RPC). */
const BATCH = 10_000

/** Runs `predicate` over `arb` `numRuns` times, counting accepted / refused inputs. */
const check = async <A>(name: string, numRuns: number, arb: fc.Arbitrary<A>, predicate: (a: A) => "ok" | "failed") => {
  const s = { name, runs: 0, ok: 0, failed: 0, ms: 0 }
  const started = performance.now()
  const property = fc.property(arb, (a) => {
    const outcome = predicate(a)
    s.runs++
    s[outcome]++
  })
  for (let done = 0; done < numRuns; done += BATCH) {
    fc.assert(property, { numRuns: Math.min(BATCH, numRuns - done) })
    await new Promise((resolve) => setImmediate(resolve))
  }
  s.ms = performance.now() - started
  stats.push(s)
  return s
}

// ---------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** A typed failure (not a defect) whose reason is one non-empty readable line. */
const typedFailure = <E extends { readonly reason: string }>(
  exit: Exit.Failure<unknown, unknown>,
  errorClass: abstract new (...args: Array<never>) => E
): E => {
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`a defect, not a typed failure: ${Cause.pretty(exit.cause)}`)
  const error = failure.value
  if (!(error instanceof errorClass)) throw new Error(`not a ${errorClass.name}: ${String(error)}`)
  if (typeof error.reason !== "string" || error.reason.trim() === "") throw new Error("an empty reason")
  if (CONTROL.test(error.reason)) throw new Error(`a reason with control characters: ${JSON.stringify(error.reason)}`)
  if (error.reason.length > 1000) throw new Error(`a reason of ${error.reason.length} characters: ${error.reason}`)
  return error
}

const BLOCK = 2880

/** The header is consistent with itself and with the file it came from. */
const checkHeader = (h: Fits.CubeHeader, bytes: Uint8Array) => {
  const fail = (what: string) => {
    throw new Error(`inconsistent header (${what}): ${JSON.stringify({ ...h, cards: undefined })}`)
  }
  if (!(Number.isSafeInteger(h.dataOffset) && h.dataOffset > 0 && h.dataOffset % BLOCK === 0)) fail("dataOffset")
  for (const n of [h.nx, h.ny, h.nchan]) if (!(Number.isSafeInteger(n) && n > 0)) fail("axis sizes")
  if (!(h.naxis.length === 3 || (h.naxis.length === 4 && h.naxis[3] === 1))) fail("naxis")
  if (h.naxis[0] !== h.nx || h.naxis[1] !== h.ny || h.naxis[2] !== h.nchan) fail("naxis vs nx, ny, nchan")
  if (h.bytesPerValue !== Math.abs(h.bitpix) / 8) fail("bytesPerValue")
  if (h.dataBytes !== h.nx * h.ny * h.nchan * h.bytesPerValue) fail("dataBytes")
  if (h.dataOffset + h.dataBytes > bytes.length) fail("data beyond the file")
  if (!(Number.isFinite(h.bscale) && h.bscale !== 0 && Number.isFinite(h.bzero))) fail("bscale / bzero")
  if (!(h.blank === null || (h.bitpix > 0 && Number.isSafeInteger(h.blank)))) fail("blank")
  // The header ends at the block holding the first END card (an independent reading).
  const latin1 = new TextDecoder("latin1")
  for (let card = 0; card * 80 < h.dataOffset; card++) {
    const keyword = latin1.decode(bytes.subarray(card * 80, card * 80 + 8)).trimEnd()
    if (keyword === "END") {
      if (h.dataOffset !== (Math.floor(card / 36) + 1) * BLOCK) fail("dataOffset vs the END card")
      break
    }
    if ((card + 1) * 80 >= h.dataOffset) fail("no END card before dataOffset")
  }
  if (!isCubeHeader(h)) fail("schema")
}

const isCubeHeader = Schema.is(Fits.CubeHeader)

/** Reads the header of `bytes`: success (checked) or a readable `FitsError`; never a throw. */
const readHeader = (bytes: Uint8Array): "ok" | "failed" => {
  const src = Fits.fromBytes(bytes)
  const exit = Effect.runSyncExit(Fits.readHeader(src))
  if (Exit.isFailure(exit)) {
    const error = typedFailure(exit, Fits.FitsError)
    if (error._tag !== "FitsError" || error.message !== error.reason) throw new Error("a FitsError whose message is not its reason")
    return "failed"
  }
  const h = exit.value
  checkHeader(h, bytes)
  // What the header promises can be read: the first spectra, whole.
  const count = Math.min(Fits.pixelCount(h), 3)
  if (count * h.nchan <= 1 << 20) {
    const spectra = Effect.runSyncExit(Fits.readSpectra(src, h, 0, count, { concurrency: 1 }))
    if (Exit.isFailure(spectra)) throw new Error(`readSpectra failed on an accepted header: ${Cause.pretty(spectra.cause)}`)
    if (spectra.value.length !== count * h.nchan) throw new Error("readSpectra returned the wrong length")
  }
  return "ok"
}

// ---------------------------------------------------------------------------------------
// FITS generators
// ---------------------------------------------------------------------------------------

/** Latin-1 text: any byte. */
const latin1String = (maxLength: number) =>
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength }).map((codes) => String.fromCharCode(...codes))

const KEYWORDS = [
  "SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "NAXIS5", "BSCALE", "BZERO", "BLANK", "END",
  "COMMENT", "HISTORY", "CONTINUE", "", "CTYPE1", "CRVAL3", "CDELT3", "CUNIT3", "simple", "bitpix", "naxis", "Naxis1",
  "toString", "valueOf", "END     "
]

const VALUE_TEXTS = [
  "T", "F", "0", "-0", "+3", "3.0", "3.", ".5", "1E400", "-1E400", "2.5", "1D2", "1.0E-3", "99999999999999999999",
  "9007199254740993", "-9007199254740993", "NaN", "Infinity", "''", "'abc'", "'it''s'", "'unterminated", "'   '",
  "(1.0, 2.0)", "", " ", "1 2", "- 3", "0x10", "1_000", "T F", "'a'b'"
]

const keywordArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KEYWORDS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: latin1String(8) }
)

const valueTextArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -70, max: 70 }).map(String) },
  { weight: 3, arbitrary: fc.constantFrom(...VALUE_TEXTS) },
  { weight: 1, arbitrary: fc.double().map((d) => String(d).toUpperCase()) },
  { weight: 1, arbitrary: fc.bigInt().map(String) },
  { weight: 1, arbitrary: latin1String(20) }
)

/** One 80-character card from parts that are mostly, not always, well formed. */
const cardArb = fc
  .record({
    keyword: keywordArb,
    indicator: fc.constantFrom("= ", "= ", "= ", "= ", "=", "  ", " ="),
    value: valueTextArb,
    comment: fc.option(latin1String(30), { nil: undefined })
  })
  .map(({ keyword, indicator, value, comment }) =>
    `${keyword.padEnd(8).slice(0, 8)}${indicator}${value.padStart(20)}${comment === undefined ? "" : ` / ${comment}`}`.slice(0, 80)
  )

const valueCard = (keyword: string, value: string) => `${keyword.padEnd(8)}= ${value.padStart(20)}`.slice(0, 80)

/** A well-formed card a real header carries (WCS, metadata, commentary). */
const benignCardArb = fc
  .tuple(
    fc.constantFrom("OBJECT", "TELESCOP", "CTYPE1", "CTYPE3", "CRVAL3", "CRPIX3", "CDELT3", "CUNIT3", "BUNIT", "EQUINOX", "DATE-OBS", "KEY1"),
    fc.oneof(fc.integer().map(String), fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => String(d).toUpperCase()), fc.constantFrom("T", "F", "'VELO-LSR'", "'km/s'", "'GRS'"))
  )
  .map(([k, v]) => valueCard(k, v))

const commentaryArb = fc.tuple(fc.constantFrom("COMMENT ", "HISTORY ", "        "), latin1String(70)).map(([k, t]) => `${k}${t}`.slice(0, 80))

const axisTextArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 1, max: 5 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom("0", "-1", "1.5", "4294967296", "99999999999999999999", "1E3", "+2", "2.0") },
  { weight: 1, arbitrary: valueTextArb }
)

/** A header built around the mandatory cards, with arbitrary cards, END anywhere or nowhere, and data. */
const plausibleFileArb = fc
  .record({
    simple: fc.oneof({ weight: 19, arbitrary: fc.constant("T") }, { weight: 1, arbitrary: valueTextArb }),
    bitpix: fc.oneof(
      { weight: 16, arbitrary: fc.constantFrom("8", "16", "32", "-32", "-64") },
      { weight: 1, arbitrary: fc.constantFrom("0", "24", "-16", "64", "1", "-32.0", "'8'") },
      { weight: 1, arbitrary: valueTextArb }
    ),
    axes: fc.oneof(
      { weight: 6, arbitrary: fc.array(axisTextArb, { minLength: 3, maxLength: 3 }) },
      { weight: 1, arbitrary: fc.array(axisTextArb, { maxLength: 6 }) }
    ),
    /** Lie about NAXIS sometimes. */
    naxisText: fc.oneof({ weight: 14, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: valueTextArb }),
    degenerate: fc.boolean(),
    /** Cards inserted among the mandatory ones (at card index). */
    inserted: fc.oneof({ weight: 8, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(8), cardArb), { minLength: 1, maxLength: 2 }) }),
    extra: fc.array(
      fc.oneof({ weight: 12, arbitrary: benignCardArb }, { weight: 4, arbitrary: commentaryArb }, { weight: 1, arbitrary: cardArb }),
      { maxLength: 100 }
    ),
    /** Where END goes: after the cards, at an index, or nowhere. */
    end: fc.oneof(
      { weight: 12, arbitrary: fc.constant<"after" | "none" | number>("after") },
      { weight: 1, arbitrary: fc.constant("none" as const) },
      { weight: 1, arbitrary: fc.nat(120) }
    ),
    blankBlocks: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(3) }),
    dataDelta: fc.oneof(
      { weight: 4, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.nat(3000) },
      { weight: 1, arbitrary: fc.integer({ min: -3000, max: -1 }) }
    ),
    dataByte: fc.integer({ min: 0, max: 255 })
  })
  .map((g) => {
    const axes = g.degenerate && g.axes.length === 3 ? [...g.axes, "1"] : g.axes
    const cards: Array<string> = [
      valueCard("SIMPLE", g.simple),
      valueCard("BITPIX", g.bitpix),
      valueCard("NAXIS", g.naxisText ?? String(axes.length)),
      ...axes.map((a, i) => valueCard(`NAXIS${i + 1}`, a))
    ]
    for (const [at, card] of g.inserted) cards.splice(Math.min(at, cards.length), 0, card)
    cards.push(...g.extra)
    if (g.end === "after") cards.push("END")
    else if (typeof g.end === "number") cards.splice(Math.min(g.end, cards.length), 0, "END")
    const header = FitsWriter.rawHeader(cards)
    // Data of about the declared size when the declaration is sane and small.
    const bpv = Math.abs(Number(g.bitpix)) / 8
    const declared = axes.reduce((n, a) => n * Number(a), Number.isFinite(bpv) ? bpv : 1)
    const data = Number.isSafeInteger(declared) && declared >= 0 && declared <= 64 * 1024 ? declared : 0
    const size = header.length + g.blankBlocks * BLOCK + Math.max(0, data + g.dataDelta)
    const out = new Uint8Array(size).fill(g.dataByte, header.length + g.blankBlocks * BLOCK)
    out.fill(0x20, header.length, header.length + g.blankBlocks * BLOCK)
    out.set(header)
    return out
  })

const cubeSpecArb = fc.record({
  nx: fc.integer({ min: 1, max: 4 }),
  ny: fc.integer({ min: 1, max: 4 }),
  nchan: fc.integer({ min: 1, max: 8 }),
  bitpix: fc.constantFrom<Fits.Bitpix>(8, 16, 32, -32, -64),
  degenerate: fc.boolean(),
  bscale: fc.option(fc.constantFrom(0.5, 2, -1, 1e-3), { nil: undefined }),
  bzero: fc.option(fc.constantFrom(0, 100, -32768), { nil: undefined }),
  extraCards: fc.nat(40)
})

const validCube = (s: typeof cubeSpecArb extends fc.Arbitrary<infer T> ? T : never): Uint8Array =>
  FitsWriter.writeCube({
    nx: s.nx,
    ny: s.ny,
    nchan: s.nchan,
    bitpix: s.bitpix,
    degenerateFourthAxis: s.degenerate,
    ...(s.bscale === undefined ? {} : { bscale: s.bscale }),
    ...(s.bzero === undefined ? {} : { bzero: s.bzero }),
    data: new Float32Array(s.nx * s.ny * s.nchan).map((_, i) => (i % 7) - 3),
    cards: Object.fromEntries(Array.from({ length: s.extraCards }, (_, i) => [`KEY${i}`, i % 3 === 0 ? `v${i}` : i * 0.5]))
  })

type Mutation =
  | { readonly kind: "set"; readonly at: number; readonly inHeader: boolean; readonly byte: number }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "append"; readonly bytes: Uint8Array }
  | { readonly kind: "swapCards"; readonly a: number; readonly b: number }
  | { readonly kind: "deleteBytes"; readonly at: number; readonly length: number }

const INTERESTING = [..." =-+.'ETFD0123456789/\n"].map((c) => c.charCodeAt(0)).concat([0, 0x1b, 0x80, 0x85, 0xff, 0x1f, 0x8b])

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("set" as const),
      at: fc.nat(),
      inHeader: fc.boolean(),
      byte: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 }))
    })
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ maxLength: 3000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("swapCards" as const), a: fc.nat(72), b: fc.nat(72) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("deleteBytes" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 200 }) }) }
)

const mutate = (bytes: Uint8Array, m: Mutation): Uint8Array => {
  if (bytes.length === 0) return bytes
  switch (m.kind) {
    case "set": {
      const out = bytes.slice()
      const span = m.inHeader ? Math.min(out.length, 3 * BLOCK) : out.length
      out[m.at % span] = m.byte
      return out
    }
    case "truncate":
      return bytes.slice(0, m.at % (bytes.length + 1))
    case "append": {
      const out = new Uint8Array(bytes.length + m.bytes.length)
      out.set(bytes)
      out.set(m.bytes, bytes.length)
      return out
    }
    case "swapCards": {
      const out = bytes.slice()
      const a = m.a * 80
      const b = m.b * 80
      if (b + 80 > out.length || a + 80 > out.length) return out
      const cardA = out.slice(a, a + 80)
      out.copyWithin(a, b, b + 80)
      out.set(cardA, b)
      return out
    }
    case "deleteBytes": {
      const at = m.at % bytes.length
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)])
    }
  }
}

// ---------------------------------------------------------------------------------------
// FITS properties
// ---------------------------------------------------------------------------------------

describe("Fits.readHeader over hostile bytes never throws: a consistent header or a FitsError", () => {
  it(
    "(a) arbitrary bytes",
    async () => {
      const arb = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ minLength: BLOCK, maxLength: 3 * BLOCK }),
        // Arbitrary bytes after a valid first card, so the reader gets past it.
        fc.uint8Array({ minLength: BLOCK, maxLength: 3 * BLOCK }).map((b) => {
          b.set(new TextEncoder().encode(valueCard("SIMPLE", "T").padEnd(80)))
          return b
        })
      )
      await check("fits: arbitrary bytes", runsFor(600, 0.1), arb, readHeader)
    },
    TIMEOUT
  )

  it(
    "(b) structurally plausible headers from arbitrary cards",
    async () => {
      const s = await check("fits: plausible headers", runsFor(1500, 0.25), plausibleFileArb, readHeader)
      expect(s.ok, "the generator reaches the success path").toBeGreaterThan(0)
      expect(s.failed).toBeGreaterThan(0)
    },
    TIMEOUT
  )

  it(
    "(c) mutations of a valid cube (byte changes, truncations, appended bytes, swapped cards)",
    async () => {
      const arb = fc.tuple(cubeSpecArb, fc.array(mutationArb, { minLength: 1, maxLength: 5 }))
      const s = await check("fits: mutated cubes", runsFor(1500, 0.25), arb, ([spec, mutations]) =>
        readHeader(mutations.reduce(mutate, validCube(spec)))
      )
      expect(s.ok).toBeGreaterThan(0)
      expect(s.failed).toBeGreaterThan(0)
    },
    TIMEOUT
  )

  it("the unmutated cubes all read back as written", () => {
    fc.assert(
      fc.property(cubeSpecArb, (spec) => {
        const exit = Effect.runSyncExit(Fits.readHeader(Fits.fromBytes(validCube(spec))))
        if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
        expect([exit.value.nx, exit.value.ny, exit.value.nchan, exit.value.bitpix]).toEqual([spec.nx, spec.ny, spec.nchan, spec.bitpix])
      }),
      { numRuns: 100 }
    )
  })
})

// ---------------------------------------------------------------------------------------
// Manifest and parameter properties
// ---------------------------------------------------------------------------------------

const PARAM_NAMES = [...Object.keys(Native.DEFAULT_PARAMS), "timeout_ms"]
const SURVEY = /^[a-z0-9][a-z0-9_-]{0,62}$/

/** Resolved parameters are complete and within the documented ranges. */
const checkParams = (p: Params.RunParams, given: Readonly<Record<string, unknown>>) => {
  expect(Object.keys(p).sort()).toEqual([...PARAM_NAMES].sort())
  for (const [name, r] of Object.entries(Native.PARAM_RANGES)) {
    const v = (p as unknown as Record<string, number>)[name]
    const inRange = typeof v === "number" && Number.isFinite(v) && v <= r.max && (r.minExclusive ? v > r.min : v >= r.min) &&
      (!r.integer || Number.isInteger(v))
    if (!inRange) throw new Error(`${name} = ${v} is outside its documented range`)
  }
  if (!(Number.isFinite(p.timeout_ms) && p.timeout_ms >= 1 && p.timeout_ms <= 900_000)) throw new Error(`timeout_ms = ${p.timeout_ms}`)
  // Nothing given was ignored: every given name is known and its value is the one used.
  for (const name of Object.keys(given)) {
    if (!PARAM_NAMES.includes(name)) throw new Error(`unknown parameter ${JSON.stringify(name)} was accepted`)
    if (given[name] !== undefined && (p as unknown as Record<string, unknown>)[name] !== given[name]) throw new Error(`${name} was not used`)
  }
}

/** decodeManifest then resolve: success (checked) or a readable InvalidInput; never a throw. */
const decodeAndResolve = (json: unknown): "ok" | "failed" => {
  const exit = Effect.runSyncExit(
    Effect.flatMap(Params.decodeManifest(json), (m) => Effect.map(Params.resolve(m.params), (params) => ({ m, params })))
  )
  if (Exit.isFailure(exit)) {
    typedFailure(exit, Errors.InvalidInput)
    return "failed"
  }
  const { m, params } = exit.value
  if (!(m.cube_key.startsWith("cubes/") && BlobStore.isSafeKey(m.cube_key))) throw new Error(`cube_key ${JSON.stringify(m.cube_key)} accepted`)
  if (!SURVEY.test(m.survey)) throw new Error(`survey ${JSON.stringify(m.survey)} accepted`)
  if (!(Number.isInteger(m.chunk_size) && m.chunk_size >= 1 && m.chunk_size <= 100_000)) throw new Error(`chunk_size ${m.chunk_size} accepted`)
  const raw = (json as { params?: Record<string, unknown> }).params ?? {}
  checkParams(params, raw)
  return "ok"
}

/** JSON text of an object from entries, so that `__proto__` is an own key as JSON.parse makes it. */
const objectText = (entries: ReadonlyArray<readonly [string, string]>) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`

const json = (v: unknown) => JSON.stringify(v) ?? "null"

const paramValueArb = (name: string): fc.Arbitrary<string> => {
  const r = (Native.PARAM_RANGES as Record<string, Native.ParamRange | undefined>)[name]
  const inRange = r === undefined
    ? fc.double({ min: 1, max: 900_000, noNaN: true })
    : r.integer
    ? fc.integer({ min: r.min, max: r.max })
    : fc.double({ min: r.min, max: r.max, noNaN: true, minExcluded: r.minExclusive })
  return fc.oneof(
    { weight: 6, arbitrary: inRange.map(json) },
    { weight: 1, arbitrary: fc.double().map(json) },
    { weight: 1, arbitrary: fc.jsonValue().map(json) }
  )
}

const paramsTextArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom(...PARAM_NAMES) },
          { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "toString", "Beta", "beta ", "") },
          { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }
        ),
        { maxLength: 4 }
      )
      .chain((names) => fc.tuple(...names.map((n) => paramValueArb(n).map((v) => [n, v] as const))))
      .map((entries) => objectText(entries))
  },
  { weight: 1, arbitrary: fc.jsonValue().map(json) }
)

const segmentArb = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom("..", ".", "", "a\\b", "a\u0000b", " ", "%2e%2e") },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) }
)

const cubeKeyArb = fc.oneof(
  { weight: 6, arbitrary: fc.array(segmentArb, { minLength: 1, maxLength: 3 }).map((segs) => json(`cubes/${segs.join("/")}`)) },
  { weight: 1, arbitrary: fc.constantFrom("/cubes/a.fits", "cubes", "cubes/", "Cubes/a.fits", "manifests/a.json", "./cubes/a").map(json) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map(json) },
  { weight: 1, arbitrary: fc.jsonValue().map(json) }
)

const surveyArb = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,62}$/).map(json) },
  { weight: 1, arbitrary: fc.constantFrom("", "A", "../x", "a/b", "-a", "_a", "s".repeat(64), "grs\n", "gr s").map(json) },
  { weight: 1, arbitrary: fc.string({ maxLength: 70 }).map(json) },
  { weight: 1, arbitrary: fc.jsonValue().map(json) }
)

const chunkSizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 100_000 }).map(json) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double()).map(json) },
  { weight: 1, arbitrary: fc.jsonValue().map(json) }
)

/**
 * Manifest-shaped JSON: each field mostly valid, sometimes wrong, sometimes missing (`freq`:
 * missing with probability 1/freq); an extra field now and then.
 */
const manifestArb: fc.Arbitrary<unknown> = fc
  .record({
    cube_key: fc.option(cubeKeyArb, { nil: undefined, freq: 12 }),
    survey: fc.option(surveyArb, { nil: undefined, freq: 12 }),
    params: fc.option(paramsTextArb, { nil: undefined, freq: 2 }),
    chunk_size: fc.option(chunkSizeArb, { nil: undefined, freq: 2 }),
    extra: fc.oneof(
      { weight: 9, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.oneof(fc.constantFrom("__proto__", "constructor", "beta", "Survey", "cube_key "), fc.string({ maxLength: 8 })), fc.jsonValue().map(json))
      }
    )
  })
  .map((g) => {
    const entries: Array<readonly [string, string]> = []
    for (const k of ["cube_key", "survey", "params", "chunk_size"] as const) {
      const v = g[k]
      if (v !== undefined) entries.push([k, v])
    }
    if (g.extra !== undefined) entries.push(g.extra)
    return JSON.parse(objectText(entries)) as unknown
  })

describe("Params.decodeManifest + Params.resolve never throw: a valid manifest or InvalidInput", () => {
  it(
    "manifest-shaped JSON",
    async () => {
      const s = await check("manifest: manifest-shaped JSON", runsFor(1500, 0.25), manifestArb, decodeAndResolve)
      expect(s.ok, "the generator reaches the success path").toBeGreaterThan(0)
      expect(s.failed).toBeGreaterThan(0)
    },
    TIMEOUT
  )

  it(
    "arbitrary JSON values and arbitrary JavaScript values",
    async () => {
      const arb = fc.oneof(fc.jsonValue(), fc.anything({ withBigInt: true, withNullPrototype: true, withObjectString: true, withBoxedValues: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true }))
      await check("manifest: arbitrary values", runsFor(500, 0.075), arb, decodeAndResolve)
    },
    TIMEOUT
  )

  it(
    "Params.resolve over arbitrary records",
    async () => {
      const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PARAM_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) })
      const value = fc.oneof(
        { weight: 4, arbitrary: fc.double() },
        { weight: 1, arbitrary: fc.anything({ withBigInt: true, withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true }) }
      )
      const arb = fc.dictionary(key, value, { maxKeys: 4 })
      await check("params: Params.resolve over records", runsFor(500, 0.075), arb, (input) => {
        const exit = Effect.runSyncExit(Params.resolve(input))
        if (Exit.isFailure(exit)) {
          typedFailure(exit, Errors.InvalidInput)
          return "failed"
        }
        checkParams(exit.value, input)
        return "ok"
      })
    },
    TIMEOUT
  )
})
