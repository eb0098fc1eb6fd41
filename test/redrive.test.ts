/**
 * Stuck and dead work is visible and recoverable: a chunk whose reads keep failing goes to
 * the dead letters after its deliveries, the run ends FAILED with the reason, `phs status`
 * shows the dead letter, and `phs redrive` + `phs resume` finish the run.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { expect, it } from "vitest"
import { cubeFits } from "./support/cubes.js"
import { phs, tempDir } from "./support/cli.js"

/** A 100-spectrum run whose chunk at `failAt` keeps failing its reads: ends FAILED (exit 1 checked). */
const failedRun = async (o: { cubeSeed: number; faultSeed: number; survey: string; failAt: string }) => {
  const dir = tempDir()
  const cube = path.join(dir, "c.fits")
  fs.writeFileSync(cube, cubeFits({ nx: 10, ny: 10, nchan: 64, seed: o.cubeSeed }))
  const workdir = path.join(dir, "w")
  const plan = { seed: o.faultSeed, rules: [{ service: "BlobStore", op: "get", match: `chunk-${o.failAt}.f32`, kind: "transient" }] }
  const failed = await phs(["pipeline", cube, "--survey", o.survey, "--chunk-size", "25", "--workdir", workdir], { env: { PHS_FAULTS: JSON.stringify(plan) } })
  expect(failed.code).toBe(1)
  const runId = (JSON.parse((await phs(["runs", "--json", "--workdir", workdir])).stdout) as Array<{ runId: string }>)[0].runId
  return { workdir, runId }
}

it("a dead-lettered chunk fails the run with its reason; redrive and resume complete it", async () => {
  const dir = tempDir()
  const cube = path.join(dir, "c.fits")
  fs.writeFileSync(cube, cubeFits({ nx: 10, ny: 10, nchan: 64, seed: 5 }))
  const workdir = path.join(dir, "w")
  const args = ["pipeline", cube, "--survey", "dead", "--chunk-size", "25", "--workdir", workdir]
  const plan = { seed: 3, rules: [{ service: "BlobStore", op: "get", match: "chunk-0000050.f32", kind: "transient" }] }

  const failed = (await phs(args, { env: { PHS_FAULTS: JSON.stringify(plan) } }))
  expect(failed.code).toBe(1)
  expect(failed.stderr).toMatch(/failed: 1 chunk\(s\) failed; first at spectrum 50: .*injected transient fault/)

  const runId = (JSON.parse((await phs(["runs", "--json", "--workdir", workdir])).stdout) as Array<{ runId: string }>)[0].runId
  const status = JSON.parse((await phs(["status", runId, "--json", "--workdir", workdir])).stdout)
  expect(status.run.status).toBe("FAILED")
  expect(status.run.jobsCompleted).toBe(3)
  expect(status.chunks.find((c: { start: number }) => c.start === 50)).toMatchObject({ status: "FAILED", attempts: 3 })
  expect(status.deadLetters.length).toBe(1)
  expect(status.deadLetters[0].reason).toMatch(/injected transient fault/)
  expect((await phs(["status", runId, "--workdir", workdir])).stdout).toMatch(/dead letters \(1\)/)

  const redriven = (await phs(["redrive", runId, "--json", "--workdir", workdir]))
  expect(redriven.code).toBe(0)
  expect(JSON.parse(redriven.stdout)).toEqual({ runId, redriven: 1, reopenedChunks: 1 })

  const resumed = (await phs(["resume", runId, "--json", "--workdir", workdir]))
  expect(resumed.code).toBe(0)
  const done = JSON.parse(resumed.stdout)
  expect(done).toMatchObject({ status: "COMPLETED", jobsCompleted: 4, jobsFailed: 0, spectraDone: 100 })
  const after = JSON.parse((await phs(["status", runId, "--json", "--workdir", workdir])).stdout)
  expect(after.deadLetters).toEqual([])
})

it("phs resume alone reopens a FAILED run's chunks and dead letters and completes it", async () => {
  const { workdir, runId } = await failedRun({ cubeSeed: 6, faultSeed: 4, survey: "again", failAt: "0000025" })
  expect(JSON.parse((await phs(["status", runId, "--json", "--workdir", workdir])).stdout).run.status).toBe("FAILED")

  const resumed = await phs(["resume", runId, "--json", "--workdir", workdir])
  expect(resumed.code).toBe(0)
  expect(JSON.parse(resumed.stdout)).toMatchObject({ status: "COMPLETED", jobsCompleted: 4, jobsFailed: 0, spectraDone: 100 })
  const after = JSON.parse((await phs(["status", runId, "--json", "--workdir", workdir])).stdout)
  expect(after.deadLetters).toEqual([])
  expect(after.chunks.every((c: { status: string }) => c.status === "COMPLETED")).toBe(true)
})

it("phs redrive says what it did: failed chunks reopened without a dead letter, and nothing when there is nothing", async () => {
  const { workdir, runId } = await failedRun({ cubeSeed: 7, faultSeed: 5, survey: "said", failAt: "0000025" })
  // The failed chunk's dead letter is gone (purged by hand): the chunk is still to reopen.
  const db = new Database(path.join(workdir, "phs.sqlite"))
  expect(db.prepare("DELETE FROM dead_letters").run().changes).toBe(1)
  db.close()
  const reopened = await phs(["redrive", runId, "--workdir", workdir])
  expect(reopened.code, reopened.stderr).toBe(0)
  expect(reopened.stdout).toBe(`run ${runId}: no dead letters, 1 chunk(s) reopened; continue with phs resume ${runId} --workdir ${workdir}\n`)
  const again = await phs(["redrive", runId, "--workdir", workdir])
  expect(again.stdout).toBe(`run ${runId}: no dead letters and no failed chunks: nothing to redrive\n`)
  const resumed = await phs(["resume", runId, "--json", "--workdir", workdir])
  expect(resumed.code).toBe(0)
  expect(JSON.parse(resumed.stdout)).toMatchObject({ status: "COMPLETED", jobsFailed: 0, spectraDone: 100 })
})
