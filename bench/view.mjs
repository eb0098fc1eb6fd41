#!/usr/bin/env node
// `phs view` in headless chromium on a tile-sized run: a synthetic SIDE×SIDE cube (default
// 341² = 116,281 spectra × 424 channels, a GRS tile's size, with a velocity axis), one
// `phs pipeline`, then the page: time to draw the map for each quantity (fetch + draw, and
// draw alone) and to show a pixel's spectrum (click → panel drawn) for 30 pixels.
//   npm run bench:view [-- --side 341 --keep]   (--workdir W: reuse the workdir a --keep run left;
//   PHS_VIEW_ENTRY=path/to/main.js: another build's phs view, for an A/B comparison)
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { clickPixel, launch, PHS, startView } from "../scripts/view-browser.mjs"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const side = Number(arg("side", 341))
const channels = 424
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-bench-view-"))

/** A FITS cube of side² spectra: one or two Gaussians on white noise, deterministic. */
const writeCube = (file) => {
  const card = (k, v) => `${k.padEnd(8)}= ${String(v).padStart(20)}`.padEnd(80)
  const str = (k, v) => `${k.padEnd(8)}= '${v.padEnd(8)}'`.padEnd(80)
  const cards = [
    card("SIMPLE", "T"), card("BITPIX", -32), card("NAXIS", 3), card("NAXIS1", side), card("NAXIS2", side), card("NAXIS3", channels),
    str("CTYPE1", "GLON-CAR"), card("CRVAL1", 30), card("CRPIX1", 1), card("CDELT1", -0.00611),
    str("CTYPE2", "GLAT-CAR"), card("CRVAL2", 0), card("CRPIX2", side / 2), card("CDELT2", 0.00611),
    str("CTYPE3", "VELO-LSR"), card("CRVAL3", -5000), card("CRPIX3", 1), card("CDELT3", 212.5), str("CUNIT3", "m/s"), str("BUNIT", "K"),
    "END".padEnd(80)
  ]
  const header = cards.join("").padEnd(Math.ceil(cards.length / 36) * 2880)
  const n = side * side * channels
  const data = Buffer.alloc(Math.ceil((n * 4) / 2880) * 2880)
  let s = 12345
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32)
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const comps = [{ a: 1 + 3 * rand(), m: 100 + 200 * (x / side), w: 3 + 6 * rand() }]
      if (rand() < 0.5) comps.push({ a: 0.5 + 2 * rand(), m: 60 + 300 * rand(), w: 2 + 8 * rand() })
      for (let c = 0; c < channels; c++) {
        let v = 0.25 * gauss()
        for (const k of comps) v += k.a * Math.exp(-0.5 * ((c - k.m) / k.w) ** 2)
        // FITS order: channel-major planes of side×side
        data.writeFloatBE(v, (c * side * side + y * side + x) * 4)
      }
    }
  }
  fs.writeFileSync(file, Buffer.concat([Buffer.from(header, "latin1"), data]))
}

const workdir = arg("workdir", path.join(tmp, "w"))
if (arg("workdir", null) === null) {
  const cube = path.join(tmp, `tile-${side}.fits`)
  const t0 = Date.now()
  writeCube(cube)
  console.log(`phs view benchmark: ${side}×${side} = ${side * side} spectra × ${channels} channels (written in ${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  const t1 = Date.now()
  const run = spawnSync(process.execPath, [PHS, "pipeline", cube, "--survey", "benchview", "--workdir", workdir, "--json"], { encoding: "utf8", maxBuffer: 1 << 26 })
  if (run.status !== 0) throw new Error(`phs pipeline failed: ${run.stderr}`)
  console.log(`  pipeline: ${((Date.now() - t1) / 1000).toFixed(1)} s (${path.join(workdir)})`)
} else console.log(`phs view benchmark on ${workdir}`)

const view = await startView(["--workdir", workdir])
const browser = await launch()
try {
  const { page } = browser
  const waitMap = () => page.waitForFunction(() => window.__phs.mapMs !== null && document.getElementById("status").textContent.includes("pixels"))
  const tLoad = Date.now()
  await page.goto(view.url)
  await waitMap()
  console.log(`  page load to first map: ${Date.now() - tLoad} ms`)
  const maps = []
  const quantities = await page.$$eval("#value option", (os) => os.map((o) => o.value))
  for (const q of quantities) {
    await page.evaluate(() => (window.__phs.mapMs = null))
    const start = Date.now()
    await page.selectOption("#value", q)
    await waitMap()
    const t = await page.evaluate(() => ({ draw: window.__phs.mapMs, total: window.__phs.mapTotalMs }))
    maps.push({ quantity: q, "fetch+draw ms": Math.round(t.total), "draw ms": Math.round(t.draw), "wall ms": Date.now() - start })
  }
  console.table(maps)
  const pixels = []
  for (let i = 0; i < 30; i++) {
    const x = Math.floor(((i * 7919) % 1000) / 1000 * side)
    const y = Math.floor(((i * 104729) % 1000) / 1000 * side)
    const before = await page.evaluate(() => window.__phs.pixelsShown)
    await clickPixel(page, x, y)
    await page.waitForFunction((n) => window.__phs.pixelsShown > n, before, { timeout: 10_000 }).catch(async (e) => {
      throw new Error(`pixel (${x}, ${y}) not shown: ${await page.locator("#status").textContent()} (${e.message.split("\n")[0]})`)
    })
    pixels.push(await page.evaluate(() => window.__phs.pixelMs))
  }
  pixels.sort((a, b) => a - b)
  const q = (f) => pixels[Math.min(pixels.length - 1, Math.floor(f * pixels.length))].toFixed(1)
  console.log(`  pixel spectrum (click → panel drawn, ${pixels.length} pixels): median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${pixels.at(-1).toFixed(1)} ms`)
  console.log(`  requests leaving 127.0.0.1: ${browser.outside.length}`)
  console.log("targets on a 116k-spectrum tile: first map < ~1500 ms, map drawn < 1000 ms, pixel spectrum < 100 ms")
} finally {
  await browser.close()
  view.stop()
  if (!process.argv.includes("--keep")) fs.rmSync(tmp, { recursive: true, force: true })
}
