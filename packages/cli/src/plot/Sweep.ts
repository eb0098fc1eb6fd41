/**
 * The pictures of `phs sweep` and `phs tune`: figures of each grid point against the swept
 * parameter, one panel per figure (several series in a panel share its axis), a line per
 * value of the other swept parameters. Drawn by Render like every `phs plot`.
 */
import { Errors } from "@phs/core"
import { Dirs } from "@phs/runtime-local"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { TopLevelSpec } from "vega-lite"
import { resolveOutput } from "../commands/plot.js"
import * as Render from "./Render.js"

const FONT = "DejaVu Sans, Verdana, sans-serif"

export interface Panel {
  /** Series plotted in the panel: field of the rows → its legend label. */
  readonly series: ReadonlyArray<{ readonly field: string; readonly label: string }>
  readonly title: string
  /** A fixed y range, e.g. [0, 1] for fractions. */
  readonly domain?: readonly [number, number]
}

export interface GridPlot {
  readonly title: string
  readonly subtitle: string | ReadonlyArray<string>
  /** The parameter on the x axis. */
  readonly x: string
  /** One row per grid point: `x`, `group` (the other parameters as text, or ""), the figures. */
  readonly rows: ReadonlyArray<Readonly<Record<string, number | string | null>>>
  readonly panels: ReadonlyArray<Panel>
}

/** The Vega-Lite spec; a panel's line mark is named `panel_<i>` (a class in the SVG). */
export const spec = (p: GridPlot): TopLevelSpec => {
  const grouped = new Set(p.rows.map((r) => r.group)).size > 1
  const panels = p.panels.map((panel, i) => {
    const fields = panel.series.map((s) => s.field)
    const labels = Object.fromEntries(panel.series.map((s) => [s.field, s.label]))
    const y = { field: "value", type: "quantitative" as const, title: panel.title, scale: panel.domain === undefined ? { zero: false } : { domain: [...panel.domain] } }
    const color =
      panel.series.length > 1
        ? { field: "series", type: "nominal" as const, title: null, sort: panel.series.map((s) => s.label) }
        : grouped
          ? { field: "group", type: "nominal" as const, title: null }
          : { value: "#4c78a8" }
    return {
      name: `panel_${i}`,
      width: 460,
      height: 150,
      transform: [
        { fold: fields, as: ["field", "value"] as [string, string] },
        { calculate: `${JSON.stringify(labels)}[datum.field]`, as: "series" },
        { filter: "isValid(datum.value)" }
      ],
      mark: { type: "line" as const, point: true, name: `panel_${i}` },
      encoding: {
        x: { field: "x", type: "quantitative" as const, title: p.x, scale: { zero: false } },
        y,
        color,
        ...(grouped && panel.series.length > 1 ? { strokeDash: { field: "group", type: "nominal" as const, title: null } } : {}),
        tooltip: [{ field: "x", title: p.x }, { field: "group" }, { field: "series" }, { field: "value", format: ".4g" }]
      }
    }
  })
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: p.title, subtitle: typeof p.subtitle === "string" ? p.subtitle : [...p.subtitle] },
    data: { values: p.rows.map((r) => ({ ...r })) },
    vconcat: panels,
    resolve: { scale: { color: "independent", strokeDash: "independent" } },
    config: {
      font: FONT,
      view: { stroke: "#ccc" },
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", grid: true, gridColor: "#eee" },
      legend: { labelFontSize: 11 },
      title: { fontSize: 14, subtitleFontSize: 11, anchor: "start", subtitleColor: "#555" }
    }
  } as TopLevelSpec
}

/** Draws the plot to `out` (or `defaultBase`.svg) and returns the file written. */
export const write = (p: GridPlot, out: Option.Option<string>, defaultBase: string) =>
  Effect.gen(function* () {
    const target = yield* resolveOutput(out, Option.none(), defaultBase)
    const bytes = yield* Render.render(spec(p), target.format)
    yield* Effect.try({
      try: () => {
        Dirs.makeDirsSync(path.dirname(path.resolve(target.file)))
        fs.writeFileSync(target.file, bytes)
      },
      catch: (e) => new Errors.InvalidInput({ reason: e instanceof Dirs.DirError ? e.message : `cannot write ${target.file}: ${e instanceof Error ? e.message : String(e)}` })
    })
    return target.file
  })
