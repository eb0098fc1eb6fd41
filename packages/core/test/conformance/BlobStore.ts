/**
 * What every BlobStore does, stated as tests. A runtime runs the suite against its layer:
 * `blobStoreConformance("fs", () => BlobStoreFs.layer({ root }))`. The layer is built anew
 * for each test, so each test starts from an empty store.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { BlobStore } from "../../src/index.js"

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

export const blobStoreConformance = (name: string, layer: () => Layer.Layer<BlobStore.BlobStore, unknown>) =>
  describe(`BlobStore conformance: ${name}`, () => {
    const withStore = <A, E>(f: (store: BlobStore.BlobStore) => Effect.Effect<A, E>) => () =>
      Effect.flatMap(BlobStore.BlobStore, f).pipe(Effect.provide(layer()))

    it.effect("get returns the bytes that put stored", withStore((store) =>
      Effect.gen(function* () {
        const all = Uint8Array.from({ length: 256 }, (_, i) => i)
        yield* store.put("chunks/run-a/chunk-0000000.bin", all)
        expect(yield* store.get("chunks/run-a/chunk-0000000.bin")).toEqual(all)
      })))

    it.effect("putFile stores a local file's bytes, and a missing file is a StorageError", withStore((store) =>
      Effect.gen(function* () {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "phs-putfile-")), "cube.fits")
        const content = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251)
        fs.writeFileSync(file, content)
        yield* store.putFile("cubes/c.fits", file)
        expect(yield* store.get("cubes/c.fits")).toEqual(content)
        expect(yield* store.size("cubes/c.fits")).toEqual(Option.some(70_000))
        const err = yield* Effect.flip(store.putFile("cubes/d.fits", `${file}.missing`))
        expect(err._tag).toBe("StorageError")
        expect(yield* store.size("cubes/d.fits")).toEqual(Option.none())
      })))

    it.effect("putStream stores the stream's bytes in order, across more than one upload part", withStore((store) =>
      Effect.gen(function* () {
        // 9.5 MiB in uneven pieces: more than one 8 MiB part on S3
        const sizes = Array.from({ length: 19 }, (_, i) => 400_000 + i * 13_001)
        const pieces = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (i * 7 + j) % 253))
        yield* store.putStream("decompositions/survey=s/run-0.parquet", Stream.fromIterable(pieces))
        const total = sizes.reduce((a, b) => a + b, 0)
        expect(yield* store.size("decompositions/survey=s/run-0.parquet")).toEqual(Option.some(total))
        const got = yield* store.get("decompositions/survey=s/run-0.parquet")
        let at = 0
        for (const p of pieces) {
          expect(Buffer.from(got.subarray(at, at + p.length)).equals(Buffer.from(p))).toBe(true)
          at += p.length
        }
        yield* store.putStream("small", Stream.make(bytes("ab"), bytes("c")))
        expect(text(yield* store.get("small"))).toBe("abc")
        yield* store.putStream("none", Stream.empty)
        expect(yield* store.size("none")).toEqual(Option.some(0))
      })))

    it.effect("a failing putStream passes its error on and leaves the old blob, and nothing else", withStore((store) =>
      Effect.gen(function* () {
        yield* store.put("parts/p.parquet", bytes("old"))
        const big = new Uint8Array(9 * 1024 * 1024)
        const failing = Stream.concat(Stream.make(big, bytes("more")), Stream.fail("producer broke" as const))
        expect(yield* Effect.flip(store.putStream("parts/p.parquet", failing))).toBe("producer broke")
        expect(yield* Effect.flip(store.putStream("parts/q.parquet", failing))).toBe("producer broke")
        expect(text(yield* store.get("parts/p.parquet"))).toBe("old")
        expect(yield* store.list("parts/")).toEqual(["parts/p.parquet"])
        const refused = yield* Effect.flip(store.putStream("../x", Stream.make(bytes("x"))))
        expect(refused).toMatchObject({ _tag: "StorageError", retryable: false })
      })))

    it.effect("put replaces an existing blob", withStore((store) =>
      Effect.gen(function* () {
        yield* store.put("manifests/a.json", bytes("first version, longer"))
        yield* store.put("manifests/a.json", bytes("second"))
        expect(text(yield* store.get("manifests/a.json"))).toBe("second")
      })))

    it.effect("the store keeps its own copy: changing the bytes after put or get changes nothing", withStore((store) =>
      Effect.gen(function* () {
        const given = bytes("abc")
        yield* store.put("k", given)
        given[0] = 0x7a
        const got = yield* store.get("k")
        got[1] = 0x7a
        expect(text(yield* store.get("k"))).toBe("abc")
      })))

    it.effect("an empty blob exists and has size 0", withStore((store) =>
      Effect.gen(function* () {
        yield* store.put("empty", new Uint8Array(0))
        expect((yield* store.get("empty")).length).toBe(0)
        expect(yield* store.size("empty")).toEqual(Option.some(0))
      })))

    it.effect("get of a missing key fails with BlobNotFound naming the key", withStore((store) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(store.get("cubes/missing.fits"))
        expect(error._tag).toBe("BlobNotFound")
        expect(error).toMatchObject({ key: "cubes/missing.fits" })
      })))

    it.effect("getRange returns length bytes from offset", withStore((store) =>
      Effect.gen(function* () {
        yield* store.put("cubes/grs.fits", bytes("0123456789"))
        expect(text(yield* store.getRange("cubes/grs.fits", 0, 3))).toBe("012")
        expect(text(yield* store.getRange("cubes/grs.fits", 4, 4))).toBe("4567")
      })))

    it.effect("getRange returns fewer bytes only at the end of the blob", withStore((store) =>
      Effect.gen(function* () {
        yield* store.put("cubes/grs.fits", bytes("0123456789"))
        expect(text(yield* store.getRange("cubes/grs.fits", 7, 10))).toBe("789")
        expect((yield* store.getRange("cubes/grs.fits", 10, 5)).length).toBe(0)
      })))

    it.effect("getRange of a missing key fails with BlobNotFound", withStore((store) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(store.getRange("cubes/missing.fits", 0, 10))
        expect(error._tag).toBe("BlobNotFound")
      })))

    it.effect("size is the byte length, or none for a missing key", withStore((store) =>
      Effect.gen(function* () {
        yield* store.put("a/b", new Uint8Array(1234))
        expect(yield* store.size("a/b")).toEqual(Option.some(1234))
        expect(yield* store.size("a/c")).toEqual(Option.none())
      })))

    it.effect("stat is the size and an identity that holds while the blob stays and changes when other bytes replace it; none for a missing key", withStore((store) =>
      Effect.gen(function* () {
        yield* store.put("cubes/s.fits", bytes("first version"))
        const first = Option.getOrThrow(yield* store.stat("cubes/s.fits"))
        expect(first.size).toBe(13)
        expect(first.etag.length).toBeGreaterThan(0)
        expect(yield* store.stat("cubes/s.fits")).toEqual(Option.some(first))
        yield* store.put("cubes/s.fits", bytes("second version, longer"))
        const second = Option.getOrThrow(yield* store.stat("cubes/s.fits"))
        expect(second.size).toBe(22)
        expect(second.etag).not.toBe(first.etag)
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "phs-stat-")), "cube.fits")
        fs.writeFileSync(file, bytes("third version"))
        yield* store.putFile("cubes/s.fits", file)
        const third = Option.getOrThrow(yield* store.stat("cubes/s.fits"))
        expect(third.size).toBe(13)
        expect([first.etag, second.etag]).not.toContain(third.etag)
        expect(yield* store.stat("cubes/none.fits")).toEqual(Option.none())
      })))

    it.effect("list returns the keys under a prefix, sorted", withStore((store) =>
      Effect.gen(function* () {
        for (const key of [
          "chunks/run-b/chunk-0000500.bin",
          "chunks/run-a/chunk-0000500.bin",
          "chunks/run-a/chunk-0000000.bin",
          "chunks/run-a/x/nested.bin",
          "chunksmith/other.bin",
          "cubes/grs.fits"
        ])
          yield* store.put(key, bytes(key))
        expect(yield* store.list("chunks/run-a/")).toEqual([
          "chunks/run-a/chunk-0000000.bin",
          "chunks/run-a/chunk-0000500.bin",
          "chunks/run-a/x/nested.bin"
        ])
        expect(yield* store.list("chunks/run-a/chunk-00005")).toEqual(["chunks/run-a/chunk-0000500.bin"])
        expect(yield* store.list("chunks")).toEqual([
          "chunks/run-a/chunk-0000000.bin",
          "chunks/run-a/chunk-0000500.bin",
          "chunks/run-a/x/nested.bin",
          "chunks/run-b/chunk-0000500.bin",
          "chunksmith/other.bin"
        ])
        expect((yield* store.list("")).length).toBe(6)
      })))

    it.effect("list of a prefix with no keys is empty", withStore((store) =>
      Effect.gen(function* () {
        yield* store.put("cubes/grs.fits", bytes("x"))
        expect(yield* store.list("decompositions/")).toEqual([])
        expect(yield* store.list("cubes/grs.fits/")).toEqual([])
      })))

    it.effect("remove deletes a blob", withStore((store) =>
      Effect.gen(function* () {
        yield* store.put("a/b", bytes("x"))
        yield* store.remove("a/b")
        expect(yield* store.size("a/b")).toEqual(Option.none())
        expect(yield* store.list("a/")).toEqual([])
        expect((yield* Effect.flip(store.get("a/b")))._tag).toBe("BlobNotFound")
      })))

    it.effect("removing a missing blob is not an error", withStore((store) => store.remove("never/was")))

    it.effect("keys that could escape their prefix are refused and nothing is written", withStore((store) =>
      Effect.gen(function* () {
        for (const key of ["../x", "/abs", "a/../../x", "a//b", "a/./b", "a\\b", "", "a/\u0000b"]) {
          const putError = yield* Effect.flip(store.put(key, bytes("x")))
          expect(putError).toMatchObject({ _tag: "StorageError", retryable: false })
          expect((yield* Effect.flip(store.get(key)))._tag).toBe("StorageError")
          expect((yield* Effect.flip(store.getRange(key, 0, 1)))._tag).toBe("StorageError")
        }
        expect(yield* store.list("")).toEqual([])
      })))
  })
