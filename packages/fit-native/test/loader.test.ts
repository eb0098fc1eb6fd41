// PHS_FIT_NATIVE_PATH: the wrapper loads the addon binary it names (e.g. the sanitizer build).
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
