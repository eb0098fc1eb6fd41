/**
 * `phs query`'s check of the published parts (query/PartCheck.ts): it runs only once the
 * statement is accepted, hashes a part only when it changed since it was last hashed (the
 * workdir's hash cache), and still names a damaged part on stderr before the rows.
 */
import { describe, expect, it } from "@effect/vitest"
import { BlobStore } from "@phs/core"
import { RuntimeLocal } from "@phs/runtime-local"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll } from "vitest"
import * as PartCheck from "../packages/cli/src/query/PartCheck.js"
import { phs, tempDir } from "./support/cli.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")

let work: string
let runId: string
let part: string
let key: string
let original: Buffer

/** Sets a file's times an hour back: a part written well before the query, as parts are. */
const settle = (file: string) => {
  const past = new Date(Date.now() - 3600_000)
  fs.utimesSync(file, past, past)
}

/** The part with 64 bytes in its middle changed, size kept, in place (same inode). */
const damage = () => {
  const bytes = Buffer.from(original)
  bytes.fill(0x55, 2_000, 2_064)
  const fd = fs.openSync(part, "r+")
  fs.writeSync(fd, bytes, 0, bytes.length, 0)
  fs.closeSync(fd)
}

const restore = () => {
  fs.writeFileSync(part, original)
  settle(part)
}

const cacheFile = () => path.join(work, PartCheck.HASH_CACHE_FILE)

/** The workdir's services with the blob store's range reads counted (a hash reads a part in ranges). */
const counted = () => {
  const reads: string[] = []
  const counting = Layer.effect(
    BlobStore.BlobStore,
    Effect.map(BlobStore.BlobStore, (store) => ({
      ...store,
      getRange: (k: string, offset: number, length: number) => Effect.zipRight(Effect.sync(() => reads.push(k)), store.getRange(k, offset, length))
    }))
  )
  const check = PartCheck.damageLines(work).pipe(Effect.provide(counting), Effect.provide(RuntimeLocal.layer({ workdir: work })))
  return { reads, check }
}

const warning = () =>
  `phs: warning: ${key}: content changed (SHA-256 differs from the record); rows from it may be wrong (phs verify ${runId} checks, phs resume ${runId} rebuilds it)`

beforeAll(async () => {
  work = path.join(tempDir("phs-query-partcheck-"), "w")
  const r = await phs(["pipeline", SAMPLE, "--survey", "pc", "--workdir", work, "--json"])
  expect(r.code, r.stderr).toBe(0)
  runId = JSON.parse(r.stdout).runId
  key = `decompositions/survey=pc/${runId}-0000.parquet`
  part = path.join(RuntimeLocal.blobRoot(work), key)
  original = fs.readFileSync(part)
  settle(part)
}, 120_000)

describe("phs query's part check", () => {
  it.effect("hashes an unchanged part once, and again once it changed", () =>
    Effect.gen(function* () {
      fs.rmSync(cacheFile(), { force: true })
      const first = counted()
      expect(yield* first.check).toEqual([])
      expect(first.reads.filter((k) => k === key).length).toBeGreaterThan(0)
      expect(fs.existsSync(cacheFile())).toBe(true)

      const second = counted()
      expect(yield* second.check).toEqual([])
      expect(second.reads).not.toContain(key)

      damage()
      const third = counted()
      expect((yield* third.check).join("\n")).toContain(`${key}: content changed`)
      expect(third.reads).toContain(key)
      restore()
    }))

  it.effect("does not cache a part written moments before it was hashed", () =>
    Effect.gen(function* () {
      fs.rmSync(cacheFile(), { force: true })
      fs.utimesSync(part, new Date(), new Date())
      yield* counted().check
      const again = counted()
      yield* again.check
      expect(again.reads).toContain(key)
      settle(part)
    }))

  it("a refused or failing statement hashes nothing; an accepted one names the damaged part before its rows", async () => {
    damage()
    try {
      for (const sql of ["COPY (SELECT 1) TO 'x.csv'", "SELECT 1; SELECT 2", "SELEC nonsense FROM decompositions", "SELECT no_such_column FROM decompositions"]) {
        const r = await phs(["query", sql, "--workdir", work])
        expect(r.code, sql).toBe(2)
        expect(r.stderr.trimEnd().split("\n"), sql).toHaveLength(1)
        expect(r.stderr, sql).not.toContain("warning")
      }
      const q = await phs(["query", "SELECT count(*) AS n FROM decompositions", "--format", "csv", "--workdir", work])
      expect(q.code, q.stderr).toBe(0)
      expect(q.stdout).toMatch(/^n\r?\n25/)
      expect(q.stderr.trimEnd().split("\n")).toEqual([warning()])
    } finally {
      restore()
    }
    const clean = await phs(["query", "SELECT count(*) AS n FROM decompositions", "--workdir", work])
    expect(clean.stderr).toBe("")
  }, 60_000)
})
