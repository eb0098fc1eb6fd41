/**
 * Recovery through `phs … --target aws` on the emulators, the CLI as a child process while
 * this process plays AWS around it (as in cli.test.ts): a chunk failed for good is reopened
 * by `phs redrive` and the run completes with one row per spectrum; damaged or missing
 * published parts in the bucket are named by `phs verify` and rebuilt by `phs resume` (the
 * same core repair as the local target, through the S3 blob store); `--hdu N` reaches the
 * splitter and the run table; a cube replaced in the bucket under a run is refused by
 * `phs resume` and `phs redrive` (the ETag the split recorded against a HeadObject).
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3"
import { Errors, Fitter, Fits, Keys } from "@phs/core"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { formatCard, rawHeader, writeCube } from "../../packages/core/src/FitsWriter.js"
import { cubeData, cubeFits } from "../support/cubes.js"
import { phs, phsAsync, tempDir } from "../support/cli.js"
import { type Deployment, deploy, flow, getRun, type Handlers, handlers, over, putObject, runIdOf, tableRows, upload, type Upload, withDeployment, withHandlers, drainAll, eventually, resumeOnAws } from "./deployment.js"
import { startSqs } from "./emulators.js"
import { context, drain } from "./lambda.js"
import { describeEmulated, emulated, endpoints } from "./suite.js"

let sqs: Awaited<ReturnType<typeof startSqs>>

beforeAll(async () => {
  if (emulated) sqs = await startSqs()
})

afterAll(async () => {
  if (emulated) await sqs.stop()
})

const manifestKeys = async (d: Deployment): Promise<string[]> =>
  ((await d.s3.send(new ListObjectsV2Command({ Bucket: d.config.bucket, Prefix: "manifests/" }))).Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]))

const objectBytes = async (d: Deployment, key: string): Promise<Buffer> =>
  Buffer.from(await (await d.s3.send(new GetObjectCommand({ Bucket: d.config.bucket, Key: key }))).Body!.transformToByteArray())

/** 7 × 5 spectra (two blank) in chunks of 8: five chunks. */
const small: Upload = { survey: "grs", cube: { nx: 7, ny: 5, seed: 11, blankPixels: [4, 20] } }

/** Every pixel once: the rows of the survey's table, by pixel. */
const expectOneRowPerSpectrum = async (h: Handlers, survey: string, n: number) => {
  const rows = await h.run(tableRows(survey))
  expect(rows).toHaveLength(n)
  expect(new Set(rows.map((r) => `${r.x},${r.y}`)).size).toBe(n)
}

const oneLine = (stderr: string) => stderr.trim().split("\n")

describeEmulated("recovery through phs --target aws", () => {
  it("a chunk failed for good is FAILED; phs resume (or phs redrive, then the Lambdas) reopens it and the run completes: one row per spectrum", async () => {
    await withDeployment(sqs, async (d) => {
      const first = cubeData(small.cube)[0]
      const fatalChunk0 = over(Fitter.Fitter, (fitter) => ({
        ...fitter,
        decomposeBatch: (spectra, n, params, options) =>
          spectra[0] === first
            ? Effect.fail(new Errors.FitError({ reason: "queue ack: database or disk is full (injected)", retryable: false }))
            : fitter.decomposeBatch(spectra, n, params, options)
      }))
      // Two runs of the cube (two surveys), each with chunk 0 failed for good.
      const [viaResume, viaRedrive] = await withHandlers(d, { wraps: [fatalChunk0] }, async (h) => {
        const ids: string[] = []
        for (const survey of ["grs", "grs2"]) {
          const runId = runIdOf(await flow(d, h, await upload(d, { ...small, survey })))
          expect(await h.run(getRun(runId))).toMatchObject({ status: "FAILED", jobsCompleted: 4, jobsFailed: 1 })
          ids.push(runId)
        }
        return ids
      })
      const status = await phs(["status", viaResume, "--target", "aws"], { env: d.env })
      expect(status.stdout).toContain(`run ${viaResume}  survey grs  FAILED`)
      expect(status.stdout).toContain("queue ack: database or disk is full (injected)")
      expect(status.stdout).toContain(`dead letters (1); phs resume ${viaResume} --target aws puts them back:`)

      // The disk has room again.
      await withHandlers(d, {}, async (h) => {
        const cli = phsAsync(["resume", viaResume, "--target", "aws"], { env: d.env })
        await eventually("the run reopened", async () => {
          const run = await h.run(getRun(viaResume))
          return run.status === "RUNNING" && run.jobsFailed === 0 ? run : undefined
        })
        await drainAll(d, h)
        const r = await cli.done
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toContain("1 dead-lettered message(s) back on their queues, 1 chunk(s) reopened")
        expect(r.stdout).toContain(`run ${viaResume}: COMPLETED`)
        expect(await h.run(getRun(viaResume))).toMatchObject({ status: "COMPLETED", spectraDone: 35, jobsCompleted: 5, jobsFailed: 0 })
        await expectOneRowPerSpectrum(h, "grs", 35)

        const redriven = await phs(["redrive", viaRedrive, "--target", "aws"], { env: d.env })
        expect(redriven.code, redriven.stderr).toBe(0)
        expect(redriven.stdout.trim()).toBe(
          `run ${viaRedrive}: 1 message(s) back on their queues, 1 chunk(s) reopened; continue with phs resume ${viaRedrive} --target aws`
        )
        expect(await h.run(getRun(viaRedrive))).toMatchObject({ status: "RUNNING", jobsFailed: 0 })
        await drainAll(d, h)
        expect(await h.run(getRun(viaRedrive))).toMatchObject({ status: "COMPLETED", spectraDone: 35, jobsCompleted: 5, jobsFailed: 0 })
        await expectOneRowPerSpectrum(h, "grs2", 35)
      })
      for (const runId of [viaResume, viaRedrive])
        expect((await phs(["redrive", runId, "--target", "aws"], { env: d.env })).stdout.trim()).toBe(`run ${runId}: no dead letters and no failed chunks: nothing to redrive`)
    })
  })

  it("a cube replaced in the bucket mid-run: the split recorded its ETag, phs resume and phs redrive refuse in one line (exit 2); phs pipeline with the original file puts it back and resume carries on", async () => {
    await withDeployment(sqs, async (d) => {
      const dir = tempDir()
      const cube = path.join(dir, "small.fits")
      const original = cubeFits(small.cube)
      fs.writeFileSync(cube, original)
      const first = cubeData(small.cube)[0]
      const fatalChunk0 = over(Fitter.Fitter, (fitter) => ({
        ...fitter,
        decomposeBatch: (spectra, n, params, options) =>
          spectra[0] === first ? Effect.fail(new Errors.FitError({ reason: "out of memory (injected)", retryable: false })) : fitter.decomposeBatch(spectra, n, params, options)
      }))
      const pipeline = phsAsync(["pipeline", cube, "--target", "aws", "--survey", "grs", "--chunk-size", "8"], { env: d.env })
      const runId = await withHandlers(d, { wraps: [fatalChunk0] }, async (h) => runIdOf(await flow(d, h, await eventually("the manifest", async () => (await manifestKeys(d))[0]))))
      expect((await pipeline.done).code).not.toBe(0)
      const { cubeKey } = await withHandlers(d, {}, (h) => h.run(getRun(runId)))
      const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex")
      // s3rver's ETag of a single PUT is the MD5 of its bytes
      expect(await withHandlers(d, {}, (h) => h.run(getRun(runId)))).toMatchObject({ status: "FAILED", cubeEtag: md5(original), cubeSize: original.length })

      const other = cubeFits({ ...small.cube, seed: 12 })
      expect(other.length).toBe(original.length)
      await putObject(d, cubeKey, other)
      const replaced = `phs: run ${runId}: its cube ${cubeKey} was replaced in the bucket since the run was split (ETag ${md5(original)} then, ${md5(other)} now); run phs pipeline again with the original file (same --survey, --target aws) to put it back`
      for (const command of ["resume", "redrive"]) {
        const refused = await phs([command, runId, "--target", "aws"], { env: d.env })
        expect(refused.code, refused.stderr).toBe(2)
        expect(oneLine(refused.stderr)).toEqual([replaced])
      }
      // nothing was put back on the queues: the run is as the refusals found it
      expect(await withHandlers(d, {}, (h) => h.run(getRun(runId)))).toMatchObject({ status: "FAILED", jobsFailed: 1 })
      await d.s3.send(new DeleteObjectCommand({ Bucket: d.config.bucket, Key: cubeKey }))
      expect(oneLine((await phs(["resume", runId, "--target", "aws"], { env: d.env })).stderr)).toEqual([
        `phs: run ${runId}: its cube ${cubeKey} is gone from the bucket; run phs pipeline again with the original file (same --survey, --target aws) to put it back`
      ])

      const again = await phs(["pipeline", cube, "--target", "aws", "--survey", "grs", "--chunk-size", "8"], { env: d.env })
      expect(again.stderr).toContain(`cube put back at s3://${d.config.bucket}/${cubeKey}: the bucket held another object there`)
      expect(Buffer.from(await objectBytes(d, cubeKey)).equals(Buffer.from(original))).toBe(true)
      await resumeOnAws(d, runId, async (r, h) => {
        expect(r.code, r.stderr).toBe(0)
        expect(await h.run(getRun(runId))).toMatchObject({ status: "COMPLETED", spectraDone: 35 })
        await expectOneRowPerSpectrum(h, "grs", 35)
      })
    })
  })

  it("a deleted, a corrupted and a stray part: phs verify exits 1 naming it, phs resume rebuilds (or removes) it from the chunk results, verify passes", async () => {
    await withDeployment(sqs, async (d) => {
      await withHandlers(d, {}, async (h) => {
        const runId = runIdOf(await flow(d, h, await upload(d, small)))
        const verify = () => phs(["verify", runId, "--target", "aws"], { env: d.env })
        const resume = () => phs(["resume", runId, "--target", "aws"], { env: d.env })
        const part = Keys.resultPart("grs", runId, 0)
        const intact = await objectBytes(d, part)
        const ok = await verify()
        expect(ok.code, ok.stderr).toBe(0)
        expect(ok.stdout).toContain(`run ${runId}: 1 part(s) intact (35 rows; size and SHA-256 as recorded)`)

        const damages: ReadonlyArray<{ readonly what: string; readonly damage: () => Promise<unknown>; readonly reason: string; readonly fixed: string }> = [
          { what: "deleted", damage: () => d.s3.send(new DeleteObjectCommand({ Bucket: d.config.bucket, Key: part })), reason: "missing", fixed: `rebuilt 1 part(s) from the chunk results: ${part}` },
          {
            what: "corrupted",
            damage: () => {
              const bad = Buffer.from(intact)
              bad.fill(0x55, 100, 600)
              return putObject(d, part, bad)
            },
            reason: "content changed (SHA-256 differs from the record)",
            fixed: `rebuilt 1 part(s) from the chunk results: ${part}`
          },
          {
            what: "stray",
            damage: () => putObject(d, `${Keys.surveyPartition("grs")}${runId}-0009.parquet`, intact),
            reason: "not a part this run published",
            fixed: `removed 1 file(s) it never published: ${Keys.surveyPartition("grs")}${runId}-0009.parquet`
          }
        ]
        for (const c of damages) {
          await c.damage()
          const found = await verify()
          expect(found.code, `${c.what}: ${found.stderr}`).toBe(1)
          expect(found.stdout).toContain(`run ${runId}: DAMAGED`)
          expect(found.stdout).toMatch(new RegExp(`: ${c.reason.replace(/[()]/g, "\\$&")}$`, "m"))
          expect(oneLine(found.stderr)).toEqual([expect.stringMatching(new RegExp(`^phs: run ${runId}: published parts damaged: .* phs resume ${runId} rebuilds them$`))])
          const repaired = await resume()
          expect(repaired.code, `${c.what}: ${repaired.stderr}`).toBe(0)
          expect(repaired.stdout).toContain(`run ${runId}: ${c.fixed}`)
          expect((await verify()).code).toBe(0)
          expect((await objectBytes(d, part)).equals(intact)).toBe(true)
          await expectOneRowPerSpectrum(h, "grs", 35)
        }

        // With a chunk result gone too, nothing can be rebuilt: resume says what must be recomputed.
        await d.s3.send(new DeleteObjectCommand({ Bucket: d.config.bucket, Key: part }))
        await d.s3.send(new DeleteObjectCommand({ Bucket: d.config.bucket, Key: Keys.chunkResult(runId, 8) }))
        const lost = await resume()
        expect(lost.code).toBe(1)
        expect(oneLine(lost.stderr)).toEqual([
          expect.stringMatching(new RegExp(`published parts damaged and not rebuildable: ${Keys.chunkResult(runId, 8)} chunk result gone; recompute the run`))
        ])
        expect((await verify()).code).toBe(1)
      })
    })
  })

  it("--hdu 2: the manifest carries it, the splitter reads that HDU, the run table records it; a bad --hdu uploads nothing", async () => {
    await withDeployment(sqs, async (d) => {
      const dir = tempDir()
      const nchan = 64
      const extension = (nx: number, seed: number, name: string) => {
        const alone = writeCube({ nx, ny: 2, nchan, data: cubeData({ nx, ny: 2, nchan, seed }) })
        const offset = Effect.runSync(Fits.readHeader(Fits.fromBytes(alone))).dataOffset
        const h = rawHeader([
          formatCard("XTENSION", "IMAGE"), formatCard("BITPIX", -32), formatCard("NAXIS", 3), formatCard("NAXIS1", nx), formatCard("NAXIS2", 2), formatCard("NAXIS3", nchan),
          formatCard("PCOUNT", 0), formatCard("GCOUNT", 1), formatCard("EXTNAME", name), "END".padEnd(80)
        ])
        return Buffer.concat([h, alone.subarray(offset)])
      }
      const empty = rawHeader([formatCard("SIMPLE", true), formatCard("BITPIX", 8), formatCard("NAXIS", 0), formatCard("EXTEND", true), "END".padEnd(80)])
      const cube = path.join(dir, "two.fits")
      fs.writeFileSync(cube, Buffer.concat([empty, extension(2, 3, "FIRST"), extension(3, 4, "SECOND")]))

      const bad = await phs(["pipeline", cube, "--target", "aws", "--survey", "two", "--hdu", "7"], { env: d.env })
      expect(bad.code).toBe(2)
      expect(oneLine(bad.stderr)).toEqual(["phs: --hdu 7: two.fits: no HDU 7: the file has HDUs 0 to 2"])

      const cli = phsAsync(["pipeline", cube, "--target", "aws", "--survey", "two", "--hdu", "2", "--chunk-size", "4", "--param", "beta=3"], { env: d.env })
      await withHandlers(d, {}, async (h) => {
        const started = await eventually("the manifest", async () => (await manifestKeys(d))[0])
        const manifest = JSON.parse((await objectBytes(d, started)).toString("utf8"))
        expect(manifest).toMatchObject({ survey: "two", hdu: 2, chunk_size: 4 })
        const runId = runIdOf(await flow(d, h, started))
        const r = await cli.done
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toMatch(/^phs: note: the cube is in HDU 2 \(image extension "SECOND"\)$/m)
        expect(await h.run(getRun(runId))).toMatchObject({ status: "COMPLETED", nx: 3, ny: 2, nSpectra: 6, hdu: 2 })
        const runs = JSON.parse((await phs(["runs", "--target", "aws", "--json"], { env: d.env })).stdout)
        expect(runs).toMatchObject([{ runId, hdu: 2, nSpectra: 6 }])
        await expectOneRowPerSpectrum(h, "two", 6)
      })
    })
  })
})
