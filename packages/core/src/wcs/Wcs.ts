/**
 * A cube's world coordinate system, built from its header: the celestial axes (projection,
 * frame, rotation) and the spectral axis (as velocity), each either usable or unavailable
 * with the reason, so that a malformed header never stops a run — its world columns are
 * null and the reason is recorded. A `Schema`, so a step can journal it and a queue
 * message carry it.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import { CelestialFrame, celestialRole, frame } from "./Frame.js"
import { type Cards, MAX_AXES, readKeywords, type WcsKeywords } from "./Header.js"
import { elementKey, intermediate, LinearTransform, linearTransform } from "./Linear.js"
import { defaultTheta0, fromNative, ProjectionCode, toNative } from "./Projection.js"
import { Pole, pole, toCelestial, toNative as celestialToNative } from "./Rotation.js"
import { isSpectralType, SpectralAxis, spectralAxis, velocity } from "./Spectral.js"

/**
 * A part of the WCS phs cannot use, and why (one sentence).
 *
 * @since 0.2.0
 * @category schemas
 */
export const Unavailable = Schema.TaggedStruct("Unavailable", { reason: Schema.String })

/**
 * @since 0.2.0
 * @category models
 */
export interface Unavailable extends Schema.Schema.Type<typeof Unavailable> {}

/**
 * The celestial axes: `lonAxis`/`latAxis` are 0-based axis indices; `scale` converts their
 * intermediate coordinates to degrees; `offset` is the projection-plane offset of a moved
 * fiducial point (PVi_0 = 1, and the AIPS GLS).
 *
 * @since 0.2.0
 * @category schemas
 */
export const Celestial = Schema.TaggedStruct("Celestial", {
  lonAxis: Schema.Int,
  latAxis: Schema.Int,
  ctype: Schema.Tuple(Schema.String, Schema.String),
  projection: ProjectionCode,
  frame: CelestialFrame,
  crval: Schema.Tuple(Schema.Number, Schema.Number),
  scale: Schema.Tuple(Schema.Number, Schema.Number),
  fiducial: Schema.Struct({ phi0: Schema.Number, theta0: Schema.Number }),
  offset: Schema.Struct({ x0: Schema.Number, y0: Schema.Number }),
  pole: Pole
})

/**
 * @since 0.2.0
 * @category models
 */
export interface Celestial extends Schema.Schema.Type<typeof Celestial> {}

/**
 * The spectral axis (0-based `axis`) and how it becomes velocity.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Spectral = Schema.TaggedStruct("Spectral", { axis: Schema.Int, ...SpectralAxis.fields })

/**
 * @since 0.2.0
 * @category models
 */
export interface Spectral extends Schema.Schema.Type<typeof Spectral> {}

/**
 * @since 0.2.0
 * @category schemas
 */
export const CubeWcs = Schema.Struct({
  naxis: Schema.Int,
  linear: Schema.Union(LinearTransform, Unavailable),
  celestial: Schema.Union(Celestial, Unavailable),
  spectral: Schema.Union(Spectral, Unavailable),
  /** Keywords of the wrong type, read as absent. */
  warnings: Schema.Array(Schema.String)
})

/**
 * @since 0.2.0
 * @category models
 */
export interface CubeWcs extends Schema.Schema.Type<typeof CubeWcs> {}

const unavailable = (reason: string): Unavailable => ({ _tag: "Unavailable", reason })

const ANGLE_UNITS: Record<string, number> = { "": 1, deg: 1, arcmin: 1 / 60, arcsec: 1 / 3600, mas: 1 / 3.6e6, rad: 180 / Math.PI }

const IMPLEMENTED = "CAR, TAN, SIN, SFL/GLS, AIT, ARC, ZEA"

/** Splits a celestial CTYPE `xxxx-ppp` into its prefix and projection code. */
const splitCelestial = (ctype: string): { prefix: string; code: string } | undefined => {
  const m = /^([A-Z0-9]{1,4})-+([A-Z0-9]{3})$/.exec(ctype)
  if (m !== null) return { prefix: m[1], code: m[2] }
  return celestialRole(ctype) === undefined ? undefined : { prefix: ctype, code: "" }
}

const celestialAxes = (kw: WcsKeywords): { lon: number; lat: number } | Unavailable => {
  let lon = -1
  let lat = -1
  kw.axes.forEach((a, i) => {
    const parts = splitCelestial(a.ctype)
    const role = parts === undefined ? undefined : celestialRole(parts.prefix)
    if (role === "lon" && lon === -1) lon = i
    if (role === "lat" && lat === -1) lat = i
  })
  if (lon === -1 && lat === -1) return unavailable("the header has no celestial axes (CTYPE1/CTYPE2 are not RA/DEC, GLON/GLAT, ELON/ELAT or SLON/SLAT)")
  if (lon === -1 || lat === -1) return unavailable(`the header has a celestial ${lon === -1 ? "latitude" : "longitude"} axis but no ${lon === -1 ? "longitude" : "latitude"}`)
  // phs's pixel (x, y) are axes 1 and 2; a position-velocity cube has no (lon, lat) per spectrum.
  if (Math.min(lon, lat) !== 0 || Math.max(lon, lat) !== 1) return unavailable(`the celestial axes are axes ${lon + 1} and ${lat + 1}; phs needs them on axes 1 and 2`)
  return { lon, lat }
}

/** CDELTi ≠ 1 beside a CD matrix that never mentions axis i: WCSLIB reads CDi_i = 1, the writer surely meant CDELTi. */
const ambiguousCd = (kw: WcsKeywords, i: number): string | undefined => {
  const cdelt = kw.axes[i].cdelt
  if (kw.cd.length === 0 || kw.pc.length > 0 || cdelt === undefined || cdelt === 1) return undefined
  if (kw.cd.some((e) => e.i === i || e.j === i)) return undefined
  return `CDELT${i + 1} = ${cdelt} beside a CD matrix without CD${i + 1}_${i + 1} is ambiguous (the CD matrix ignores CDELT; WCSLIB reads CD${i + 1}_${i + 1} = 1)`
}

const buildCelestial = (kw: WcsKeywords, axes: { lon: number; lat: number }, linear: LinearTransform | Unavailable): Celestial | Unavailable => {
  if (linear._tag === "Unavailable") return linear
  const lonKw = kw.axes[axes.lon]
  const latKw = kw.axes[axes.lat]
  const lonParts = splitCelestial(lonKw.ctype)!
  const latParts = splitCelestial(latKw.ctype)!
  const name = (i: number) => `CTYPE${i + 1} = '${kw.axes[i].ctype}'`
  if (lonParts.code === "" || latParts.code === "") return unavailable(`celestial axes ${name(axes.lon)}, ${name(axes.lat)} have no projection code`)
  if (lonParts.code !== latParts.code) return unavailable(`celestial axes ${name(axes.lon)}, ${name(axes.lat)} name different projections`)
  const gls = lonParts.code === "GLS"
  const code = gls ? "SFL" : lonParts.code
  if (!Schema.is(ProjectionCode)(code)) return unavailable(`projection ${lonParts.code} (${name(axes.lon)}) is not one phs implements (${IMPLEMENTED})`)
  if (kw.cd.length === 0) {
    for (const i of [axes.lon, axes.lat]) if (kw.axes[i].cdelt === undefined) return unavailable(`CDELT${i + 1} is missing for the celestial axis ${name(i)}`)
  }
  const ambiguous = ambiguousCd(kw, axes.lon) ?? ambiguousCd(kw, axes.lat)
  if (ambiguous !== undefined) return unavailable(ambiguous)
  const f = frame(lonParts.prefix, latParts.prefix, kw.radesys, kw.equinox)
  if (typeof f === "string") return unavailable(f)
  const unitScale = (i: number) => ANGLE_UNITS[(kw.axes[i].cunit ?? "").toLowerCase()]
  const lonScale = unitScale(axes.lon)
  const latScale = unitScale(axes.lat)
  if (lonScale === undefined || latScale === undefined) {
    const bad = lonScale === undefined ? axes.lon : axes.lat
    return unavailable(`CUNIT${bad + 1} = '${kw.axes[bad].cunit}' is not an angle unit (deg, arcmin, arcsec, rad)`)
  }
  const pv = (i: number, m: number) => kw.pv.find((p) => p.i === i && p.m === m)?.value
  if (code === "SIN" && ((pv(axes.lat, 1) ?? 0) !== 0 || (pv(axes.lat, 2) ?? 0) !== 0)) {
    return unavailable(`slant SIN (PV${axes.lat + 1}_1, PV${axes.lat + 1}_2 ≠ 0) is not implemented`)
  }
  const alpha0 = lonKw.crval * lonScale
  const delta0 = latKw.crval * latScale
  // The AIPS GLS measures y from the reference latitude: SFL with the fiducial point moved
  // there, as WCSLIB's celfix translates it.
  const offsetFlag = gls ? delta0 !== 0 : (pv(axes.lon, 0) ?? 0) !== 0
  const phi0 = gls ? 0 : (pv(axes.lon, 1) ?? 0)
  const theta0 = gls ? delta0 : (pv(axes.lon, 2) ?? defaultTheta0(code))
  let offset = { x0: 0, y0: 0 }
  if (offsetFlag) {
    const xy = fromNative(code, phi0, theta0)
    if (xy === undefined) return unavailable(`the fiducial point (φ0, θ0) = (${phi0}, ${theta0}) is outside the ${code} projection`)
    offset = { x0: xy.x, y0: xy.y }
  }
  const p = pole(alpha0, delta0, phi0, theta0, kw.lonpole ?? pv(axes.lon, 3), kw.latpole ?? pv(axes.lon, 4) ?? 90)
  if (typeof p === "string") return unavailable(p)
  return {
    _tag: "Celestial",
    lonAxis: axes.lon,
    latAxis: axes.lat,
    ctype: [lonKw.ctype, latKw.ctype],
    projection: code,
    frame: f,
    crval: [alpha0, delta0],
    scale: [lonScale, latScale],
    fiducial: { phi0, theta0 },
    offset,
    pole: p
  }
}

const buildSpectral = (kw: WcsKeywords, linear: LinearTransform | Unavailable): Spectral | Unavailable => {
  const axis = kw.axes.findIndex((a) => isSpectralType(a.ctype))
  if (axis === -1) {
    const third = kw.axes[2]
    return unavailable(third === undefined || third.ctype === "" ? "the header has no spectral axis (CTYPE3 is missing)" : `CTYPE3 = '${third.ctype}' is not a spectral axis`)
  }
  if (axis !== 2) return unavailable(`the spectral axis is CTYPE${axis + 1} = '${kw.axes[axis].ctype}'; phs reads spectra along axis 3`)
  if (linear._tag === "Unavailable") return linear
  const a = kw.axes[axis]
  if (kw.cd.length === 0 && a.cdelt === undefined) return unavailable(`CDELT${axis + 1} is missing for the spectral axis CTYPE${axis + 1} = '${a.ctype}'`)
  const ambiguous = ambiguousCd(kw, axis)
  if (ambiguous !== undefined) return unavailable(ambiguous)
  const s = spectralAxis({ ctype: a.ctype, crval: a.crval, cunit: a.cunit, restfrq: kw.restfrq, specsys: kw.specsys, velref: kw.velref })
  return typeof s === "string" ? unavailable(s) : { _tag: "Spectral", axis, ...s }
}

/**
 * The WCS of a header's cards (`Fits.CubeHeader.cards`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromCards = (cards: Cards): CubeWcs => {
  const kw = readKeywords(cards)
  if (kw.declaredAxes > MAX_AXES) {
    const tooMany = unavailable(`the header declares ${kw.declaredAxes} WCS axes; phs reads at most ${MAX_AXES}`)
    return { naxis: kw.declaredAxes, linear: tooMany, celestial: tooMany, spectral: tooMany, warnings: kw.problems }
  }
  const axes = celestialAxes(kw)
  const lonLat = "lon" in axes ? ([axes.lon, axes.lat] as const) : undefined
  const toMap = (els: WcsKeywords["pc"]) => new Map(els.filter((e) => e.i < kw.axes.length && e.j < kw.axes.length).map((e) => [elementKey(e.i, e.j), e.value]))
  const t = linearTransform({
    n: kw.axes.length,
    crpix: kw.axes.map((a) => a.crpix),
    cdelt: kw.axes.map((a) => a.cdelt),
    pc: toMap(kw.pc),
    cd: toMap(kw.cd),
    crota: kw.axes.map((a) => a.crota),
    lonLat
  })
  const linear = typeof t === "string" ? unavailable(t) : t
  return {
    naxis: kw.axes.length,
    linear,
    celestial: "lon" in axes ? buildCelestial(kw, axes, linear) : axes,
    spectral: buildSpectral(kw, linear),
    warnings: kw.problems
  }
}

/**
 * Celestial (lon, lat) in degrees, in the cube's frame, at pixel `p` (FITS pixel
 * coordinates from 1, one per axis); undefined outside the projection.
 *
 * @since 0.2.0
 * @category transforms
 */
export const celestialAt = (
  linear: LinearTransform,
  c: Celestial,
  p: ReadonlyArray<number>
): { readonly lon: number; readonly lat: number } | undefined => {
  const x = intermediate(linear, c.lonAxis, p) * c.scale[0] + c.offset.x0
  const y = intermediate(linear, c.latAxis, p) * c.scale[1] + c.offset.y0
  const native = toNative(c.projection, x, y)
  return native === undefined ? undefined : toCelestial(c.pole, native.phi, native.theta)
}

/**
 * The FITS pixel coordinates (from 1) of the celestial axes at (lon, lat), with every other
 * axis at its reference pixel: the inverse of `celestialAt`, for placing a cube's pixels on
 * another grid. Undefined outside the projection, or when the celestial block of the matrix
 * is singular.
 *
 * @since 0.2.0
 * @category transforms
 */
export const pixelAt = (
  linear: LinearTransform,
  c: Celestial,
  lon: number,
  lat: number
): { readonly x: number; readonly y: number } | undefined => {
  const native = celestialToNative(c.pole, lon, lat)
  const xy = fromNative(c.projection, native.phi, native.theta)
  if (xy === undefined) return undefined
  const u = (xy.x - c.offset.x0) / c.scale[0]
  const v = (xy.y - c.offset.y0) / c.scale[1]
  const [i, j] = [c.lonAxis, c.latAxis]
  const [a, b, cc, d] = [linear.matrix[i][i], linear.matrix[i][j], linear.matrix[j][i], linear.matrix[j][j]]
  const det = a * d - b * cc
  if (det === 0 || !Number.isFinite(det)) return undefined
  const pi = linear.crpix[i] + (d * u - b * v) / det
  const pj = linear.crpix[j] + (a * v - cc * u) / det
  return i === 0 ? { x: pi, y: pj } : { x: pj, y: pi }
}

/**
 * Velocity (km/s) at pixel `p` (from 1), and d v / d p along the spectral axis (km/s per
 * channel).
 *
 * @since 0.2.0
 * @category transforms
 */
export const velocityAt = (
  linear: LinearTransform,
  s: Spectral,
  p: ReadonlyArray<number>
): { readonly v: number; readonly dvdp: number } => {
  const { v, dv } = velocity(s, intermediate(linear, s.axis, p))
  return { v, dvdp: dv * linear.matrix[s.axis][s.axis] }
}

/**
 * What `_stage_config.json` records and `phs status` prints of a cube's WCS.
 *
 * @since 0.2.0
 * @category schemas
 */
export const WcsSummary = Schema.Struct({
  celestial: Schema.NullOr(Schema.Struct({ frame: Schema.String, equinox: Schema.NullOr(Schema.Number), projection: Schema.String, ctype: Schema.Tuple(Schema.String, Schema.String) })),
  spectral: Schema.NullOr(Schema.Struct({ ctype: Schema.String, convention: Schema.String, specsys: Schema.NullOr(Schema.String), restFrequency: Schema.NullOr(Schema.Number) })),
  /** Why world columns are null: one sentence per unavailable part. */
  problems: Schema.Array(Schema.String)
})

/**
 * @since 0.2.0
 * @category models
 */
export interface WcsSummary extends Schema.Schema.Type<typeof WcsSummary> {}

/**
 * @since 0.2.0
 * @category getters
 */
export const summary = (w: CubeWcs): WcsSummary => {
  const c = w.celestial
  const s = w.spectral
  const problems: string[] = []
  if (c._tag === "Unavailable") problems.push(`lon/lat are null: ${c.reason}`)
  if (s._tag === "Unavailable" && (c._tag !== "Unavailable" || s.reason !== c.reason)) problems.push(`velocities are null: ${s.reason}`)
  else if (s._tag === "Unavailable") problems[0] = `lon/lat and velocities are null: ${s.reason}`
  return {
    celestial: c._tag === "Celestial" ? { frame: c.frame.system, equinox: c.frame.equinox, projection: c.projection, ctype: c.ctype } : null,
    spectral: s._tag === "Spectral" ? { ctype: s.ctype, convention: s.convention, specsys: s.specsys, restFrequency: s.restFrequency } : null,
    problems
  }
}

/**
 * One line for `phs status`, e.g. `world: galactic CAR; velocity VOPT (optical, LSRK)` or
 * `world: lon/lat are null: projection MER (CTYPE1 = 'GLON-MER') is not one phs implements…`.
 *
 * @since 0.2.0
 * @category getters
 */
export const statusLine = (s: WcsSummary): string => {
  const parts: string[] = []
  if (s.celestial !== null) parts.push(`${s.celestial.frame}${s.celestial.equinox === null ? "" : ` (equinox ${s.celestial.equinox})`} ${s.celestial.projection}`)
  if (s.spectral !== null) parts.push(`velocity ${s.spectral.ctype} (${s.spectral.convention}${s.spectral.specsys === null ? "" : `, ${s.spectral.specsys}`})`)
  return `world: ${[...parts, ...s.problems].join("; ")}`
}
