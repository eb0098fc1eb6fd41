/**
 * `phs view --target aws` on the emulators: a run driven through the deployment's handlers,
 * then the built `phs view` started with the deployment's environment reads the run table
 * (DynamoDB) and the bucket (S3) through the aws target, the same ViewData code path as a
 * workdir. The JSON API: the map against the part's rows read from S3 with core's Parquet
 * reader, a pixel's spectrum against the cube's data, from the chunk payload and, once the
 * payloads are removed, from the cube by ranges; 4xx answers. Then the page in chromium
 * (inside the emulators' network namespace): the map drawn, a pixel clicked.
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3"
import { Effect } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { decodeRows } from "../../packages/core/src/ResultParquet.js"
import { clickPixel, launch, startView } from "../../scripts/view-browser.mjs"
import { cubeData } from "../support/cubes.js"
import { tempDir } from "../support/cli.js"
import { type Deployment, deploy, flow, handlers, runIdOf, type Upload, upload } from "./deployment.js"
import { startSqs } from "./emulators.js"
import { describeEmulated, emulated, endpoints } from "./suite.js"

let sqs: Awaited<ReturnType<typeof startSqs>>
let d: Deployment
let runId = ""
let url = ""
let stop: () => void = () => {}

/** 7 × 5 spectra (two blank) in chunks of 8. */
const small: Upload = { survey: "grs", cube: { nx: 7, ny: 5, seed: 11, blankPixels: [4, 20] } }
const NCHAN = 128

const keys = async (prefix: string): Promise<string[]> =>
  ((await d.s3.send(new ListObjectsV2Command({ Bucket: d.config.bucket, Prefix: prefix }))).Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]))

const getJson = async (p: string) => {
  const r = await fetch(new URL(p, url))
  return { status: r.status, body: (await r.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  if (!emulated) return
  sqs = await startSqs()
  d = await deploy({ ...endpoints(), sqs: sqs.endpoint }, sqs.server)
  const h = handlers(d.config, {})
  try {
    runId = runIdOf(await flow(d, h, await upload(d, small)))
  } finally {
    await h.dispose()
  }
  // the cwd holds the default label file (./labels.json with --target aws)
  process.chdir(tempDir("phs-view-aws-"))
  const view = await startView(["--target", "aws"], d.env)
  url = view.url
  stop = view.stop
}, 300_000)

afterAll(async () => {
  if (!emulated) return
  stop()
  await d?.dispose()
  await sqs?.stop()
})

describeEmulated("phs view --target aws on the emulators", () => {
  it("lists the deployment's runs and maps a run from its part on S3", async () => {
    const runs = await getJson("/api/runs")
    expect(runs.status).toBe(200)
    expect((runs.body.runs as Array<{ runId: string }>).map((r) => r.runId)).toEqual([runId])
    expect(runs.body.initial).toBe(runId)
    const parts = await keys(`decompositions/survey=grs/${runId}-`)
    expect(parts.length).toBeGreaterThan(0)
    const rows = []
    for (const key of parts) {
      const obj = await d.s3.send(new GetObjectCommand({ Bucket: d.config.bucket, Key: key }))
      rows.push(...(await Effect.runPromise(decodeRows(await obj.Body!.transformToByteArray()))))
    }
    expect(rows).toHaveLength(35)
    for (const value of ["n_components", "rms", "chi2_reduced"] as const) {
      const m = await getJson(`/api/map?run=${runId}&value=${value}`)
      expect(m.status).toBe(200)
      expect([m.body.nx, m.body.ny]).toEqual([7, 5])
      const values = m.body.values as Array<number | null>
      for (const r of rows) {
        const want = r.n_components < 0 || r.rms === null ? null : r[value]
        expect(values[r.y * 7 + r.x], `${value} (${r.x}, ${r.y})`).toBe(want)
      }
    }
    const pixel = await getJson(`/api/pixel/3/2?run=${runId}`)
    expect(pixel.status).toBe(200)
    const row = rows.find((r) => r.x === 3 && r.y === 2)!
    expect((pixel.body.components as Array<{ amplitude: number }>).map((c) => c.amplitude)).toEqual(row.component_amplitudes)
  })

  it("reads a pixel's spectrum from the chunk payload, and from the cube by ranges once the payloads are gone", async () => {
    const data = cubeData(small.cube)
    const p = 2 * 7 + 3
    const want = Array.from(data.subarray(p * NCHAN, (p + 1) * NCHAN), (v) => (Number.isFinite(v) ? v : null))
    const fromPayload = await getJson(`/api/pixel/3/2?run=${runId}`)
    expect(fromPayload.body.spectrum).toEqual(want)
    for (const key of (await keys(`chunks/${runId}/`)).filter((k) => k.endsWith(".f32"))) {
      await d.s3.send(new DeleteObjectCommand({ Bucket: d.config.bucket, Key: key }))
    }
    expect((await keys(`chunks/${runId}/`)).filter((k) => k.endsWith(".f32"))).toEqual([])
    const fromCube = await getJson(`/api/pixel/3/2?run=${runId}`)
    expect(fromCube.status).toBe(200)
    expect(fromCube.body.spectrum).toEqual(want)
    const blank = await getJson(`/api/pixel/4/0?run=${runId}`)
    expect((blank.body.spectrum as unknown[]).every((v) => v === null)).toBe(true)
  })

  it("answers bad requests with a JSON 4xx", async () => {
    expect((await getJson(`/api/pixel/7/0?run=${runId}`)).status).toBe(400)
    expect((await getJson("/api/map?run=no-such-run")).status).toBe(404)
    expect((await getJson("/api/map?run=../../etc")).status).toBe(400)
  })
})

describeEmulated("phs view --target aws in chromium", () => {
  it("draws the run's map and opens a pixel's spectrum", async () => {
    const browser = await launch()
    try {
      const { page } = browser
      await page.goto(url)
      await page.waitForFunction(() => document.getElementById("status")!.textContent!.includes("pixels"))
      expect(await page.$eval("#map", (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([7, 5])
      await clickPixel(page, 3, 2)
      await page.waitForSelector('body[data-pixel="3,2"]')
      const n = ((await getJson(`/api/pixel/3/2?run=${runId}`)).body.components as unknown[]).length
      expect(await page.locator("#panel-main path.component").count()).toBe(n)
      expect(browser.outside).toEqual([])
    } finally {
      await browser.close()
    }
  })
})
