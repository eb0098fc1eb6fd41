/**
 * `phs cost`: the estimator's arithmetic on fixed inputs (no measurement), and the command
 * measuring the fitter on the bundled GRS sample, and on the cube of the HDU `--hdu` names.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Cost from "../packages/cli/src/aws/Cost.js"
import { PRICES } from "../packages/cli/src/aws/Prices.js"
import { phs, tempDir } from "./support/cli.js"
import { twoCubes } from "./support/cubes.js"

/** One GRS tile, with round measured figures. */
const tile: Cost.Inputs = {
  spectra: 116_000,
  channels: 424,
  runs: 1,
  chunkSize: 500,
  arch: "arm64",
  memoryMb: 1024,
  archFactor: 1.3,
  cpuMsPerSpectrum: 2,
  resultBytesPerSpectrum: 160,
  catalogCpuMsPerRow: 0.02,
  queries: 10,
  workerConcurrency: 500
}

const item = (e: Cost.Estimate, service: string, name: string) => {
  const found = e.items.find((i) => i.service === service && i.name === name)
  if (found === undefined) throw new Error(`no item ${service} ${name}`)
  return found
}

describe("the cost estimate's arithmetic", () => {
  const e = Cost.estimate(tile)

  it("chunks, vCPUs and memory follow from the inputs", () => {
    expect(e.derived.chunksPerRun).toBe(232)
    expect(e.derived.chunks).toBe(232)
    expect(e.derived.vcpus).toBeCloseTo(1024 / 1769, 12)
    expect(e.derived.memoryGb).toBe(1)
    expect(e.derived.cubeBytes).toBe(116_000 * 424 * 4 + 5760)
    expect(e.derived.resultBytes).toBe(116_000 * 160)
  })

  it("fitting: spectra × CPU × arch factor ÷ vCPU share, billed at the memory size", () => {
    const fit = item(e, "Lambda", "workers: fitting")
    // 116,000 × 2 ms = 232 s of CPU; × 1.3 = 301.6 s; ÷ (1024/1769) vCPU = 521.026 s at 1 GB.
    expect(fit.quantity).toBeCloseTo(301.6 * (1769 / 1024), 9)
    expect(fit.quantity).toBeCloseTo(521.026, 3)
    expect(fit.unitPrice).toBe(0.0000133334)
    expect(fit.cost).toBeCloseTo(((301.6 * 1769) / 1024) * 0.0000133334, 12)
    expect(fit.arithmetic).toContain("116,000 spectra × 2 ms CPU × 1.3 (arm64) ÷ 0.579 vCPU")
  })

  it("the fitting GB-seconds do not depend on the memory size (below 6 vCPUs); I/O and cold starts do", () => {
    for (const memoryMb of [512, 1769, 3538, 10_240]) {
      const other = Cost.estimate({ ...tile, memoryMb })
      expect(item(other, "Lambda", "workers: fitting").quantity).toBeCloseTo(item(e, "Lambda", "workers: fitting").quantity, 6)
      expect(item(other, "Lambda", "workers: I/O per chunk").quantity).toBeCloseTo(232 * 0.3 * (memoryMb / 1024), 9)
    }
    // At 1,769 MB the chunk takes 500 × 2 ms × 1.3 = 1.3 s of one full vCPU, plus 0.3 s of I/O.
    expect(Cost.estimate({ ...tile, memoryMb: 1769 }).derived.chunkSeconds).toBeCloseTo(1.6, 9)
  })

  it("cold starts: one per container, at most the concurrency", () => {
    expect(item(e, "Lambda", "workers: cold starts").quantity).toBe(232 * 2)
    const survey = Cost.estimate({ ...tile, spectra: 2_300_000, runs: 20 })
    expect(survey.derived.chunks).toBe(4600)
    expect(item(survey, "Lambda", "workers: cold starts").quantity).toBe(500 * 2)
  })

  it("x86_64: its own price and factor", () => {
    const x86 = Cost.estimate({ ...tile, arch: "x86_64", archFactor: 1 })
    const fit = item(x86, "Lambda", "workers: fitting")
    expect(fit.unitPrice).toBe(PRICES.lambda.x86_64PerGbSecond)
    expect(fit.quantity).toBeCloseTo(232 * (1769 / 1024), 9)
  })

  it("requests: Lambda, SQS, DynamoDB (transactions at 2×), S3", () => {
    expect(item(e, "Lambda", "requests")).toMatchObject({ quantity: 234 })
    expect(item(e, "Lambda", "requests").cost).toBeCloseTo((234 * 0.2) / 1e6, 15)
    // 232 × (receive + delete) + ⌈232 / 10⌉ batched sends + 3 for the catalog message.
    expect(item(e, "SQS", "requests").quantity).toBe(232 * 2 + 24 + 3)
    // 232 × (chunk item + claim + 2 journal + 2-item transaction × 2) + 15 per run.
    expect(item(e, "DynamoDB", "writes (on-demand)").quantity).toBe(232 * 8 + 15)
    expect(item(e, "DynamoDB", "writes (on-demand)").cost).toBeCloseTo((1871 * 0.625) / 1e6, 15)
    expect(item(e, "DynamoDB", "reads (on-demand)").quantity).toBe(232 * 3 + 12)
    // Payload and Parquet per chunk; manifest, 2 metadata files, a listing; a 196.7 MB cube
    // in 24 parts of 8 MiB (BlobStoreS3.putFile) + create + complete; one result part; 2 per Athena query.
    expect(item(e, "S3", "PUT, LIST").quantity).toBe(232 * 2 + (4 + 26 + 1) + 20)
    // Payload and Parquet per chunk; 3 header reads, 24 hash reads of 8 MiB, 15 blocks × 424
    // channel planes to split; Athena 10 queries × 1 file × 12.
    expect(item(e, "S3", "GET").quantity).toBe(232 * 2 + 3 + 24 + 15 * 424 + 120)
  })

  it("Athena bills the bytes scanned, at least 10 MB a query", () => {
    expect(item(e, "Athena", "data scanned").quantity).toBeCloseTo((10 * 116_000 * 160) / 1e12, 15)
    const small = Cost.estimate({ ...tile, spectra: 100 })
    expect(item(small, "Athena", "data scanned").quantity).toBeCloseTo((10 * 10 * 1024 * 1024) / 1e12, 15)
  })

  it("per-run costs are paid once per run", () => {
    const one = item(Cost.estimate({ ...tile, spectra: 232_000 }), "Lambda", "splitter").quantity
    const two = item(Cost.estimate({ ...tile, spectra: 232_000, runs: 2 }), "Lambda", "splitter").quantity
    // Two runs of half the cube each: the reading is the same (but for a second header), the
    // fixed 2 s start is paid twice, at 2 GB.
    expect(two - one).toBeCloseTo((2 * 2048) / 1024, 2)
  })

  it("the total is the sum of the items; storage is apart", () => {
    expect(e.total).toBeCloseTo(e.items.reduce((s, i) => s + i.cost, 0), 15)
    expect(e.items).not.toContain(e.storage)
    expect(e.total).toBeGreaterThan(0.01)
    expect(e.total).toBeLessThan(0.05)
  })

  it("the full survey stays under $1", () => {
    const survey = Cost.estimate({ ...tile, spectra: 2_300_000, runs: 20 })
    expect(survey.total).toBeLessThan(1)
  })

  it("the text shows each item's arithmetic and the total", () => {
    const text = Cost.render(e)
    expect(text).toContain("Lambda workers: fitting")
    expect(text).toContain(`= ${Cost.usd(item(e, "Lambda", "workers: fitting").cost)}`)
    expect(text).toMatch(new RegExp(`total\\s+\\${Cost.usd(e.total)}`))
  })
})

describe("phs cost", () => {
  it("without a cube or --spectra: one line, exit 2", async () => {
    const r = await phs(["cost"])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toEqual(["phs: give a cube (phs cost CUBE.fits) or a number of spectra (--spectra N)"])
  })

  it("--spectra N --cpu-ms X: the estimate without measuring", async () => {
    const r = await phs(["cost", "--spectra", "116000", "--cpu-ms", "2", "--json"])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.measurement).toBeNull()
    expect(out.total).toBeCloseTo(Cost.estimate(tile).total, 12)
  })

  it("a cube: its spectra are counted and a sample of them is fitted here", async () => {
    const r = await phs(["cost", "examples/grs-5x5.fits"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^phs cost: 25 spectra × 424 channels in 1 run → 1 chunks/)
    expect(r.stdout).toMatch(/the native fitter on 25 spectra of examples\/grs-5x5\.fits/)
    expect(r.stdout).toMatch(/ms CPU per spectrum/)
    expect(r.stdout).toMatch(/\n {2}total +\$\d/)
  })

  it("--hdu N: the spectra counted and fitted are that HDU's cube's, as in a file of its own", async () => {
    const d = tempDir("phs-cost-hdu-")
    const cubes = twoCubes(64)
    const two = path.join(d, "two.fits")
    const alone = path.join(d, "second.fits")
    fs.writeFileSync(two, cubes.file)
    fs.writeFileSync(alone, cubes.secondAlone)
    const named = await phs(["cost", two, "--hdu", "2", "--json"])
    expect(named.code, named.stderr).toBe(0)
    const ownFile = await phs(["cost", alone, "--json"])
    const a = JSON.parse(named.stdout)
    const b = JSON.parse(ownFile.stdout)
    expect(a.inputs).toMatchObject({ spectra: 6, channels: 64 })
    const same = (m: Record<string, unknown>) => ({ nx: m.nx, ny: m.ny, channels: m.channels, sampled: m.sampled, meanComponents: m.meanComponents, overBudget: m.overBudget })
    expect(same(a.measurement)).toEqual(same(b.measurement))
    expect(same(a.measurement)).toMatchObject({ nx: 3, ny: 2, sampled: 6 })
    // the default is the first 3-D image, 2 × 2
    const first = await phs(["cost", two, "--cpu-ms", "1", "--json"])
    expect(JSON.parse(first.stdout).inputs.spectra).toBe(4)
    const text = await phs(["cost", two, "--hdu", "2", "--cpu-ms", "1"])
    expect(text.stderr).toBe('phs: note: the cube is in HDU 2 (image extension "SECOND")\n')
  }, 60_000)

  it("a bad --hdu is pipeline's one line, exit 2; without a cube --hdu is refused", async () => {
    const d = tempDir("phs-cost-hdu-")
    const two = path.join(d, "two.fits")
    fs.writeFileSync(two, twoCubes(64).file)
    for (const [args, error] of [
      [[two, "--hdu", "7"], /^phs: --hdu 7: two\.fits: no HDU 7: the file has HDUs 0 to 2$/],
      [[two, "--hdu", "0"], /^phs: --hdu 0: two\.fits: NAXIS = 0: a cube needs 3 axes/],
      [["--spectra", "100", "--hdu", "2"], /^phs: --hdu names the HDU of a cube: give the cube too/]
    ] as const) {
      const r = await phs(["cost", ...args])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(error)])
      expect(r.stdout).toBe("")
    }
  })
})
