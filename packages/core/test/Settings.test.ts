import { describe, expect, it } from "@effect/vitest"
import { Config, Either, Option } from "effect"
import * as Settings from "../src/Settings.js"

const config = Config.all({
  bucket: Settings.required("BUCKET"),
  table: Settings.required("TABLE"),
  region: Settings.optional("REGION"),
  threads: Settings.optionalParsed("THREADS", Settings.positiveInteger)
})

describe("Settings", () => {
  it("reads trimmed values; blank optional values are unset", () => {
    const read = Either.getOrThrow(Settings.fromEnv(config, { BUCKET: " b ", TABLE: "t", REGION: "  ", THREADS: "4" }))
    expect(read).toEqual({ bucket: "b", table: "t", region: Option.none(), threads: Option.some(4) })
  })

  it("names every missing or malformed variable in one line", () => {
    const error = Either.getLeft(Settings.fromEnv(config, { TABLE: "", THREADS: "0" }))
    expect(Option.isSome(error)).toBe(true)
    const reason = Option.getOrThrow(error).reason
    expect(reason).toBe('bad environment: BUCKET is not set; TABLE is not set; THREADS must be a positive integer, got "0"')
  })
})
