/**
 * Spectral axes (Greisen et al. 2006, "paper III") as velocities in km/s: the linear
 * velocity axes VRAD, VOPT, VELO; FREQ (and WCSLIB's FREQ-linear VOPT-F2W, the AIPS FELO)
 * converted with the rest frequency; and the AIPS Doppler-frame suffixes (`VELO-LSR`,
 * `FELO-HEL`, `FREQ-OBS`, and phs also reads `VRAD-LSR`/`VOPT-LSR`, which WCSLIB refuses).
 *
 * @since 0.2.0
 */
import { Schema } from "effect"

/**
 * Speed of light in m/s (exact, as paper III uses it).
 *
 * @since 0.2.0
 * @category constants
 */
export const C = 299_792_458

/**
 * How header values become a velocity:
 * - `velocity`: the axis is linear in the velocity it names;
 * - `frequency`: linear in frequency, converted to radio velocity c (1 − ν/ν0);
 * - `frequency-optical`: linear in frequency, values given as optical velocity (VOPT-F2W,
 *   FELO), so the optical velocity is not linear in the pixel.
 *
 * @since 0.2.0
 * @category schemas
 */
export const SpectralAlgorithm = Schema.Literal("velocity", "frequency", "frequency-optical")

/**
 * A spectral axis phs converts. `crval` and `scale` (SI per header unit) are in m/s or Hz.
 *
 * @since 0.2.0
 * @category schemas
 */
export const SpectralAxis = Schema.Struct({
  ctype: Schema.String,
  algorithm: SpectralAlgorithm,
  /** The velocity definition of the converted values (paper III §3). */
  convention: Schema.Literal("radio", "optical", "relativistic"),
  crval: Schema.Number,
  scale: Schema.Number,
  unit: Schema.String,
  /** Rest frequency in Hz (FREQ axes). */
  restFrequency: Schema.NullOr(Schema.Number),
  /** Doppler reference frame: SPECSYS, or the AIPS suffix's. */
  specsys: Schema.NullOr(Schema.String)
})

/**
 * @since 0.2.0
 * @category models
 */
export interface SpectralAxis extends Schema.Schema.Type<typeof SpectralAxis> {}

/** The AIPS Doppler-frame suffixes (paper III table 10 / AIPS memo 27). */
const AIPS_FRAMES: Record<string, string> = {
  LSR: "LSRK",
  LSD: "LSRD",
  HEL: "BARYCENT",
  BAR: "BARYCENT",
  OBS: "TOPOCENT",
  GEO: "GEOCENTR",
  SOU: "SOURCE",
  GAL: "GALACTOC"
}

const VELOCITY_UNITS: Record<string, number> = { "": 1, "m/s": 1, "m s-1": 1, "m.s-1": 1, "km/s": 1000, "km s-1": 1000, "km.s-1": 1000 }
const FREQUENCY_UNITS: Record<string, number> = { "": 1, hz: 1, khz: 1e3, mhz: 1e6, ghz: 1e9 }

/** The keywords of the spectral axis, as read from the header. */
export interface SpectralKeywords {
  readonly ctype: string
  readonly crval: number
  readonly cunit: string | undefined
  readonly restfrq: number | undefined
  readonly specsys: string | undefined
  readonly velref: number | undefined
}

/**
 * Whether a CTYPE names a spectral axis phs knows about (converted or not).
 *
 * @since 0.2.0
 * @category utils
 */
export const isSpectralType = (ctype: string): boolean =>
  /^(FREQ|ENER|WAVN|VRAD|WAVE|VOPT|ZOPT|AWAV|VELO|BETA|FELO)(-|$)/.test(ctype)

/**
 * The spectral axis of a header; a string saying why it cannot be turned into velocities.
 *
 * @since 0.2.0
 * @category constructors
 */
export const spectralAxis = (k: SpectralKeywords): SpectralAxis | string => {
  const [type, code = ""] = k.ctype.split(/-+/, 2) as [string, string | undefined]
  const aipsFrame = AIPS_FRAMES[code]
  const specsys = k.specsys?.trim() || aipsFrame || null
  let algorithm: SpectralAxis["algorithm"]
  let convention: SpectralAxis["convention"]
  if (type === "VRAD" || type === "VOPT") {
    if (code !== "" && aipsFrame === undefined) {
      if (!(type === "VOPT" && code === "F2W")) return `spectral axis CTYPE = '${k.ctype}': algorithm ${code} is not one phs converts`
      algorithm = "frequency-optical"
    } else algorithm = "velocity"
    convention = type === "VRAD" ? "radio" : "optical"
  } else if (type === "VELO") {
    if (code !== "" && aipsFrame === undefined) return `spectral axis CTYPE = '${k.ctype}': algorithm ${code} is not one phs converts`
    algorithm = "velocity"
    // Plain VELO is the relativistic velocity; AIPS VELO-xxx is optical unless VELREF ≥ 256 says radio.
    convention = code === "" ? "relativistic" : Math.floor((k.velref ?? 0) / 256) === 1 ? "radio" : "optical"
  } else if (type === "FELO") {
    if (code !== "" && aipsFrame === undefined) return `spectral axis CTYPE = '${k.ctype}': ${code} is not an AIPS Doppler frame`
    algorithm = "frequency-optical"
    convention = "optical"
  } else if (type === "FREQ") {
    if (code !== "" && aipsFrame === undefined) return `spectral axis CTYPE = '${k.ctype}': algorithm ${code} is not one phs converts`
    if (k.restfrq === undefined || !(k.restfrq > 0)) return `spectral axis CTYPE = '${k.ctype}' needs RESTFRQ (or RESTFREQ) > 0 to give velocities`
    algorithm = "frequency"
    convention = "radio"
  } else {
    return `spectral axis CTYPE = '${k.ctype}' is not a velocity or frequency axis phs converts`
  }
  const units = algorithm === "frequency" ? FREQUENCY_UNITS : VELOCITY_UNITS
  const unit = (k.cunit ?? "").trim()
  const scale = units[unit.toLowerCase()]
  if (scale === undefined) {
    return `spectral axis CTYPE = '${k.ctype}' has CUNIT = '${unit}', not ${algorithm === "frequency" ? "Hz, kHz, MHz or GHz" : "m/s or km/s"}`
  }
  return {
    ctype: k.ctype,
    algorithm,
    convention,
    crval: k.crval * scale,
    scale,
    unit: algorithm === "frequency" ? "Hz" : "m/s",
    restFrequency: algorithm === "frequency" ? (k.restfrq ?? null) : null,
    specsys
  }
}

/**
 * The velocity in km/s at intermediate spectral coordinate `x` (header units, relative to
 * CRVAL), and its derivative d v / d x in km/s per header unit.
 *
 * @since 0.2.0
 * @category transforms
 */
export const velocity = (axis: SpectralAxis, x: number): { readonly v: number; readonly dv: number } => {
  const xs = x * axis.scale
  switch (axis.algorithm) {
    case "velocity":
      return { v: (axis.crval + xs) / 1000, dv: axis.scale / 1000 }
    case "frequency": {
      const nu0 = axis.restFrequency ?? Number.NaN
      return { v: (C * (1 - (axis.crval + xs) / nu0)) / 1000, dv: (-C * axis.scale) / nu0 / 1000 }
    }
    case "frequency-optical": {
      // ν/ν_ref = 1 − x/(c + Z_ref) along a frequency-linear axis, and Z = c (ν0/ν − 1).
      const k = C + axis.crval
      const f = 1 - xs / k
      return { v: (k / f - C) / 1000, dv: axis.scale / (f * f) / 1000 }
    }
  }
}
