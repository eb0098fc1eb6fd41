/**
 * `pixelAt` inverts `celestialAt` (whose agreement with WCSLIB astropy.test.ts checks): on
 * every fixture, every pixel inside the projection comes back to within 1e-9 pixel.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Wcs from "../../src/wcs/Wcs.js"
import { FIXTURES } from "./fixtures.js"

describe("Wcs.pixelAt", () => {
  it.effect("takes (lon, lat) back to the pixel on every projection, frame and linear form", () =>
    Effect.sync(() => {
      let checked = 0
      let worst = 0
      for (const f of FIXTURES) {
        const { linear, celestial } = Wcs.fromCards(f.header)
        if (linear._tag !== "Linear" || celestial._tag !== "Celestial") throw new Error(`${f.name}: no celestial WCS`)
        for (const p of f.pixels) {
          const at = [p[0], p[1], linear.crpix[2]]
          const sky = Wcs.celestialAt(linear, celestial, at)
          if (sky === undefined) continue
          const back = Wcs.pixelAt(linear, celestial, sky.lon, sky.lat)
          expect(back, `${f.name} at ${p}`).toBeDefined()
          const d = Math.max(Math.abs(back!.x - p[0]), Math.abs(back!.y - p[1]))
          expect(d, `${f.name} at ${p}: back at (${back!.x}, ${back!.y})`).toBeLessThanOrEqual(1e-9)
          worst = Math.max(worst, d)
          checked++
        }
      }
      expect(checked).toBeGreaterThan(3000)
      console.log(`pixelAt round trip: ${checked} pixels, max |Δ| ${worst.toExponential(2)} pixel`)
    }))
})
