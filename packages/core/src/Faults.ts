/**
 * Fault injection: a layer that wraps the core services (BlobStore, WorkQueue, RunTable,
 * Journal, Fitter) and fails their calls by a seeded plan — transient errors, timeouts,
 * a crash just before or just after a call takes effect, duplicated and reordered
 * messages, spectra that blow their budget. The same plan and seed inject the same faults.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schema } from "effect"
import { BlobStore } from "./BlobStore.js"
import { FitError, StorageError } from "./Errors.js"
import { Fitter } from "./Fitter.js"
import { prng } from "./internal/prng.js"
import { Journal } from "./Journal.js"
import { RunTable } from "./RunTable.js"
import { WorkQueue } from "./WorkQueue.js"

/**
 * @since 0.1.0
 * @category models
 */
export const FaultKind = Schema.Literal(
  /** The call fails with a retryable StorageError and has no effect. */
  "transient",
  /** The call fails with a non-retryable StorageError and has no effect: a chunk it hits is FAILED (until reopened). */
  "fatal",
  /** The call hangs for `delayMs` (default 30 s) first: callers' timeouts fire. */
  "timeout",
  /** The process dies before the call takes effect. */
  "crash-before",
  /** The call takes effect, then the process dies before anyone hears of it. */
  "crash-after",
  /** WorkQueue.send: every message is sent twice. */
  "duplicate",
  /** WorkQueue.send: the batch is sent in reverse order. */
  "reorder",
  /** Fitter.decomposeBatch: spectra come back over budget (`timeout`) when there is a budget. */
  "slow"
)
export type FaultKind = typeof FaultKind.Type

/**
 * One rule of a plan: which calls it matches and what it does to them.
 *
 * @since 0.1.0
 * @category models
 */
export const FaultRule = Schema.Struct({
  service: Schema.Literal("BlobStore", "WorkQueue", "RunTable", "Journal", "Fitter"),
  /** Method name, or "*" for all. */
  op: Schema.String,
  /** Only calls whose first argument (a key, queue or run id) contains this text. */
  match: Schema.optional(Schema.String),
  kind: FaultKind,
  /** Chance per matching call (default 1). */
  probability: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  /** Fire only on the n-th matching call (1-based). */
  nth: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** Fire at most this many times (default unlimited). */
  times: Schema.optional(Schema.Int.pipe(Schema.positive())),
  delayMs: Schema.optional(Schema.Number)
})
export type FaultRule = typeof FaultRule.Type

/**
 * @since 0.1.0
 * @category models
 */
export const FaultPlan = Schema.Struct({ seed: Schema.Int, rules: Schema.Array(FaultRule) })
export type FaultPlan = typeof FaultPlan.Type

/**
 * What was injected, by kind.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultLog {
  readonly injected: Record<FaultKind, number>
  readonly total: () => number
}

/**
 * @since 0.1.0
 * @category tags
 */
export const FaultLog = Context.GenericTag<FaultLog>("@phs/core/FaultLog")

/**
 * How the process "dies": in the CLI a real SIGKILL, in a test a defect.
 *
 * @since 0.1.0
 * @category models
 */
export type Crash = (where: string) => Effect.Effect<never>

/**
 * A crash that kills this process at once, as a power cut would.
 *
 * @since 0.1.0
 * @category constructors
 */
export const killProcess: Crash = (where) =>
  Effect.sync(() => {
    process.stderr.write(`phs: injected crash at ${where}\n`)
    process.kill(process.pid, "SIGKILL")
  }).pipe(Effect.zipRight(Effect.never))

/**
 * A crash as a defect, for in-process tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dieCrash: Crash = (where) => Effect.die(new Error(`injected crash at ${where}`))


type Service = FaultRule["service"]

/** Decides, per call, which rule (if any) fires. */
const makeInjector = (plan: FaultPlan) => {
  const random = prng(plan.seed)
  const seen = plan.rules.map(() => 0)
  const fired = plan.rules.map(() => 0)
  const injected = Object.fromEntries(FaultKind.literals.map((k) => [k, 0])) as Record<FaultKind, number>
  const decide = (service: Service, op: string, args: ReadonlyArray<unknown>): FaultRule | undefined => {
    const subject = typeof args[0] === "string" ? args[0] : ""
    for (let i = 0; i < plan.rules.length; i++) {
      const r = plan.rules[i]
      if (r.service !== service || (r.op !== "*" && r.op !== op)) continue
      if (r.match !== undefined && !subject.includes(r.match)) continue
      seen[i]++
      if (r.nth !== undefined && seen[i] !== r.nth) continue
      if (r.times !== undefined && fired[i] >= r.times) continue
      if (r.probability !== undefined && random() >= r.probability) continue
      fired[i]++
      injected[r.kind]++
      return r
    }
    return undefined
  }
  const log: FaultLog = { injected, total: () => Object.values(injected).reduce((a, b) => a + b, 0) }
  return { decide, log }
}

const transient = (service: Service, op: string) =>
  new StorageError({ operation: `${service}.${op}`, reason: "injected transient fault", retryable: true })

/** A fault nothing retries; the Fitter's own error type for the Fitter. */
const fatal = (service: Service, op: string) =>
  service === "Fitter"
    ? new FitError({ reason: "injected fatal fault", retryable: false })
    : new StorageError({ operation: `${service}.${op}`, reason: "injected fatal fault", retryable: false })

/** Wraps every Effect-returning method of a service with the plan's decisions. */
const wrapMethods = <S extends object>(
  service: Service,
  impl: S,
  decide: ReturnType<typeof makeInjector>["decide"],
  crash: Crash
): S => {
  const out: Record<string, unknown> = {}
  for (const [op, value] of Object.entries(impl)) {
    if (typeof value !== "function") {
      out[op] = value
      continue
    }
    out[op] = (...args: Array<unknown>) => {
      const call = () => (value as (...a: Array<unknown>) => Effect.Effect<unknown, unknown>).apply(impl, args)
      return Effect.suspend(() => {
        const rule = decide(service, op, args)
        const where = `${service}.${op}(${typeof args[0] === "string" ? args[0] : ""})`
        switch (rule?.kind) {
          case undefined:
            return call()
          case "transient":
            return Effect.fail(transient(service, op))
          case "fatal":
            return Effect.fail(fatal(service, op))
          case "timeout":
            return Effect.zipRight(Effect.sleep(Duration.millis(rule.delayMs ?? 30_000)), call())
          case "crash-before":
            return crash(where)
          case "crash-after":
            return Effect.zipRight(call(), crash(where))
          default:
            return call()
        }
      })
    }
  }
  return out as S
}

/**
 * What a plan does to a Fitter's requests: each call meets the plan once (its `Fitter` rules:
 * an error, a hang or a crash around the call, then `slow` spectra when there is a budget).
 * The layer's `Fitter` is the context's through it; a fitter that answers requests without
 * calling its base (a sweep's, `SweepFitter`) puts those requests through it too. Without a
 * plan: the fitter as it is.
 *
 * @since 0.4.0
 * @category tags
 */
export class FitterFaults extends Context.Reference<FitterFaults>()("@phs/core/FitterFaults", {
  defaultValue: (): ((fitter: Fitter) => Fitter) => (fitter) => fitter
}) {}

const faultyFitter = (decide: ReturnType<typeof makeInjector>["decide"], crash: Crash) => (fitter: Fitter): Fitter => {
  const call = wrapMethods("Fitter", { decomposeBatch: fitter.decomposeBatch }, decide, crash).decomposeBatch
  return {
    version: fitter.version,
    decomposeBatch: (spectra, n, params, options) =>
      Effect.map(call(spectra, n, params, options), (results) =>
        options.timeoutMs <= 0
          ? results
          : results.map((d) => (decide("Fitter", "spectrum", [])?.kind === "slow" ? { ...d, status: "timeout" as const, components: [] } : d))
      )
  }
}

/**
 * A layer that takes the real services from its context and provides them again with the
 * plan's faults injected, plus a `FaultLog` of what it did and the `FitterFaults` it applies.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  plan: FaultPlan,
  crash: Crash
): Layer.Layer<
  BlobStore | WorkQueue | RunTable | Journal | Fitter | FitterFaults | FaultLog,
  never,
  BlobStore | WorkQueue | RunTable | Journal | Fitter
> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const { decide, log } = makeInjector(plan)
      const queue = wrapMethods("WorkQueue", yield* WorkQueue, decide, crash)
      const queueWithMessages: WorkQueue = {
        ...queue,
        send: (name, bodies) =>
          Effect.suspend(() => {
            const rule = decide("WorkQueue", "send.messages", [name])
            if (rule?.kind === "duplicate") return queue.send(name, bodies.flatMap((b) => [b, b]))
            if (rule?.kind === "reorder") return queue.send(name, [...bodies].reverse())
            return queue.send(name, bodies)
          })
      }
      const fitterFaults = faultyFitter(decide, crash)
      return Context.empty().pipe(
        Context.add(BlobStore, wrapMethods("BlobStore", yield* BlobStore, decide, crash)),
        Context.add(WorkQueue, queueWithMessages),
        Context.add(RunTable, wrapMethods("RunTable", yield* RunTable, decide, crash)),
        Context.add(Journal, wrapMethods("Journal", yield* Journal, decide, crash)),
        Context.add(Fitter, fitterFaults(yield* Fitter)),
        Context.add(FitterFaults, fitterFaults),
        Context.add(FaultLog, log)
      )
    })
  )

/**
 * Decodes a plan from JSON text (e.g. the `PHS_FAULTS` environment variable of the CLI,
 * which only tests set).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodePlan = (json: string): FaultPlan => Schema.decodeUnknownSync(Schema.parseJson(FaultPlan))(json)
