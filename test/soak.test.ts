/**
 * Soak: the pipeline on a cube of thousands of spectra under many seeded fault plans —
 * transient errors, crashes just before and just after writes, duplicated and reordered
 * messages, lost acknowledgements, spectra over budget. After each plan (restarting the
 * "process" after every injected crash, as `phs resume` would): exactly one row per
 * spectrum, exact counters, a run that ended COMPLETED (or FAILED with its reason), nothing
 * left in the queues or stuck IN_PROGRESS. `npm run soak` runs many more plans.
 */
import { Cause, Context, Effect, Exit, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as BlobStore from "../packages/core/src/BlobStore.js"
import * as Catalog from "../packages/core/src/Catalog.js"
import * as Faults from "../packages/core/src/Faults.js"
import * as Fitter from "../packages/core/src/Fitter.js"
import * as Journal from "../packages/core/src/Journal.js"
import * as Pipeline from "../packages/core/src/Pipeline.js"
import * as ResultParquet from "../packages/core/src/ResultParquet.js"
import * as RunTable from "../packages/core/src/RunTable.js"
import * as WorkQueue from "../packages/core/src/WorkQueue.js"
import { cubeFits, prng } from "./support/cubes.js"

const PLANS = Number(process.env.PHS_SOAK_PLANS ?? 12)
const NX = 40
const NY = 50
const CUBE = cubeFits({ nx: NX, ny: NY, nchan: 64, seed: 21 })

/** A random plan of 3–5 rules drawn from the fault catalogue. */
export const makePlan = (seed: number): Faults.FaultPlan => {
  const r = prng(seed)
  const pick = (n: number) => 1 + Math.floor(r() * n)
  const catalogue: Array<() => Faults.FaultRule> = [
    () => ({ service: "BlobStore", op: "put", kind: "transient", probability: 0.05 }),
    () => ({ service: "BlobStore", op: "get", kind: "transient", probability: 0.05 }),
    () => ({ service: "RunTable", op: "*", kind: "transient", probability: 0.03 }),
    () => ({ service: "Journal", op: "*", kind: "transient", probability: 0.03 }),
    () => ({ service: "WorkQueue", op: "ack", kind: "transient", probability: 0.1 }),
    () => ({ service: "WorkQueue", op: "send.messages", kind: "duplicate", probability: 0.5 }),
    () => ({ service: "WorkQueue", op: "send.messages", kind: "reorder", probability: 0.5 }),
    () => ({ service: "Fitter", op: "spectrum", kind: "slow", probability: 0.01 }),
    () => ({ service: "Journal", op: "record", kind: "crash-after", nth: pick(60), times: 1 }),
    () => ({ service: "BlobStore", op: "put", match: ".parquet", kind: "crash-before", nth: pick(20), times: 1 }),
    () => ({ service: "BlobStore", op: "put", match: ".parquet", kind: "crash-after", nth: pick(20), times: 1 }),
    () => ({ service: "RunTable", op: "completeChunk", kind: "crash-after", nth: pick(20), times: 1 }),
    () => ({ service: "RunTable", op: "completeChunk", kind: "crash-before", nth: pick(20), times: 1 }),
    () => ({ service: "WorkQueue", op: "ack", kind: "crash-before", nth: pick(20), times: 1 }),
    () => ({ service: "BlobStore", op: "put", match: "decompositions/", kind: "crash-after", nth: 1, times: 1 })
  ]
  const rules = Array.from({ length: 3 + Math.floor(r() * 3) }, () => catalogue[Math.floor(r() * catalogue.length)]())
  return { seed, rules }
}

interface Outcome {
  readonly status: string
  readonly reason: string | null
  readonly faults: number
  readonly crashes: number
  readonly lost: number
  readonly duplicated: number
}

const soakOne = (seed: number) =>
  Effect.scoped(Effect.gen(function* () {
    const blobs = BlobStore.makeMemory()
    const queue = WorkQueue.makeMemory()
    const table = RunTable.makeMemory()
    const base = Layer.succeedContext(
      Context.empty().pipe(
        Context.add(BlobStore.BlobStore, blobs),
        Context.add(WorkQueue.WorkQueue, queue),
        Context.add(RunTable.RunTable, table),
        Context.add(Journal.Journal, Journal.makeMemory()),
        Context.add(Catalog.Catalog, Catalog.makeMemory()),
        Context.add(Fitter.Fitter, Fitter.makeNative({ threads: 1 }))
      )
    )
    // Built once: the plan's counters survive the "process restarts" below, as a one-time fault should.
    const faulty = yield* Layer.build(Layer.merge(base, Faults.layer(makePlan(seed), Faults.dieCrash).pipe(Layer.provide(base))))
    yield* blobs.put("cubes/soak.fits", CUBE)
    const input = yield* Pipeline.prepare({ cube_key: "cubes/soak.fits", survey: "soak", chunk_size: 100 }).pipe(Effect.provide(base))
    let crashes = 0
    let finished: RunTable.RunRecord | undefined
    let faults = 0
    // Each attempt is a "process": it builds the faulty services and runs until done or an injected crash.
    for (let attempt = 0; attempt < 50; attempt++) {
      const exit = yield* Effect.exit(
        Effect.gen(function* () {
          yield* Pipeline.start(Pipeline.standard, input)
          const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { leaseMs: 300, pollMs: 20 })
          // Leftovers (duplicates, messages whose ack was lost) must change nothing.
          yield* Pipeline.drain(Pipeline.standard, { leaseMs: 300, pollMs: 20 })
          return run
        }).pipe(Effect.provide(faulty))
      )
      faults = Context.get(faulty, Faults.FaultLog).total() - crashes
      if (Exit.isSuccess(exit)) {
        finished = exit.value
        break
      }
      const defect = Cause.dieOption(exit.cause)
      if (defect._tag === "Some" && String(defect.value).includes("injected crash")) {
        crashes++
        continue
      }
      return yield* Effect.failCause(exit.cause)
    }
    const run = (yield* table.getRun(input.runId)).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
    expect({ ...run, updatedAt: 0 }).toEqual({ ...finished!, updatedAt: 0 })
    const rows = []
    for (const key of yield* blobs.list("decompositions/survey=soak/")) rows.push(...(yield* ResultParquet.decodeRows(yield* blobs.get(key))))
    const distinct = new Set(rows.map((r) => r.y * NX + r.x)).size
    const chunks = yield* table.listChunks(input.runId)
    const fitDepth = yield* queue.depth("fit")
    const slowDepth = yield* queue.depth("slow")
    expect(chunks.filter((c) => c.status === "IN_PROGRESS" || c.status === "PENDING")).toEqual([])
    expect(fitDepth.visible + fitDepth.inFlight + slowDepth.visible + slowDepth.inFlight).toBe(0)
    if (run.status === "COMPLETED") {
      expect(run.spectraDone).toBe(NX * NY)
      expect(run.jobsCompleted).toBe(run.jobsTotal)
      expect(run.slowPending).toBe(0)
      expect(rows.every((r) => r.n_components >= 0)).toBe(true)
    } else {
      expect(run.status).toBe("FAILED")
      expect(run.reason).toBeTruthy()
    }
    return {
      status: run.status,
      reason: run.reason,
      faults,
      crashes,
      lost: run.status === "COMPLETED" ? NX * NY - distinct : 0,
      duplicated: rows.length - distinct
    } satisfies Outcome
  }))

const outcomes: Outcome[] = []

describe(`soak: ${PLANS} seeded fault plans`, () => {
  for (let seed = 1; seed <= PLANS; seed++) {
    it(`plan ${seed}: nothing lost, nothing doubled`, async () => {
      const o = await Effect.runPromise(soakOne(seed))
      outcomes.push(o)
      expect(o.lost).toBe(0)
      expect(o.duplicated).toBe(0)
    })
  }
  afterAll(() => {
    const sum = (f: (o: Outcome) => number) => outcomes.reduce((a, o) => a + f(o), 0)
    process.stdout.write(
      `soak: ${outcomes.length} plans, ${sum((o) => o.faults + o.crashes)} faults injected (${sum((o) => o.crashes)} crashes), ` +
        `${outcomes.filter((o) => o.status === "COMPLETED").length} runs COMPLETED, ${outcomes.filter((o) => o.status === "FAILED").length} FAILED, ` +
        `rows lost ${sum((o) => o.lost)}, rows duplicated ${sum((o) => o.duplicated)}\n`
    )
  })
})
