/**
 * Results in S3 read back through `--target aws`, on the emulators: a set of two tiles cut
 * from the GRS sample goes through `phs pipeline … --survey grs --target aws` (this process
 * plays AWS around the CLI: the splitter on each manifest, the queues drained through their
 * handlers), then `phs plot` (spectrum, map, summary, the survey's map) and `phs export`
 * (one run, and the survey's mosaic) run against the deployment. Each picture and FITS file
 * must be byte for byte the one the local target makes of the same cubes (same run ids: the
 * run id is a function of the manifest). In process: the Parquet parts are read through the
 * bucket's BlobStore, and a spectrum plot reads the cube by ranged GETs only, never whole.
 *
 * `phs query --target aws` runs on Athena, which has no emulator: its engine is tested on a
 * fake Athena in cli.test.ts.
 */
import { BlobStore } from "@phs/core"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import * as RunData from "../../packages/cli/src/plot/RunData.js"
import * as Target from "../../packages/cli/src/target/Target.js"
import { phs, tempDir } from "../support/cli.js"
import { cutTile, quadrants } from "../support/tiles.js"
import { deploy, runSetOnAws } from "./deployment.js"
import { startSqs } from "./emulators.js"
import { describeEmulated, emulated, endpoints } from "./suite.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")

let sqs: Awaited<ReturnType<typeof startSqs>>
let d: Awaited<ReturnType<typeof deploy>>
let dir = ""
let local = ""
let tiles: string[] = []
let runIds: string[] = []
let set = { code: 0 as number | null, stdout: "", stderr: "" }

const aws = (args: ReadonlyArray<string>) => phs([...args, "--target", "aws"], { env: d.env })
const onLocal = (args: ReadonlyArray<string>) => phs([...args, "--workdir", local])

beforeAll(async () => {
  if (!emulated) return
  sqs = await startSqs()
  d = await deploy({ ...endpoints(), sqs: sqs.endpoint }, sqs.server)
  dir = tempDir("phs-aws-results-")
  const field = new Uint8Array(fs.readFileSync(SAMPLE))
  tiles = quadrants(5, 5, 3, 2).slice(0, 2).map((r, k) => {
    const file = path.join(dir, `tile-${k}.fits`)
    fs.writeFileSync(file, cutTile(field, r))
    return file
  })
  const args = ["pipeline", ...tiles, "--survey", "grs", "--chunk-size", "4"]
  set = await runSetOnAws(d, tiles, args)
  expect(set.code, set.stderr).toBe(0)
  runIds = [...set.stdout.matchAll(/^ {2}tile-\d\.fits +(grs-[0-9a-f]{16}) /gm)].map((m) => m[1])
  // The local reference: the same cubes, parameters and chunks in a workdir.
  local = path.join(dir, "w")
  const ref = await onLocal(args)
  expect(ref.code, ref.stderr).toBe(0)
}, 300_000)

afterAll(async () => {
  if (!emulated) return
  await d.dispose()
  await sqs.stop()
})

/** The files of a directory and their bytes. */
const files = (at: string) => Object.fromEntries(fs.readdirSync(at).sort().map((f) => [f, fs.readFileSync(path.join(at, f))]))

describeEmulated("phs plot and phs export --target aws on results in S3", () => {
  it("the set ran on the deployment as one survey, one display for the set, the same run ids as locally", async () => {
    expect(set.stdout).toMatch(/^survey grs: 2 cubes, \d+ spectra completed$/m)
    expect(set.stderr).toMatch(/ spectra {2}cube 2\/2 {2}100\.0%/)
    expect(set.stderr.match(/^phs: cube \d\/2 tile-\d\.fits: run grs-\S+ completed/gm)?.length, set.stderr).toBe(2)
    expect(runIds).toHaveLength(2)
    const there = JSON.parse((await aws(["runs", "--json", "--survey", "grs"])).stdout) as Array<{ runId: string }>
    const here = JSON.parse((await onLocal(["runs", "--json", "--survey", "grs"])).stdout) as Array<{ runId: string }>
    expect(there.map((r) => r.runId).sort()).toEqual([...runIds].sort())
    expect(here.map((r) => r.runId).sort()).toEqual([...runIds].sort())
    const status = await aws(["status", "--survey", "grs"])
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/^survey grs: 2 cube\(s\), 2 run\(s\); newest run of each cube: 2 completed;/)
    expect(status.stdout.match(/ galactic CAR; velocity /g)?.length, status.stdout).toBe(2)
  })

  it("phs export RUN and phs export --survey: the same FITS files as the local target's", async () => {
    for (const [what, args] of [
      ["one run", ["export", runIds[0]]],
      ["the mosaic", ["export", "--survey", "grs"]]
    ] as const) {
      const a = path.join(dir, "aws", what)
      const b = path.join(dir, "local", what)
      const ra = await aws([...args, "--fits", a])
      expect(ra.code, ra.stderr).toBe(0)
      const rb = await onLocal([...args, "--fits", b])
      expect(rb.code, rb.stderr).toBe(0)
      const fa = files(a)
      expect(Object.keys(fa).length, what).toBeGreaterThanOrEqual(3)
      expect(fa, what).toEqual(files(b))
    }
  })

  it("phs plot spectrum, map, summary and the survey's map: the same pictures as the local target's", async () => {
    for (const args of [
      ["spectrum", runIds[1], "1", "1"],
      ["map", runIds[0], "--value", "rms"],
      ["summary", runIds[0]],
      ["map", "--survey", "grs", "--value", "mean_velocity"]
    ]) {
      const a = path.join(dir, "plots", `aws-${args.join("-")}.svg`)
      const b = path.join(dir, "plots", `local-${args.join("-")}.svg`)
      const ra = await aws(["plot", ...args, "--out", a])
      expect(ra.code, `${args.join(" ")}: ${ra.stderr}`).toBe(0)
      const rb = await onLocal(["plot", ...args, "--out", b])
      expect(rb.code, rb.stderr).toBe(0)
      expect(fs.readFileSync(a, "utf8"), args.join(" ")).toBe(fs.readFileSync(b, "utf8"))
    }
    expect(fs.readFileSync(path.join(dir, "plots", `aws-spectrum-${runIds[1]}-1-1.svg`), "utf8")).toContain("km/s")
  })

  it("bad input on aws: a pixel outside the cube, an unknown run, a survey without runs: one line, exit 2", async () => {
    for (const args of [
      ["plot", "spectrum", runIds[0], "9", "0"],
      ["plot", "map", "grs-nosuchrun"],
      ["export", "--survey", "nope", "--fits", path.join(dir, "nope")]
    ]) {
      const r = await aws(args)
      expect([r.code, r.stderr.trim().split("\n").length], `${args.join(" ")}: ${r.stderr}`).toEqual([2, 1])
    }
  })

  it("in process: the parts are read through the bucket's BlobStore, the cube by ranged GETs only, never whole", async () => {
    const calls: Array<{ op: string; key: string; length?: number }> = []
    const counting = (s: BlobStore.BlobStore): BlobStore.BlobStore => ({
      ...s,
      get: (key) => (calls.push({ op: "get", key }), s.get(key)),
      getRange: (key, offset, length) => (calls.push({ op: "getRange", key, length }), s.getRange(key, offset, length)),
      list: (prefix) => (calls.push({ op: "list", key: prefix }), s.list(prefix))
    })
    const saved = { ...process.env }
    Object.assign(process.env, d.env)
    try {
      const program = Effect.gen(function* () {
        const data = yield* RunData.load(runIds[1])
        const loaded = calls.length
        const values = yield* RunData.spectrum(data.run, data.header, 1, 1)
        return { data, values, spectrumCalls: calls.slice(loaded) }
      }).pipe(Effect.updateService(BlobStore.BlobStore, counting), Effect.provide(Target.layer({ target: "aws", stack: "phs", awsConfig: Option.none(), workdir: dir }, "read")))
      const { data, values, spectrumCalls } = await Effect.runPromise(program)
      const parts = await RunData.resultKeys(data.run).pipe(Effect.provide(Target.layer({ target: "aws", stack: "phs", awsConfig: Option.none(), workdir: dir }, "read")), Effect.runPromise)
      expect(parts.length).toBeGreaterThan(0)
      for (const k of parts) expect(calls).toContainEqual({ op: "get", key: k })
      expect(data.rows.length).toBe(data.run.nSpectra)
      // The cube is never fetched whole: its header and then the one spectrum, by ranges.
      expect(calls.filter((c) => c.key === data.run.cubeKey && c.op === "get")).toEqual([])
      // A spectrum is one value per channel plane: the reads span it and never the whole data.
      const bytes = Math.abs(data.header.bitpix) / 8
      expect(spectrumCalls.length).toBeGreaterThan(0)
      for (const c of spectrumCalls) expect(c).toMatchObject({ op: "getRange", key: data.run.cubeKey })
      const read = spectrumCalls.reduce((a, c) => a + (c.length ?? 0), 0)
      expect(read).toBeGreaterThanOrEqual(bytes * data.run.nChannels)
      expect(read).toBeLessThan(bytes * data.run.nChannels * data.run.nx * data.run.ny)
      expect(values.length).toBe(data.run.nChannels)
      expect(values.some((v) => Number.isFinite(v))).toBe(true)
    } finally {
      for (const k of Object.keys(d.env)) if (!(k in saved)) delete process.env[k]
      Object.assign(process.env, saved)
    }
  })
})
