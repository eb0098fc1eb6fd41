/**
 * `phs view --survey grs --target aws` on the emulators: two tiles cut from the GRS sample
 * (each with the field's celestial WCS, test/support/tiles.ts) go through
 * `phs pipeline … --target aws` (this process plays AWS around the CLI, as in
 * results.test.ts), then the viewer's mosaic API over the deployment must answer as the
 * local target's does over a workdir that ran the same tiles (same run ids: the run id is a
 * function of the manifest). In chromium, inside the emulators' network namespace: the
 * mosaic drawn, a click opening the spectrum of the tile that holds the pixel.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { clickPixel, launch, startView } from "../../scripts/view-browser.mjs"
import { phs, tempDir } from "../support/cli.js"
import { cutTile, quadrants } from "../support/tiles.js"
import { deploy, runSetOnAws } from "./deployment.js"
import { startSqs } from "./emulators.js"
import { describeEmulated, emulated, endpoints } from "./suite.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")
const RECTS = quadrants(5, 5, 3, 2).slice(0, 2)

let sqs: Awaited<ReturnType<typeof startSqs>>
let d: Awaited<ReturnType<typeof deploy>>
let runIds: string[] = []
const views: { aws?: { url: string; stop: () => void }; local?: { url: string; stop: () => void } } = {}

const getJson = async (on: "aws" | "local", p: string) => {
  const r = await fetch(new URL(p, views[on]!.url))
  return { status: r.status, body: (await r.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  if (!emulated) return
  sqs = await startSqs()
  d = await deploy({ ...endpoints(), sqs: sqs.endpoint }, sqs.server)
  const dir = tempDir("phs-aws-view-survey-")
  const field = new Uint8Array(fs.readFileSync(SAMPLE))
  const tiles = RECTS.map((r, k) => {
    const file = path.join(dir, `tile-${k}.fits`)
    fs.writeFileSync(file, cutTile(field, r))
    return file
  })
  const args = ["pipeline", ...tiles, "--survey", "grs", "--chunk-size", "4"]
  const set = await runSetOnAws(d, tiles, args)
  expect(set.code, set.stderr).toBe(0)
  runIds = [...set.stdout.matchAll(/^ {2}tile-\d\.fits +(grs-[0-9a-f]{16}) /gm)].map((m) => m[1])
  const local = path.join(dir, "w")
  const ref = await phs([...args, "--workdir", local])
  expect(ref.code, ref.stderr).toBe(0)
  // the cwd holds the default label file (./labels.json with --target aws)
  process.chdir(tempDir("phs-aws-view-survey-cwd-"))
  views.aws = await startView(["--survey", "grs", "--target", "aws"], d.env)
  views.local = await startView(["--survey", "grs", "--workdir", local])
}, 300_000)

afterAll(async () => {
  if (!emulated) return
  views.aws?.stop()
  views.local?.stop()
  await d?.dispose()
  await sqs?.stop()
})

describeEmulated("phs view --survey --target aws on the emulators", () => {
  it("the mosaic's maps, world axes and tiles are the local target's for the same tiles", async () => {
    expect(runIds).toHaveLength(2)
    for (const value of ["n_components", "rms", "chi2_reduced"] as const) {
      const aws = await getJson("aws", `/api/map?survey=grs&value=${value}`)
      expect(aws.status, JSON.stringify(aws.body)).toBe(200)
      expect([aws.body.nx, aws.body.ny]).toEqual([5, 2])
      expect((aws.body.values as unknown[]).some((v) => v !== null)).toBe(true)
      expect((aws.body.tiles as Array<{ run: string }>).map((t) => t.run).sort()).toEqual([...runIds].sort())
      expect(aws.body.world).not.toBeNull()
      expect(aws.body).toEqual((await getJson("local", `/api/map?survey=grs&value=${value}`)).body)
    }
  })

  it("a pixel of each tile: the spectrum and components of the tile that holds it, as locally", async () => {
    for (const r of RECTS) {
      const at = `/api/pixel/${r.x0 + 1}/${r.y0 + 1}?survey=grs`
      const aws = await getJson("aws", at)
      expect(aws.status, JSON.stringify(aws.body)).toBe(200)
      expect([aws.body.x, aws.body.y, aws.body.mosaic]).toEqual([1, 1, { survey: "grs", x: r.x0 + 1, y: r.y0 + 1 }])
      expect(aws.body).toEqual((await getJson("local", at)).body)
    }
    const outside = await getJson("aws", "/api/pixel/0/4?survey=grs")
    expect(outside.status).toBe(400)
  })

  it("in chromium: the mosaic is drawn and a click opens the spectrum of the tile holding the pixel", async () => {
    const browser = await launch()
    try {
      const { page } = browser
      await page.goto(views.aws!.url)
      await page.waitForFunction(() => document.getElementById("status")!.textContent!.includes("2 tiles"))
      expect(await page.$eval("#map", (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([5, 2])
      expect(await page.$eval("#run", (s) => (s as HTMLSelectElement).selectedOptions[0].textContent)).toBe("mosaic of survey grs")
      const r = RECTS[1]
      const p = await getJson("aws", `/api/pixel/${r.x0 + 1}/${r.y0 + 1}?survey=grs`)
      await clickPixel(page, r.x0 + 1, r.y0 + 1)
      await page.waitForSelector(`body[data-pixel="${r.x0 + 1},${r.y0 + 1}"]`)
      const title = await page.locator("#panel-main .title").textContent()
      expect(title).toContain(`tile ${String(p.body.run)}`)
      expect(title).toContain("pixel (1, 1)")
      expect(await page.locator("#panel-main path.component").count()).toBe((p.body.components as unknown[]).length)
      expect(browser.outside).toEqual([])
    } finally {
      await browser.close()
    }
  })
})
