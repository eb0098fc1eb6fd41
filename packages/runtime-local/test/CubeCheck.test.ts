/**
 * CubeCheck.verify over a blob store: by content (the key's SHA-256 prefix) and by identity
 * (the ETag and size a split recorded), and a run recorded before the identity existed.
 */
import { describe, expect, it } from "@effect/vitest"
import { BlobStore, Keys } from "@phs/core"
import { Effect, Option } from "effect"
import { createHash } from "node:crypto"
import { CubeCheck } from "../src/index.js"

const bytes = (text: string) => new TextEncoder().encode(text)
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

const cube = bytes("SIMPLE  =                    T  a cube")
const key = Keys.cube("grs", sha(cube))

const failure = <E extends { readonly _tag: string }>(e: Effect.Effect<void, E, BlobStore.BlobStore>) =>
  Effect.map(Effect.flip(e), (error) => ("reason" in error ? String(error.reason) : error._tag))

describe("CubeCheck.verify", () => {
  it.effect("identity: the recorded ETag and size pass; another object at the key, or none, is refused naming the run and the cube", () =>
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      yield* store.put(key, cube)
      const split = Option.getOrThrow(yield* store.stat(key))
      const run = { runId: "grs-1", cubeKey: key, cubeEtag: split.etag, cubeSize: split.size }
      yield* CubeCheck.verify(run, "identity")
      yield* store.put(key, bytes("SIMPLE  =                    T  other"))
      const now = Option.getOrThrow(yield* store.stat(key))
      expect(yield* failure(CubeCheck.verify(run, "identity"))).toBe(
        `run grs-1: its cube ${key} was replaced in the bucket since the run was split (ETag ${split.etag} then, ${now.etag} now); run phs pipeline again with the original file (same --survey, --target aws) to put it back`
      )
      yield* store.remove(key)
      expect(yield* failure(CubeCheck.verify(run, "identity"))).toMatch(new RegExp(`^run grs-1: its cube ${key} is gone from the bucket; `))
    }).pipe(Effect.provide(BlobStore.layerMemory)))

  it.effect("identity: a run recorded before the split recorded an ETag is not checked (resumes as before)", () =>
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      yield* store.put(key, bytes("not the cube the run was split from"))
      yield* CubeCheck.verify({ runId: "grs-old", cubeKey: key }, "identity")
    }).pipe(Effect.provide(BlobStore.layerMemory)))

  it.effect("content: a copy written again with the same bytes passes whatever its ETag; other bytes or none are refused", () =>
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      yield* store.put(key, cube)
      const split = Option.getOrThrow(yield* store.stat(key))
      const run = { runId: "grs-1", cubeKey: key, cubeEtag: split.etag, cubeSize: split.size }
      yield* store.put(key, cube)
      expect(Option.getOrThrow(yield* store.stat(key)).etag).not.toBe(split.etag)
      yield* CubeCheck.verify(run, "content")
      yield* store.put(key, bytes("SIMPLE  =                    T  other"))
      expect(yield* failure(CubeCheck.verify(run, "content"))).toBe(
        `the run's cube ${key} is damaged (its SHA-256 no longer matches its name); run phs pipeline again with the original file (same --survey) to import it again`
      )
      yield* store.remove(key)
      expect(yield* failure(CubeCheck.verify(run, "content"))).toMatch(/is missing from the workdir; /)
    }).pipe(Effect.provide(BlobStore.layerMemory)))
})
