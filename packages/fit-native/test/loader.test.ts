// PHS_FIT_NATIVE_PATH: the wrapper loads the addon binary it names (e.g. the sanitizer build).
import { spawnSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it, vi } from "vitest"

const release = fileURLToPath(new URL("../build/Release/phs_fit.node", import.meta.url))

describe("addon path", () => {
  afterEach(() => {
    vi.unstubAllEnvs()
    vi.resetModules()
  })

  it("loads the binary PHS_FIT_NATIVE_PATH names", async () => {
    vi.stubEnv("PHS_FIT_NATIVE_PATH", process.env.PHS_FIT_NATIVE_PATH || release)
    vi.resetModules()
    const m = await import("../src/index.js")
    const d = m.decompose(Float64Array.from({ length: 64 }, (_, i) => 3 * Math.exp(-((i - 30) ** 2) / 18)))
    expect(d.components).toHaveLength(1)
  })

  it("fails to load, naming the path, when the binary is missing", async () => {
    vi.stubEnv("PHS_FIT_NATIVE_PATH", "/nonexistent/phs_fit.node")
    vi.resetModules()
    await expect(import("../src/index.js")).rejects.toThrow(/nonexistent\/phs_fit\.node/)
  })
})

describe("an addon older than the wrapper", () => {
  it("is refused at load in one line naming what it lacks; a complete one is taken as it is", async () => {
    const { checkAddon } = await import("../src/index.js")
    const fn = () => 0
    const complete = { decompose: fn, decomposeBatch: fn, decomposeBatchMulti: fn, noise: fn, peaks: fn, fit: fn, poolThreads: fn }
    expect(checkAddon(complete)).toBe(complete)
    const { decomposeBatchMulti: _, ...old } = complete
    expect(() => checkAddon(old)).toThrow(/^the native addon is out of date \(missing decomposeBatchMulti\): run npm run build$/)
    expect(() => checkAddon({ ...complete, fit: "not a function", poolThreads: undefined })).toThrow(/\(missing fit, poolThreads\)/)
    expect(() => checkAddon(null)).toThrow(/\(missing decompose, decomposeBatch, decomposeBatchMulti, noise, peaks, fit, poolThreads\)/)
  })

  it("makes phs say so in one line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "phs-addon-"))
    const fake = join(dir, "old.cjs")
    writeFileSync(fake, "module.exports = { decompose() {}, decomposeBatch() {}, noise() {}, peaks() {}, fit() {}, poolThreads() { return 1 } }\n")
    const r = spawnSync(process.execPath, [fileURLToPath(new URL("../../cli/bin/phs.js", import.meta.url)), "runs", "--workdir", join(dir, "w")], {
      env: { ...process.env, PHS_FIT_NATIVE_PATH: fake },
      encoding: "utf8"
    })
    expect(r.status).toBe(1)
    expect(r.stderr).toBe("phs: the native addon is out of date (missing decomposeBatchMulti): run npm run build\n")
  })
})
