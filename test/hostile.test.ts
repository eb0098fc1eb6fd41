/**
 * Hostile and malformed input: every case of the corpus (test/corpus/cases.ts) is refused
 * with its one line, exit code 2, no stack trace, and nothing partial left visible.
 *
 * CLI cases run the built `phs` in child processes, several at once (`describe.concurrent`):
 * each costs a Node start-up. Manifest cases run in process against `Params` and
 * `Pipeline.prepare`, which the aws splitter calls with the manifest a user uploaded.
 */
import { BlobStore, Catalog, CubeLimits, Errors, Fits, Fitter, Journal, Params, Pipeline, ResultParquet, RunTable, WorkQueue } from "@phs/core"
import { LocalRun, RuntimeLocal, Sqlite, WorkQueueSqlite } from "@phs/runtime-local"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { readCubeHeader } from "../packages/core/src/stages/Split.js"
import { writeCube } from "../packages/core/src/FitsWriter.js"
import * as RunData from "../packages/cli/src/plot/RunData.js"
import { twoCubes as twoCubeFile } from "./support/cubes.js"
import { bintable, cliCases, goodCube, imageExtension, manifestCases } from "./corpus/cases.js"
import { PHS, phs, phsAsync, type Result, tempDir } from "./support/cli.js"

/** Every file (not directory) under `dir`, relative to it; none when it does not exist. */
const filesUnder = (dir: string): Array<string> =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    : []

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** The typed failure of an exit: not a success, not a defect. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

const expectReadable = (error: unknown, pattern: RegExp) => {
  expect(error).toBeInstanceOf(Errors.InvalidInput)
  const reason = (error as Errors.InvalidInput).reason
  expect(reason).toMatch(pattern)
  expect(reason).not.toMatch(CONTROL)
  expect(reason.length).toBeLessThan(400)
}

describe("the corpus", () => {
  it("has at least 30 cases, at least 20 of them through the CLI, with distinct names", () => {
    expect(cliCases.length + manifestCases.length).toBeGreaterThanOrEqual(30)
    expect(cliCases.filter((c) => c.inProcess !== true).length).toBeGreaterThanOrEqual(20)
    const names = [...cliCases, ...manifestCases].map((c) => c.name)
    expect(new Set(names).size).toBe(names.length)
  })
})

describe.concurrent("phs pipeline refuses hostile input: one line, exit 2, nothing left visible", () => {
  for (const c of cliCases.filter((c) => c.inProcess !== true)) {
    it(c.name, async ({ expect }) => {
      const dir = tempDir("phs-hostile-")
      try {
        const cube = path.join(dir, "cube.fits")
        const input = c.input ?? { kind: "bytes", bytes: goodCube }
        if (input.kind === "bytes") fs.writeFileSync(cube, input.bytes())
        if (input.kind === "directory") fs.mkdirSync(cube)
        const work = path.join(dir, "w")

        const r = await phsAsync(["pipeline", cube, "--workdir", work, ...(c.args ?? [])]).done
        expect(r.code, r.stderr).toBe(2)
        expect(r.signal).toBeNull()
        expect(r.stdout).toBe("")
        const lines = r.stderr.trim().split("\n")
        expect(lines, r.stderr).toHaveLength(1)
        expect(lines[0]).toMatch(c.error)
        expect(lines[0]).not.toMatch(CONTROL)
        expect(r.stderr).not.toMatch(/^\s*at\s|internal error|\bError:/m)

        // Nothing partial visible. A case refused before the command opens its workdir
        // leaves no workdir at all, which is stronger than an empty run list; a case
        // refused later (chunk size, blank cube) is asked through `phs runs` itself.
        if (fs.existsSync(work)) {
          const runs = await phsAsync(["runs", "--json", "--workdir", work]).done
          expect(runs.code, runs.stderr).toBe(0)
          expect(JSON.parse(runs.stdout)).toEqual([])
        }
        expect(filesUnder(path.join(work, "blobs", "chunks"))).toEqual([])
        expect(filesUnder(path.join(work, "blobs", "decompositions"))).toEqual([])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  }

  it("control: the corpus' good cube runs with good options (so each case fails for its own fault)", async ({ expect }) => {
    const dir = tempDir("phs-hostile-")
    try {
      const cube = path.join(dir, "cube.fits")
      fs.writeFileSync(cube, goodCube())
      const work = path.join(dir, "w")
      const r = await phsAsync(["pipeline", cube, "--workdir", work, "--survey", "grs", "--param", "beta=3", "--chunk-size", "3", "--json"]).done
      expect(r.stderr).toBe("")
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ status: "COMPLETED", nSpectra: 4 })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("variants checked in process with what phs pipeline runs (LocalRun.checkCube, Params.decodeSurvey)", () => {
  for (const c of cliCases.filter((c) => c.inProcess === true)) {
    it(c.name, async () => {
      const dir = tempDir("phs-hostile-")
      try {
        const cube = path.join(dir, "cube.fits")
        let check: Effect.Effect<unknown, Errors.InvalidInput>
        if (c.input === undefined && c.args?.length === 2 && c.args[0] === "--survey") {
          check = Params.decodeSurvey(c.args[1])
        } else if (c.input?.kind === "bytes" && c.args === undefined) {
          fs.writeFileSync(cube, c.input.bytes())
          check = LocalRun.checkCube(cube)
        } else {
          throw new Error("an in-process case is a file without options, or a --survey NAME")
        }
        const error = failureOf(await Effect.runPromiseExit(check))
        expect(error).toBeInstanceOf(Errors.InvalidInput)
        expect(`phs: ${error.reason}`).toMatch(c.error)
        expect(error.reason).not.toMatch(CONTROL)
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  }
})

describe("manifests phs refuses: Params.decodeManifest + Params.resolve, and Pipeline.prepare", () => {
  const services = Layer.merge(BlobStore.layerMemory, Fitter.layerNative({ threads: 1 }))

  /** `Pipeline.prepare` over a store holding only cubes/good.fits; the keys after it. */
  const prepare = (manifest: unknown) =>
    Effect.gen(function*() {
      const store = yield* BlobStore.BlobStore
      yield* store.put("cubes/good.fits", goodCube())
      const exit = yield* Effect.exit(Pipeline.prepare(manifest))
      return { exit, keys: yield* store.list("") }
    }).pipe(Effect.provide(services), Effect.runPromise)

  for (const c of manifestCases) {
    it(c.name, async () => {
      if (c.prepareOnly !== true) {
        const decoded = await Effect.runPromiseExit(Effect.flatMap(Params.decodeManifest(c.manifest), (m) => Params.resolve(m.params)))
        expectReadable(failureOf(decoded), c.error)
      }
      const { exit, keys } = await prepare(c.manifest)
      expectReadable(failureOf(exit), c.error)
      expect(keys).toEqual(["cubes/good.fits"])
    })
  }

  it("control: the corpus' good manifest is accepted", async () => {
    const { exit } = await prepare({ cube_key: "cubes/good.fits", survey: "grs", params: { beta: 3 }, chunk_size: 3 })
    expect(Exit.isSuccess(exit)).toBe(true)
  })
})

/**
 * Runs phs with its stdout (and optionally stderr) closed by the reader before phs writes
 * (what `| head -0` does; `| head -1` closes it after the first line), or stdout on /dev/full.
 */
const phsWithOutput = (args: ReadonlyArray<string>, o: { readonly stdout: "closed" | "full"; readonly stderr?: "closed" }): Promise<Result> => {
  const full = o.stdout === "full" ? fs.openSync("/dev/full", "w") : undefined
  const child = spawn(process.execPath, [PHS, ...args], { stdio: ["ignore", full ?? "pipe", "pipe"] })
  if (full !== undefined) fs.closeSync(full)
  let stderr = ""
  child.stdout?.destroy()
  if (o.stderr === "closed") child.stderr.destroy()
  else child.stderr.on("data", (d) => (stderr += d))
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout: "", stderr })))
}

const NO_STACK = /^\s*at\s|internal error|\bError:|node:events/m

describe.concurrent("a closed or full output: no stack trace, a pipeline's work carries on", () => {
  let dir = ""
  let work = ""
  let runId = ""
  beforeAll(async () => {
    dir = tempDir("phs-output-")
    work = path.join(dir, "w")
    fs.writeFileSync(path.join(dir, "cube.fits"), goodCube())
    const r = await phs(["pipeline", path.join(dir, "cube.fits"), "--workdir", work, "--survey", "grs", "--chunk-size", "3", "--json"])
    expect(r.code, r.stderr).toBe(0)
    runId = JSON.parse(r.stdout).runId
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  for (const [name, args] of [
    ["phs runs | head -0", () => ["runs", "--workdir", work]],
    ["phs status RUN | head -1", () => ["status", runId, "--workdir", work]],
    ["phs query … | head -1", () => ["query", "SELECT x, y, n_components FROM decompositions", "--workdir", work]]
  ] as const) {
    it(`${name}: exit 0, nothing on stderr`, async ({ expect }) => {
      const r = await phsWithOutput(args(), { stdout: "closed" })
      expect(r.stderr).toBe("")
      expect(r.signal).toBeNull()
      expect(r.code).toBe(0)
    })
  }

  it("phs status NO-SUCH-RUN 2>&1 | head -0: a closed stderr leaves the error's exit code 2", async ({ expect }) => {
    const r = await phsWithOutput(["status", "no-such-run", "--workdir", work], { stdout: "closed", stderr: "closed" })
    expect(r.signal).toBeNull()
    expect(r.code).toBe(2)
  })

  it.skipIf(!fs.existsSync("/dev/full"))("phs runs > /dev/full: one line, exit 1", async ({ expect }) => {
    const r = await phsWithOutput(["runs", "--workdir", work], { stdout: "full" })
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split("\n")).toEqual(["phs: cannot write to stdout: no space left on device (ENOSPC)"])
  })

  it("phs pipeline … 2>&1 | head -0: the run still completes, exit 0", async ({ expect }) => {
    const cube = path.join(dir, "cube.fits")
    const r = await phsWithOutput(["pipeline", cube, "--workdir", path.join(dir, "w2"), "--survey", "closed", "--chunk-size", "1"], { stdout: "closed", stderr: "closed" })
    expect(r.signal).toBeNull()
    expect(r.code).toBe(0)
    const runs = await phs(["runs", "--json", "--workdir", path.join(dir, "w2")])
    expect(JSON.parse(runs.stdout)).toMatchObject([{ survey: "closed", status: "COMPLETED", spectraDone: 4 }])
  })

  it.skipIf(!fs.existsSync("/dev/full"))("phs pipeline … > /dev/full: the run completes, one line, exit 1", async ({ expect }) => {
    const cube = path.join(dir, "cube.fits")
    const r = await phsWithOutput(["pipeline", cube, "--workdir", path.join(dir, "w3"), "--survey", "full", "--json"], { stdout: "full" })
    expect(r.code).toBe(1)
    expect(r.stderr).not.toMatch(NO_STACK)
    expect(r.stderr.trim().split("\n")).toEqual(["phs: cannot write to stdout: no space left on device (ENOSPC)"])
    const runs = await phs(["runs", "--json", "--workdir", path.join(dir, "w3")])
    expect(JSON.parse(runs.stdout)).toMatchObject([{ survey: "full", status: "COMPLETED" }])
  })
})

describe.concurrent("refused at once, before any work: concurrency and workdirs", () => {
  it("phs resume --concurrency 0: one line, exit 2", async ({ expect }) => {
    const dir = tempDir("phs-hostile-")
    try {
      const r = await phs(["resume", "some-run", "--workdir", path.join(dir, "w"), "--concurrency", "0"])
      expect(r.code).toBe(2)
      expect(r.stderr).toBe("phs: --concurrency 0: must be at least 1 (chunks fitted at once)\n")
      expect(fs.existsSync(path.join(dir, "w"))).toBe(false)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  // Node's recursive mkdir retries ENOENT for ever under /proc; these must end at once (the test's timeout would catch a spin).
  for (const [name, workdir, error] of [
    ["a workdir under /proc", "/proc/phs-no-such/w", /^phs: cannot use the workdir \/proc\/phs-no-such\/w: mkdir \/proc\/phs-no-such: no such file or directory \(ENOENT\)$/],
    ["a workdir through a file", "FILE/w", /^phs: cannot use the workdir .*\/cube\.fits\/w: .*\/cube\.fits is not a directory \(ENOTDIR\)$/]
  ] as const) {
    for (const command of ["pipeline", "runs"] as const) {
      it.skipIf(workdir.startsWith("/proc") && !fs.existsSync("/proc/self"))(`${name}: phs ${command} answers at once (pipeline: one line, exit 2; runs: no workdir there)`, async ({ expect }) => {
        const dir = tempDir("phs-hostile-")
        try {
          const cube = path.join(dir, "cube.fits")
          fs.writeFileSync(cube, goodCube())
          const work = workdir.replace("FILE", cube)
          const r = await phs(command === "pipeline" ? ["pipeline", cube, "--workdir", work] : ["runs", "--workdir", work])
          if (command === "runs") {
            // A reading command never creates a workdir: where there is none it says so, at once.
            expect(r.code, r.stderr).toBe(0)
            expect(r.stdout.trim()).toMatch(/^no runs yet \(no workdir at /i)
            expect(fs.existsSync(work)).toBe(false)
            return
          }
          expect(r.code, r.stderr).toBe(2)
          const lines = r.stderr.trim().split("\n")
          expect(lines).toHaveLength(1)
          expect(lines[0]).toMatch(error)
        } finally {
          fs.rmSync(dir, { recursive: true, force: true })
        }
      })
    }
  }
})

describe("the decomposer's and the stores' limits, checked before anything is written", () => {
  it("split's header step refuses a cube with more channels than the decomposer takes (the path a manifest takes on aws)", async () => {
    const store = BlobStore.makeMemory()
    const cube = writeCube({ nx: 1, ny: 1, nchan: CubeLimits.MAX_CHANNELS + 1, data: new Float32Array(CubeLimits.MAX_CHANNELS + 1) })
    await Effect.runPromise(store.put("cubes/wide.fits", cube))
    const error = failureOf(await Effect.runPromiseExit(readCubeHeader("cubes/wide.fits").pipe(Effect.provideService(BlobStore.BlobStore, store))))
    expectReadable(error, /^65,537 channels per spectrum: the decomposer takes at most 65,536/)
    expect(await Effect.runPromise(store.list(""))).toEqual(["cubes/wide.fits"])
  })

  it("chunks are planned so that no payload exceeds what a blob store takes", () => {
    for (const nChannels of [1, 424, 4096, CubeLimits.MAX_CHANNELS]) {
      for (const requested of [1, 500, 100_000]) {
        const size = CubeLimits.chunkSpectra(requested, nChannels)
        expect(size).toBeGreaterThanOrEqual(1)
        expect(size).toBeLessThanOrEqual(requested)
        expect(size * nChannels * CubeLimits.PAYLOAD_BYTES_PER_CHANNEL).toBeLessThanOrEqual(BlobStore.MAX_BLOB_BYTES)
        // As large as allowed: one more spectrum would be too much, or the request is met.
        if (size < requested) expect((size + 1) * nChannels * CubeLimits.PAYLOAD_BYTES_PER_CHANNEL).toBeGreaterThan(BlobStore.MAX_BLOB_BYTES)
      }
    }
    // The case: --chunk-size 100000 on 65,536 channels would make 26 GB payloads.
    expect(CubeLimits.chunkSpectra(100_000, 65_536)).toBe(8191)
  })
})

describe("a cube in an image extension", () => {
  const data = new Float32Array(2 * 3 * 16).map((_, i) => i * 0.5 - 3)
  const primary = writeCube({ nx: 2, ny: 3, nchan: 16, data })
  const primaryHeader = Effect.runSync(Fits.readHeader(Fits.fromBytes(primary)))

  it("is found after an empty primary and a binary table, and reads the same spectra as the primary cube", () => {
    // An empty primary, a binary table, then an image extension holding the primary cube's data.
    const empty = new TextEncoder().encode(["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    0", "END"].map((c) => c.padEnd(80)).join("").padEnd(2880))
    const table = bintable()
    const cubeData = primary.subarray(primaryHeader.dataOffset)
    const ext = imageExtension(-32, [2, 3, 16])
    const extHeaderLength = ext.length - Math.ceil(cubeData.length / 2880) * 2880
    const file = new Uint8Array(empty.length + table.length + extHeaderLength + cubeData.length)
    file.set(empty)
    file.set(table, empty.length)
    file.set(ext.subarray(0, extHeaderLength), empty.length + table.length)
    file.set(cubeData, empty.length + table.length + extHeaderLength)
    const dataOffset = empty.length + table.length + extHeaderLength
    const h = Effect.runSync(Fits.readHeader(Fits.fromBytes(file)))
    expect(h.hdu).toBe(2)
    expect([h.nx, h.ny, h.nchan, h.dataOffset]).toEqual([2, 3, 16, dataOffset])
    expect(Fits.describe(h)).toMatch(/ in HDU 2 \(image extension\)$/)
    const spectra = Effect.runSync(Fits.readSpectra(Fits.fromBytes(file), h, 0, 6))
    expect(spectra).toEqual(Effect.runSync(Fits.readSpectra(Fits.fromBytes(primary), primaryHeader, 0, 6)))
    // Asked for by number: the same HDU; the primary is not a cube; past the last is named.
    expect(Effect.runSync(Fits.readHeader(Fits.fromBytes(file), { hdu: 2 }))).toEqual(h)
    expect(Effect.runSync(Effect.flip(Fits.readHeader(Fits.fromBytes(file), { hdu: 1 }))).reason).toBe("HDU 1 is a BINTABLE extension, not an image")
    expect(Effect.runSync(Effect.flip(Fits.readHeader(Fits.fromBytes(file), { hdu: 0 }))).reason).toMatch(/^NAXIS = 0: a cube needs 3 axes/)
    expect(Effect.runSync(Effect.flip(Fits.readHeader(Fits.fromBytes(file), { hdu: 3 }))).reason).toBe("no HDU 3: the file has HDUs 0 to 2")
  })
})

describe("--hdu N: the run reads that HDU, in the split, the fit, a re-split and the plot", () => {
  const dir = tempDir("phs-hdu-")
  const work = path.join(dir, "w")
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  const NCHAN = 64
  const { second: secondData, file: twoCubes, secondAlone } = twoCubeFile(NCHAN)
  const cube = path.join(dir, "two.fits")
  const alone = path.join(dir, "second.fits")
  fs.writeFileSync(cube, twoCubes)
  fs.writeFileSync(alone, secondAlone)
  const opts = ["--workdir", work, "--chunk-size", "2", "--param", "beta=3"]

  /** A run's published rows, sorted by pixel, without what names the run and its cube. */
  const rowsOf = async (survey: string, runId: string) => {
    const part = path.join(work, "blobs", "decompositions", `survey=${survey}`)
    const rows = []
    for (const n of fs.readdirSync(part).filter((n) => n.startsWith(`${runId}-`)))
      rows.push(...(await Effect.runPromise(ResultParquet.decodeRows(new Uint8Array(fs.readFileSync(path.join(part, n)))))))
    return rows.map(({ run_id: _r, cube: _c, ...rest }) => rest).sort((a, b) => a.y - b.y || a.x - b.x)
  }

  let runId = ""
  it("--hdu 2 decomposes the second cube: its shape, and the rows of the same data in a file of its own; the run records it", async () => {
    const r = await phs(["pipeline", cube, "--survey", "two", "--hdu", "2", ...opts])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/^phs: note: the cube is in HDU 2 \(image extension "SECOND"\)$/m)
    const runs = JSON.parse((await phs(["runs", "--json", "--survey", "two", "--workdir", work])).stdout)
    expect(runs).toMatchObject([{ status: "COMPLETED", nx: 3, ny: 2, nSpectra: 6, hdu: 2 }])
    runId = runs[0].runId
    const manifest = JSON.parse(fs.readFileSync(path.join(work, "blobs", "manifests", `${runId}.json`), "utf8"))
    expect(manifest).toMatchObject({ survey: "two", hdu: 2 })
    expect((await phs(["status", runId, "--workdir", work])).stdout).toMatch(/cube \S+\.fits \(cubes\/two-[0-9a-f]{16}\.fits\) HDU 2 \(3 × 2 × 64\)/)
    // the journal replays with the HDU the run recorded
    const replay = await phs(["replay", runId, "--workdir", work])
    expect(replay.code, replay.stderr).toBe(0)
    expect(replay.stdout).toMatch(/: identical \(\d+ steps replayed from the journal\)$/m)

    const a = await phs(["pipeline", alone, "--survey", "alone", "--json", ...opts])
    expect(a.code, a.stderr).toBe(0)
    const expected = await rowsOf("alone", JSON.parse(a.stdout).runId)
    expect(expected).toHaveLength(6)
    expect(await rowsOf("two", runId)).toEqual(expected)
  })

  it("the default HDU is the first 3-D image; naming it gives the same run id, so run ids from before --hdu stay", async () => {
    const plain = await phs(["pipeline", cube, "--survey", "two", "--json", ...opts])
    expect(plain.code, plain.stderr).toBe(0)
    const first = JSON.parse(plain.stdout)
    expect(first).toMatchObject({ status: "COMPLETED", nx: 2, nSpectra: 4 })
    expect(first.hdu).toBeUndefined()
    expect(first.runId).not.toBe(runId)
    const named = await phs(["pipeline", cube, "--survey", "two", "--hdu", "1", "--json", ...opts])
    expect(JSON.parse(named.stdout)).toMatchObject({ runId: first.runId, already: true })
  })

  it("a set of cubes takes --hdu for each of them", async () => {
    const copy = path.join(dir, "copy", "two.fits")
    fs.mkdirSync(path.dirname(copy))
    fs.copyFileSync(cube, copy)
    fs.appendFileSync(copy, Buffer.alloc(2880))
    const r = await phs(["pipeline", cube, copy, "--survey", "set", "--hdu", "2", "--json", ...opts])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).cubes.map((c: { nSpectra: number; hdu?: number }) => [c.nSpectra, c.hdu])).toEqual([[6, 2], [6, 2]])
  })

  it("plot and view read the spectrum from that HDU", async () => {
    const { header, values } = await Effect.gen(function* () {
      const run = yield* Pipeline.getRun(runId)
      const header = yield* RunData.cubeHeader(run)
      return { header, values: yield* RunData.spectrum(run, header, 2, 1) }
    }).pipe(Effect.provide(RuntimeLocal.layer({ workdir: work })), Effect.scoped, Effect.runPromise)
    expect(header.hdu).toBe(2)
    expect([...values]).toEqual([...secondData.subarray(5 * NCHAN, 6 * NCHAN)])
  })

  it("a lost payload is split again from that HDU: the same rows", async () => {
    const rows = await Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      yield* store.put("cubes/two.fits", new Uint8Array(twoCubes))
      const input = yield* Pipeline.prepare({ cube_key: "cubes/two.fits", survey: "two", params: { beta: 3 }, chunk_size: 2, hdu: 2 })
      expect(input.hdu).toBe(2)
      yield* Pipeline.start(Pipeline.standard, input)
      for (const key of yield* store.list(`chunks/${input.runId}/`)) yield* store.remove(key)
      const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
      expect(run).toMatchObject({ status: "COMPLETED", nSpectra: 6, hdu: 2 })
      const out = []
      for (const key of yield* store.list("decompositions/survey=two/")) out.push(...(yield* ResultParquet.decodeRows(yield* store.get(key))))
      return out.map(({ run_id: _r, cube: _c, ...rest }) => rest).sort((a, b) => a.y - b.y || a.x - b.x)
    }).pipe(
      Effect.provide(Layer.mergeAll(BlobStore.layerMemory, WorkQueue.layerMemory, RunTable.layerMemory, Journal.layerMemory, Catalog.layerMemory, Fitter.layerNative({ threads: 1 }))),
      Effect.runPromise
    )
    expect(rows).toEqual(await rowsOf("alone", JSON.parse((await phs(["runs", "--json", "--survey", "alone", "--workdir", work])).stdout)[0].runId))
  })

  it("a bad --hdu (past the last HDU, not a 3-D image) is one line, exit 2, and starts no run", async () => {
    const other = path.join(dir, "w2")
    for (const [n, error] of [
      ["7", /^phs: --hdu 7: two\.fits: no HDU 7: the file has HDUs 0 to 2$/],
      ["0", /^phs: --hdu 0: two\.fits: NAXIS = 0: a cube needs 3 axes/]
    ] as const) {
      const r = await phs(["pipeline", cube, "--workdir", other, "--hdu", n])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(error)])
    }
    expect(fs.existsSync(path.join(other, "blobs", "chunks"))).toBe(false)
  })
})

describe("a full disk is transient: the work waits for room instead of failing for good", () => {
  it("SQLite's \"database or disk is full\" is a retryable StorageError, and the same call succeeds once there is room", async () => {
    const dir = tempDir("phs-full-")
    try {
      const queue = WorkQueueSqlite.layer.pipe(Layer.provideMerge(Sqlite.layer({ workdir: dir })))
      const { full, after } = await Effect.gen(function* () {
        const sql = yield* Sqlite.Sqlite
        const q = yield* WorkQueue.WorkQueue
        const body = "x".repeat(64 * 1024)
        // The database may not grow past its size now: as a disk with no room left.
        sql.db.pragma(`max_page_count = ${sql.db.pragma("page_count", { simple: true }) as number}`)
        let full: unknown
        for (let i = 0; i < 100 && full === undefined; i++) full = yield* Effect.flip(q.send("fit", [body])).pipe(Effect.orElseSucceed(() => undefined))
        sql.db.pragma("max_page_count = 1073741823")
        yield* q.send("fit", [body])
        return { full, after: yield* q.depth("fit") }
      }).pipe(Effect.provide(queue), Effect.scoped, Effect.runPromise)
      expect(full).toBeInstanceOf(Errors.StorageError)
      expect(full).toMatchObject({ retryable: true })
      expect((full as Errors.StorageError).reason).toMatch(/database or disk is full/)
      expect(after.visible).toBeGreaterThanOrEqual(1)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("the imported cube: linked not copied, verified on use; stale temporary files removed", () => {
  const dir = tempDir("phs-import-")
  const work = path.join(dir, "w")
  const cube = path.join(dir, "cube.fits")
  const cubesDir = path.join(work, "blobs", "cubes")
  let runId = ""
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  const importedFile = () => {
    const names = fs.readdirSync(cubesDir).filter((n) => !n.startsWith("."))
    expect(names).toHaveLength(1)
    return path.join(cubesDir, names[0])
  }

  it("a cube on the workdir's file system is hard-linked into blobs/cubes, not copied", async () => {
    fs.writeFileSync(cube, goodCube())
    const r = await phs(["pipeline", cube, "--workdir", work, "--survey", "grs", "--chunk-size", "2", "--json"])
    expect(r.code, r.stderr).toBe(0)
    runId = JSON.parse(r.stdout).runId
    expect(fs.statSync(importedFile()).ino).toBe(fs.statSync(cube).ino)
  })

  it("resume removes temporary files of killed puts (older than its lock), keeps a live one, and refuses a damaged copy in one line", async () => {
    const old = new Date(Date.now() - 3600_000)
    const stale = [path.join(cubesDir, ".grs-0123456789abcdef.fits.0123456789abcdef.tmp"), path.join(work, "blobs", "chunks", runId, ".chunk-0.f32.fedcba9876543210.tmp")]
    for (const f of stale) {
      fs.mkdirSync(path.dirname(f), { recursive: true })
      fs.writeFileSync(f, "partial")
      fs.utimesSync(f, old, old)
    }
    // Stands in for a put in progress: written after the lock was taken.
    const live = path.join(cubesDir, ".grs-live.fits.00000000000000aa.tmp")
    fs.writeFileSync(live, "in progress")
    const future = new Date(Date.now() + 3600_000)
    fs.utimesSync(live, future, future)
    // Damage the imported copy (a copy now, so the user's file stays intact).
    const imported = importedFile()
    const bytes = fs.readFileSync(imported)
    bytes[bytes.length - 8] ^= 0xff
    fs.rmSync(imported)
    fs.writeFileSync(imported, bytes)

    const r = await phs(["resume", runId, "--workdir", work])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr.trim().split("\n")).toEqual([
      `phs: the run's cube cubes/${path.basename(imported)} is damaged (its SHA-256 no longer matches its name); run phs pipeline again with the original file (same --survey) to import it again`
    ])
    for (const f of stale) expect(fs.existsSync(f), f).toBe(false)
    expect(fs.existsSync(live)).toBe(true)
  })

  it("phs pipeline with the original file replaces the damaged copy and returns the run", async () => {
    const r = await phs(["pipeline", cube, "--workdir", work, "--survey", "grs", "--chunk-size", "2", "--json"])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ runId, status: "COMPLETED" })
    expect(fs.readFileSync(importedFile())).toEqual(fs.readFileSync(cube))
    expect(fs.statSync(importedFile()).ino).toBe(fs.statSync(cube).ino)
  })
})
