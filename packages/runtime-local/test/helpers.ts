import { Effect, Layer, type Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RuntimeLocal } from "../src/index.js"

/** A fresh directory, removed with the scope. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "phs-runtime-local-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A layer built over a fresh directory that is removed after the layer is released. */
export const inTempDir = <A, E, R>(f: (dir: string) => Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.unwrapScoped(Effect.map(tempDir, f))

/** The whole local runtime over a fresh workdir. */
export const freshRuntime = () => inTempDir((workdir) => RuntimeLocal.layer({ workdir }))

/** Opens the runtime on `workdir` as one more connection, for as long as the scope lasts. */
export const connect = (workdir: string, options: { readonly busyTimeoutMs?: number } = {}) =>
  Layer.build(RuntimeLocal.layer({ workdir, ...options }))
