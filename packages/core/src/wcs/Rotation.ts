/**
 * The spherical rotation from native (φ, θ) to celestial (α, δ) coordinates, and the
 * celestial coordinates of the native pole it needs, from CRVAL, the fiducial point and
 * LONPOLE/LATPOLE with the defaults of paper II §2.4 (Calabretta & Greisen 2002).
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import { acosd, atan2d, cosd, normalizeLongitude, sind } from "./Trig.js"

/**
 * Euler angles of the rotation: the celestial coordinates (αp, δp) of the native pole and
 * the native longitude φp of the celestial pole, in degrees.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Pole = Schema.Struct({ alphaP: Schema.Number, deltaP: Schema.Number, phiP: Schema.Number })

/**
 * @since 0.2.0
 * @category models
 */
export interface Pole extends Schema.Schema.Type<typeof Pole> {}

/** Poles within this of ±90° are taken as exactly there (as WCSLIB does). */
const POLE_TOL = 1e-10

/**
 * The native pole for a reference point (α0, δ0) at the fiducial native point (φ0, θ0);
 * `lonpole` undefined takes the default (0° if δ0 ≥ θ0, else 180°), `latpole` defaults to
 * +90°. A string when the keywords admit no rotation.
 *
 * @since 0.2.0
 * @category constructors
 */
export const pole = (
  alpha0: number,
  delta0: number,
  phi0: number,
  theta0: number,
  lonpole: number | undefined,
  latpole: number
): Pole | string => {
  const phiP = lonpole ?? (delta0 >= theta0 ? 0 : 180)
  if (theta0 === 90) return { alphaP: alpha0, deltaP: delta0, phiP }
  // Eq. 8: δp = arg(cos θ0 cos(φp − φ0), sin θ0) ± acos(sin δ0 / √(1 − cos²θ0 sin²(φp − φ0))).
  const dphi = phiP - phi0
  const base = atan2d(sind(theta0), cosd(theta0) * cosd(dphi))
  const denom = Math.sqrt(1 - cosd(theta0) ** 2 * sind(dphi) ** 2)
  let deltaP: number
  if (denom === 0) {
    if (delta0 !== 0) return `LONPOLE = ${phiP} is inconsistent with CRVAL latitude ${delta0}`
    deltaP = latpole
  } else {
    const ratio = sind(delta0) / denom
    if (Math.abs(ratio) > 1 + 1e-12) return `LONPOLE = ${phiP} is inconsistent with CRVAL latitude ${delta0}: no celestial pole`
    const spread = acosd(ratio)
    const candidates = [base + spread, base - spread]
      .map((d) => (d > 180 ? d - 360 : d < -180 ? d + 360 : d))
      .map((d) => (Math.abs(d) > 90 && Math.abs(d) < 90 + POLE_TOL ? Math.sign(d) * 90 : d))
      .filter((d) => Math.abs(d) <= 90)
    if (candidates.length === 0) return `LONPOLE = ${phiP} and LATPOLE = ${latpole} give no celestial pole for CRVAL latitude ${delta0}`
    deltaP = candidates.length === 1 || Math.abs(candidates[0] - latpole) <= Math.abs(candidates[1] - latpole)
      ? candidates[0]
      : candidates[1]
  }
  if (Math.abs(deltaP - 90) < POLE_TOL) return { alphaP: alpha0 + phiP - phi0 - 180, deltaP: 90, phiP }
  if (Math.abs(deltaP + 90) < POLE_TOL) return { alphaP: alpha0 - phiP + phi0, deltaP: -90, phiP }
  if (Math.abs(delta0) === 90) return { alphaP: alpha0, deltaP, phiP }
  // Eq. 10, multiplied through by cos δ0 cos δp > 0.
  const alphaP = alpha0 - atan2d(sind(dphi) * cosd(theta0) * cosd(deltaP), sind(theta0) - sind(deltaP) * sind(delta0))
  return { alphaP, deltaP, phiP }
}

/**
 * The spherical rotation both directions share (eqs. 2 and 5 are one formula): a point at
 * angle `d` from the rotation's reference meridian and elevation `e`, seen from the other
 * system's pole at latitude δp. Returns the angle to add to the other meridian, and the
 * elevation there.
 */
const rotate = (deltaP: number, d: number, e: number): { angle: number; elevation: number } => {
  const se = sind(e)
  const ce = cosd(e)
  const sdp = sind(deltaP)
  const cdp = cosd(deltaP)
  const y = -ce * sind(d)
  const x = se * cdp - ce * sdp * cosd(d)
  // atan2 rather than asin: asin loses half the digits of a latitude near ±90°.
  return { angle: atan2d(y, x), elevation: atan2d(se * sdp + ce * cdp * cosd(d), Math.hypot(x, y)) }
}

/**
 * Native (φ, θ) → celestial (α, δ) (eq. 2), α in [0°, 360°).
 *
 * @since 0.2.0
 * @category transforms
 */
export const toCelestial = (p: Pole, phi: number, theta: number): { lon: number; lat: number } => {
  const r = rotate(p.deltaP, phi - p.phiP, theta)
  return { lon: normalizeLongitude(p.alphaP + r.angle), lat: r.elevation }
}

/**
 * Celestial (α, δ) → native (φ, θ) (eq. 5), φ in [−180°, 180°].
 *
 * @since 0.2.0
 * @category transforms
 */
export const toNative = (p: Pole, lon: number, lat: number): { phi: number; theta: number } => {
  const r = rotate(p.deltaP, lon - p.alphaP, lat)
  return { phi: ((((p.phiP + r.angle + 180) % 360) + 360) % 360) - 180, theta: r.elevation }
}
