/**
 * Durability as a user meets it: `phs pipeline` is killed with SIGKILL at many points —
 * during split, mid-fit, during a Parquet write, between the write and the run-table
 * transaction, during catalog — and `phs resume` must finish the run with exactly one row
 * per spectrum, none missing, none twice, and counters equal to the rows.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import * as ResultParquet from "../packages/core/src/ResultParquet.js"
import { cubeFits, prng } from "./support/cubes.js"
import { phs, phsAsync, tempDir } from "./support/cli.js"

const NX = 60
const NY = 50
const CHUNK = "100"
let cubeDir = ""
let cube = ""

beforeAll(async () => {
  cubeDir = tempDir()
  cube = path.join(cubeDir, "field.fits")
  fs.writeFileSync(cube, cubeFits({ nx: NX, ny: NY, nchan: 128, seed: 11 }))
})

const pipelineArgs = (workdir: string) => ["pipeline", cube, "--survey", "kill", "--chunk-size", CHUNK, "--workdir", workdir]

/** Every row of the published table, read back from the Parquet parts. */
const tableRows = async (workdir: string) => {
  const dir = path.join(workdir, "blobs", "decompositions", "survey=kill")
  const rows = []
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".parquet"))) {
    rows.push(...(await Effect.runPromise(ResultParquet.decodeRows(new Uint8Array(fs.readFileSync(path.join(dir, f)))))))
  }
  return rows
}

/** After a kill: resume (or start again when the run was not yet registered) and check everything. */
const resumeAndCheck = async (workdir: string) => {
  const listed = (await phs(["runs", "--json", "--workdir", workdir]))
  expect(listed.code).toBe(0)
  const runs = JSON.parse(listed.stdout) as Array<{ runId: string }>
  const again = runs.length === 0 ? (await phs(pipelineArgs(workdir))) : (await phs(["resume", runs[0].runId, "--workdir", workdir]))
  expect(again.stderr.split("\n").filter((l) => l.startsWith("phs:"))).toEqual([])
  expect(again.code).toBe(0)
  const runId = (JSON.parse((await phs(["runs", "--json", "--workdir", workdir])).stdout) as Array<{ runId: string }>)[0].runId
  const status = JSON.parse((await phs(["status", runId, "--json", "--workdir", workdir])).stdout)
  expect(status.run.status).toBe("COMPLETED")
  expect(status.run.jobsCompleted).toBe(30)
  expect(status.run.jobsFailed).toBe(0)
  expect(status.run.spectraDone).toBe(NX * NY)
  expect(status.run.slowPending).toBe(0)
  expect(status.chunks.filter((c: { status: string }) => c.status !== "COMPLETED")).toEqual([])
  expect(status.deadLetters).toEqual([])
  const rows = await tableRows(workdir)
  expect(rows.length).toBe(NX * NY)
  expect(new Set(rows.map((r) => r.y * NX + r.x)).size).toBe(NX * NY)
  expect(rows.every((r) => r.n_components >= 0)).toBe(true)
}

const crashPoints: ReadonlyArray<{ name: string; rule: Record<string, unknown> }> = [
  { name: "during split, after a payload write", rule: { service: "BlobStore", op: "put", match: ".f32", kind: "crash-after", nth: 20 } },
  { name: "mid-fit, during a Parquet write", rule: { service: "BlobStore", op: "put", match: ".parquet", kind: "crash-before", nth: 7 } },
  { name: "between a Parquet write and its transaction", rule: { service: "RunTable", op: "completeChunk", kind: "crash-before", nth: 5 } },
  { name: "after the transaction, before the journal hears of it", rule: { service: "RunTable", op: "completeChunk", kind: "crash-after", nth: 12 } },
  { name: "after a journal record", rule: { service: "Journal", op: "record", kind: "crash-after", nth: 25 } },
  { name: "during catalog compaction", rule: { service: "BlobStore", op: "putStream", match: "decompositions/", kind: "crash-after", nth: 1 } },
  { name: "during catalog, before _validation.json", rule: { service: "BlobStore", op: "put", match: "_validation", kind: "crash-before", nth: 1 } }
]

describe("phs pipeline survives SIGKILL", () => {
  for (const point of crashPoints) {
    it(`killed ${point.name}, then resumed`, async () => {
      const workdir = path.join(tempDir(), "w")
      const killed = (await phs(pipelineArgs(workdir), { env: { PHS_FAULTS: JSON.stringify({ seed: 1, rules: [point.rule] }) } }))
      expect(killed.signal).toBe("SIGKILL")
      expect(killed.stderr).toMatch(/injected crash/)
      await resumeAndCheck(workdir)
    })
  }

  it("killed at random moments, twice, then resumed", async () => {
    const seed = Number(process.env.PHS_KILL_SEED ?? Date.now() % 100_000)
    const random = prng(seed)
    const workdir = path.join(tempDir(), "w")
    for (let i = 0; i < 2; i++) {
      const run = phsAsync(pipelineArgs(workdir))
      const delay = 700 + random() * 1500
      const timer = setTimeout(() => run.child.kill("SIGKILL"), delay)
      const r = await run.done
      clearTimeout(timer)
      expect(r.signal === "SIGKILL" || r.code === 0, `PHS_KILL_SEED=${seed}: ${r.stderr}`).toBe(true)
    }
    await resumeAndCheck(workdir)
  })
})

describe("lost intermediates are re-derived on resume", () => {
  it("killed mid-fit, then a chunk payload and a fitted chunk's result deleted: resume re-splits and refits them", async () => {
    const workdir = path.join(tempDir(), "w")
    const rule = { service: "BlobStore", op: "put", match: ".parquet", kind: "crash-before", nth: 7 }
    const killed = await phs(pipelineArgs(workdir), { env: { PHS_FAULTS: JSON.stringify({ seed: 1, rules: [rule] }) } })
    expect(killed.signal).toBe("SIGKILL")
    const chunksDir = path.join(workdir, "blobs", "chunks")
    const [runDir] = fs.readdirSync(chunksDir)
    const files = fs.readdirSync(path.join(chunksDir, runDir))
    const fitted = files.filter((f) => f.endsWith(".parquet")).sort()
    const unfitted = files.filter((f) => f.endsWith(".f32") && !fitted.includes(f.replace(".f32", ".parquet"))).sort()
    expect(fitted.length).toBeGreaterThan(0)
    expect(unfitted.length).toBeGreaterThan(0)
    fs.rmSync(path.join(chunksDir, runDir, fitted[0]))
    fs.rmSync(path.join(chunksDir, runDir, unfitted[unfitted.length - 1]))
    await resumeAndCheck(workdir)
    expect(fs.existsSync(path.join(chunksDir, runDir, fitted[0]))).toBe(true)
  })
})
