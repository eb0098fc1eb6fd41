/**
 * Pictures from Vega-Lite specs, headless: Vega-Lite compiles to Vega, a Vega view with no
 * renderer draws the SVG (`view.toSVG()`), and resvg rasterises it to PNG.
 */
import { Errors } from "@phs/core"
import { Effect } from "effect"
import type { TopLevelSpec } from "vega-lite"

export const FORMATS = ["svg", "png"] as const
export type ImageFormat = (typeof FORMATS)[number]

/** PNG pixels per SVG pixel. */
export const PNG_SCALE = 2

const failed = (what: string) => (e: unknown) =>
  new Errors.InvalidInput({ reason: `${what}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` })

/** The SVG of a Vega-Lite spec. */
export const svg = (spec: TopLevelSpec): Effect.Effect<string, Errors.InvalidInput> =>
  Effect.tryPromise({
    try: async () => {
      // Loaded here, not at start-up: every other command would pay for it.
      const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")])
      const compiled = vegaLite.compile(spec).spec
      const view = new vega.View(vega.parse(compiled), { renderer: "none" })
      try {
        return await view.toSVG()
      } finally {
        view.finalize()
      }
    },
    catch: failed("cannot draw the plot")
  })

/** PNG bytes of an SVG, `scale` × its size. */
export const png = (svgText: string, scale = PNG_SCALE): Effect.Effect<Uint8Array, Errors.InvalidInput> =>
  Effect.tryPromise({
    try: async () => {
      // Loaded here, not at start-up: a native addon whose threads every command would start.
      const { Resvg } = await import("@resvg/resvg-js")
      const resvg = new Resvg(svgText, {
        fitTo: { mode: "zoom", value: scale },
        font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans", sansSerifFamily: "DejaVu Sans" }
      })
      return new Uint8Array(resvg.render().asPng())
    },
    catch: failed("cannot rasterise the plot")
  })

/** The picture in a format, as bytes. */
export const render = (spec: TopLevelSpec, format: ImageFormat): Effect.Effect<Uint8Array, Errors.InvalidInput> =>
  Effect.flatMap(svg(spec), (s) => (format === "png" ? png(s) : Effect.succeed(new TextEncoder().encode(s))))
