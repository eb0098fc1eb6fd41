/**
 * The soak harness shared by the local soak (test/soak.test.ts) and the emulated-AWS one
 * (test/aws/soak.test.ts): seeded fault plans, crash-and-restart, exactly-once checks.
 */
import { Cause, Context, Effect, Exit, Layer } from "effect"
import { expect } from "vitest"
import * as BlobStore from "../../packages/core/src/BlobStore.js"
import * as Catalog from "../../packages/core/src/Catalog.js"
import * as Faults from "../../packages/core/src/Faults.js"
import * as Fitter from "../../packages/core/src/Fitter.js"
import * as Journal from "../../packages/core/src/Journal.js"
import * as Pipeline from "../../packages/core/src/Pipeline.js"
import { reopen } from "../../packages/core/src/pipeline/Recovery.js"
import * as ResultParquet from "../../packages/core/src/ResultParquet.js"
import * as RunTable from "../../packages/core/src/RunTable.js"
import * as WorkQueue from "../../packages/core/src/WorkQueue.js"
import { cubeFits, prng } from "./cubes.js"

export const NX = 40
export const NY = 50
const CUBE = cubeFits({ nx: NX, ny: NY, nchan: 64, seed: 21 })

/** Sums of the outcomes of many plans, as one line. */
export const report = (outcomes: ReadonlyArray<Outcome>, label: string): string => {
  const sum = (f: (o: Outcome) => number) => outcomes.reduce((a, o) => a + f(o), 0)
  return (
    `${label}: ${outcomes.length} plans, ${sum((o) => o.faults + o.crashes)} faults injected (${sum((o) => o.crashes)} crashes), ` +
    `${outcomes.filter((o) => o.status === "COMPLETED").length} runs COMPLETED, ${outcomes.filter((o) => o.status === "FAILED").length} FAILED, ` +
    `${sum((o) => o.reopened)} failed fits reopened, ` +
    `rows lost ${sum((o) => o.lost)}, rows duplicated ${sum((o) => o.duplicated)}\n`
  )
}

/**
 * A random plan of 3–5 rules drawn from the fault catalogue; with `fatal`, plus one fit that
 * fails for good (its chunk FAILED, or its slow fit dead-lettered) until the run is reopened.
 */
export const makePlan = (seed: number, options: { readonly fatal?: boolean } = {}): Faults.FaultPlan => {
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
    () => ({ service: "BlobStore", op: "putStream", match: "decompositions/", kind: "crash-after", nth: 1, times: 1 })
  ]
  const rules = Array.from({ length: 3 + Math.floor(r() * 3) }, () => catalogue[Math.floor(r() * catalogue.length)]())
  // Drawn after the others: a plan without it is the plan of the same seed before it existed.
  if (options.fatal === true) rules.push({ service: "Fitter", op: "decomposeBatch", kind: "fatal", nth: pick(20), times: 1 })
  return { seed, rules }
}

export interface Outcome {
  readonly status: string
  readonly reason: string | null
  readonly faults: number
  readonly crashes: number
  /** FAILED chunks and dead letters put back by `reopen` (what `phs resume` / `phs redrive` do) after the run ended FAILED. */
  readonly reopened: number
  readonly lost: number
  readonly duplicated: number
}

/** The services a soak runs on: memory, SQLite, or the AWS layers on emulators. */
export type Services = BlobStore.BlobStore | WorkQueue.WorkQueue | RunTable.RunTable | Journal.Journal | Catalog.Catalog | Fitter.Fitter

/**
 * One plan: the pipeline on `base` with the plan's faults, restarted after every injected
 * crash, then drained; checked for exactly one row per spectrum, exact counters, a run that
 * ended COMPLETED (or FAILED with its reason), nothing left queued or IN_PROGRESS. With
 * `fatal`, a run that ends FAILED by the plan's fatal fit is reopened as `phs resume` and
 * `phs redrive` do (`reopen`) and driven again: it must then complete.
 */
export const soakOne = (
  seed: number,
  base: Context.Context<Services>,
  options: { readonly leaseMs: number; readonly pollMs: number; readonly fatal?: boolean }
) =>
  Effect.scoped(Effect.gen(function* () {
    const blobs = Context.get(base, BlobStore.BlobStore)
    const queue = Context.get(base, WorkQueue.WorkQueue)
    const table = Context.get(base, RunTable.RunTable)
    const baseLayer = Layer.succeedContext(base)
    // Built once: the plan's counters survive the "process restarts" below, as a one-time fault should.
    const plan = makePlan(seed, { fatal: options.fatal === true })
    const faulty = yield* Layer.build(Layer.merge(baseLayer, Faults.layer(plan, Faults.dieCrash).pipe(Layer.provide(baseLayer))))
    yield* blobs.put("cubes/soak.fits", CUBE)
    const input = yield* Pipeline.prepare({ cube_key: "cubes/soak.fits", survey: "soak", chunk_size: 100 }).pipe(Effect.provide(baseLayer))
    let crashes = 0
    let reopened = 0
    let reopens = 0
    let finished: RunTable.RunRecord | undefined
    let faults = 0
    // Each attempt is a "process": it builds the faulty services and runs until done or an injected crash.
    for (let attempt = 0; attempt < 50; attempt++) {
      const exit = yield* Effect.exit(
        Effect.gen(function* () {
          yield* Pipeline.start(Pipeline.standard, input)
          const run = yield* Pipeline.drive(Pipeline.standard, input.runId, options)
          // Leftovers (duplicates, messages whose ack was lost) must change nothing.
          yield* Pipeline.drain(Pipeline.standard, options)
          return run
        }).pipe(Effect.provide(faulty))
      )
      faults = Context.get(faulty, Faults.FaultLog).total() - crashes
      if (Exit.isSuccess(exit)) {
        // The fatal fit failed the run: reopen it as a user would (phs resume / phs redrive), once per fatal fault.
        if (exit.value.status === "FAILED" && reopens < Context.get(faulty, Faults.FaultLog).injected.fatal) {
          reopens++
          const r = yield* reopen(input.runId).pipe(Effect.provide(baseLayer))
          // each failed fit or slow fit is a dead letter put back, or a FAILED chunk without one sent again
          reopened += r.redriven + r.resent
          continue
        }
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
    // A fatal fault that fired failed a chunk (or a slow fit) for good: only a reopen, here or
    // by a restarted driver (Pipeline.drive reopens a FAILED run first), lets the run complete.
    if (Context.get(faulty, Faults.FaultLog).injected.fatal > 0) expect(run.status).toBe("COMPLETED")
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
      reopened,
      lost: run.status === "COMPLETED" ? NX * NY - distinct : 0,
      duplicated: rows.length - distinct
    } satisfies Outcome
  }))

