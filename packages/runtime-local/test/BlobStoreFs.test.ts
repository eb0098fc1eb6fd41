/**
 * The file-system blob store beyond the conformance suite: where files go, atomic
 * replacement under a concurrent reader, and keys that must not leave the root.
 */
import { describe, expect, it } from "@effect/vitest"
import { BlobStore } from "@phs/core"
import { Context, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { BlobStoreFs } from "../src/index.js"
import { connect, tempDir } from "./helpers.js"

/** A store rooted at `<tmp>/root`, and the tmp directory around it. */
const rooted = Effect.gen(function* () {
  const dir = yield* tempDir
  const root = path.join(dir, "root")
  return { dir, root, store: yield* BlobStoreFs.make({ root }) }
})

const filled = (size: number, value: number) => new Uint8Array(size).fill(value)

describe("BlobStoreFs", () => {
  it.scoped("a blob is the file <root>/<key>", () =>
    Effect.gen(function* () {
      const { root, store } = yield* rooted
      yield* store.put("decompositions/survey=grs/run-a.parquet", new Uint8Array([1, 2, 3]))
      expect([...fs.readFileSync(path.join(root, "decompositions", "survey=grs", "run-a.parquet"))]).toEqual([1, 2, 3])
      fs.writeFileSync(path.join(root, "cubes.fits"), "made by hand")
      expect(new TextDecoder().decode(yield* store.get("cubes.fits"))).toBe("made by hand")
    }))

  it.scoped("the local runtime keeps blobs under <workdir>/blobs beside phs.sqlite", () =>
    Effect.gen(function* () {
      const workdir = path.join(yield* tempDir, "work")
      const store = Context.get(yield* connect(workdir), BlobStore.BlobStore)
      yield* store.put("manifests/a.json", new TextEncoder().encode("{}"))
      expect(fs.readFileSync(path.join(workdir, "blobs", "manifests", "a.json"), "utf8")).toBe("{}")
      expect(fs.existsSync(path.join(workdir, "phs.sqlite"))).toBe(true)
    }))

  it.scoped("a reader polling while a large blob is rewritten sees the old or the new bytes, never a part", () =>
    Effect.gen(function* () {
      const { root, store } = yield* rooted
      const versions = [filled(2 << 20, 0x41), filled(3 << 20, 0x42)]
      yield* store.put("big.bin", versions[0])
      const file = path.join(root, "big.bin")
      let done = false
      let reads = 0
      const whole = (b: Uint8Array) =>
        (b.length === versions[0].length && b.every((x) => x === 0x41)) || (b.length === versions[1].length && b.every((x) => x === 0x42))
      const writer = Effect.gen(function* () {
        for (let i = 1; i <= 20; i++) yield* store.put("big.bin", versions[i % 2])
        done = true
      })
      const reader = Effect.gen(function* () {
        while (!done) {
          expect(whole(yield* store.get("big.bin"))).toBe(true)
          expect(whole(fs.readFileSync(file))).toBe(true)
          reads++
          yield* Effect.yieldNow()
        }
      })
      yield* Effect.all([writer, reader], { concurrency: 2 })
      expect(reads).toBeGreaterThan(0)
      expect(yield* store.size("big.bin")).toEqual(Option.some(versions[0].length))
      expect(fs.readdirSync(root)).toEqual(["big.bin"])
    }))

  it.scoped("keys that would leave the root are refused and nothing is written outside it", () =>
    Effect.gen(function* () {
      const { dir, root, store } = yield* rooted
      for (const key of ["../outside", "../root-sibling/x", "/tmp/abs", "a/../../outside"]) {
        const attempts: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
          store.put(key, new Uint8Array([1])),
          store.get(key),
          store.size(key),
          store.remove(key)
        ]
        for (const attempt of attempts)
          expect(yield* Effect.flip(attempt)).toMatchObject({ _tag: "StorageError", reason: "unsafe key", retryable: false })
      }
      expect(fs.readdirSync(dir)).toEqual(["root"])
      expect(fs.readdirSync(root)).toEqual([])
      expect(yield* store.list("../")).toEqual([])
    }))

  it.scoped("list skips the temporary files of unfinished puts", () =>
    Effect.gen(function* () {
      const { root, store } = yield* rooted
      yield* store.put("chunks/a.bin", new Uint8Array([1]))
      fs.writeFileSync(path.join(root, "chunks", ".b.bin.0123456789abcdef.tmp"), "half")
      expect(yield* store.list("chunks/")).toEqual(["chunks/a.bin"])
    }))

  it.scoped("a key that names a directory is not a blob", () =>
    Effect.gen(function* () {
      const { store } = yield* rooted
      yield* store.put("chunks/run-a/chunk-0000000.bin", new Uint8Array([1]))
      expect((yield* Effect.flip(store.get("chunks/run-a")))._tag).toBe("BlobNotFound")
      expect((yield* Effect.flip(store.getRange("chunks", 0, 1)))._tag).toBe("BlobNotFound")
      expect(yield* store.size("chunks/run-a")).toEqual(Option.none())
      yield* store.remove("chunks/run-a")
      expect(yield* store.list("chunks/")).toEqual(["chunks/run-a/chunk-0000000.bin"])
    }))

  it.scoped("a put that cannot be written fails as a fatal StorageError and leaves no temporary file", () =>
    Effect.gen(function* () {
      const { root, store } = yield* rooted
      yield* store.put("a/b", new Uint8Array([1]))
      const error = yield* Effect.flip(store.put("a", new Uint8Array([2])))
      expect(error).toMatchObject({ _tag: "StorageError", operation: "put", key: "a", retryable: false })
      expect(fs.readdirSync(root)).toEqual(["a"])
      expect(fs.readdirSync(path.join(root, "a"))).toEqual(["b"])
    }))

  it.scoped("a negative range is refused", () =>
    Effect.gen(function* () {
      const { store } = yield* rooted
      yield* store.put("k", new Uint8Array(10))
      expect((yield* Effect.flip(store.getRange("k", -1, 5)))._tag).toBe("StorageError")
      expect((yield* Effect.flip(store.getRange("k", 0, -5)))._tag).toBe("StorageError")
    }))

  it.scoped("putFile hard-links a file on the same file system, copies one from another, and replaces a blob atomically", () =>
    Effect.gen(function* () {
      const { dir, root, store } = yield* rooted
      const source = path.join(dir, "cube.fits")
      fs.writeFileSync(source, "cube bytes")
      yield* store.putFile("cubes/a.fits", source)
      expect(fs.statSync(path.join(root, "cubes", "a.fits")).ino).toBe(fs.statSync(source).ino)
      // /dev/shm is a tmpfs here: another file system, so the link fails with EXDEV and the store copies.
      if (fs.existsSync("/dev/shm") && fs.statSync("/dev/shm").dev !== fs.statSync(dir).dev) {
        const other = fs.mkdtempSync("/dev/shm/phs-blob-")
        try {
          fs.writeFileSync(path.join(other, "b.fits"), "other bytes")
          yield* store.putFile("cubes/a.fits", path.join(other, "b.fits"))
          const stored = path.join(root, "cubes", "a.fits")
          expect(fs.readFileSync(stored, "utf8")).toBe("other bytes")
          expect(fs.statSync(stored).ino).not.toBe(fs.statSync(path.join(other, "b.fits")).ino)
          expect(fs.readFileSync(source, "utf8")).toBe("cube bytes")
        } finally {
          fs.rmSync(other, { recursive: true, force: true })
        }
      }
      expect(fs.readdirSync(path.join(root, "cubes"))).toEqual(["a.fits"])
    }))

  it.scoped("removeStaleTemps removes temporary files older than the given time, anywhere under the root, and nothing else", () =>
    Effect.gen(function* () {
      const { root, store } = yield* rooted
      yield* store.put("chunks/r/chunk-0.f32", new Uint8Array([1]))
      const old = new Date(Date.now() - 60_000)
      const stale = [path.join(root, "chunks", "r", ".chunk-1.f32.0123456789abcdef.tmp"), path.join(root, ".top.0123456789abcdef.tmp")]
      for (const f of stale) {
        fs.writeFileSync(f, "partial")
        fs.utimesSync(f, old, old)
      }
      const fresh = path.join(root, "chunks", "r", ".chunk-2.f32.00000000000000ff.tmp")
      fs.writeFileSync(fresh, "being written")
      const notTemp = path.join(root, "chunks", "r", "notes.tmp")
      fs.writeFileSync(notTemp, "a blob whose name ends in .tmp")
      fs.utimesSync(notTemp, old, old)
      expect(yield* BlobStoreFs.removeStaleTemps(root, Date.now() - 1000)).toBe(2)
      for (const f of stale) expect(fs.existsSync(f)).toBe(false)
      expect(fs.existsSync(fresh)).toBe(true)
      expect(fs.existsSync(notTemp)).toBe(true)
      expect(yield* store.list("chunks/")).toEqual(["chunks/r/chunk-0.f32", "chunks/r/notes.tmp"])
    }))

  describe("openRanges (one handle for many range reads)", () => {
    /** This process's open descriptors of `file` (Linux's /proc; undefined elsewhere). */
    const handlesOf = (file: string): number | undefined => {
      if (!fs.existsSync("/proc/self/fd")) return undefined
      let n = 0
      for (const fd of fs.readdirSync("/proc/self/fd")) {
        try {
          if (fs.readlinkSync(`/proc/self/fd/${fd}`) === file) n++
        } catch {
          // a descriptor closed while listing
        }
      }
      return n
    }
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 7919 + 13) % 251)

    it.scoped("reads the bytes getRange reads, at the start, inside, at the end and past it, concurrently too", () =>
      Effect.gen(function* () {
        const { store } = yield* rooted
        yield* store.put("cubes/c.fits", bytes)
        const ranges: Array<[number, number]> = [[0, 2880], [2880, 40_000], [99_000, 1_003], [99_999, 100], [100_003, 10], [200_000, 5], [5, 0]]
        const expected = yield* Effect.forEach(ranges, ([o, l]) => store.getRange("cubes/c.fits", o, l))
        const got = yield* Effect.scoped(
          Effect.gen(function* () {
            const reader = yield* store.openRanges!("cubes/c.fits")
            expect(reader.size).toBe(bytes.length)
            return yield* Effect.forEach(ranges, ([o, l]) => reader.read(o, l), { concurrency: 8 })
          })
        )
        expect(got.map((b) => [...b])).toEqual(expected.map((b) => [...b]))
        expect([...got[1]]).toEqual([...bytes.subarray(2880, 42_880)])
        expect(got[3].length).toBe(4)
        expect(got[4].length).toBe(0)
      }))

    it.scoped("closes its handle when the scope ends, and when the scope fails", () =>
      Effect.gen(function* () {
        const { root, store } = yield* rooted
        yield* store.put("cubes/c.fits", bytes)
        const file = path.join(root, "cubes", "c.fits")
        const ended = yield* Effect.scoped(
          Effect.gen(function* () {
            const reader = yield* store.openRanges!("cubes/c.fits")
            yield* reader.read(0, 10)
            const open = handlesOf(file)
            if (open !== undefined) expect(open).toBe(1)
            return reader
          })
        )
        if (handlesOf(file) !== undefined) expect(handlesOf(file)).toBe(0)
        expect((yield* Effect.flip(ended.read(0, 10)))._tag).toBe("StorageError")

        let failed: BlobStore.RangeReader | undefined
        const error = yield* Effect.flip(
          Effect.scoped(
            Effect.gen(function* () {
              failed = yield* store.openRanges!("cubes/c.fits")
              return yield* Effect.fail("the block's decode failed" as const)
            })
          )
        )
        expect(error).toBe("the block's decode failed")
        if (handlesOf(file) !== undefined) expect(handlesOf(file)).toBe(0)
        expect((yield* Effect.flip(failed!.read(0, 10)))._tag).toBe("StorageError")
      }))

    it.scoped("a missing blob or a directory is BlobNotFound, an unsafe key or a negative range a StorageError", () =>
      Effect.gen(function* () {
        const { store } = yield* rooted
        yield* store.put("chunks/run-a/chunk-0000000.bin", new Uint8Array([1, 2, 3]))
        const open = (key: string) => Effect.scoped(store.openRanges!(key))
        expect((yield* Effect.flip(open("chunks/run-a/missing.bin")))._tag).toBe("BlobNotFound")
        expect((yield* Effect.flip(open("chunks/run-a")))._tag).toBe("BlobNotFound")
        expect((yield* Effect.flip(open("../outside")))._tag).toBe("StorageError")
        const refused = yield* Effect.scoped(
          Effect.flatMap(store.openRanges!("chunks/run-a/chunk-0000000.bin"), (r) => Effect.flip(r.read(-1, 2)))
        )
        expect(refused._tag).toBe("StorageError")
      }))

    it.scoped("BlobStore.rangeReader uses it where the store has it and getRange where it has not, with the same bytes", () =>
      Effect.gen(function* () {
        const { store } = yield* rooted
        const memory = BlobStore.makeMemory()
        yield* store.put("cubes/c.fits", bytes)
        yield* memory.put("cubes/c.fits", bytes)
        expect(memory.openRanges).toBeUndefined()
        const readBoth = (s: BlobStore.BlobStore) =>
          Effect.scoped(Effect.flatMap(BlobStore.rangeReader("cubes/c.fits"), (r) => Effect.map(r.read(99_000, 2_000), (b) => [r.size, ...b]))).pipe(
            Effect.provideService(BlobStore.BlobStore, s)
          )
        expect(yield* readBoth(store)).toEqual(yield* readBoth(memory))
        expect((yield* Effect.flip(Effect.scoped(BlobStore.rangeReader("nope")).pipe(Effect.provideService(BlobStore.BlobStore, memory))))._tag).toBe("BlobNotFound")
      }))
  })
})
