/**
 * `phs plot`: the files are valid (SVG: well-formed XML with an <svg> root; PNG: the
 * signature and an IHDR of the right size) and show what they claim, checked against the
 * rows core's `ResultParquet.decodeRows` reads and the cube core's FITS reader reads.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import * as Fits from "../packages/core/src/Fits.js"
import { decodeRows } from "../packages/core/src/ResultParquet.js"
import type { DecompositionRow } from "../packages/core/src/ResultSchema.js"
import * as Specs from "../packages/cli/src/plot/Specs.js"
import { cubeFits } from "./support/cubes.js"
import { phs, tempDir } from "./support/cli.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")

/** Checks that `xml` is well-formed (tags balanced and nested, attributes quoted, no stray < or &); returns the root element's name. */
const wellFormedRoot = (xml: string): string => {
  const token =
    /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[[\s\S]*?\]\]>|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|<|&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)/g
  const stack: string[] = []
  let root: string | undefined
  let closed = false
  for (const m of xml.matchAll(token)) {
    if (m[0] === "<" || m[0] === "&") throw new Error(`stray ${m[0]} at ${m.index}`)
    if (m[2] === undefined) continue
    if (closed) throw new Error(`content after the root element at ${m.index}`)
    if (m[1] === "/") {
      const open = stack.pop()
      if (open !== m[2]) throw new Error(`</${m[2]}> closes <${open}> at ${m.index}`)
      if (stack.length === 0) closed = true
    } else {
      root ??= m[2]
      if (m[4] !== "/") stack.push(m[2])
      else if (stack.length === 0) closed = true
    }
  }
  if (stack.length > 0 || root === undefined) throw new Error(`unclosed <${stack.at(-1)}>`)
  return root
}

/** The children of the first `<g class="… NAME">` group, as raw element text. */
const groupsNamed = (svg: string, className: string): string[] => {
  const out: string[] = []
  const open = new RegExp(`<g class="[^"]*\\b${className}\\b[^"]*"[^>]*>`, "g")
  for (const m of svg.matchAll(open)) {
    let depth = 1
    let i = m.index + m[0].length
    const tag = /<(\/?)g\b[^>]*?(\/?)>/g
    tag.lastIndex = i
    for (let t = tag.exec(svg); t !== null; t = tag.exec(svg)) {
      if (t[1] === "/") depth--
      else if (t[2] !== "/") depth++
      if (depth === 0) {
        out.push(svg.slice(i, t.index))
        break
      }
    }
    i = 0
  }
  return out
}

const svgSize = (svg: string) => {
  const m = /^<svg[^>]*\swidth="(\d+)"[^>]*\sheight="(\d+)"/.exec(svg)
  return { width: Number(m![1]), height: Number(m![2]) }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const pngSize = (png: Uint8Array) => {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength)
  expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE)
  expect(new TextDecoder().decode(png.subarray(12, 16))).toBe("IHDR")
  return { width: v.getUint32(16), height: v.getUint32(20) }
}

let dir: string
let work: string
let sampleRun: { runId: string; nx: number; ny: number; cubeKey: string }
let syntheticRun: { runId: string; nx: number; ny: number }
let sampleRows: DecompositionRow[]
let syntheticRows: DecompositionRow[]

const rowsOf = async (runId: string, survey: string) => {
  const part = path.join(work, "blobs", "decompositions", `survey=${survey}`)
  const out: DecompositionRow[] = []
  for (const f of fs.readdirSync(part).filter((f) => f.startsWith(runId))) {
    out.push(...(await Effect.runPromise(decodeRows(new Uint8Array(fs.readFileSync(path.join(part, f)))))))
  }
  return out
}

const plot = async (args: ReadonlyArray<string>) => (await phs(["plot", ...args, "--workdir", work], { cwd: dir }))

beforeAll(async () => {
  dir = tempDir("phs-plot-")
  work = path.join(dir, "w")
  const synthetic = path.join(dir, "synthetic.fits")
  fs.writeFileSync(synthetic, cubeFits({ nx: 4, ny: 3, nchan: 96, seed: 3, blankPixels: [6] }))
  for (const args of [["pipeline", SAMPLE], ["pipeline", synthetic, "--survey", "synth"]]) {
    const r = (await phs([...args, "--workdir", work, "--json"]))
    expect(r.code, r.stderr).toBe(0)
  }
  const runs = JSON.parse((await phs(["runs", "--json", "--workdir", work])).stdout) as Array<{ runId: string; survey: string; nx: number; ny: number; cubeKey: string }>
  sampleRun = runs.find((r) => r.survey === "grs-5x5")!
  syntheticRun = runs.find((r) => r.survey === "synth")!
  sampleRows = await rowsOf(sampleRun.runId, "grs-5x5")
  syntheticRows = await rowsOf(syntheticRun.runId, "synth")
}, 120_000)

describe("phs plot spectrum", () => {
  it("writes RUN-spectrum-X-Y.svg: one curve per component, the model, the residual, the ±rms band, a title", async () => {
    const row = sampleRows.find((r) => r.x === 2 && r.y === 3)!
    const r = await plot(["spectrum", sampleRun.runId.slice(0, 12), "2", "3"])
    expect(r.code, r.stderr).toBe(0)
    const file = `${sampleRun.runId}-spectrum-2-3.svg`
    expect(r.stdout.trim()).toBe(file)
    const svg = fs.readFileSync(path.join(dir, file), "utf8")
    expect(wellFormedRoot(svg)).toBe("svg")
    const components = groupsNamed(svg, "component_marks")
    expect(components.length).toBe(row.n_components)
    expect(components.every((g) => (g.match(/<path /g) ?? []).length === 1)).toBe(true)
    const labels = [...svg.matchAll(/aria-label="(component \d+: [^"]*)"/g)].map((m) => m[1]).sort()
    expect(labels).toEqual(
      row.component_amplitudes
        .map((a, k) => `component ${k + 1}: A=${Specs.fmt(a)}, μ=${Specs.fmt(row.component_means[k])}, σ=${Specs.fmt(row.component_stddevs[k])}`)
        .sort()
    )
    for (const name of ["data_marks", "model_marks", "residual_marks", "rms_band_marks"]) expect(groupsNamed(svg, name).length, name).toBe(1)
    expect(svg).toContain(`aria-label="±1 rms = ±${Specs.fmt(row.rms)}"`)
    expect(svg).toContain(`${sampleRun.runId}: x = 2, y = 3, n_components = ${row.n_components}`)
    expect(svg).toContain("VOPT (km/s)")
  })

  it("plots the cube's spectrum, and the residual is the spectrum minus the model", async () => {
    const bytes = new Uint8Array(fs.readFileSync(SAMPLE))
    const src = Fits.fromBytes(bytes)
    const header = await Effect.runPromise(Fits.readHeader(src))
    const spectrum = await Effect.runPromise(Fits.readSpectra(src, header, 4 * 5 + 1, 1))
    const row = sampleRows.find((r) => r.x === 1 && r.y === 4)!
    const spec = Specs.spectrum({ run: { ...sampleRun, survey: "grs-5x5" } as never, header, row, spectrum }) as unknown as {
      vconcat: Array<{ layer: Array<{ name: string; data: { values: Array<Record<string, number | null>> } }> }>
    }
    const data = spec.vconcat[0].layer.find((l) => l.name === "data")!.data.values
    expect(data.map((d) => d.data)).toEqual(Array.from(spectrum))
    const residual = spec.vconcat[1].layer.find((l) => l.name === "residual")!.data.values
    residual.forEach((d, c) => {
      const model = row.component_amplitudes.reduce(
        (s, a, k) => s + a * Math.exp(-((c - row.component_means[k]) ** 2) / (2 * row.component_stddevs[k] ** 2)),
        0
      )
      expect(d.residual).toBeCloseTo(spectrum[c] - model, 10)
    })
  })

  it("writes PNG by --out's extension, twice the SVG's size", async () => {
    const svgRun = await plot(["spectrum", sampleRun.runId, "0", "0", "--out", "s.svg"])
    expect(svgRun.code, svgRun.stderr).toBe(0)
    const pngRun = await plot(["spectrum", sampleRun.runId, "0", "0", "--out", path.join("pictures", "s.png")])
    expect(pngRun.code, pngRun.stderr).toBe(0)
    const size = svgSize(fs.readFileSync(path.join(dir, "s.svg"), "utf8"))
    expect(pngSize(new Uint8Array(fs.readFileSync(path.join(dir, "pictures", "s.png"))))).toEqual({ width: 2 * size.width, height: 2 * size.height })
  })

  for (const [name, args, message] of [
    ["a pixel outside the cube", ["spectrum", "RUN", "5", "0"], /^phs: pixel \(5, 0\) is outside the cube: x is 0\.\.4, y is 0\.\.4$/],
    ["an unknown run", ["spectrum", "nope", "0", "0"], /^phs: no run nope in this workdir/],
    ["--out and --format that disagree", ["summary", "RUN", "--out", "a.svg", "--format", "png"], /^phs: --out a\.svg is a \.svg file but --format is png$/]
  ] as const) {
    it(`refuses ${name}: one line, exit 2`, async () => {
      const r = await plot(args.map((a) => (a === "RUN" ? sampleRun.runId : a)))
      expect(r.code).toBe(2)
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1)
      expect(r.stderr.trimEnd()).toMatch(message)
    })
  }
})

describe("phs plot map", () => {
  it("has nx × ny cells, each at its pixel (y up), coloured by the value on the viridis colour bar", async () => {
    const r = await plot(["map", sampleRun.runId, "--value", "integrated"])
    expect(r.code, r.stderr).toBe(0)
    const svg = fs.readFileSync(path.join(dir, `${sampleRun.runId}-map-integrated.svg`), "utf8")
    expect(wellFormedRoot(svg)).toBe("svg")
    const [cells] = groupsNamed(svg, "cell_marks")
    const paths = [...cells.matchAll(/<path d="M([\d.]+),([\d.]+)h([\d.]+)v([\d.]+)h[^"]*" fill="([^"]+)"/g)]
    expect(paths.length).toBe(5 * 5)
    const size = Number(paths[0][3])
    paths.forEach((m, p) => {
      expect(Number(m[1])).toBeCloseTo((p % 5) * size, 6)
      expect(Number(m[2])).toBeCloseTo((4 - Math.floor(p / 5)) * size, 6)
    })
    const value = (x: number, y: number) => {
      const row = sampleRows.find((r) => r.x === x && r.y === y)!
      return row.component_amplitudes.reduce((s, a, k) => s + a * row.component_stddevs[k] * Math.sqrt(2 * Math.PI), 0)
    }
    const values = paths.map((_, p) => value(p % 5, Math.floor(p / 5)))
    const stops = [...svg.matchAll(/stop offset="[^"]*" stop-color="([^"]+)"/g)].map((m) => m[1])
    expect(paths[values.indexOf(Math.min(...values))][5]).toBe(stops[0])
    expect(paths[values.indexOf(Math.max(...values))][5]).toBe(stops.at(-1))
    expect(svg).toContain("integrated (K channel)")
  })

  it("labels the axes with pixels and the world coordinates of the header", async () => {
    const r = await plot(["map", sampleRun.runId, "--value", "rms", "--out", "rms.svg"])
    expect(r.code, r.stderr).toBe(0)
    const svg = fs.readFileSync(path.join(dir, "rms.svg"), "utf8")
    const header = await Effect.runPromise(Fits.readHeader(Fits.fromBytes(new Uint8Array(fs.readFileSync(SAMPLE)))))
    const world = (axis: 1 | 2, pixel: number) =>
      ((header.cards[`CRVAL${axis}`] as number) + (pixel + 1 - (header.cards[`CRPIX${axis}`] as number)) * (header.cards[`CDELT${axis}`] as number)).toFixed(3)
    expect(svg).toContain("x (pixel) / GLON (deg)")
    expect(svg).toContain("y (pixel) / GLAT (deg)")
    expect(svg).toContain(`<tspan>0</tspan><tspan x="0" dy="13">${world(1, 0)}</tspan>`)
    expect(svg).toContain(`<tspan>4</tspan><tspan x="0" dy="13">${world(2, 4)}</tspan>`)
  })

  it("shows pixels without a value in grey, and pixel axes only without WCS", async () => {
    const r = await plot(["map", syntheticRun.runId, "--value", "rms", "--format", "png"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(`${syntheticRun.runId}-map-rms.png`)
    pngSize(new Uint8Array(fs.readFileSync(path.join(dir, `${syntheticRun.runId}-map-rms.png`))))
    const s = await plot(["map", syntheticRun.runId, "--value", "rms", "--out", "synth.svg"])
    expect(s.code, s.stderr).toBe(0)
    const svg = fs.readFileSync(path.join(dir, "synth.svg"), "utf8")
    const [cells] = groupsNamed(svg, "cell_marks")
    const fills = [...cells.matchAll(/fill="([^"]+)"/g)].map((m) => m[1])
    expect(fills.length).toBe(4 * 3)
    expect(syntheticRows.filter((row) => row.rms === null).map((row) => row.y * 4 + row.x)).toEqual([6])
    expect(fills.map((f, p) => (f === "#d0d0d0" ? p : -1)).filter((p) => p >= 0)).toEqual([6])
    expect(svg).toContain("x (pixel)")
    expect(svg).not.toContain("GLON")
  })
})

describe("phs plot summary", () => {
  it("has four histogram panels whose counts are the run's", async () => {
    const r = await plot(["summary", sampleRun.runId])
    expect(r.code, r.stderr).toBe(0)
    const svg = fs.readFileSync(path.join(dir, `${sampleRun.runId}-summary.svg`), "utf8")
    expect(wellFormedRoot(svg)).toBe("svg")
    for (const panel of Specs.SUMMARY_PANELS) expect(groupsNamed(svg, `${panel}_group`).length, panel).toBe(1)
    const counts = (panel: string) =>
      [...groupsNamed(svg, `${panel}_marks`)[0].matchAll(/aria-label="([^"]*); count: (\d+)"/g)].map((m) => [m[1], Number(m[2])] as const)
    const histogram = new Map<string, number>()
    for (const row of sampleRows) histogram.set(`n_components: ${row.n_components}`, (histogram.get(`n_components: ${row.n_components}`) ?? 0) + 1)
    expect(new Map(counts("components"))).toEqual(histogram)
    const total = (panel: string) => counts(panel).reduce((s, [, n]) => s + n, 0)
    const nComponents = sampleRows.reduce((s, row) => s + row.n_components, 0)
    expect(total("amplitude")).toBe(nComponents)
    expect(total("width")).toBe(nComponents)
    expect(total("rms")).toBe(sampleRows.length)
  })
})
