/**
 * Before a local query: every completed run's published parts checked against its
 * `_validation.json` as `phs verify` checks them (size and SHA-256, core's PartIntegrity),
 * so rows read from a damaged part come with a warning. The check hashes every part: it
 * reads the parts once more than the query does (a large survey pays for it in seconds).
 */
import { type BlobStore, type Errors, PartIntegrity, RunTable } from "@phs/core"
import { Effect } from "effect"

/** One line per damaged part: which, what is wrong, and what to run. */
export const damageLines: Effect.Effect<ReadonlyArray<string>, Errors.StorageError | Errors.RunNotFound, RunTable.RunTable | BlobStore.BlobStore> = Effect.gen(function* () {
  const runs = (yield* Effect.flatMap(RunTable.RunTable, (t) => t.listRuns())).filter((r) => r.status === "COMPLETED")
  const lines: string[] = []
  for (const run of runs) {
    const check = yield* PartIntegrity.verifyParts(run.runId)
    for (const d of check.damaged)
      lines.push(`warning: ${d.key}: ${d.reason}; rows from it may be wrong (phs verify ${run.runId} checks, phs resume ${run.runId} rebuilds it)`)
  }
  return lines
})
