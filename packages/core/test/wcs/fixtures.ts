/**
 * WCS fixtures checked against astropy: every projection in every frame under every form of
 * the linear transform, extra rotations (LONPOLE/LATPOLE, oblique cylindrical, an offset
 * fiducial point, non-degree units), and every spectral axis type and unit.
 */
import type { HeaderValue, OracleCase } from "./oracle.js"

export interface Fixture {
  readonly name: string
  /** What the fixture exercises, for the max-|Δ| table: a projection or a spectral type. */
  readonly celestialGroup: string
  readonly spectralGroup: string
  readonly header: Readonly<Record<string, HeaderValue>>
  readonly pixels: ReadonlyArray<ReadonlyArray<number>>
  /** What astropy is given instead, where WCSLIB needs another spelling of the same axis. */
  readonly oracle?: Partial<OracleCase>
}

const PROJECTIONS = ["CAR", "TAN", "SIN", "SFL", "GLS", "AIT", "ARC", "ZEA"] as const

const FRAMES: ReadonlyArray<{ name: string; lon: string; lat: string; crval: [number, number]; extra: Record<string, HeaderValue> }> = [
  { name: "galactic", lon: "GLON", lat: "GLAT", crval: [30.5, -0.4], extra: {} },
  { name: "ICRS", lon: "RA", lat: "DEC", crval: [83.82, -5.39], extra: { RADESYS: "ICRS" } },
  { name: "FK5", lon: "RA", lat: "DEC", crval: [266.4, -28.94], extra: { RADESYS: "FK5", EQUINOX: 2000 } },
  { name: "FK5 (from EQUINOX)", lon: "RA", lat: "DEC", crval: [150.1, 62.3], extra: { EQUINOX: 2000 } }
]

const LINEAR: ReadonlyArray<{ name: string; cards: Record<string, HeaderValue> }> = [
  { name: "CDELT", cards: { CDELT1: -0.02, CDELT2: 0.025 } },
  { name: "PC", cards: { CDELT1: -0.02, CDELT2: 0.025, PC1_1: 0.9, PC1_2: -0.3, PC2_1: 0.25, PC2_2: 0.95 } },
  { name: "CD", cards: { CD1_1: -0.018, CD1_2: 0.004, CD2_1: 0.003, CD2_2: 0.022, CD3_3: 250 } },
  { name: "CROTA2", cards: { CDELT1: -0.02, CDELT2: 0.025, CROTA2: 17.5 } }
]

const ctype = (prefix: string, code: string) => `${prefix}${"-".repeat(5 - prefix.length)}${code}`

/** A plain radio-velocity third axis. */
const VRAD_AXIS = { CTYPE3: "VRAD", CRVAL3: 5000, CRPIX3: 1, CDELT3: 250, CUNIT3: "m/s" }

const grid = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>, z: number): number[][] =>
  xs.flatMap((x) => ys.map((y) => [x, y, z]))

const celestialPixels = [...grid([1, 26, 51, 76, 101], [1, 21, 41, 61, 81], 1), [40.5, -12.3, 1]]

const celestial = (
  name: string,
  group: string,
  cards: Record<string, HeaderValue>,
  pixels: ReadonlyArray<ReadonlyArray<number>> = celestialPixels
): Fixture => ({
  name,
  celestialGroup: group,
  spectralGroup: "VRAD",
  header: { NAXIS: 3, NAXIS1: 101, NAXIS2: 81, NAXIS3: 10, CRPIX1: 40.5, CRPIX2: -12.3, ...VRAD_AXIS, ...cards },
  pixels
})

const celestialFixtures: Fixture[] = PROJECTIONS.flatMap((code) =>
  FRAMES.flatMap((f) =>
    LINEAR.map((l) =>
      celestial(`${code} ${f.name} ${l.name}`, code, {
        CTYPE1: ctype(f.lon, code),
        CTYPE2: ctype(f.lat, code),
        CRVAL1: f.crval[0],
        CRVAL2: f.crval[1],
        ...f.extra,
        ...l.cards
      })
    )
  )
)

const extraCelestial: Fixture[] = [
  celestial("CAR oblique (CRVAL2 = 30, default LONPOLE/LATPOLE)", "CAR", { CTYPE1: "RA---CAR", CTYPE2: "DEC--CAR", CRVAL1: 10, CRVAL2: 30, CDELT1: -0.05, CDELT2: 0.05 }),
  celestial("CAR oblique, LATPOLE = -90 picks the other pole", "CAR", { CTYPE1: "RA---CAR", CTYPE2: "DEC--CAR", CRVAL1: 10, CRVAL2: 30, CDELT1: -0.05, CDELT2: 0.05, LATPOLE: -90 }),
  celestial("SFL oblique, LONPOLE = 20", "SFL", { CTYPE1: "GLON-SFL", CTYPE2: "GLAT-SFL", CRVAL1: 120, CRVAL2: 45, LONPOLE: 20, CDELT1: -0.05, CDELT2: 0.05 }),
  celestial("AIT at CRVAL2 = -40", "AIT", { CTYPE1: "RA---AIT", CTYPE2: "DEC--AIT", CRVAL1: 200, CRVAL2: -40, CDELT1: -0.5, CDELT2: 0.5 }),
  celestial("AIT all-sky galactic", "AIT", { CTYPE1: "GLON-AIT", CTYPE2: "GLAT-AIT", CRVAL1: 0, CRVAL2: 0, CRPIX1: 51, CRPIX2: 41, CDELT1: -2, CDELT2: 2 }),
  celestial("TAN, LONPOLE = 150", "TAN", { CTYPE1: "RA---TAN", CTYPE2: "DEC--TAN", CRVAL1: 45, CRVAL2: 20, LONPOLE: 150, CDELT1: -0.01, CDELT2: 0.01 }),
  celestial("ZEA with arcmin units", "ZEA", { CTYPE1: "RA---ZEA", CTYPE2: "DEC--ZEA", CUNIT1: "arcmin", CUNIT2: "arcmin", CRVAL1: 5000, CRVAL2: 1200, CDELT1: -1.5, CDELT2: 1.5 }),
  celestial("ARC near the south pole", "ARC", { CTYPE1: "RA---ARC", CTYPE2: "DEC--ARC", CRVAL1: 300, CRVAL2: -80, CDELT1: -0.05, CDELT2: 0.05 }),
  celestial("SIN wide field", "SIN", { CTYPE1: "GLON-SIN", CTYPE2: "GLAT-SIN", CRVAL1: 300, CRVAL2: 10, CDELT1: -0.4, CDELT2: 0.4 }),
  celestial("CAR with an offset fiducial point (PV1_0 = 1, PV1_2 = 15)", "CAR", { CTYPE1: "RA---CAR", CTYPE2: "DEC--CAR", CRVAL1: 30, CRVAL2: 15, PV1_0: 1, PV1_1: 0, PV1_2: 15, CDELT1: -0.05, CDELT2: 0.05 }),
  celestial("CAR beyond ±180° and ±90° (outside for both)", "CAR", { CTYPE1: "GLON-CAR", CTYPE2: "GLAT-CAR", CRVAL1: 0, CRVAL2: 0, CRPIX1: 51, CRPIX2: 41, CDELT1: -4, CDELT2: 2.5 }),
  celestial("SFL beyond ±180° (outside for both)", "SFL", { CTYPE1: "RA---SFL", CTYPE2: "DEC--SFL", CRVAL1: 0, CRVAL2: 0, CRPIX1: 51, CRPIX2: 41, CDELT1: -3.9, CDELT2: 2 }),
  celestial("GLS at CRVAL2 = -50", "GLS", { CTYPE1: "RA---GLS", CTYPE2: "DEC--GLS", CRVAL1: 80, CRVAL2: -50, CDELT1: -0.05, CDELT2: 0.05 })
]

/** Spectral fixtures share a galactic CAR sky. */
const SKY = { CTYPE1: "GLON-CAR", CTYPE2: "GLAT-CAR", CRVAL1: 30, CRVAL2: 0, CRPIX1: 3, CRPIX2: 3, CDELT1: -0.00615, CDELT2: 0.00615 }

const spectralPixels = [1, 2, 100.3, 212.5, 300, 424].flatMap((c) => [[1, 1, c], [3, 4, c], [5, 5, c]])

const spectral = (name: string, group: string, cards: Record<string, HeaderValue>, oracle?: Partial<OracleCase>): Fixture => ({
  name,
  celestialGroup: "CAR",
  spectralGroup: group,
  header: { NAXIS: 3, NAXIS1: 5, NAXIS2: 5, NAXIS3: 424, ...SKY, CRPIX3: 212.5, ...cards },
  pixels: spectralPixels,
  ...(oracle === undefined ? {} : { oracle })
})

const spectralFixtures: Fixture[] = [
  spectral("VRAD m/s", "VRAD", { CTYPE3: "VRAD", CRVAL3: 40000, CDELT3: 212.5, CUNIT3: "m/s" }),
  spectral("VRAD km/s", "VRAD", { CTYPE3: "VRAD", CRVAL3: 40, CDELT3: 0.2125, CUNIT3: "km/s" }),
  spectral("VRAD without CUNIT3 (m/s)", "VRAD", { CTYPE3: "VRAD", CRVAL3: -12000, CDELT3: -300 }),
  spectral("VOPT m/s", "VOPT", { CTYPE3: "VOPT", CRVAL3: 40000.1, CDELT3: 212.53, CUNIT3: "m/s", SPECSYS: "LSRK" }),
  spectral("VOPT km/s", "VOPT", { CTYPE3: "VOPT", CRVAL3: 1500, CDELT3: -5, CUNIT3: "km/s" }),
  spectral("VELO km/s", "VELO", { CTYPE3: "VELO", CRVAL3: 25, CDELT3: 0.5, CUNIT3: "km/s" }),
  spectral("VELO-LSR (AIPS: optical)", "VELO-LSR", { CTYPE3: "VELO-LSR", CRVAL3: 40000, CDELT3: 212.5 }),
  spectral("VELO-LSR, VELREF = 257 (AIPS: radio)", "VELO-LSR", { CTYPE3: "VELO-LSR", CRVAL3: 40000, CDELT3: 212.5, VELREF: 257 }),
  spectral("VELO-HEL km/s", "VELO-LSR", { CTYPE3: "VELO-HEL", CRVAL3: 3, CDELT3: 0.1, CUNIT3: "km/s" }),
  spectral("VRAD-LSR (read as VRAD, LSRK)", "VRAD-LSR", { CTYPE3: "VRAD-LSR", CRVAL3: 40000, CDELT3: 212.5, CUNIT3: "m/s" }, {
    header: { NAXIS: 3, NAXIS1: 5, NAXIS2: 5, NAXIS3: 424, ...SKY, CRPIX3: 212.5, CTYPE3: "VRAD", CRVAL3: 40000, CDELT3: 212.5, CUNIT3: "m/s", SPECSYS: "LSRK" }
  }),
  spectral("FELO-LSR with RESTFRQ", "FELO", { CTYPE3: "FELO-LSR", CRVAL3: 40000, CDELT3: 1000, RESTFRQ: 110.2013542798e9 }),
  spectral("FELO-HEL km/s without rest frequency (it cancels)", "FELO", { CTYPE3: "FELO-HEL", CRVAL3: 8000, CDELT3: -20, CUNIT3: "km/s" }, {
    header: { NAXIS: 3, NAXIS1: 5, NAXIS2: 5, NAXIS3: 424, ...SKY, CRPIX3: 212.5, CTYPE3: "FELO-HEL", CRVAL3: 8000, CDELT3: -20, CUNIT3: "km/s", RESTFRQ: 1.420405751e9 }
  }),
  spectral("VOPT-F2W", "FELO", { CTYPE3: "VOPT-F2W", CRVAL3: 120000, CDELT3: 5000, CUNIT3: "m/s", RESTFRQ: 1.420405751e9 }),
  spectral("FREQ Hz, RESTFRQ", "FREQ→VRAD", { CTYPE3: "FREQ", CRVAL3: 110.19e9, CDELT3: -78125, CUNIT3: "Hz", RESTFRQ: 110.2013542798e9 }, { sptr: "VRAD" }),
  spectral("FREQ MHz, RESTFREQ", "FREQ→VRAD", { CTYPE3: "FREQ", CRVAL3: 1420.0, CDELT3: 0.0122, CUNIT3: "MHz", RESTFREQ: 1.420405751e9 }, { sptr: "VRAD" }),
  spectral("FREQ-LSR GHz", "FREQ→VRAD", { CTYPE3: "FREQ-LSR", CRVAL3: 115.27, CDELT3: 0.0005, CUNIT3: "GHz", RESTFRQ: 115.2712018e9 }, { sptr: "VRAD" }),
  spectral("VRAD with PC3_3 = 2 and a PC-coupled sky", "VRAD", { CTYPE3: "VRAD", CRVAL3: 1000, CDELT3: 100, CUNIT3: "m/s", PC3_3: 2, PC1_1: 1, PC1_2: 0.1, PC2_1: -0.1, PC2_2: 1 }),
  spectral("VRAD km/s with a CD matrix", "VRAD", { CTYPE3: "VRAD", CRVAL3: 10, CUNIT3: "km/s", CD1_1: -0.006, CD2_2: 0.006, CD3_3: 0.3, CDELT1: 9, CDELT2: 9, CDELT3: 9 })
]

export const FIXTURES: ReadonlyArray<Fixture> = [...celestialFixtures, ...extraCelestial, ...spectralFixtures]
