/**
 * Trigonometry in degrees, exact at multiples of 90° (cos 90° is 0, not 6e-17), so that the
 * special cases of the spherical rotation (a pole at exactly ±90°) are met exactly.
 *
 * @since 0.2.0
 */

/** @internal */
export const D2R = Math.PI / 180
/** @internal */
export const R2D = 180 / Math.PI

const quadrant = (deg: number): number | undefined => {
  const q = deg / 90
  return Number.isInteger(q) ? (((q % 4) + 4) % 4) : undefined
}

/** @internal */
export const sind = (deg: number): number => {
  const q = quadrant(deg)
  return q === undefined ? Math.sin(deg * D2R) : [0, 1, 0, -1][q]
}

/** @internal */
export const cosd = (deg: number): number => {
  const q = quadrant(deg)
  return q === undefined ? Math.cos(deg * D2R) : [1, 0, -1, 0][q]
}

/** @internal */
export const atan2d = (y: number, x: number): number => Math.atan2(y, x) * R2D

/** Arcsine in degrees; arguments a rounding error beyond ±1 are clamped. @internal */
export const asind = (v: number): number => Math.asin(Math.max(-1, Math.min(1, v))) * R2D

/** Arccosine in degrees; arguments a rounding error beyond ±1 are clamped. @internal */
export const acosd = (v: number): number => Math.acos(Math.max(-1, Math.min(1, v))) * R2D

/** A longitude in [0, 360). @internal */
export const normalizeLongitude = (deg: number): number => {
  const r = deg % 360
  const n = r < 0 ? r + 360 : r
  return n === 360 ? 0 : n
}
