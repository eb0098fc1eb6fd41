/**
 * The Vega-Lite specs of `phs plot`: a spectrum with its decomposition, a map of a
 * per-pixel quantity, and the summary histograms of a run. Pure functions of the data.
 *
 * Marks carry names a reader (or a test) can find in the SVG: Vega writes a mark's name
 * as a class of its group (`<g class="mark-line role-mark component_marks">`), and an
 * item's `description` as its `aria-label`.
 */
import type { Fits, ResultSchema, RunTable } from "@phs/core"
import type { TopLevelSpec } from "vega-lite"
import * as Maps from "./Maps.js"
import { linearAxis, world, type LinearAxis } from "./RunData.js"

type Row = ResultSchema.DecompositionRow

const FONT = "DejaVu Sans, Verdana, sans-serif"

const CONFIG = {
  font: FONT,
  view: { stroke: "#ccc" },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal" as const, grid: true, gridColor: "#eee" },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal" as const },
  title: { fontSize: 14, subtitleFontSize: 11, anchor: "start" as const, subtitleColor: "#555" }
}

/** Short text of a number for labels. */
export const fmt = (v: number | null, digits = 4): string => (v === null ? "NULL" : Number(v.toPrecision(digits)).toString())

/** About `count` round tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
export const niceTicks = (lo: number, hi: number, count: number): number[] => {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / Math.max(1, count)
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number((Math.round(v / step) * step).toPrecision(12)))
  return out
}

/** Integer pixel tick values for an axis of n pixels. */
const pixelTicks = (n: number): number[] => niceTicks(0, n - 1, Math.min(10, n)).filter((v) => Number.isInteger(v))

/** A world axis's name and unit, e.g. "GLON (deg)". */
const worldTitle = (a: LinearAxis, unit = a.cunit) => `${a.ctype.split("-")[0]}${unit === undefined || unit === "" ? "" : ` (${unit})`}`

/** Velocity axes in m/s are shown in km/s. */
const spectralUnit = (a: LinearAxis): { scale: number; unit: string | undefined } =>
  a.cunit !== undefined && a.cunit.toLowerCase() === "m/s" ? { scale: 1 / 1000, unit: "km/s" } : { scale: 1, unit: a.cunit }

const gaussian = (a: number, mu: number, sigma: number, x: number) => a * Math.exp((-0.5 * (x - mu) ** 2) / (sigma * sigma))

/** The model (sum of the components) at a channel. */
export const model = (row: Row, x: number): number =>
  row.component_amplitudes.reduce((s, a, k) => s + gaussian(a, row.component_means[k], row.component_stddevs[k], x), 0)

export interface SpectrumInput {
  readonly run: RunTable.RunRecord
  readonly header: Fits.CubeHeader
  readonly row: Row
  readonly spectrum: Float32Array
}

/** Series names, in legend order, and their colours. */
const SERIES = ["data", "component", "model", "residual", "±1 rms"] as const
const SERIES_COLORS = ["#3b3b3b", "#4c78a8", "#e45756", "#54a24b", "#c7c7c7"]

/**
 * The spectrum of one pixel: the data (steps), each Gaussian component as its own curve
 * (mark `component`, one path per component, described `component k: A=…, μ=…, σ=…`),
 * the model sum (`model`); below it the residual (`residual`) inside a ±rms band
 * (`rms_band`). Channels on the x axis, the velocity on a top axis when the header gives it.
 */
export const spectrum = (input: SpectrumInput): TopLevelSpec => {
  const { run, header, row, spectrum: data } = input
  const n = data.length
  const unit = typeof header.cards.BUNIT === "string" && header.cards.BUNIT.trim() !== "" ? header.cards.BUNIT.trim() : undefined
  const yTitle = unit === undefined ? "intensity" : `intensity (${unit})`
  const channels = Array.from({ length: n }, (_, c) => {
    const v = Number.isNaN(data[c]) ? null : data[c]
    return { channel: c, data: v, residual: v === null ? null : v - model(row, c) }
  })
  const step = Math.max(0.5, n / 1000)
  const fine = Array.from({ length: Math.floor((n - 1) / step) + 1 }, (_, i) => i * step)
  const curves = row.component_amplitudes.flatMap((a, k) => {
    const mu = row.component_means[k]
    const sigma = row.component_stddevs[k]
    const description = `component ${k + 1}: A=${fmt(a)}, μ=${fmt(mu)}, σ=${fmt(sigma)}`
    const near = fine.filter((x) => Math.abs(x - mu) <= 5 * sigma)
    const xs = near.length >= 2 ? near : [Math.max(0, mu - 5 * sigma), Math.min(n - 1, mu + 5 * sigma)]
    return xs.map((x) => ({ component: k + 1, description, channel: x, value: gaussian(a, mu, sigma, x) }))
  })
  const modelCurve = fine.map((x) => ({ channel: x, value: model(row, x) }))
  const rms = row.rms ?? 0
  const xScale = { domain: [0, n - 1], nice: false, zero: false }
  const color = {
    scale: { domain: [...SERIES], range: SERIES_COLORS },
    legend: { title: null, orient: "right" as const, symbolType: "stroke", symbolStrokeWidth: 2.5, symbolOpacity: 1 }
  }
  const velocity = linearAxis(header, 3)

  const dataLayer = {
    name: "data",
    data: { values: channels },
    mark: { type: "line" as const, interpolate: "step" as const, strokeWidth: 1, description: "data" },
    encoding: {
      x: { field: "channel", type: "quantitative" as const, scale: xScale, axis: { title: "channel" } },
      y: { field: "data", type: "quantitative" as const, title: yTitle },
      color: { datum: "data", ...color }
    }
  }
  const layers: object[] = [
    dataLayer,
    {
      name: "model",
      data: { values: modelCurve },
      mark: { type: "line" as const, strokeWidth: 2, strokeJoin: "round" as const, description: "model: sum of the components" },
      encoding: {
        x: { field: "channel", type: "quantitative" as const, axis: null },
        y: { field: "value", type: "quantitative" as const },
        color: { datum: "model", ...color }
      }
    },
    {
      name: "component",
      data: { values: curves },
      mark: { type: "line" as const, strokeWidth: 1.5, strokeDash: [5, 2] },
      encoding: {
        x: { field: "channel", type: "quantitative" as const, axis: null },
        y: { field: "value", type: "quantitative" as const },
        detail: { field: "component", type: "nominal" as const },
        description: { field: "description", type: "nominal" as const },
        color: { datum: "component", ...color }
      }
    }
  ]
  if (velocity !== undefined) {
    const { scale, unit: vUnit } = spectralUnit(velocity)
    const v0 = world(velocity, 0) * scale
    const v1 = world(velocity, n - 1) * scale
    const values = niceTicks(Math.min(v0, v1), Math.max(v0, v1), 8).map((v) => (v / scale - velocity.crval) / velocity.cdelt + velocity.crpix - 1)
    const digits = Math.max(0, -Math.floor(Math.log10(Math.abs(values.length > 1 ? (values[1] - values[0]) * velocity.cdelt * scale : 1)) + 1e-9))
    layers.push({
      name: "velocity_axis",
      data: { values: [{ channel: 0 }, { channel: n - 1 }] },
      mark: { type: "rule" as const, opacity: 0, aria: false },
      encoding: {
        x: {
          field: "channel",
          type: "quantitative" as const,
          axis: {
            orient: "top" as const,
            title: worldTitle(velocity, vUnit),
            values,
            grid: false,
            labelExpr: `format((${velocity.crval} + (datum.value + 1 - ${velocity.crpix}) * ${velocity.cdelt}) * ${scale}, '.${Math.min(6, digits)}f')`
          }
        }
      }
    })
  }
  const top = {
    width: 720,
    height: 260,
    layer: layers,
    resolve: { axis: { x: "independent" as const } }
  }
  const bottom = {
    width: 720,
    height: 110,
    layer: [
      {
        name: "rms_band",
        data: { values: [{ channel: 0, lo: -rms, hi: rms }, { channel: n - 1, lo: -rms, hi: rms }] },
        mark: { type: "area" as const, opacity: 0.5, description: `±1 rms = ±${fmt(rms)}` },
        encoding: {
          x: { field: "channel", type: "quantitative" as const, scale: xScale, axis: { title: "channel" } },
          y: { field: "lo", type: "quantitative" as const, title: unit === undefined ? "residual" : `residual (${unit})` },
          y2: { field: "hi" },
          color: { datum: "±1 rms", ...color }
        }
      },
      {
        name: "residual",
        data: { values: channels },
        mark: { type: "line" as const, interpolate: "step" as const, strokeWidth: 1, description: "residual: data − model" },
        encoding: {
          x: { field: "channel", type: "quantitative" as const },
          y: { field: "residual", type: "quantitative" as const },
          color: { datum: "residual", ...color }
        }
      }
    ]
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `${run.runId}: x = ${row.x}, y = ${row.y}, n_components = ${row.n_components}`,
      subtitle: `survey ${run.survey}, β = ${fmt(row.beta)}, rms = ${fmt(row.rms)}${row.nan_channels > 0 ? `, ${row.nan_channels} blank channels` : ""}`
    },
    vconcat: [top, bottom],
    spacing: 8,
    resolve: { scale: { color: "shared" } },
    config: CONFIG
  } as TopLevelSpec
}

export interface MapInput {
  /** What the title names: the run id, or the survey of a mosaic. */
  readonly name: string
  readonly nx: number
  readonly ny: number
  /** `[y][x]` row-major, NaN where there is no value (`Maps.image`, `Maps.stitch`). */
  readonly image: Float64Array
  /** The header cards of the map's WCS (the cube's, or a mosaic grid's). */
  readonly header: Pick<Fits.CubeHeader, "cards">
  readonly value: Maps.MapValueName
}

/** Side of a map cell in pixels: the map is about 480 pixels across, cells 1 to 40 pixels. */
const cellSize = (nx: number, ny: number) => Math.max(1, Math.min(40, Math.floor(480 / Math.max(nx, ny))))

const pixelAxis = (name: "x" | "y", n: number, w: LinearAxis | undefined) => ({
  title: w === undefined ? `${name} (pixel)` : `${name} (pixel) / ${worldTitle(w)}`,
  values: pixelTicks(n),
  grid: false,
  labelExpr:
    w === undefined
      ? "format(datum.value, 'd')"
      : `[format(datum.value, 'd'), format(${w.crval} + (datum.value + 1 - ${w.crpix}) * ${w.cdelt}, '.3f')]`
})

/**
 * A map of a per-pixel quantity: one rect per pixel (mark `cell`, nx × ny of them; grey
 * where there is no value), a colour bar, pixel axes with the world coordinates of axes 1
 * and 2 under the pixel numbers when the header gives CTYPE/CRVAL/CRPIX/CDELT.
 */
export const map = (input: MapInput): TopLevelSpec => {
  const { header, value, image, nx, ny } = input
  const integer = (Maps.MAP_VALUES[value] as Maps.MapValue).integer === true
  const cells = Array.from(image, (v, p) => {
    const x = p % nx
    const y = Math.floor(p / nx)
    return { x0: x - 0.5, x1: x + 0.5, y0: y - 0.5, y1: y + 0.5, value: Number.isNaN(v) ? null : v }
  })
  const size = cellSize(nx, ny)
  const bunit = typeof header.cards.BUNIT === "string" && header.cards.BUNIT.trim() !== "" ? header.cards.BUNIT.trim() : undefined
  const unit = Maps.MAP_VALUES[value].unit(bunit)
  const known = cells.filter((c) => c.value !== null).length
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `${input.name}: ${value}`,
      subtitle: `${Maps.MAP_VALUES[value].doc}; ${nx} × ${ny} pixels${known < cells.length ? `, ${cells.length - known} without a value (grey)` : ""}`
    },
    width: nx * size,
    height: ny * size,
    data: { values: cells },
    mark: { type: "rect", name: "cell", aria: false, stroke: null, invalid: "show" },
    name: "cell",
    encoding: {
      x: { field: "x0", type: "quantitative", scale: { domain: [-0.5, nx - 0.5], nice: false, zero: false, round: true }, axis: pixelAxis("x", nx, linearAxis(header, 1)) },
      x2: { field: "x1" },
      y: { field: "y0", type: "quantitative", scale: { domain: [-0.5, ny - 0.5], nice: false, zero: false, round: true }, axis: pixelAxis("y", ny, linearAxis(header, 2)) },
      y2: { field: "y1" },
      color: {
        condition: { test: "datum.value === null", value: "#d0d0d0" },
        field: "value",
        // Whole-number quantities (component counts) get one colour per value, not a gradient.
        type: integer ? "ordinal" : "quantitative",
        scale: { scheme: "viridis" },
        legend: { title: unit === undefined ? value : `${value} (${unit})`, titleLimit: 400, ...(integer ? {} : { gradientLength: Math.max(80, Math.min(ny * size, 300)) }) }
      }
    },
    config: CONFIG
  } as unknown as TopLevelSpec
}

export interface SummaryInput {
  readonly run: RunTable.RunRecord
  readonly rows: ReadonlyArray<Row>
}

/** The four panels of the summary, by mark name. */
export const SUMMARY_PANELS = ["components", "amplitude", "width", "rms"] as const

/**
 * Histograms of a run in four panels (2 × 2): the component count per spectrum, the
 * component amplitudes, the component widths σ (channels) and the rms per spectrum.
 */
export const summary = (input: SummaryInput): TopLevelSpec => {
  const { run, rows } = input
  const fitted = rows.filter((r) => r.n_components >= 0 && r.rms !== null)
  const components = fitted.flatMap((r) => r.component_amplitudes.map((a, k) => ({ amplitude: a, sigma: r.component_stddevs[k] })))
  const panel = (name: string, title: string | { text: string; subtitle: string }, values: object[], encoding: object, mark: object = { type: "bar" }) => ({
    name,
    title,
    width: 320,
    height: 200,
    data: { values },
    mark: { ...mark, name, tooltip: false },
    encoding
  })
  const count = { aggregate: "count", type: "quantitative", title: "count" }
  const binned = (field: string, title: string) => ({
    x: { field, type: "quantitative", bin: { maxbins: 30 }, title },
    y: count
  })
  const nComponents = fitted.map((r) => ({ n: r.n_components }))
  const maxN = Math.max(0, ...fitted.map((r) => r.n_components))
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `${run.runId}: summary`,
      subtitle: `survey ${run.survey}, ${rows.length} spectra (${rows.length - fitted.length} blank or deferred), ${components.length} components`
    },
    columns: 2,
    concat: [
      panel("components", "components per spectrum", nComponents, {
        x: { field: "n", type: "ordinal", title: "n_components", scale: { domain: Array.from({ length: maxN + 1 }, (_, i) => i) }, axis: { labelAngle: 0 } },
        y: count
      }),
      panel("amplitude", "component amplitude", components, binned("amplitude", "amplitude")),
      panel("width", { text: "component width", subtitle: "FWHM = 2.355 σ" }, components, binned("sigma", "σ (channels)")),
      panel("rms", "noise rms per spectrum", fitted.map((r) => ({ rms: r.rms })), binned("rms", "rms"))
    ],
    config: { ...CONFIG, bar: { color: "#4c78a8" } }
  } as unknown as TopLevelSpec
}
