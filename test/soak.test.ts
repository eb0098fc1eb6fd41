/**
 * Soak: the pipeline on a cube of thousands of spectra under many seeded fault plans —
 * transient errors, crashes just before and just after writes, duplicated and reordered
 * messages, lost acknowledgements, spectra over budget. After each plan (restarting the
 * "process" after every injected crash, as `phs resume` would): exactly one row per
 * spectrum, exact counters, a run that ended COMPLETED (or FAILED with its reason), nothing
 * left in the queues or stuck IN_PROGRESS. `npm run soak` runs many more plans.
 */
import { Context, Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as BlobStore from "../packages/core/src/BlobStore.js"
import * as Catalog from "../packages/core/src/Catalog.js"
import * as Fitter from "../packages/core/src/Fitter.js"
import * as Journal from "../packages/core/src/Journal.js"
import * as RunTable from "../packages/core/src/RunTable.js"
import * as WorkQueue from "../packages/core/src/WorkQueue.js"
import { type Outcome, report, soakOne } from "./support/soak.js"

const PLANS = Number(process.env.PHS_SOAK_PLANS ?? 12)

const memory = () =>
  Context.empty().pipe(
    Context.add(BlobStore.BlobStore, BlobStore.makeMemory()),
    Context.add(WorkQueue.WorkQueue, WorkQueue.makeMemory()),
    Context.add(RunTable.RunTable, RunTable.makeMemory()),
    Context.add(Journal.Journal, Journal.makeMemory()),
    Context.add(Catalog.Catalog, Catalog.makeMemory()),
    Context.add(Fitter.Fitter, Fitter.makeNative({ threads: 1 }))
  )

const outcomes: Outcome[] = []

describe(`soak: ${PLANS} seeded fault plans`, () => {
  for (let seed = 1; seed <= PLANS; seed++) {
    it(`plan ${seed}: nothing lost, nothing doubled`, async () => {
      // even plans: one fit fails for good, and the FAILED run is reopened (phs resume / phs redrive)
      const o = await Effect.runPromise(soakOne(seed, memory(), { leaseMs: 300, pollMs: 20, fatal: seed % 2 === 0 }))
      outcomes.push(o)
      expect(o.lost).toBe(0)
      expect(o.duplicated).toBe(0)
    })
  }
  afterAll(() => {
    process.stdout.write(report(outcomes, "soak"))
  })
})
