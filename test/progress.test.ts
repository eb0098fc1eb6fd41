/**
 * The progress display as a person sees it: through a pseudo-terminal of 80 and 120
 * columns every redraw fits on one line (the bar goes first, then the least useful
 * fields); through a pipe the last line carries the true mean rate. A set of cubes
 * (`phs pipeline a.fits b.fits … --survey S`) has one display: one line for the set and the
 * cube driven now, with each cube's outcome scrolling above it; `--json` prints one document.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Option } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import type { RunTable } from "../packages/core/src/index.js"
import { makeDisplay, makeSetDisplay, renderLine, renderSetLine } from "../packages/cli/src/Progress.js"
import { cubeFits } from "./support/cubes.js"
import { PHS, phs, tempDir } from "./support/cli.js"

let cube = ""

beforeAll(() => {
  cube = path.join(tempDir(), "field.fits")
  fs.writeFileSync(cube, cubeFits({ nx: 30, ny: 20, nchan: 96, seed: 7 }))
})

const SLOW = JSON.stringify({ seed: 1, rules: [{ service: "RunTable", op: "completeChunk", kind: "timeout", delayMs: 300 }] })

/** Runs a shell command line in a pseudo-terminal of `cols` columns; what the terminal received. */
const inTerminal = (
  cols: number,
  commandLine: string,
  env: Record<string, string>,
  /** Typed at the terminal once the output matches. */
  type?: { readonly after: RegExp; readonly keys: string }
): Promise<{ code: number | null; output: string }> =>
  new Promise((resolve) => {
    const child = spawn("script", ["-q", "-e", "-c", `stty cols ${cols} rows 40; ${commandLine}`, "/dev/null"], {
      env: { ...process.env, ...env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let output = ""
    let typed = false
    child.stdout.on("data", (d) => {
      output += d
      if (type !== undefined && !typed && type.after.test(output)) {
        typed = true
        child.stdin.write(type.keys)
      }
    })
    child.on("close", (code) => resolve({ code, output }))
  })

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

const run = (over: Partial<RunTable.RunRecord>): RunTable.RunRecord => ({
  runId: "grs-0123456789abcdef",
  survey: "grs",
  cubeKey: "cubes/grs-0123456789abcdef.fits",
  createdAt: 0,
  updatedAt: 0,
  params: {},
  codeVersion: "phs-0.1.0+fit-0.1.0",
  nx: 1000,
  ny: 2300,
  nChannels: 424,
  chunkSize: 500,
  nSpectra: 2_300_000,
  jobsTotal: 4600,
  jobsCompleted: 1000,
  jobsFailed: 12,
  spectraDone: 1_234_567,
  spectraDeferred: 20_000,
  slowPending: 3_000,
  status: "RUNNING",
  reason: null,
  ...over
})

describe("the progress line", () => {
  it("fits the width it is given, keeping the count to the last", () => {
    const r = run({})
    const full = renderLine(r, 3712.4, { width: 200, bar: true })
    expect(full).toMatch(/^\[█+░+\] 1,234,567\/2,300,000 spectra {2}53\.7% {2}3712\/s {2}ETA 4:47 {2}failed 12 {2}slow 3000\/20000 {2}running$/)
    for (const width of [20, 40, 60, 80, 100, 120, 160]) {
      const text = renderLine(r, 3712.4, { width, bar: true })
      expect(text.length).toBeLessThan(width)
      expect(text).toContain("1,234,567/2,300,000")
    }
    // The bar goes first, then the slow counts, then the failed count, then the status.
    expect(renderLine(r, 3712.4, { width: 100, bar: true })).toBe("1,234,567/2,300,000 spectra  53.7%  3712/s  ETA 4:47  failed 12  slow 3000/20000  running")
    expect(renderLine(r, 3712.4, { width: 80, bar: true })).toBe("1,234,567/2,300,000 spectra  53.7%  3712/s  ETA 4:47  failed 12  running")
    expect(renderLine(r, 3712.4, { width: 70, bar: true })).toBe("1,234,567/2,300,000 spectra  53.7%  3712/s  ETA 4:47  running")
    expect(renderLine(r, 3712.4, { width: 50, bar: true })).toBe("1,234,567/2,300,000 spectra  53.7%  ETA 4:47")
  })

  it("the last line keeps the fan-out stages last drawn (a refit's passes)", () => {
    const lines: string[] = []
    const display = makeDisplay({ tty: false, quiet: false, width: () => 200, write: (t) => void lines.push(t) })
    const stages = { refit: 4600, "refit-2": 1200 }
    display.draw(run({}), 1_000, stages)
    display.end(Option.some(run({ spectraDone: 2_300_000 })), 2_000)
    expect(lines).toHaveLength(2)
    for (const line of lines) expect(line).toMatch(/ {2}refit 4600\/4600 {2}refit-2 1200\/4600/)
  })

  for (const cols of [80, 120]) {
    it(`in a terminal of ${cols} columns every redraw fits`, async () => {
      const workdir = path.join(tempDir(), "w")
      const line = [process.execPath, PHS, "pipeline", cube, "--survey", "tty", "--chunk-size", "25", "--workdir", workdir].map(quote).join(" ")
      const r = await inTerminal(cols, line, { PHS_FAULTS: SLOW, NO_COLOR: "1" })
      expect(r.code).toBe(0)
      // Each redraw starts with a carriage return; lines end with \r\n in a terminal.
      const draws = r.output.split(/\r\n|\r|\n/).filter((d) => /[\d,]+\/[\d,]+ spectra/.test(d))
      expect(draws.length).toBeGreaterThan(3)
      for (const d of draws) expect(d.trimEnd().length, d).toBeLessThan(cols)
      expect(draws.some((d) => d.startsWith("["))).toBe(true)
      expect(r.output).toMatch(/600\/600 spectra/)
    })
  }

  it("Ctrl-C in a terminal: the progress line ends, then one line says how to go on; exit 130", async () => {
    const workdir = path.join(tempDir(), "w")
    const line = [process.execPath, PHS, "pipeline", cube, "--survey", "ctrlc", "--chunk-size", "25", "--workdir", workdir].map(quote).join(" ")
    const r = await inTerminal(80, line, { PHS_FAULTS: SLOW }, { after: /[1-9][\d,]*\/600 spectra/, keys: "\u0003" })
    expect(r.code).toBe(130)
    const lines = r.output.split(/\r?\n/)
    const i = lines.findIndex((l) => l.startsWith("interrupted: run ctrlc-"))
    expect(i, r.output).toBeGreaterThan(0)
    expect(lines[i]).toMatch(/^interrupted: run (ctrlc-\S+) at [\d,]+\/600; continue with phs resume \1 --workdir \S+$/)
    expect(lines.slice(i + 1).join("").trim()).toBe("")
  })

  it("through a pipe the last line shows the mean rate of the run, not 0/s", async () => {
    const workdir = path.join(tempDir(), "w")
    const r = await phs(["pipeline", cube, "--survey", "pipe", "--chunk-size", "25", "--workdir", workdir], { env: { PHS_FAULTS: SLOW } })
    expect(r.code).toBe(0)
    const lines = r.stderr.split("\n").filter((l) => /[\d,]+\/[\d,]+ spectra/.test(l))
    const last = lines[lines.length - 1]
    expect(last).toMatch(/ 600\/600 spectra {2}100\.0% {2}\d+(\.\d)?\/s /)
    const rate = Number(last.match(/ ([\d.]+)\/s /)?.[1])
    expect(rate).toBeGreaterThan(0)
    // The summary's rate is of the same work.
    const summary = Number(r.stdout.match(/in [\d.]+ s here \(([\d.]+)\/s\)/)?.[1])
    expect(summary).toBeGreaterThan(0)
  })
})

/** What a terminal shows at the end: each line as the carriage returns and overwrites left it. */
const screen = (output: string): string[] =>
  output.split("\r\n").map((l) => {
    let cells: string[] = []
    for (const part of l.split("\r")) {
      const chars = [...part]
      cells = [...chars, ...cells.slice(chars.length)]
    }
    return cells.join("").trimEnd()
  })

describe("the progress of a set of cubes", () => {
  const cubeRun = (over: Partial<RunTable.RunRecord>) => run({ nSpectra: 600, spectraDone: 150, jobsTotal: 24, jobsFailed: 0, spectraDeferred: 0, slowPending: 0, ...over })
  const position = { index: 1, count: 4, name: "tile-1.fits", done: 1_350, total: 2_400, rate: 312 }

  it("shows the set's count, percentage and ETA, then the cube's own count; fits the width, the bar before the rate", () => {
    const r = cubeRun({})
    expect(renderSetLine(r, position, { width: 200, bar: false })).toBe(
      "1,350/2,400 spectra  cube 2/4  56.3%  ETA 0:03  tile-1.fits 150/600  312/s  running  failed 0  slow 0/0"
    )
    for (const width of [20, 40, 60, 80, 100, 120, 160]) {
      const text = renderSetLine(r, position, { width, bar: true })
      expect(text.length, text).toBeLessThan(width)
      expect(text).toContain("1,350/2,400")
    }
    // The bar (of the set: 56 %) is drawn when it fits with the set's count, ETA and the cube's own
    // count: the rate, status and counters give way to it; when it does not, it goes first.
    const at100 = renderSetLine(r, position, { width: 100, bar: true })
    expect(at100).toMatch(/^\[█+░+\] 1,350\/2,400 spectra {2}cube 2\/4 {2}56\.3% {2}ETA 0:03 {2}tile-1\.fits 150\/600 {2}312\/s {2}running$/)
    const bar = at100.slice(1, at100.indexOf("]"))
    expect(Math.abs(bar.split("█").length - 1 - 0.5625 * bar.length)).toBeLessThanOrEqual(0.5)
    expect(renderSetLine(r, position, { width: 80, bar: true })).toBe("1,350/2,400 spectra  cube 2/4  56.3%  ETA 0:03  tile-1.fits 150/600  312/s")
    expect(renderSetLine(r, position, { width: 50, bar: true })).toBe("1,350/2,400 spectra  cube 2/4  56.3%  ETA 0:03")
    // A long file name is shortened, its end kept.
    expect(renderSetLine(r, { ...position, name: "GRS_L23.5_B0.0_v2_final_cube.fits" }, { width: 200, bar: false })).toContain("GRS_L23.5_B…al_cube.fits 150/600")
  })

  it("one display over the cubes: earlier and finished cubes count in the total; notes go above the line, which is drawn again", () => {
    const out: string[] = []
    const set = makeSetDisplay({ tty: true, quiet: false, write: (t) => void out.push(t), width: () => 120 }, [
      { name: "a.fits", spectra: 100 },
      { name: "b.fits", spectra: 200 },
      { name: "c.fits", spectra: 300 }
    ])
    set.settled(1, cubeRun({ nSpectra: 200, spectraDone: 200, status: "COMPLETED" }))
    const a = set.cube(0)
    a.draw(cubeRun({ nSpectra: 100, spectraDone: 0 }), 0)
    a.draw(cubeRun({ nSpectra: 100, spectraDone: 50 }), 1_000)
    expect(out[out.length - 1]).toContain("250/600 spectra  cube 1/3  41.7%  ETA 0:07  a.fits 50/100  50/s")
    a.end(Option.some(cubeRun({ nSpectra: 100, spectraDone: 100, status: "COMPLETED" })), 2_000)
    const shown = out.length
    set.note("cube 1/3 a.fits: run r completed")
    // erased, the note on its own line, the set's line again
    expect(out.slice(shown).join("")).toMatch(/^\r +\rphs: cube 1\/3 a\.fits: run r completed\n\[█+░+\] 300\/600 spectra {2}cube 1\/3 /)
    const c = set.cube(2)
    c.draw(cubeRun({ nSpectra: 300, spectraDone: 0 }), 2_500)
    c.draw(cubeRun({ nSpectra: 300, spectraDone: 140 }), 4_000)
    expect(out[out.length - 1]).toContain("440/600 spectra  cube 3/3  73.3%")
    // the rate is of this process's work (240 spectra in 4 s): the settled cube is not in it
    expect(set.work()).toEqual({ spectra: 240, seconds: 4 })
    expect(out[out.length - 1]).toContain(" 60/s")
    c.end(Option.some(cubeRun({ nSpectra: 300, spectraDone: 300, status: "COMPLETED" })), 5_000)
    set.end()
    const lines = screen(out.join("").replace(/\n/g, "\r\n"))
    expect(lines.filter((l) => /spectra {2}cube/.test(l))).toEqual([expect.stringMatching(/^\[█+\] 600\/600 spectra {2}cube 3\/3 {2}100\.0%/)])
    expect(lines[lines.length - 1]).toBe("")
  })

  it("off a terminal: timestamped lines, nothing with --json", () => {
    const out: string[] = []
    const set = makeSetDisplay({ tty: false, quiet: false, write: (t) => void out.push(t), width: () => 100 }, [{ name: "a.fits", spectra: 10 }, { name: "b.fits", spectra: 10 }])
    set.cube(1).draw(cubeRun({ nSpectra: 10, spectraDone: 5 }), Date.UTC(2026, 0, 1))
    set.note("hello")
    set.end()
    expect(out).toEqual(["2026-01-01T00:00:00.000Z 5/20 spectra  cube 2/2  25.0%  ETA --:--  b.fits 5/10  0.0/s  running  failed 0  slow 0/0\n", "phs: hello\n"])
    const quiet: string[] = []
    const q = makeSetDisplay({ tty: true, quiet: true, write: (t) => void quiet.push(t) }, [{ name: "a.fits", spectra: 10 }])
    q.cube(0).draw(cubeRun({ nSpectra: 10, spectraDone: 5 }), 0)
    q.note("hello")
    q.end()
    expect(quiet).toEqual([])
  })

  describe("phs pipeline of three cubes", () => {
    let dir = ""
    beforeAll(() => {
      dir = tempDir()
      for (const seed of [1, 2, 3]) fs.writeFileSync(path.join(dir, `tile-${seed}.fits`), cubeFits({ nx: 10, ny: 6, nchan: 64, seed }))
    })

    it("in a terminal of 80 columns: one line for the set, redrawn, that fits; each cube's outcome above it", async () => {
      const workdir = path.join(tempDir(), "w")
      const line = [process.execPath, PHS, "pipeline", dir, "--survey", "set", "--chunk-size", "20", "--workdir", workdir].map(quote).join(" ")
      const r = await inTerminal(80, line, { PHS_FAULTS: SLOW, NO_COLOR: "1" })
      expect(r.code, r.output).toBe(0)
      const draws = r.output.split(/\r\n|\r|\n/).filter((d) => /[\d,]+\/[\d,]+ spectra {2}cube/.test(d))
      expect(draws.length).toBeGreaterThan(6)
      for (const d of draws) expect(d.trimEnd().length, d).toBeLessThan(80)
      for (const k of [1, 2, 3]) expect(draws.some((d) => d.includes(`cube ${k}/3`) && d.includes(`tile-${k}.fits `)), `cube ${k}`).toBe(true)
      // the set's count only grows, whichever cube is driven
      const counts = draws.map((d) => Number(d.match(/(\d+)\/180 spectra/)?.[1]))
      expect(counts.every((n, i) => i === 0 || n >= counts[i - 1]), counts.join(" ")).toBe(true)
      const lines = screen(r.output)
      // What stays on the screen: the three outcomes, the one line of the set (at 180/180), the summary.
      expect(lines.filter((l) => /^phs: cube \d\/3 tile-\d\.fits: run set-\S+ completed: 60 of 60 spectra/.test(l)).length, lines.join("\n")).toBe(3)
      expect(lines.filter((l) => /spectra {2}cube/.test(l))).toEqual([expect.stringMatching(/^\[█+\] 180\/180 spectra {2}cube 3\/3 {2}100\.0%/)])
      expect(lines).toContain("survey set: 3 cubes, 180 spectra completed")
    })

    it("Ctrl-C in cube 2: one line says where; the same command again returns cube 1, continues cube 2, runs cube 3", async () => {
      const workdir = path.join(tempDir(), "w")
      // Two of the cube's three chunks in flight (the default is cores + 1): a count between 0 and 60 is drawn.
      const args = ["pipeline", dir, "--survey", "set", "--chunk-size", "20", "--concurrency", "2", "--workdir", workdir]
      const r = await inTerminal(80, [process.execPath, PHS, ...args].map(quote).join(" "), { PHS_FAULTS: SLOW }, { after: /cube 2\/3 .*tile-2\.fits [1-5]\d\/60/, keys: "\u0003" })
      expect(r.code, r.output).toBe(130)
      const lines = screen(r.output)
      const i = lines.findIndex((l) => l.startsWith("interrupted: "))
      expect(lines[i], r.output).toMatch(/^interrupted: cube 2\/3 tile-2\.fits, run (set-\S+) at [1-5]\d\/60; the same phs pipeline again carries on the set \(phs resume \1 --workdir \S+ this cube\)$/)
      expect(lines.slice(i + 1).join("").trim()).toBe("")
      const again = await phs(args)
      expect(again.code, again.stderr).toBe(0)
      expect(again.stderr).toMatch(/^phs: cube 1\/3 tile-1\.fits: run set-\S+ already completed \(60 of 60 spectra\)$/m)
      expect(again.stderr).toMatch(/^phs: cube 2\/3 tile-2\.fits: run set-\S+ exists already \(\w+\): continuing it$/m)
      expect(again.stdout).toMatch(/^ {2}tile-1\.fits +set-\S+ +COMPLETED +60 +already done$/m)
      expect(again.stdout).toMatch(/^ {2}tile-2\.fits +set-\S+ +COMPLETED +60 +([1-5]?\d) in [\d.]+ s$/m)
      expect(again.stdout).toMatch(/^ {2}tile-3\.fits +set-\S+ +COMPLETED +60 +60 in [\d.]+ s$/m)
      // the run it continued is the set's own: not named as one left over
      expect(again.stderr).not.toContain("is unfinished too")
    })

    it("Ctrl-C in cube 2, then the set with another chunk size: the interrupted run is named once, with how to resume it", async () => {
      const workdir = path.join(tempDir(), "w")
      const args = ["pipeline", dir, "--survey", "set", "--workdir", workdir]
      const r = await inTerminal(80, [process.execPath, PHS, ...args, "--chunk-size", "20", "--concurrency", "2"].map(quote).join(" "), { PHS_FAULTS: SLOW }, { after: /cube 2\/3 .*tile-2\.fits [1-5]\d\/60/, keys: "\u0003" })
      expect(r.code, r.output).toBe(130)
      const runId = screen(r.output).join("\n").match(/^interrupted: cube 2\/3 tile-2\.fits, run (set-\S+) at/m)?.[1]
      expect(runId, r.output).toBeDefined()
      const again = await phs(args)
      expect(again.code, again.stderr).toBe(0)
      expect(again.stderr.split("\n").filter((l) => l.includes("is unfinished too"))).toEqual([
        expect.stringMatching(new RegExp(`^phs: run ${runId} is unfinished too \\(\\w+, [1-5]\\d/60 spectra\\); continue it with phs resume ${runId} --workdir ${workdir}$`))
      ])
      // the set made its own runs, of every cube
      expect(again.stdout.match(/^ {2}tile-\d\.fits +set-\S+ +COMPLETED +60 +60 in [\d.]+ s$/gm)?.length, again.stdout).toBe(3)
      expect(again.stdout).not.toContain(runId)
    })

    it("a cube whose run fails does not stop the set: every cube runs, the set exits 1 naming the failed runs", async () => {
      const workdir = path.join(tempDir(), "w")
      const failing = JSON.stringify({ seed: 1, rules: [{ service: "Fitter", op: "decomposeBatch", kind: "transient" }] })
      const r = await phs(["pipeline", path.join(dir, "tile-1.fits"), path.join(dir, "tile-2.fits"), "--survey", "bad", "--chunk-size", "30", "--workdir", workdir], { env: { PHS_FAULTS: failing } })
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr.match(/^phs: cube [12]\/2 tile-[12]\.fits: run bad-\S+ failed \(/gm)?.length, r.stderr).toBe(2)
      const ids = [...r.stdout.matchAll(/^ {2}tile-[12]\.fits +(bad-[0-9a-f]{16}) +FAILED +60 /gm)].map((m) => m[1])
      expect(ids.length, r.stdout).toBe(2)
      expect(r.stdout).toMatch(/^survey bad: 2 cubes, 0 completed, 2 failed; 0 of 120 spectra$/m)
      const last = r.stderr.trimEnd().split("\n").at(-1)
      expect(last).toMatch(new RegExp(`^phs: run ${ids[0]} failed: .*; and ${ids[1]} \\(2 of 2 cubes of survey bad failed\\)$`))
      const status = await phs(["status", "--survey", "bad", "--workdir", workdir])
      expect(status.stdout).toContain(`run ${ids[0]} failed: `)
      expect(status.stdout).toContain(`run ${ids[1]} failed: `)
    })

    it("through a pipe: timestamped lines of the set; --json: one document for the set; again: every cube already done", async () => {
      const workdir = path.join(tempDir(), "w")
      const r = await phs(["pipeline", path.join(dir, "tile-?.fits"), "--survey", "set", "--chunk-size", "20", "--workdir", workdir], { env: { PHS_FAULTS: SLOW } })
      expect(r.code, r.stderr).toBe(0)
      const lines = r.stderr.split("\n").filter((l) => / spectra {2}cube/.test(l))
      for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z \d+\/180 spectra {2}cube [123]\/3 /)
      expect(lines[lines.length - 1]).toMatch(/ 180\/180 spectra {2}cube 3\/3 {2}100\.0% .* tile-3\.fits 60\/60 {2}[\d.]+\/s {2}completed/)
      expect(r.stdout).toMatch(/^survey set: 3 cubes, 180 spectra completed\n {2}cube +run +status +spectra +this time\n/)
      expect(r.stdout.match(/^ {2}tile-\d\.fits +set-[0-9a-f]{16} +COMPLETED +60 +60 in [\d.]+ s$/gm)?.length, r.stdout).toBe(3)

      const again = await phs(["pipeline", path.join(dir, "tile-?.fits"), "--survey", "set", "--chunk-size", "20", "--workdir", workdir, "--json"])
      expect(again.code, again.stderr).toBe(0)
      expect(again.stderr).toBe("")
      const doc = JSON.parse(again.stdout) as { survey: string; status: string; nSpectra: number; spectraDone: number; cubes: Array<{ file: string; runId: string; status: string; already?: boolean }> }
      expect(doc).toMatchObject({ survey: "set", status: "COMPLETED", nSpectra: 180, spectraDone: 180 })
      expect(doc.cubes.map((c) => [path.basename(c.file), c.status, c.already])).toEqual([1, 2, 3].map((k) => [`tile-${k}.fits`, "COMPLETED", true]))
      const ids = r.stdout.match(/set-[0-9a-f]{16}/g)
      expect(doc.cubes.map((c) => c.runId)).toEqual(ids)
    })
  })
})
