/**
 * The spherical projections phs reads (Calabretta & Greisen 2002, "paper II", §5): the
 * zenithal TAN, SIN, ARC, ZEA, the cylindrical CAR and the pseudo-cylindrical SFL (GLS) and
 * AIT, without projection parameters. `toNative` is the inverse (x, y) → (φ, θ) the pixel to
 * world direction needs; `fromNative` the forward one, used for an offset fiducial point
 * (PVi_0 = 1). Angles and (x, y) in degrees, R0 = 180°/π.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import { acosd, asind, atan2d, cosd, D2R, R2D, sind } from "./Trig.js"

/**
 * The projection codes phs implements. GLS is read as SFL (the AIPS name; see `Header`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ProjectionCode = Schema.Literal("CAR", "TAN", "SIN", "SFL", "AIT", "ARC", "ZEA")

/**
 * @since 0.2.0
 * @category models
 */
export type ProjectionCode = typeof ProjectionCode.Type

/** Native spherical coordinates (φ, θ) in degrees. */
export interface Native {
  readonly phi: number
  readonly theta: number
}

/** Tolerance for points a rounding error outside a projection's boundary. */
const TOL = 1e-13

/**
 * Native latitude θ0 of the fiducial point by default (φ0 is 0 for all of them): the pole
 * for the zenithal projections, the equator for the others (paper II, table 13).
 *
 * @since 0.2.0
 * @category getters
 */
export const defaultTheta0 = (code: ProjectionCode): number =>
  code === "TAN" || code === "SIN" || code === "ARC" || code === "ZEA" ? 90 : 0

const zenithalPhi = (x: number, y: number, r: number): number => (r === 0 ? 0 : atan2d(x, -y))

/**
 * (x, y) → (φ, θ); undefined for a point outside the projection's domain, which includes
 * φ beyond ±180° and θ beyond ±90° (as WCSLIB's bounds check has it).
 *
 * @since 0.2.0
 * @category projections
 */
export const toNative = (code: ProjectionCode, x: number, y: number): Native | undefined => {
  const n = unbounded(code, x, y)
  if (n === undefined || !(Math.abs(n.phi) <= 180 + TOL) || !(Math.abs(n.theta) <= 90 + TOL)) return undefined
  return { phi: Math.max(-180, Math.min(180, n.phi)), theta: Math.max(-90, Math.min(90, n.theta)) }
}

const unbounded = (code: ProjectionCode, x: number, y: number): Native | undefined => {
  switch (code) {
    case "CAR":
      return { phi: x, theta: y }
    case "SFL": {
      if (Math.abs(y) > 90 + TOL) return undefined
      const c = cosd(y)
      if (c === 0) return x === 0 ? { phi: 0, theta: y } : undefined
      return { phi: x / c, theta: Math.max(-90, Math.min(90, y)) }
    }
    case "AIT": {
      // Z² = 1 − (x/4R0)² − (y/2R0)², valid for Z² ≥ ½ (eq. 108).
      const xr = (x * D2R) / 4
      const yr = (y * D2R) / 2
      let z2 = 1 - xr * xr - yr * yr
      if (z2 < 0.5) {
        if (z2 < 0.5 - TOL) return undefined
        z2 = 0.5
      }
      const z = Math.sqrt(z2)
      return { phi: 2 * atan2d((z * x * D2R) / 2, 2 * z2 - 1), theta: asind(z * y * D2R) }
    }
    case "TAN": {
      const r = Math.hypot(x, y)
      return { phi: zenithalPhi(x, y, r), theta: atan2d(R2D, r) }
    }
    case "SIN": {
      const r = Math.hypot(x, y)
      const s = r * D2R
      if (s > 1 + TOL) return undefined
      return { phi: zenithalPhi(x, y, r), theta: acosd(s) }
    }
    case "ARC": {
      const r = Math.hypot(x, y)
      if (r > 180 + TOL) return undefined
      return { phi: zenithalPhi(x, y, r), theta: 90 - Math.min(r, 180) }
    }
    case "ZEA": {
      const r = Math.hypot(x, y)
      const s = (r * D2R) / 2
      if (s > 1 + TOL) return undefined
      return { phi: zenithalPhi(x, y, r), theta: 90 - 2 * asind(s) }
    }
  }
}

/**
 * (φ, θ) → (x, y); undefined where the projection diverges (TAN at θ ≤ 0).
 *
 * @since 0.2.0
 * @category projections
 */
export const fromNative = (code: ProjectionCode, phi: number, theta: number): { x: number; y: number } | undefined => {
  const zenithal = (r: number) => ({ x: r * sind(phi), y: -r * cosd(phi) })
  switch (code) {
    case "CAR":
      return { x: phi, y: theta }
    case "SFL":
      return { x: phi * cosd(theta), y: theta }
    case "AIT": {
      const g = R2D * Math.sqrt(2 / (1 + cosd(theta) * cosd(phi / 2)))
      return { x: 2 * g * cosd(theta) * sind(phi / 2), y: g * sind(theta) }
    }
    case "TAN":
      return theta <= 0 ? undefined : zenithal((R2D * cosd(theta)) / sind(theta))
    case "SIN":
      return zenithal(R2D * cosd(theta))
    case "ARC":
      return zenithal(90 - theta)
    case "ZEA":
      return zenithal(2 * R2D * sind((90 - theta) / 2))
  }
}
