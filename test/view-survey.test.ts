/**
 * `phs view --survey NAME` in headless chromium: examples/grs-5x5.fits cut into four tiles
 * (test/support/tiles.ts; each tile's WCS is the field's), run as survey `grs`; the page
 * opens the mosaic on the tiles' common grid, each pixel from the tile that holds it (checked
 * against the tiles' rows read with core's Parquet reader), with the field's world axes; a
 * click opens the spectrum of the holding tile's pixel; the API's answers for bad input.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeRows } from "../packages/core/src/ResultParquet.js"
import type { DecompositionRow } from "../packages/core/src/ResultSchema.js"
import { clickPixel, launch, startView } from "../scripts/view-browser.mjs"
import { phs, tempDir } from "./support/cli.js"
import { cutTile, quadrants, type Rect } from "./support/tiles.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")
// tiles of 3×2, 2×2, 3×3 and 2×3: told apart by their size
const RECTS = quadrants(5, 5, 3, 2)

interface Run { runId: string; survey: string; nx: number; ny: number; cubeKey: string }
interface Tile { run: Run; rect: Rect; rows: DecompositionRow[] }

let work = ""
let url = ""
let stop: () => void = () => {}
let browser: Awaited<ReturnType<typeof launch>>
const tiles: Tile[] = []

const getJson = async (p: string) => {
  const r = await fetch(new URL(p, url))
  return { status: r.status, body: (await r.json()) as Record<string, unknown> }
}

/** The tile holding field pixel (x, y), and its row there. */
const holder = (x: number, y: number) => {
  const t = tiles.find((t) => x >= t.rect.x0 && x < t.rect.x0 + t.rect.nx && y >= t.rect.y0 && y < t.rect.y0 + t.rect.ny)!
  const row = t.rows.find((r) => r.x === x - t.rect.x0 && r.y === y - t.rect.y0)!
  return { tile: t, row }
}

beforeAll(async () => {
  const dir = tempDir("phs-view-survey-")
  work = path.join(dir, "w")
  const field = new Uint8Array(fs.readFileSync(SAMPLE))
  RECTS.forEach((r, k) => fs.writeFileSync(path.join(dir, `tile-${k}.fits`), cutTile(field, r)))
  const set = await phs(["pipeline", path.join(dir, "tile-?.fits"), "--survey", "grs", "--workdir", work])
  expect(set.code, set.stderr).toBe(0)
  const runs = JSON.parse((await phs(["runs", "--json", "--survey", "grs", "--workdir", work])).stdout) as Run[]
  for (const run of runs) {
    const rect = RECTS.find((r) => r.nx === run.nx && r.ny === run.ny)!
    const part = path.join(work, "blobs", "decompositions", "survey=grs")
    const rows: DecompositionRow[] = []
    for (const f of fs.readdirSync(part).filter((f) => f.startsWith(`${run.runId}-`))) {
      rows.push(...(await Effect.runPromise(decodeRows(new Uint8Array(fs.readFileSync(path.join(part, f)))))))
    }
    tiles.push({ run, rect, rows })
  }
  expect(tiles).toHaveLength(4)
  const view = await startView(["--survey", "grs", "--workdir", work])
  url = view.url
  stop = view.stop
  browser = await launch()
}, 600_000)

afterAll(async () => {
  await browser?.close()
  stop()
})

describe("phs view --survey", () => {
  it("the page opens the mosaic: the field's grid, each pixel from the tile that holds it", async () => {
    const { page } = browser
    await page.goto(url)
    await page.waitForFunction(() => document.getElementById("status")!.textContent!.includes("4 tiles"))
    expect(await page.$eval("#map", (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([5, 5])
    expect(await page.$eval("#run", (s) => (s as HTMLSelectElement).selectedOptions[0].textContent)).toBe("mosaic of survey grs")
    const m = await getJson("/api/map?survey=grs&value=n_components")
    expect(m.status).toBe(200)
    const values = m.body.values as Array<number | null>
    for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) expect(values[y * 5 + x], `(${x}, ${y})`).toBe(holder(x, y).row.n_components)
    expect((m.body.tiles as unknown[]).length).toBe(4)
  })

  it("has the field's world axes: those of the tile at the grid's origin", async () => {
    const origin = tiles.find((t) => t.rect.x0 === 0 && t.rect.y0 === 0)!
    const mosaic = (await getJson("/api/map?survey=grs")).body.world as Record<string, number>
    const tile = (await getJson(`/api/map?run=${origin.run.runId}`)).body.world as Record<string, number>
    expect(mosaic).not.toBeNull()
    for (const k of ["lon0", "lat0", "dlon", "dlat"]) expect(mosaic[k]).toBeCloseTo(tile[k], 9)
    const far = tiles.find((t) => t.rect.x0 === 3 && t.rect.y0 === 2)!
    const farWorld = (await getJson(`/api/map?run=${far.run.runId}`)).body.world as Record<string, number>
    expect(farWorld.lon0).toBeCloseTo(mosaic.lon0 + 3 * mosaic.dlon, 9)
    expect(farWorld.lat0).toBeCloseTo(mosaic.lat0 + 2 * mosaic.dlat, 9)
  })

  it("clicking a pixel opens the spectrum of the tile that holds it", async () => {
    const { page } = browser
    const { tile, row } = holder(4, 3)
    await clickPixel(page, 4, 3)
    await page.waitForSelector('body[data-pixel="4,3"]')
    const title = await page.locator("#panel-main .title").textContent()
    expect(title).toContain(`tile ${tile.run.runId}`)
    expect(title).toContain(`pixel (${4 - tile.rect.x0}, ${3 - tile.rect.y0})`)
    expect(await page.locator("#panel-main path.component").count()).toBe(row.n_components)
    expect(await page.locator("#label-panel").isHidden()).toBe(true)
    const p = await getJson("/api/pixel/4/3?survey=grs")
    expect(p.status).toBe(200)
    expect([p.body.run, p.body.x, p.body.y, p.body.mosaic]).toEqual([tile.run.runId, 1, 1, { survey: "grs", x: 4, y: 3 }])
    expect((p.body.components as Array<{ amplitude: number }>).map((c) => c.amplitude)).toEqual(row.component_amplitudes)
  })

  it("switching to a tile's run shows that run", async () => {
    const { page } = browser
    const t = tiles[0]
    await page.selectOption("#run", t.run.runId)
    await page.waitForFunction((n) => document.getElementById("map")!.getAttribute("width") === String(n), t.run.nx)
    expect(await page.$eval("#map", (c) => (c as HTMLCanvasElement).height)).toBe(t.run.ny)
    await page.selectOption("#run", "")
    await page.waitForFunction(() => document.getElementById("map")!.getAttribute("width") === "5")
  })

  it("answers bad survey requests with a JSON 4xx", async () => {
    expect((await getJson("/api/map?survey=nope")).status).toBe(404)
    expect((await getJson("/api/map?survey=../etc")).status).toBe(400)
    expect((await getJson(`/api/map?survey=grs&run=${tiles[0].run.runId}`)).status).toBe(400)
    expect((await getJson("/api/map")).status).toBe(400)
    const outside = await getJson("/api/pixel/5/0?survey=grs")
    expect(outside.status).toBe(400)
    expect(String(outside.body.error)).toMatch(/outside the mosaic/)
    expect(browser.outside).toEqual([])
  })

  it("keeps each tile's labels to its cube: a label saved on one tile's pixel shows on no other", async () => {
    const [a, b] = tiles
    const components = [{ amplitude: 1, mean: 200, stddev: 4 }]
    const put = await fetch(new URL(`/api/labels/1/1?run=${a.run.runId}`, url), { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ components }) })
    expect(put.status).toBe(200)
    expect((await getJson(`/api/pixel/1/1?run=${a.run.runId}`)).body.label).toEqual({ x: 1, y: 1, components })
    expect((await getJson(`/api/pixel/1/1?run=${b.run.runId}`)).body.label).toBeNull()
    expect((await getJson(`/api/labels?run=${b.run.runId}`)).body).toEqual({ cube: b.run.cubeKey, spectra: [] })
    expect((await getJson(`/api/labels?run=${a.run.runId}`)).body.spectra).toEqual([{ x: 1, y: 1, components }])
    const onDisk = JSON.parse(fs.readFileSync(path.join(work, "labels.json"), "utf8"))
    expect(onDisk.spectra).toEqual([{ cube: a.run.cubeKey, x: 1, y: 1, components }])
    const del = await fetch(new URL(`/api/labels/1/1?run=${b.run.runId}`, url), { method: "DELETE", headers: { "content-type": "application/json" } })
    expect(await del.json()).toEqual({ removed: false, spectra: 1 })
  })

  it("answers a run of another survey by saying whose it is", async () => {
    const other = await phs(["pipeline", SAMPLE, "--survey", "other", "--workdir", work, "--json"])
    expect(other.code, other.stderr).toBe(0)
    const id = (JSON.parse(other.stdout) as { runId: string }).runId
    const r = await getJson(`/api/map?run=${id}`)
    expect(r).toEqual({ status: 404, body: { error: `run ${id} is of survey other, not grs (phs view --survey grs shows that survey's runs only)` } })
    expect((await getJson("/api/map?run=nosuchrun")).body).toEqual({ error: "no run nosuchrun" })
  }, 120_000)

  it("fails at start with one line for a survey without runs", async () => {
    const r = await phs(["view", "--survey", "nope", "--port", "0", "--workdir", work])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    expect(r.stderr).toMatch(/no runs of survey nope/)
  })
})
