#!/usr/bin/env node
// The picture of `phs view` in docs/viewer.md: examples/grs-5x5.fits decomposed at β 3.5
// and 5 in a temporary workdir, the page in headless chromium with the pixel of most
// components open and the β 5 run beside it, saved as docs/img/view.png.
//   npm run docs:view-screenshot
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { clickPixel, launch, PHS, startView } from "./view-browser.mjs"

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..")
const out = path.join(root, "docs", "img", "view.png")
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-shot-"))
const workdir = path.join(tmp, "w")
const pipeline = (beta) => {
  const r = spawnSync(process.execPath, [PHS, "pipeline", path.join(root, "examples", "grs-5x5.fits"), "--workdir", workdir, "--param", `beta=${beta}`, "--json"], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout).runId
}
const main = pipeline(3.5)
const other = pipeline(5)
const view = await startView([main, "--workdir", workdir, "--labels", path.join(tmp, "labels.json")])
const browser = await launch()
try {
  const { page } = browser
  await page.setViewportSize({ width: 1900, height: 1000 })
  await page.goto(view.url)
  await page.waitForFunction(() => window.__phs.mapMs !== null)
  const counts = await (await fetch(`${view.url}api/map?run=${main}&value=n_components`)).json()
  const best = counts.values.reduce((b, v, i) => (v !== null && v > (counts.values[b] ?? -1) ? i : b), 0)
  await page.selectOption("#other", other)
  await clickPixel(page, best % counts.nx, Math.floor(best / counts.nx))
  await page.waitForSelector("#panel-other:not([hidden]) svg")
  await page.mouse.move(1, 1)
  fs.mkdirSync(path.dirname(out), { recursive: true })
  await page.screenshot({ path: out, fullPage: true })
  console.log(out)
} finally {
  await browser.close()
  view.stop()
  fs.rmSync(tmp, { recursive: true, force: true })
}
