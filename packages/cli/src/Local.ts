/**
 * The local runtime as the CLI uses it: a workdir (SQLite + blobs), the native fitter, and
 * a lock so that one process at a time drives the work in a workdir.
 */
import { Errors, Faults, Fitter } from "@phs/core"
import { BlobStoreFs, Dirs, RuntimeLocal } from "@phs/runtime-local"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** Where runs live when `--workdir` is not given. */
export const defaultWorkdir = (): string => process.env.PHS_WORKDIR ?? ".phs"

/**
 * Every service a stage needs, for a workdir. With `PHS_FAULTS` set (tests only: a JSON
 * fault plan, see core's Faults), the services fail as the plan says and an injected crash
 * is a real SIGKILL of this process.
 */
export const layer = (workdir: string) => {
  const base = Layer.merge(
    Layer.unwrapEffect(Effect.as(ensureWorkdir(workdir), RuntimeLocal.layer({ workdir }))),
    Fitter.layerNative({ threads: os.availableParallelism() })
  )
  const plan = process.env.PHS_FAULTS
  if (plan === undefined || plan === "") return base
  return Layer.merge(base, Faults.layer(Faults.decodePlan(plan), Faults.killProcess).pipe(Layer.provide(base)))
}

/** Creates the workdir; a path where that cannot be done (under /proc, through a file, no permission) is a usage error at once. */
export const ensureWorkdir = (workdir: string): Effect.Effect<void, Errors.InvalidInput> =>
  Effect.try({
    try: () => Dirs.makeDirsSync(workdir),
    catch: (e) => new Errors.InvalidInput({ reason: `cannot use the workdir ${workdir}: ${e instanceof Dirs.DirError ? e.detail : String(e)}` })
  })

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Holds `<workdir>/driver.lock` while the effect runs: one driver per workdir. A lock left
 * by a dead process (a crash, SIGKILL) is taken over; a live holder is an error naming its
 * pid. Whoever holds the lock owns all in-flight work, so work abandoned by a dead driver
 * is made claimable at once, and temporary files of puts it never finished are removed.
 */
export const withDriverLock = <A, E, R>(workdir: string, body: (tookOver: boolean) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.try({
      try: () => {
        Dirs.makeDirsSync(workdir)
        const file = path.join(workdir, "driver.lock")
        for (let attempt = 0; attempt < 2; attempt++) {
          try {
            const since = Date.now()
            fs.writeFileSync(file, String(process.pid), { flag: "wx" })
            return { file, tookOver: attempt > 0, since }
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
            const holder = Number(fs.readFileSync(file, "utf8").trim())
            if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder))
              throw new Error(`another phs process (pid ${holder}) is driving runs in ${workdir}; wait for it or stop it`)
            fs.rmSync(file, { force: true })
          }
        }
        throw new Error(`could not take ${file}`)
      },
      catch: (e) => new Errors.InvalidInput({ reason: e instanceof Error ? e.message : String(e) })
    }),
    ({ tookOver, since }) =>
      RuntimeLocal.recoverAbandoned({ workdir }).pipe(
        Effect.zipRight(BlobStoreFs.removeStaleTemps(RuntimeLocal.blobRoot(workdir), since)),
        Effect.zipRight(body(tookOver))
      ),
    ({ file }) => Effect.sync(() => fs.rmSync(file, { force: true }))
  )
