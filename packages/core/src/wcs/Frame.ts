/**
 * The celestial frame of a cube's longitude/latitude axes, as the header declares it
 * (paper II §3.1 for RADESYS and EQUINOX and their defaults). phs reports the frame; it
 * converts no coordinates between frames.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"

/**
 * `system` is `galactic`, `ecliptic`, `supergalactic`, or for RA/Dec the RADESYS value
 * (`ICRS`, `FK5`, `FK4`, `FK4-NO-E`, `GAPPT`); `equinox` is set for FK4/FK5 and ecliptic.
 *
 * @since 0.2.0
 * @category schemas
 */
export const CelestialFrame = Schema.Struct({
  system: Schema.String,
  equinox: Schema.NullOr(Schema.Number),
  /** The axis-type prefixes, e.g. `GLON`/`GLAT`, `RA`/`DEC`. */
  lonType: Schema.String,
  latType: Schema.String
})

/**
 * @since 0.2.0
 * @category models
 */
export interface CelestialFrame extends Schema.Schema.Type<typeof CelestialFrame> {}

/** Longitude axis-type prefix → its latitude partner and frame. */
const PAIRS: Record<string, { readonly lat: string; readonly system: string }> = {
  RA: { lat: "DEC", system: "equatorial" },
  GLON: { lat: "GLAT", system: "galactic" },
  ELON: { lat: "ELAT", system: "ecliptic" },
  SLON: { lat: "SLAT", system: "supergalactic" }
}

const RADESYS = ["ICRS", "FK5", "FK4", "FK4-NO-E", "GAPPT"]

/**
 * Whether an axis-type prefix (the part before the projection code) is a celestial
 * longitude or latitude.
 *
 * @since 0.2.0
 * @category utils
 */
export const celestialRole = (prefix: string): "lon" | "lat" | undefined =>
  prefix in PAIRS ? "lon" : Object.values(PAIRS).some((p) => p.lat === prefix) ? "lat" : undefined

/**
 * The frame of a longitude/latitude pair; a string when the pair is not one frame or
 * RADESYS is unknown.
 *
 * @since 0.2.0
 * @category constructors
 */
export const frame = (
  lonType: string,
  latType: string,
  radesys: string | undefined,
  equinox: number | undefined
): CelestialFrame | string => {
  const pair = PAIRS[lonType]
  if (pair === undefined || pair.lat !== latType) return `celestial axes ${lonType}/${latType} are not a longitude/latitude pair of one frame`
  if (pair.system === "ecliptic") return { system: "ecliptic", equinox: equinox ?? 2000, lonType, latType }
  if (pair.system !== "equatorial") return { system: pair.system, equinox: null, lonType, latType }
  const system = radesys?.toUpperCase() ?? (equinox === undefined ? "ICRS" : equinox < 1984 ? "FK4" : "FK5")
  if (!RADESYS.includes(system)) return `RADESYS = '${radesys}' is not one of ${RADESYS.join(", ")}`
  const eq = system === "FK4" || system === "FK4-NO-E" ? (equinox ?? 1950) : system === "FK5" ? (equinox ?? 2000) : null
  return { system, equinox: eq, lonType, latType }
}
