/**
 * The CLI's surface as a person meets it: the hint after a run can be pasted as it is;
 * reading commands never create a workdir; `phs rm` removes one run and nothing else;
 * control characters in names never reach the terminal raw; `--target aws` prints no SDK
 * notices before phs's own line.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { printable, shellWord } from "../packages/cli/src/Output.js"
import { writeCube } from "../packages/core/src/FitsWriter.js"
import { cubeData } from "./support/cubes.js"
import { PHS, phs, tempDir } from "./support/cli.js"

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url))

/** Runs a shell command line; `phs` in it is this checkout's. */
const shell = (line: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const bin = path.join(tempDir(), "bin")
    fs.mkdirSync(bin)
    fs.writeFileSync(path.join(bin, "phs"), `#!/bin/sh\nexec "${process.execPath}" "${PHS}" "$@"\n`, { mode: 0o755 })
    const child = spawn("sh", ["-c", line], { cwd, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Blob keys under a workdir, relative. */
const blobs = (workdir: string): string[] =>
  (fs.readdirSync(path.join(workdir, "blobs"), { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(workdir, "blobs", f)).isFile())
    .sort()

describe("the CLI's surface", () => {
  it("the try: hint carries the --workdir, quoted, and runs as pasted", async () => {
    const dir = tempDir()
    const workdir = path.join(dir, "my runs")
    const r = await phs(["pipeline", example("grs-3x3.fits"), "--workdir", workdir])
    expect(r.code).toBe(0)
    const hint = r.stdout.split("\n").find((l) => l.startsWith("  try: "))?.slice("  try: ".length) ?? ""
    expect(hint).toMatch(new RegExp(`^phs query --workdir "${workdir}" "SELECT n_components, count\\(\\*\\) FROM decompositions WHERE survey = 'grs-3x3'`))
    const pasted = await shell(hint, dir)
    expect(pasted.stderr).toBe("")
    expect(pasted.code).toBe(0)
    expect(pasted.stdout).toMatch(/n_components/)
  })

  it("runs and status in a directory without a workdir create none", async () => {
    const dir = tempDir()
    const runs = await phs(["runs"], { cwd: dir })
    expect(runs.code).toBe(0)
    expect(runs.stdout).toMatch(/^no runs yet/)
    const status = await phs(["status", "grs-0123"], { cwd: dir })
    expect(status.code).toBe(2)
    expect(status.stderr).toMatch(/^phs: no workdir at \.phs: run phs pipeline CUBE\.fits first/)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it("phs rm removes one run's parts, metadata, chunks, journal and records, and leaves the others", async () => {
    const workdir = path.join(tempDir(), "w")
    const a = await phs(["pipeline", example("grs-3x3.fits"), "--workdir", workdir, "--json"])
    const b = await phs(["pipeline", example("grs-5x5.fits"), "--workdir", workdir, "--json"])
    expect([a.code, b.code]).toEqual([0, 0])
    const runA = JSON.parse(a.stdout).runId as string
    const runB = JSON.parse(b.stdout).runId as string
    const before = blobs(workdir)
    expect(before.filter((k) => k.includes(runA)).length).toBeGreaterThan(3)

    // Not on a terminal and without --yes: refused, nothing removed.
    const refused = await phs(["rm", runA, "--workdir", workdir])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toBe(`phs: phs rm ${runA} removes it for good: pass --yes (not asked: stdin is not a terminal)\n`)
    expect(blobs(workdir)).toEqual(before)

    const removed = await phs(["rm", runA.slice(0, 12), "--yes", "--workdir", workdir])
    expect(removed.code).toBe(0)
    expect(removed.stdout).toMatch(new RegExp(`^run ${runA} removed: \\d+ blob\\(s\\), [1-9]\\d* journal record\\(s\\)`))
    const after = blobs(workdir)
    expect(after.filter((k) => k.includes(runA) || k.includes("grs-3x3"))).toEqual([])
    expect(after).toEqual(before.filter((k) => !k.includes(runA) && !k.includes("grs-3x3")))
    const runs = JSON.parse((await phs(["runs", "--json", "--workdir", workdir])).stdout) as Array<{ runId: string }>
    expect(runs.map((r) => r.runId)).toEqual([runB])
    expect((await phs(["status", runA, "--workdir", workdir])).code).toBe(2)
    const other = await phs(["replay", runB, "--workdir", workdir])
    expect(other.stdout).toContain(`run ${runB}: identical`)
    const q = await phs(["query", "SELECT count(*) AS n FROM decompositions", "--format", "json", "--workdir", workdir])
    expect(JSON.parse(q.stdout)).toEqual([{ n: 25 }])
  })

  it("control characters in a file name are shown escaped, never sent raw", async () => {
    const dir = tempDir()
    const evil = path.join(dir, "\u001b[31mred\u0007.fits")
    fs.copyFileSync(example("grs-3x3.fits"), evil)
    const ok = await phs(["pipeline", evil, "--survey", "evil", "--workdir", path.join(dir, "w")])
    expect(ok.code).toBe(0)
    const bad = path.join(dir, "\u001b]0;title\u0007bad.fits")
    fs.writeFileSync(bad, "not a FITS file at all, just text")
    const refused = await phs(["pipeline", bad, "--workdir", path.join(dir, "w")])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("\\u001b]0;title\\u0007bad.fits")
    for (const out of [ok.stdout, ok.stderr, refused.stdout, refused.stderr])
      // eslint-disable-next-line no-control-regex
      expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/)
  })

  const node20 = "/usr/bin/node"
  const old = fs.existsSync(node20) && Number(/^v(\d+)/.exec(execFileSync(node20, ["--version"], { encoding: "utf8" }))?.[1]) < 22
  it.skipIf(!old)("--target aws prints no SDK notice before phs's own line (on a Node the SDK warns about)", async () => {
    const r = await new Promise<{ stderr: string; code: number | null }>((resolve) => {
      const child = spawn(node20, [PHS, "runs", "--target", "aws"], {
        env: { ...process.env, PHS_RUNS_TABLE: "t", AWS_REGION: "us-east-1", PHS_DYNAMODB_ENDPOINT: "http://127.0.0.1:9", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y" }
      })
      let stderr = ""
      child.stderr.on("data", (d) => (stderr += d))
      child.on("close", (code) => resolve({ stderr, code }))
    })
    expect(r.code).toBe(1)
    expect(r.stderr.split("\n").filter((l) => l !== "")).toEqual([expect.stringMatching(/^phs: StorageError: dynamodb list runs: .*ECONNREFUSED/)])
  })
})

describe("phs status shows the cube's WCS", () => {
  const statusOf = async (cube: string) => {
    const workdir = path.join(tempDir(), "w")
    const run = await phs(["pipeline", cube, "--workdir", workdir, "--json"])
    expect(run.code, run.stderr).toBe(0)
    const runId = (JSON.parse(run.stdout) as { runId: string }).runId
    const text = await phs(["status", runId, "--workdir", workdir])
    const json = await phs(["status", runId, "--workdir", workdir, "--json"])
    expect([text.code, json.code]).toEqual([0, 0])
    return { lines: text.stdout.split("\n").filter((l) => l.trim().startsWith("world:")), wcs: (JSON.parse(json.stdout) as { wcs: unknown }).wcs }
  }

  it("the GRS sample: galactic CAR, its velocity axis (VOPT in m/s, shown in km/s in the rows)", async () => {
    const { lines, wcs } = await statusOf(example("grs-3x3.fits"))
    expect(lines).toEqual(["  world: galactic CAR; velocity VOPT (optical, LSRK)"])
    expect(wcs).toMatchObject({ celestial: { frame: "galactic", projection: "CAR", ctype: ["GLON-CAR", "GLAT-CAR"] }, spectral: { ctype: "VOPT", convention: "optical" }, problems: [] })
  })

  it("a cube with a projection phs does not implement: the reason the world columns are null", async () => {
    const file = path.join(tempDir(), "mer.fits")
    const wcsCards = {
      CTYPE1: "GLON-MER", CRVAL1: 30, CRPIX1: 1, CDELT1: -0.01,
      CTYPE2: "GLAT-MER", CRVAL2: 0, CRPIX2: 1, CDELT2: 0.01,
      CTYPE3: "VRAD", CRVAL3: 0, CRPIX3: 1, CDELT3: 200, CUNIT3: "m/s", SPECSYS: "LSRK"
    }
    fs.writeFileSync(file, writeCube({ nx: 2, ny: 2, nchan: 64, data: cubeData({ nx: 2, ny: 2, nchan: 64 }), cards: wcsCards }))
    const { lines, wcs } = await statusOf(file)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^ {2}world: velocity VRAD \(radio, LSRK\); lon\/lat are null: .*MER/)
    expect(wcs).toMatchObject({ celestial: null, problems: [expect.stringMatching(/^lon\/lat are null: .*MER/)] })
  })
})

describe("output helpers", () => {
  it("printable escapes every control character (C0, DEL, C1), keeping line breaks only when asked", () => {
    expect(printable("a\u001b[31mb\u0007\u007f\u009bc\nd")).toBe("a\\u001b[31mb\\u0007\\u007f\\u009bc\\u000ad")
    expect(printable("x\ny\tz", { keepNewlines: true })).toBe("x\ny\\u0009z")
    expect(printable("grs β ±rms …")).toBe("grs β ±rms …")
  })

  it("shellWord gives back the word through sh, whatever it holds", () => {
    for (const word of ["plain", "with space", "SELECT 'a' FROM t", `it's "$HOME" \`x\` \\ !`, "*.fits", "a;b|c&d", "~user", ""]) {
      const quoted = shellWord(word)
      expect(execFileSync("sh", ["-c", `printf %s ${quoted}`], { encoding: "utf8" }), quoted).toBe(word)
    }
    expect(shellWord("SELECT 'a'")).toBe(`"SELECT 'a'"`)
  })
})
