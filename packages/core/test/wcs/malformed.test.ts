/**
 * Headers phs cannot turn into world coordinates: each part (celestial, spectral) is
 * `Unavailable` with a one-line reason, the other part stays usable where it is
 * independent, and nothing throws, whatever the cards.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as Wcs from "../../src/wcs/Wcs.js"
import { type HeaderValue, runOracle, unavailableReason } from "./oracle.js"

const GOOD: Record<string, HeaderValue> = {
  NAXIS: 3,
  CTYPE1: "GLON-CAR",
  CTYPE2: "GLAT-CAR",
  CRVAL1: 30,
  CRVAL2: 0,
  CRPIX1: 3,
  CRPIX2: 3,
  CDELT1: -0.00615,
  CDELT2: 0.00615,
  CTYPE3: "VRAD",
  CRVAL3: 40000,
  CRPIX3: 212,
  CDELT3: 212.5,
  CUNIT3: "m/s"
}

const without = (...keys: string[]) => Object.fromEntries(Object.entries(GOOD).filter(([k]) => !keys.includes(k)))

const reason = (part: Wcs.CubeWcs["celestial"] | Wcs.CubeWcs["spectral"]) => (part._tag === "Unavailable" ? part.reason : undefined)

const cases: ReadonlyArray<{
  name: string
  header: Record<string, HeaderValue>
  celestial: RegExp | "ok"
  spectral: RegExp | "ok"
  /** WCSLIB refuses this header too. */
  wcslibRefuses?: boolean
}> = [
  { name: "singular PC", header: { ...GOOD, PC1_1: 1, PC1_2: 2, PC2_1: 0.5, PC2_2: 1 }, celestial: /PC matrix is singular/, spectral: /PC matrix is singular/ },
  { name: "singular CD", header: { ...without("CDELT1", "CDELT2", "CDELT3"), CD1_1: 0.01, CD1_2: 0.02, CD2_1: 0.005, CD2_2: 0.01, CD3_3: 212.5 }, celestial: /CD matrix is singular/, spectral: /CD matrix is singular/ },
  { name: "CDELT1 = 0", header: { ...GOOD, CDELT1: 0 }, celestial: /CDELT1 = 0/, spectral: /CDELT1 = 0/, wcslibRefuses: true },
  { name: "unknown projection", header: { ...GOOD, CTYPE1: "GLON-XYZ", CTYPE2: "GLAT-XYZ" }, celestial: /projection XYZ .*not one phs implements/, spectral: "ok", wcslibRefuses: true },
  { name: "a projection phs does not implement", header: { ...GOOD, CTYPE1: "RA---MER", CTYPE2: "DEC--MER" }, celestial: /projection MER/, spectral: "ok" },
  { name: "two projections", header: { ...GOOD, CTYPE2: "GLAT-TAN" }, celestial: /different projections/, spectral: "ok" },
  { name: "missing CDELT3", header: without("CDELT3"), celestial: "ok", spectral: /CDELT3 is missing/ },
  { name: "missing CDELT1", header: without("CDELT1"), celestial: /CDELT1 is missing/, spectral: "ok" },
  { name: "FREQ without a rest frequency", header: { ...GOOD, CTYPE3: "FREQ", CRVAL3: 1.1e11, CDELT3: 1e5, CUNIT3: "Hz" }, celestial: "ok", spectral: /RESTFRQ/ },
  { name: "a wavelength axis", header: { ...GOOD, CTYPE3: "WAVE", CUNIT3: "m" }, celestial: "ok", spectral: /not a velocity or frequency axis/ },
  { name: "an unknown velocity unit", header: { ...GOOD, CUNIT3: "furlong/fortnight" }, celestial: "ok", spectral: /CUNIT = 'furlong\/fortnight'/ },
  { name: "an unknown velocity algorithm", header: { ...GOOD, CTYPE3: "VRAD-XYZ" }, celestial: "ok", spectral: /algorithm XYZ/ },
  { name: "no spectral axis", header: without("CTYPE3"), celestial: "ok", spectral: /no spectral axis/ },
  { name: "no celestial axes", header: { ...GOOD, CTYPE1: "OFFSET", CTYPE2: "OFFSET" }, celestial: /no celestial axes/, spectral: "ok" },
  { name: "a longitude without latitude", header: { ...GOOD, CTYPE2: "OFFSET" }, celestial: /no latitude/, spectral: "ok" },
  { name: "celestial axes on axes 1 and 3", header: { ...GOOD, CTYPE2: "VRAD", CTYPE3: "GLAT-CAR", CDELT3: 0.01 }, celestial: /axes 1 and 3; phs needs them on axes 1 and 2/, spectral: /spectral axis is CTYPE2 = 'VRAD'; phs reads spectra along axis 3/ },
  { name: "a mixed-frame pair", header: { ...GOOD, CTYPE2: "DEC--CAR" }, celestial: /not a longitude\/latitude pair/, spectral: "ok" },
  { name: "an unknown RADESYS", header: { ...GOOD, CTYPE1: "RA---CAR", CTYPE2: "DEC--CAR", RADESYS: "XYZ" }, celestial: /RADESYS = 'XYZ'/, spectral: "ok" },
  { name: "CDELT3 beside a CD matrix without CD3_3", header: { ...without("CDELT1", "CDELT2"), CD1_1: -0.006, CD2_2: 0.006 }, celestial: "ok", spectral: /CDELT3 = 212.5 beside a CD matrix/ },
  { name: "slant SIN", header: { ...GOOD, CTYPE1: "RA---SIN", CTYPE2: "DEC--SIN", PV2_1: 0.1 }, celestial: /slant SIN/, spectral: "ok" },
  { name: "LONPOLE without a pole", header: { ...GOOD, CTYPE1: "RA---CAR", CTYPE2: "DEC--CAR", CRVAL2: 30, LONPOLE: 180 }, celestial: /LONPOLE/, spectral: "ok" }
]

describe("malformed WCS", () => {
  for (const c of cases) {
    it.effect(`${c.name}: ${c.celestial === "ok" ? "lon/lat kept" : "lon/lat null"}, ${c.spectral === "ok" ? "velocities kept" : "velocities null"}, with the reason`, () =>
      Effect.sync(() => {
        const w = Wcs.fromCards(c.header)
        for (const [part, want] of [[w.celestial, c.celestial], [w.spectral, c.spectral]] as const) {
          if (want === "ok") expect(part._tag, reason(part)).not.toBe("Unavailable")
          else {
            expect(reason(part)).toMatch(want)
            expect(reason(part)).not.toContain("\n")
          }
        }
        const s = Wcs.summary(w)
        expect(s.problems.length).toBe(Number(c.celestial !== "ok" || c.spectral !== "ok") + Number(c.celestial !== "ok" && c.spectral !== "ok" && reason(w.celestial) !== reason(w.spectral)))
        expect(Wcs.statusLine(s)).not.toContain("\n")
      }))
  }

  const missing = unavailableReason()
  it.effect.skipIf(missing !== undefined && process.env.CI !== "true")("WCSLIB refuses the zero-CDELT and unknown-projection headers too (it computes through a singular PC/CD)", () =>
    Effect.sync(() => {
      const refused = cases.filter((c) => c.wcslibRefuses === true)
      const results = runOracle(refused.map((c) => ({ header: c.header, pixels: [[1, 1, 1]] })))
      results.forEach((r, i) => expect(r.error, refused[i].name).toBeDefined())
    }))

  it.effect("a header with both parts unusable reports one problem per part, or one when it is the same", () =>
    Effect.sync(() => {
      const singular = Wcs.summary(Wcs.fromCards({ ...GOOD, PC1_1: 1, PC1_2: 2, PC2_1: 0.5, PC2_2: 1 }))
      expect(singular.problems).toEqual(["lon/lat and velocities are null: the PC matrix is singular"])
      const both = Wcs.summary(Wcs.fromCards({ ...without("CDELT3"), CTYPE1: "GLON-XYZ", CTYPE2: "GLAT-XYZ" }))
      expect(both.problems).toHaveLength(2)
      expect(both.celestial).toBeNull()
      expect(both.spectral).toBeNull()
    }))

  it.effect("a good header's summary names the frame, projection and velocity axis", () =>
    Effect.sync(() => {
      const s = Wcs.summary(Wcs.fromCards({ ...GOOD, CTYPE1: "RA---TAN", CTYPE2: "DEC--TAN", EQUINOX: 2000, SPECSYS: "LSRK" }))
      expect(s).toEqual({
        celestial: { frame: "FK5", equinox: 2000, projection: "TAN", ctype: ["RA---TAN", "DEC--TAN"] },
        spectral: { ctype: "VRAD", convention: "radio", specsys: "LSRK", restFrequency: null },
        problems: []
      })
      expect(Wcs.statusLine(s)).toBe("world: FK5 (equinox 2000) TAN; velocity VRAD (radio, LSRK)")
    }))

  it.effect("keywords of the wrong type are warnings, never a crash", () =>
    Effect.sync(() => {
      const w = Wcs.fromCards({ ...GOOD, CRVAL1: "thirty", CDELT3: true })
      expect(w.warnings).toEqual(["CRVAL1 = thirty is not a number", "CDELT3 = true is not a number"])
      expect(reason(w.spectral)).toMatch(/CDELT3 is missing/)
    }))

  it.effect("no set of WCS cards makes fromCards throw", () =>
    Effect.sync(() => {
      const key = fc.constantFrom(
        "NAXIS", "WCSAXES", "CTYPE1", "CTYPE2", "CTYPE3", "CRVAL1", "CRVAL2", "CRVAL3", "CRPIX1", "CRPIX2", "CRPIX3",
        "CDELT1", "CDELT2", "CDELT3", "CUNIT1", "CUNIT3", "PC1_1", "PC1_2", "PC2_1", "PC2_2", "PC3_3", "CD1_1", "CD2_2",
        "CD1_2", "CROTA2", "LONPOLE", "LATPOLE", "RADESYS", "EQUINOX", "RESTFRQ", "VELREF", "PV1_0", "PV1_1", "PV1_2", "PV2_1", "PC9_9"
      )
      const value = fc.oneof(
        fc.double(),
        fc.integer({ min: -5, max: 5 }),
        fc.boolean(),
        fc.constantFrom("GLON-CAR", "GLAT-CAR", "RA---TAN", "DEC--TAN", "RA---AIT", "DEC--GLS", "VRAD", "FREQ", "FELO-LSR", "VELO-LSR", "km/s", "deg", "FK5", "", "X")
      )
      fc.assert(
        fc.property(fc.dictionary(key, value), (cards) => {
          const w = Wcs.fromCards(cards)
          Wcs.statusLine(Wcs.summary(w))
          if (w.linear._tag === "Linear" && w.celestial._tag === "Celestial") Wcs.celestialAt(w.linear, w.celestial, [1, 1, 1])
          if (w.linear._tag === "Linear" && w.spectral._tag === "Spectral") Wcs.velocityAt(w.linear, w.spectral, [1, 1, 1])
        }),
        { numRuns: 2000 }
      )
    }))
})
