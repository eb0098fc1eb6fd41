/**
 * The progress display as a person sees it: through a pseudo-terminal of 80 and 120
 * columns every redraw fits on one line (the bar goes first, then the least useful
 * fields); through a pipe the last line carries the true mean rate.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import type { RunTable } from "../packages/core/src/index.js"
import { renderLine } from "../packages/cli/src/Progress.js"
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
