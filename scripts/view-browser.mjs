// Shared by the `phs view` browser test, its benchmark and its screenshot script: start
// `phs view` in a child process, and Debian's chromium (headless, fresh profile) through
// playwright-core with every request that would leave 127.0.0.1 refused and recorded.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"

export const PHS = fileURLToPath(new URL("../packages/cli/bin/phs.js", import.meta.url))
export const CHROMIUM = process.env.PHS_CHROMIUM ?? "/usr/bin/chromium"
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** Starts `phs view ARGS --port 0` (with `env` added to this process's); resolves with the page's URL once it listens. */
export const startView = (args, env = {}) =>
  new Promise((resolve, reject) => {
    // PHS_VIEW_ENTRY: another build's entry script, for an A/B benchmark
    const child = spawn(process.execPath, [process.env.PHS_VIEW_ENTRY ?? PHS, "view", "--port", "0", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env }
    })
    let out = ""
    let err = ""
    const timer = setTimeout(() => reject(new Error(`phs view did not start: ${out}${err}`)), 60_000)
    child.stdout.on("data", (d) => {
      out += d
      const m = /phs view: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ url: m[1], child, stop: () => child.kill("SIGTERM") })
      }
    })
    child.stderr.on("data", (d) => (err += d))
    child.on("close", (code) => {
      clearTimeout(timer)
      reject(new Error(`phs view exited ${code}: ${err}`))
    })
  })

/** Chromium with a fresh profile; `outside` lists the requests refused for leaving 127.0.0.1. */
export const launch = async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "phs-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 }
  })
  const outside = []
  const seen = []
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url())
    seen.push(url.href)
    if (url.hostname === "127.0.0.1" && url.protocol === "http:") return route.continue()
    outside.push(url.href)
    return route.abort()
  })
  const page = context.pages()[0] ?? (await context.newPage())
  return {
    context,
    page,
    outside,
    seen,
    close: async () => {
      await context.close()
      fs.rmSync(profile, { recursive: true, force: true })
    }
  }
}

/** Clicks the centre of map pixel (x, y) (y grows upwards on the page, as in FITS). */
export const clickPixel = async (page, x, y) => {
  const box = await page.locator("#map").boundingBox()
  const { nx, ny } = await page.evaluate(() => ({ nx: document.getElementById("map").width, ny: document.getElementById("map").height }))
  await page.mouse.click(box.x + ((x + 0.5) * box.width) / nx, box.y + ((ny - 1 - y + 0.5) * box.height) / ny)
}
