/**
 * `phs view` in a real headless chromium: two runs of examples/grs-5x5.fits (β 3.5 and 5),
 * the page loaded from `phs view --port 0`, a pixel clicked and its components checked
 * against the rows of the result table (read with core's Parquet reader, not the API); a
 * component rejected, a Gaussian fitted by dragging, the label saved and the file read back;
 * arrows, compare, the difference map; the API's 4xx answers, path traversal in every
 * parameter, and no request leaving 127.0.0.1.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { truthOf } from "../packages/cli/src/view/Labels.js"
import { QUANTITY_NAMES } from "../packages/cli/src/view/Quantities.js"
import { decodeRows } from "../packages/core/src/ResultParquet.js"
import type { DecompositionRow } from "../packages/core/src/ResultSchema.js"
import { decode as decodeTruth } from "../packages/core/src/score/Labels.js"
// a plain ES module shared with bench/view.mjs and scripts/view-screenshot.mjs
import { clickPixel, launch, startView } from "../scripts/view-browser.mjs"
import { phs, tempDir } from "./support/cli.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")

interface Browser {
  readonly page: import("playwright-core").Page
  readonly outside: string[]
  readonly seen: string[]
  readonly close: () => Promise<void>
}

let dir = ""
let url = ""
let stop: () => void = () => {}
let browser: Browser
const runIds: { beta35: string; beta5: string } = { beta35: "", beta5: "" }
const rows = new Map<string, DecompositionRow[]>()
let labelFile = ""

const pipeline = async (workdir: string, beta: number) => {
  const r = await phs(["pipeline", SAMPLE, "--workdir", workdir, "--param", `beta=${beta}`, "--json"])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { runId: string }).runId
}

const tableRows = async (workdir: string, runId: string): Promise<DecompositionRow[]> => {
  const part = path.join(workdir, "blobs", "decompositions", "survey=grs-5x5")
  const out: DecompositionRow[] = []
  for (const f of fs.readdirSync(part).filter((f) => f.startsWith(`${runId}-`))) {
    out.push(...(await Effect.runPromise(decodeRows(new Uint8Array(fs.readFileSync(path.join(part, f)))))).filter((r) => r.run_id === runId))
  }
  return out
}

const rowAt = (runId: string, x: number, y: number) => {
  const row = rows.get(runId)?.find((r) => r.x === x && r.y === y)
  if (row === undefined) throw new Error(`no row (${x}, ${y}) in ${runId}`)
  return row
}

/** A request with the path sent exactly as given (no URL normalisation of `..`), as any client could. */
const get = (p: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
  new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const base = new URL(url)
    const req = http.request(
      { host: base.hostname, port: base.port, path: p, method: init.method ?? "GET", headers: { "content-type": "application/json", ...init.headers } },
      (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (d: string) => (body += d))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body }))
      }
    )
    req.on("error", reject)
    req.end(init.body)
  })

const sig = (v: number) => Number(v.toPrecision(4)).toString()

beforeAll(async () => {
  dir = tempDir("phs-view-")
  const workdir = path.join(dir, "w")
  runIds.beta35 = await pipeline(workdir, 3.5)
  runIds.beta5 = await pipeline(workdir, 5)
  for (const id of Object.values(runIds)) rows.set(id, await tableRows(workdir, id))
  // A label file from an earlier session, to be continued.
  labelFile = path.join(dir, "labels.json")
  fs.writeFileSync(labelFile, JSON.stringify({ spectra: [{ x: 0, y: 0, category: "earlier", components: [{ amplitude: 1, mean: 200, stddev: 4 }] }] }))
  const started = await startView([runIds.beta35, "--workdir", workdir, "--labels", labelFile])
  url = started.url
  stop = started.stop
  browser = await launch()
  await openPage()
}, 180_000)

/** (Re)loads the page and waits for the map. */
const openPage = async () => {
  await browser.page.goto(url)
  await browser.page.waitForFunction(() => (window as unknown as { __phs: { mapMs: number | null } }).__phs.mapMs !== null)
}

afterAll(async () => {
  await browser?.close()
  stop()
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

describe("phs view in a browser", () => {
  it("draws the map, opens a pixel's spectrum with its components, and labels it", async () => {
    const { page } = browser
    await openPage()
    // a discrete colour bar for the component count: one class per count in the map
    const counts = new Set(rows.get(runIds.beta35)!.map((r) => r.n_components))
    const classes = await page.locator("#map-axes rect[data-class]").evaluateAll((es) => es.map((e) => Number(e.getAttribute("data-class"))))
    for (const c of counts) expect(classes).toContain(c)

    // the pixel with the most components
    const row = [...rows.get(runIds.beta35)!].sort((a, b) => b.n_components - a.n_components)[0]
    expect(row.n_components).toBeGreaterThanOrEqual(2)
    await clickPixel(page, row.x, row.y)
    await page.waitForSelector(`body[data-pixel="${row.x},${row.y}"]`)
    const shown = await page.locator("#components tbody tr").evaluateAll((trs) =>
      trs.map((tr) => ({
        amplitude: tr.querySelector(".amplitude")!.textContent,
        mean: tr.querySelector(".mean")!.textContent,
        stddev: tr.querySelector(".stddev")!.textContent,
        source: tr.lastElementChild!.textContent
      }))
    )
    expect(shown).toEqual(
      row.component_amplitudes.map((a, k) => ({ amplitude: sig(a), mean: sig(row.component_means[k]), stddev: sig(row.component_stddevs[k]), source: "fitted" }))
    )
    expect(await page.locator("#panel-main path.component").count()).toBe(row.n_components)
    expect(await page.locator("#panel-main path.model").count()).toBe(1)
    expect(await page.locator("#panel-main path.residual").count()).toBe(1)
    expect(await page.locator("#panel-main rect.rms-band").count()).toBe(1)
    expect(await page.locator("#panel-main").textContent()).toContain("velocity (km/s)")
    expect(await page.locator("#hover").textContent()).toContain(`x ${row.x}, y ${row.y} (l, b) = (`)

    // reject the first component, fit one by hand over a window around the brightest, save
    await page.locator('#components tbody tr[data-k="0"] input.accept').uncheck()
    expect(await page.locator("#panel-main path.component").count()).toBe(row.n_components - 1)
    const k = row.component_amplitudes.indexOf(Math.max(...row.component_amplitudes))
    const lo = Math.round(row.component_means[k] - 2 * row.component_stddevs[k])
    const hi = Math.round(row.component_means[k] + 2 * row.component_stddevs[k])
    const svg = await page.locator("#panel-main svg").boundingBox()
    const velocities = JSON.parse((await get(`/api/pixel/${row.x}/${row.y}?run=${runIds.beta35}`)).body) as { velocities: number[] }
    const v = velocities.velocities
    const n = v.length
    // the page's x scale: velocity from min to max over the 640-wide viewBox between margins 54 and 12
    const vmin = Math.min(v[0], v[n - 1]) - Math.abs(v[1] - v[0]) / 2
    const vmax = Math.max(v[0], v[n - 1]) + Math.abs(v[1] - v[0]) / 2
    const screenX = (c: number) => svg!.x + ((54 + ((v[0] + (v[n - 1] - v[0]) * (c / (n - 1)) - vmin) / (vmax - vmin)) * (640 - 66)) * svg!.width) / 640
    await page.mouse.move(screenX(lo), svg!.y + 100)
    await page.mouse.down()
    await page.mouse.move(screenX(hi), svg!.y + 100, { steps: 5 })
    await page.mouse.up()
    await page.waitForSelector("#components tbody tr:last-child td:last-child:text('hand')")
    const hand = await page.locator("#components tbody tr:last-child .mean").textContent()
    expect(Number(hand)).toBeGreaterThan(lo)
    expect(Number(hand)).toBeLessThan(hi)

    await page.locator("#save").click()
    await page.waitForSelector(`body[data-saved="${row.x},${row.y}"]`)
    const saved = JSON.parse(fs.readFileSync(labelFile, "utf8")) as { spectra: Array<{ cube?: string; x: number; y: number; category?: string; components: Array<{ amplitude: number; mean: number; stddev: number }> }> }
    expect(saved.spectra.find((s) => s.x === 0 && s.y === 0)?.category).toBe("earlier")
    const mine = saved.spectra.find((s) => s.x === row.x && s.y === row.y)!
    expect(mine.components).toHaveLength(row.n_components)
    expect(mine.cube).toMatch(/^cubes\/grs-5x5-[0-9a-f]{16}\.fits$/)
    expect(mine.components.slice(0, -1)).toEqual(
      row.component_amplitudes.slice(1).map((a, i) => ({ amplitude: a, mean: row.component_means[i + 1], stddev: row.component_stddevs[i + 1] }))
    )
    expect(Math.abs(mine.components.at(-1)!.mean - row.component_means[k])).toBeLessThan(2 * row.component_stddevs[k])
    // what phs tune --truth reads for this cube
    const ofCube = truthOf(JSON.parse(fs.readFileSync(labelFile, "utf8")), mine.cube!).json
    const truth = await Effect.runPromise(decodeTruth(JSON.stringify(ofCube), labelFile))
    expect(truth.spectra.find((s) => s.x === 0 && s.y === 0)?.category).toBe("earlier")
    expect(truth.spectra.find((s) => s.x === row.x && s.y === row.y)?.components).toEqual(mine.components)

    // reopening the pixel shows the label: the rejected component unchecked, the hand one kept
    await page.keyboard.press("ArrowRight")
    await page.waitForSelector(`body[data-pixel="${row.x + 1 < 5 ? row.x + 1 : row.x},${row.y}"]`)
    await page.keyboard.press("ArrowLeft")
    await page.waitForSelector(`body[data-pixel="${row.x},${row.y}"]`)
    expect(await page.locator('#components tbody tr[data-k="0"] input.accept').isChecked()).toBe(false)
    expect(await page.locator("#components tbody tr").count()).toBe(row.n_components + 1)
    expect(await page.locator("#label-state").textContent()).toContain("labelled")

    const timings = await page.evaluate(() => (window as unknown as { __phs: { mapMs: number; pixelMs: number } }).__phs)
    console.log(`phs view on 5×5: map drawn in ${timings.mapMs.toFixed(1)} ms, pixel spectrum in ${timings.pixelMs.toFixed(1)} ms`)
  })

  it("hovering shows the pixel, its (l, b) and the value", async () => {
    const { page } = browser
    const box = (await page.locator("#map").boundingBox())!
    // pixel (4, 0): the right-most column, the bottom row (y grows upwards)
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height * 0.9)
    const row = rowAt(runIds.beta35, 4, 0)
    const hover = await page.locator("#hover").textContent()
    expect(hover).toMatch(/^x 4, y 0 \(l, b\) = \(\d+\.\d{4}°, -?\d+\.\d{4}°\): n_components = (\d+)$/)
    expect(hover).toContain(`n_components = ${row.n_components}`)
  })

  it("arrow keys move to the neighbouring pixel", async () => {
    const { page } = browser
    await clickPixel(page, 2, 2)
    await page.waitForSelector('body[data-pixel="2,2"]')
    for (const [key, x, y] of [["ArrowUp", 2, 3], ["ArrowLeft", 1, 3], ["ArrowDown", 1, 2], ["ArrowRight", 2, 2]] as const) {
      await page.keyboard.press(key)
      await page.waitForSelector(`body[data-pixel="${x},${y}"]`)
      expect(await page.locator("#components tbody tr").count()).toBe(rowAt(runIds.beta35, x, y).n_components)
    }
  })

  it("compares with the other run: both spectra side by side and a difference map", async () => {
    const { page } = browser
    await clickPixel(page, 2, 2)
    await page.waitForSelector('body[data-pixel="2,2"]')
    await page.selectOption("#other", runIds.beta5)
    await page.waitForSelector("#panel-other:not([hidden]) svg")
    const other = rowAt(runIds.beta5, 2, 2)
    expect(await page.locator("#panel-other path.component").count()).toBe(other.n_components)
    expect(await page.locator("#panel-other .title").textContent()).toContain("β = 5")
    const response = page.waitForResponse((r) => r.url().includes("minus="))
    await page.locator("#diff").check()
    const diff = (await (await response).json()) as { values: Array<number | null>; nx: number }
    for (const a of rows.get(runIds.beta35)!) {
      const b = rowAt(runIds.beta5, a.x, a.y)
      expect(diff.values[a.y * diff.nx + a.x]).toBe(a.n_components - b.n_components)
    }
  })

  it("removes a pixel's label", async () => {
    const { page } = browser
    await clickPixel(page, 0, 0)
    await page.waitForSelector('body[data-pixel="0,0"]')
    expect(await page.locator("#label-state").textContent()).toContain("labelled, 1 components")
    await page.locator("#unlabel").click()
    await page.waitForSelector("#status:text('removed')")
    const saved = JSON.parse(fs.readFileSync(labelFile, "utf8")) as { spectra: Array<{ x: number; y: number }> }
    expect(saved.spectra.some((s) => s.x === 0 && s.y === 0)).toBe(false)
    expect(saved.spectra.length).toBeGreaterThan(0)
  })

  it("makes no request that leaves 127.0.0.1", () => {
    expect(browser.outside).toEqual([])
    expect(browser.seen.length).toBeGreaterThan(5)
    for (const u of browser.seen) expect(new URL(u).host).toBe(new URL(url).host)
  })
})

describe("phs view API", () => {
  it("names its map quantities as phs plot map does, and still takes the old names velocity and dispersion", async () => {
    const runs = JSON.parse((await get("/api/runs")).body) as { quantities: Array<{ name: string }> }
    expect(runs.quantities.map((q) => q.name)).toEqual(QUANTITY_NAMES)
    for (const [old, name] of [["velocity", "brightest_velocity"], ["dispersion", "brightest_dispersion"]]) {
      const byOld = await get(`/api/map?run=${runIds.beta35}&value=${old}`)
      expect(byOld.status, old).toBe(200)
      const byName = await get(`/api/map?run=${runIds.beta35}&value=${name}`)
      expect(JSON.parse(byOld.body)).toEqual(JSON.parse(byName.body))
      expect(JSON.parse(byOld.body)).toMatchObject({ value: name, unit: "km/s" })
    }
  })

  it("answers the pixel endpoint in the documented shape, from the table", async () => {
    const r = await get(`/api/pixel/1/3?run=${runIds.beta35}`)
    expect(r.status).toBe(200)
    const p = JSON.parse(r.body) as Record<string, unknown> & { components: Array<{ amplitude: number }>; spectrum: unknown[]; model: number[]; velocities: number[] }
    for (const key of ["x", "y", "lon", "lat", "spectrum", "velocities", "rms", "components", "model"]) expect(p).toHaveProperty(key)
    const row = rowAt(runIds.beta35, 1, 3)
    expect(p.components.map((c) => c.amplitude)).toEqual(row.component_amplitudes)
    expect(p.rms).toBe(row.rms)
    expect(p.spectrum).toHaveLength(424)
    expect(p.velocities).toHaveLength(424)
    expect(typeof p.lon).toBe("number")
  })

  it("refuses bad parameters, unknown runs and pixels outside the cube with a JSON 4xx", async () => {
    const run = runIds.beta35
    const cases: Array<[string, number]> = [
      [`/api/pixel/5/0?run=${run}`, 400],
      [`/api/pixel/0/5?run=${run}`, 400],
      [`/api/pixel/-1/0?run=${run}`, 400],
      [`/api/pixel/1.5/0?run=${run}`, 400],
      [`/api/pixel/0/0?run=nosuchrun`, 404],
      [`/api/pixel/0/0`, 400],
      [`/api/map?run=nosuchrun`, 404],
      [`/api/map?run=${run}&value=nosuch`, 400],
      [`/api/map?run=${run}&minus=nosuchrun`, 404],
      [`/api/nothing`, 404],
      [`/assets/nothing.js`, 404]
    ]
    for (const [p, status] of cases) {
      const r = await get(p)
      expect([p, r.status]).toEqual([p, status])
      expect(r.type).toContain("application/json")
      expect(JSON.parse(r.body)).toHaveProperty("error")
      expect(r.body).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/)
    }
    // a bad value is named with what is allowed
    const messages: Array<[string, string]> = [
      [`/api/map?run=${run}&value=bogus`, `bad request: value bogus: expected one of ${QUANTITY_NAMES.join(", ")}`],
      [`/api/map?run=${run}&vlaue=n_components`, 'bad request: vlaue: is unexpected, expected: "run" | "survey" | "value" | "minus"'],
      [`/api/map?run=a.b`, "bad request: run a.b: a run id is letters, digits, - and _"],
      [`/api/map?survey=a%20b`, 'bad request: survey "a b": a survey is letters, digits, - and _'],
      [`/api/pixel/1.5/0?run=${run}`, "bad request: x 1.5: an index is a non-negative integer"],
      [`/api/fit/0/0`, "bad request: run: is missing"]
    ]
    for (const [p, message] of messages) {
      const r = await get(p, p.startsWith("/api/fit") ? { method: "POST", body: "{}" } : {})
      expect([p, JSON.parse(r.body).error]).toEqual([p, message])
    }
    const fit = await get(`/api/fit/0/0?run=${run}`, { method: "POST", body: JSON.stringify({ lo: 400, hi: 500 }) })
    expect(fit.status).toBe(400)
    const notJson = await get(`/api/labels/0/0?run=${run}`, { method: "PUT", body: "{" })
    expect(notJson.status).toBe(400)
    const badLabel = await get(`/api/labels/0/0?run=${run}`, { method: "PUT", body: JSON.stringify({ components: [{ amplitude: 1, mean: 2, stddev: -1 }] }) })
    expect(badLabel.status).toBe(400)
    const foreign = await get("/api/runs", { headers: { host: "attacker.example" } })
    expect(foreign.status).toBe(403)
    // another site's page cannot change the labels: a foreign Origin, or a body that is not JSON
    const before = fs.readFileSync(labelFile, "utf8")
    const body = JSON.stringify({ components: [] })
    const crossSite = await get(`/api/labels/1/1?run=${run}`, { method: "PUT", body, headers: { origin: "http://attacker.example" } })
    expect(crossSite.status).toBe(403)
    const plain = await get(`/api/labels/1/1?run=${run}`, { method: "PUT", body, headers: { "content-type": "text/plain" } })
    expect(plain.status).toBe(415)
    expect(fs.readFileSync(labelFile, "utf8")).toBe(before)
  })

  it("reads nothing outside the workdir whatever the parameters", async () => {
    const secret = path.join(dir, "secret.txt")
    fs.writeFileSync(secret, "TOP-SECRET")
    const run = runIds.beta35
    const traversals = ["../secret.txt", "..%2Fsecret.txt", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/etc/passwd", "....//....//etc/passwd", `${run}/../../secret.txt`]
    const paths = traversals.flatMap((t) => [
      `/api/map?run=${t}`,
      `/api/map?run=${run}&value=${t}`,
      `/api/map?run=${run}&minus=${t}`,
      `/api/pixel/${t}/0?run=${run}`,
      `/api/pixel/0/${t}?run=${run}`,
      `/api/pixel/0/0?run=${t}`,
      `/assets/${t}`,
      `/${t}`,
      `/api/labels/${t}/0`
    ])
    for (const p of paths) {
      const r = await get(p)
      expect(r.status, p).toBeGreaterThanOrEqual(400)
      expect(r.status, p).toBeLessThan(500)
      expect(r.body).not.toContain("TOP-SECRET")
      expect(r.body).not.toContain("root:")
    }
  })

  it("fails at start with one line for an unknown run or a broken label file", async () => {
    const workdir = path.join(dir, "w")
    const unknown = await phs(["view", "nosuchrun", "--workdir", workdir, "--port", "0"])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1)
    expect(unknown.stderr).toContain("no run nosuchrun")
    const broken = path.join(dir, "broken.json")
    fs.writeFileSync(broken, "{\"spectra\": 3}")
    const bad = await phs(["view", "--workdir", workdir, "--port", "0", "--labels", broken])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("is not a label file")
  }, 120_000)
})
