/**
 * Directory creation that fails at once where Node's recursive mkdir would spin (/proc).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Dirs } from "../src/index.js"
import { tempDir } from "./helpers.js"

describe("Dirs", () => {
  it.scoped("creates missing levels, and accepts a directory that exists", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const deep = path.join(dir, "a", "b", "c")
      Dirs.makeDirsSync(deep)
      expect(fs.statSync(deep).isDirectory()).toBe(true)
      Dirs.makeDirsSync(deep)
      const deeper = path.join(deep, "d", "e")
      yield* Effect.promise(() => Dirs.makeDirs(deeper))
      expect(fs.statSync(deeper).isDirectory()).toBe(true)
    }))

  it.scoped("names the file in the way (ENOTDIR), sync and async", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "f"), "")
      const target = path.join(dir, "f", "x", "y")
      expect(() => Dirs.makeDirsSync(target)).toThrow(`cannot create ${target}: ${path.join(dir, "f")} is not a directory (ENOTDIR)`)
      const error = yield* Effect.flip(Effect.tryPromise(() => Dirs.makeDirs(target)))
      expect((error.cause as Dirs.DirError).code).toBe("ENOTDIR")
    }))

  it.skipIf(!fs.existsSync("/proc/self"))("fails at once under /proc, where mkdir answers ENOENT below an existing parent", async () => {
    expect(() => Dirs.makeDirsSync("/proc/phs-no-such/w")).toThrow("cannot create /proc/phs-no-such/w: mkdir /proc/phs-no-such: no such file or directory (ENOENT)")
    await expect(Dirs.makeDirs("/proc/phs-no-such/w")).rejects.toMatchObject({ code: "ENOENT", dir: "/proc/phs-no-such/w" })
  })
})
