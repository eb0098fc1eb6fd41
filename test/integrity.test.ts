/**
 * Damage to published results is found and repaired (issue 16): catalog records each part's
 * size, SHA-256 and rows in `_validation.json`; `phs verify` names a deleted or overwritten
 * part (exit 1), `phs status` and `phs replay` see it too, and `phs resume` rebuilds the part
 * from the chunk results, byte for byte, or says what must be recomputed when they are gone.
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { cubeFits } from "./support/cubes.js"
import { phs, tempDir } from "./support/cli.js"

let dir: string
let workdir: string
let runId: string
let part: string
let original: Buffer
let db: DuckDBInstance

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

/** The figure the issue saw turn into −1.41e308: the sum of every amplitude. */
const amplitudeSum = async (file: string): Promise<number> => {
  const connection = await db.connect()
  try {
    const rows = (await connection.runAndReadAll(`SELECT sum(list_sum(component_amplitudes)) AS s FROM read_parquet('${file}')`)).getRowObjectsJS()
    return Number(rows[0].s)
  } finally {
    connection.closeSync()
  }
}

beforeAll(async () => {
  db = await DuckDBInstance.create(":memory:")
  dir = tempDir("phs-integrity-")
  const cube = path.join(dir, "c.fits")
  fs.writeFileSync(cube, cubeFits({ nx: 40, ny: 30, nchan: 96, seed: 11 }))
  workdir = path.join(dir, "w")
  const run = await phs(["pipeline", cube, "--survey", "integ", "--chunk-size", "300", "--workdir", workdir, "--json"])
  expect(run.code).toBe(0)
  runId = JSON.parse(run.stdout).runId
  part = path.join(workdir, "blobs", "decompositions", "survey=integ", `${runId}-0000.parquet`)
  original = fs.readFileSync(part)
}, 300_000)

afterAll(() => {
  db.closeSync()
  fs.rmSync(dir, { recursive: true, force: true })
})

const restore = () => fs.writeFileSync(part, original)

it("_validation.json records every part's size, SHA-256 and rows, and verify passes", { timeout: 180_000 }, async () => {
  const record = JSON.parse(fs.readFileSync(path.join(workdir, "blobs", "runs", runId, "_validation.json"), "utf8"))
  expect(record.parts).toEqual([{ key: `decompositions/survey=integ/${runId}-0000.parquet`, bytes: original.length, sha256: sha256(original), rows: 1200 }])
  const ok = await phs(["verify", runId, "--workdir", workdir])
  expect(ok.code).toBe(0)
  expect(ok.stdout).toMatch(/1 part\(s\) intact \(1,200 rows/)
  expect((await phs(["verify", "--survey", "integ", "--workdir", workdir])).code).toBe(0)
})

it("a deleted part: verify exits 1 naming it, status and replay see it; resume rebuilds it byte for byte", async () => {
  const sum = await amplitudeSum(part)
  fs.rmSync(part)
  const verify = await phs(["verify", runId, "--workdir", workdir])
  expect(verify.code).toBe(1)
  expect(verify.stdout).toContain(`${runId}-0000.parquet: missing`)
  expect(verify.stderr).toMatch(new RegExp(`${runId}-0000\\.parquet missing`))
  const status = await phs(["status", runId, "--workdir", workdir])
  expect(status.stdout).toMatch(/parts {3}DAMAGED/)
  const replay = await phs(["replay", runId, "--workdir", workdir])
  expect(replay.code).toBe(1)
  expect(replay.stdout + replay.stderr).toContain(`${runId}-0000.parquet`)

  const resume = await phs(["resume", runId, "--workdir", workdir])
  expect(resume.code).toBe(0)
  expect(resume.stdout).toMatch(/rebuilt 1 part\(s\) from the chunk results/)
  expect((await phs(["verify", runId, "--workdir", workdir])).code).toBe(0)
  expect(sha256(fs.readFileSync(part))).toBe(sha256(original))
  expect(await amplitudeSum(part)).toBe(sum)
}, 180_000)

it("5 KB overwritten inside a part is detected, and resume repairs it", async () => {
  const sum = await amplitudeSum(part)
  const damaged = Buffer.from(original)
  expect(damaged.length).toBeGreaterThan(12_000)
  damaged.fill(0x7f, 4_000, 4_000 + 5_120)
  fs.writeFileSync(part, damaged)
  const verify = await phs(["verify", "--survey", "integ", "--workdir", workdir, "--json"])
  expect(verify.code).toBe(1)
  const check = JSON.parse(verify.stdout)
  expect(check.runs[0].damaged).toEqual([{ key: `decompositions/survey=integ/${runId}-0000.parquet`, reason: "content changed (SHA-256 differs from the record)" }])
  const replay = await phs(["replay", runId, "--workdir", workdir])
  expect(replay.code).toBe(1)
  expect(replay.stderr).toMatch(/journal replays, but its published parts are damaged: .*-0000\.parquet content changed/)
  // a query still answers (exit 0), with one line naming the damaged part
  const q = await phs(["query", "SELECT count(*) AS n FROM decompositions", "--format", "csv", "--workdir", workdir])
  expect(q.code).toBe(0)
  expect(q.stdout).toMatch(/^n\r?\n\d+/)
  expect(q.stderr.trim().split("\n")).toEqual([
    `phs: warning: decompositions/survey=integ/${runId}-0000.parquet: content changed (SHA-256 differs from the record); rows from it may be wrong (phs verify ${runId} checks, phs resume ${runId} rebuilds it)`
  ])
  expect((await phs(["resume", runId, "--workdir", workdir])).code).toBe(0)
  expect((await phs(["verify", runId, "--workdir", workdir])).code).toBe(0)
  expect((await phs(["query", "SELECT 1 AS one FROM decompositions LIMIT 1", "--workdir", workdir])).stderr).toBe("")
  expect(await amplitudeSum(part)).toBe(sum)
}, 180_000)

it("a file no run published in the partition is named by verify --survey", async () => {
  const stray = path.join(path.dirname(part), "copy.parquet")
  fs.copyFileSync(part, stray)
  const verify = await phs(["verify", "--survey", "integ", "--workdir", workdir])
  expect(verify.code).toBe(1)
  expect(verify.stdout).toContain("decompositions/survey=integ/copy.parquet: not a part of any completed run")
  fs.rmSync(stray)
  expect((await phs(["verify", "--survey", "integ", "--workdir", workdir])).code).toBe(0)
}, 180_000)

it("with the chunk results gone, resume says what must be recomputed", async () => {
  fs.rmSync(part)
  const chunk = path.join(workdir, "blobs", "chunks", runId, "chunk-0000300.parquet")
  const saved = fs.readFileSync(chunk)
  fs.rmSync(chunk)
  const resume = await phs(["resume", runId, "--workdir", workdir])
  expect(resume.code).toBe(1)
  expect(resume.stderr).toMatch(new RegExp(`chunks/${runId}/chunk-0000300\\.parquet chunk result gone; recompute the run`))
  fs.writeFileSync(chunk, saved)
  restore()
  expect((await phs(["verify", runId, "--workdir", workdir])).code).toBe(0)
}, 180_000)

it("verify without a run or survey is a usage error", { timeout: 180_000 }, async () => {
  const r = await phs(["verify", "--workdir", workdir])
  expect(r.code).toBe(2)
  expect(r.stderr).toMatch(/a run id or --survey/)
})
