/**
 * Ctrl-C and SIGTERM during `phs pipeline`: the command stops cleanly, gives its in-flight
 * work back (no chunk left IN_PROGRESS, no message hidden), says in one line where the run
 * is and how to go on, exits 130 / 143; `phs resume` then finishes with one row per
 * spectrum. And the workdir's driver lease: a second driver is refused while the first runs,
 * and `phs status` tells a driven run from one nothing drives.
 */
import Database from "better-sqlite3"
import { execFileSync } from "node:child_process"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import * as ResultParquet from "../packages/core/src/ResultParquet.js"
import { cubeFits } from "./support/cubes.js"
import { phs, phsAsync, tempDir } from "./support/cli.js"

const NX = 30
const NY = 20
let cube = ""

beforeAll(() => {
  cube = path.join(tempDir(), "field.fits")
  fs.writeFileSync(cube, cubeFits({ nx: NX, ny: NY, nchan: 96, seed: 5 }))
})

/** Every chunk's completion waits a little: the run lasts long enough to be interrupted mid-way. */
const SLOW = JSON.stringify({ seed: 1, rules: [{ service: "RunTable", op: "completeChunk", kind: "timeout", delayMs: 1000 }] })

const args = (workdir: string) => ["pipeline", cube, "--survey", "sig", "--chunk-size", "20", "--concurrency", "2", "--workdir", workdir]

/** Reads the workdir's state directly (read-only), as another process would. */
const state = (workdir: string) => {
  const db = new Database(path.join(workdir, "phs.sqlite"), { readonly: true, fileMustExist: true })
  try {
    return {
      runs: db.prepare("SELECT run_id AS runId, spectra_done AS done, status FROM runs").all() as Array<{ runId: string; done: number; status: string }>,
      inProgress: (db.prepare("SELECT count(*) AS n FROM chunks WHERE status = 'IN_PROGRESS'").get() as { n: number }).n,
      hidden: (db.prepare("SELECT count(*) AS n FROM queue_messages WHERE receipt IS NOT NULL").get() as { n: number }).n
    }
  } finally {
    db.close()
  }
}

const until = async (what: string, f: () => boolean, ms = 120_000) => {
  const end = Date.now() + ms
  for (;;) {
    try {
      if (f()) return
    } catch {
      // not there yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const rowsOf = async (workdir: string) => {
  const dir = path.join(workdir, "blobs", "decompositions", "survey=sig")
  const rows = []
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".parquet")))
    rows.push(...(await Effect.runPromise(ResultParquet.decodeRows(new Uint8Array(fs.readFileSync(path.join(dir, f)))))))
  return rows
}

describe("interrupting phs pipeline", () => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${signal} mid-run: one line saying how to go on, exit ${code}, nothing left in progress; resume finishes`, async () => {
      const workdir = path.join(tempDir(), "w")
      const cli = phsAsync(args(workdir), { env: { PHS_FAULTS: SLOW } })
      await until("some spectra done", () => state(workdir).runs.some((r) => r.done > 0))
      // Something drives it: status says so.
      const runId = state(workdir).runs[0].runId
      const driven = await phs(["status", runId, "--workdir", workdir])
      expect(driven.stdout).toMatch(new RegExp(`driven by phs pid ${cli.child.pid}`))
      cli.child.kill(signal)
      const r = await cli.done
      expect(r.code).toBe(code)
      const lines = r.stderr.split("\n").filter((l) => l.startsWith("interrupted:"))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(new RegExp(`^interrupted: run ${runId} at [0-9,]+/600; continue with phs resume ${runId} --workdir ${workdir}$`))
      expect(r.stderr).not.toMatch(/Error|at .*\.js:\d+/)
      const after = state(workdir)
      expect(after.inProgress).toBe(0)
      expect(after.hidden).toBe(0)
      expect(after.runs[0].done).toBeLessThan(NX * NY)
      // Nothing drives it now.
      const idle = await phs(["status", runId, "--workdir", workdir])
      expect(idle.stdout).toContain(`not driven: nothing is working on it; continue with phs resume ${runId} --workdir ${workdir}`)

      const resumed = await phs(["resume", runId, "--workdir", workdir])
      expect(resumed.code).toBe(0)
      expect(resumed.stdout).toContain(`run ${runId}: COMPLETED`)
      const rows = await rowsOf(workdir)
      expect(rows.length).toBe(NX * NY)
      expect(new Set(rows.map((row) => row.y * NX + row.x)).size).toBe(NX * NY)
    })
  }

  it("a second driver on the same workdir is refused while the first runs; re-running a finished run says so", async () => {
    const workdir = path.join(tempDir(), "w")
    const first = phsAsync(args(workdir), { env: { PHS_FAULTS: SLOW } })
    await until("the first driver working", () => state(workdir).runs.some((r) => r.done > 0))
    const second = await phs(args(workdir))
    expect(second.code).toBe(2)
    expect(second.stderr.trim()).toMatch(new RegExp(`^phs: another phs process \\(pid ${first.child.pid}\\) is driving run \\S+ in ${workdir}; wait for it or stop it$`))
    const done = await first.done
    expect(done.code).toBe(0)
    const again = await phs(args(workdir))
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/^run \S+: already completed\n {2}600 of 600 spectra/)
  })

  it("a new cube while another run is unfinished: the new run is driven, and one line says how to resume the other", async () => {
    const workdir = path.join(tempDir(), "w")
    const first = phsAsync(args(workdir), { env: { PHS_FAULTS: SLOW } })
    await until("the first run under way", () => state(workdir).runs.some((r) => r.done > 0))
    first.child.kill("SIGINT")
    expect((await first.done).code).toBe(130)
    const old = state(workdir).runs[0]
    const other = path.join(tempDir(), "other.fits")
    fs.writeFileSync(other, cubeFits({ nx: 10, ny: 10, nchan: 96, seed: 9 }))
    const second = await phs(["pipeline", other, "--survey", "new", "--chunk-size", "25", "--workdir", workdir])
    expect(second.code).toBe(0)
    expect(second.stderr.split("\n").filter((l) => l.startsWith("phs:"))).toEqual([
      `phs: run ${old.runId} is unfinished too (running, ${old.done.toLocaleString("en-US")}/600 spectra); continue it with phs resume ${old.runId} --workdir ${workdir}`
    ])
    expect(second.stdout).toMatch(/^run new-\S+: COMPLETED\n {2}100 of 100 spectra; 100 in /)
    // The old run was left as it was, with nothing of it in flight.
    const after = state(workdir)
    expect(after.runs.find((r) => r.runId === old.runId)).toEqual(old)
    expect(after.hidden).toBe(0)
    expect(after.inProgress).toBe(0)
  })
})

describe("interrupting phs sweep and phs tune", () => {
  const sweepArgs = (workdir: string, plot: string) => ["sweep", cube, "--survey", "sig", "--param", "beta=3,4", "--chunk-size", "20", "--concurrency", "2", "--workdir", workdir, "--plot", plot]
  const tuneArgs = (workdir: string, plot: string) => {
    const dir = path.dirname(workdir)
    const synth = path.join(dir, "s.fits")
    const truth = path.join(dir, "s.truth.json")
    if (!fs.existsSync(synth)) execFileSync(process.execPath, [path.resolve("bench/synth.mjs"), "--seed", "5", "--n", "4", "--out", synth, "--truth", truth], { stdio: "ignore" })
    return ["tune", synth, "--truth", truth, "--survey", "sig", "--param", "beta=3,4", "--chunk-size", "2", "--concurrency", "1", "--workdir", workdir, "--plot", plot]
  }
  for (const [command, argsOf, signal, code] of [["sweep", sweepArgs, "SIGINT", 130], ["tune", tuneArgs, "SIGTERM", 143]] as const) {
    it(`${command}, ${signal} mid-point: pipeline's one line, naming the point and how to go on, exit ${code}; the same ${command} again finishes`, async () => {
      const dir = tempDir()
      const workdir = path.join(dir, "w")
      const plot = path.join(dir, "p.svg")
      const cli = phsAsync(argsOf(workdir, plot), { env: { PHS_FAULTS: SLOW } })
      await until("some spectra done", () => state(workdir).runs.some((r) => r.done > 0))
      const runId = state(workdir).runs[0].runId
      cli.child.kill(signal)
      const r = await cli.done
      expect(r.code).toBe(code)
      const lines = r.stderr.split("\n").filter((l) => l.startsWith("interrupted:"))
      expect(lines).toEqual([
        expect.stringMatching(
          new RegExp(`^interrupted: point 1/2 beta=3, run ${runId} at [0-9,]+/[0-9,]+; the same phs ${command} again carries on \\(phs resume ${runId} --workdir ${workdir} this point\\)$`)
        )
      ])
      expect(r.stderr).not.toMatch(/Error|at .*\.js:\d+/)
      expect(state(workdir).inProgress).toBe(0)
      const again = await phs(argsOf(workdir, plot))
      expect(again.code, again.stderr).toBe(0)
      expect(fs.existsSync(plot)).toBe(true)
    }, 180_000)
  }
})
