/**
 * The refit mode in the run id (Params.runId): hashed only when it is not `none`, so the ids
 * of plain runs are those they had before `--refit` existed.
 */
import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import * as Params from "../src/Params.js"
import { hashValue } from "../src/internal/canonical.js"

describe("Params.runId and the refit mode", () => {
  it.effect("none (or absent) keeps the plain id; spatial is another run", () =>
    Effect.gen(function* () {
      const base = { cubeSha256: "ab".repeat(32), survey: "grs", params: yield* Params.resolve({}), chunkSize: 500, codeVersion: "phs-x+fit-y" }
      // the id as it was computed before the refit mode existed
      const before = `grs-${hashValue(base).slice(0, 16)}`
      expect(Params.runId(base)).toBe(before)
      expect(Params.runId({ ...base, refit: "none" })).toBe(before)
      const spatial = Params.runId({ ...base, refit: "spatial" })
      expect(spatial).not.toBe(before)
      expect(spatial).toMatch(/^grs-[0-9a-f]{16}$/)
      // the HDU likewise: hashed only when named (prepare drops it when it is the default one)
      expect(Params.runId({ ...base, hdu: undefined })).toBe(before)
      expect(Params.runId({ ...base, hdu: 2 })).not.toBe(before)
      expect(Params.runId({ ...base, hdu: 2, refit: "spatial" })).not.toBe(spatial)
    }))

  it.effect("a manifest without refit decodes as none; an unknown mode is refused", () =>
    Effect.gen(function* () {
      const m = { cube_key: "cubes/grs-abc.fits", survey: "grs" }
      expect((yield* Params.decodeManifest(m)).refit).toBe("none")
      expect((yield* Params.decodeManifest({ ...m, refit: "spatial" })).refit).toBe("spatial")
      const bad = yield* Effect.flip(Params.decodeManifest({ ...m, refit: "bogus" }))
      expect(bad.reason).toContain("refit")
    }))
})
