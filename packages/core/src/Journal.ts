/**
 * The durable record of step results. A step's key is (run, stage, scope, step name, hash
 * of its canonical input); `record` is put-if-absent, so when two executions race the
 * first record wins and both return it. `seq` is the step's position within its
 * (run, stage, scope) execution, which is what replay checks order against.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Ref } from "effect"
import { NondeterminismError, StorageError } from "./Errors.js"

/**
 * A step asked for by an execution.
 *
 * @since 0.1.0
 * @category models
 */
export interface StepCall {
  readonly runId: string
  readonly stage: string
  readonly scope: string
  readonly step: string
  readonly inputHash: string
  readonly seq: number
}

/**
 * A recorded step: its call and its encoded output (JSON text).
 *
 * @since 0.1.0
 * @category models
 */
export interface JournalEntry extends StepCall {
  readonly output: string
  readonly recordedAt: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Journal {
  /** The recorded entry for this call's key, if any. */
  readonly lookup: (call: StepCall) => Effect.Effect<Option.Option<JournalEntry>, StorageError | NondeterminismError>
  /** Records the entry unless its key is already recorded; returns the entry that stands. */
  readonly record: (entry: JournalEntry) => Effect.Effect<JournalEntry, StorageError | NondeterminismError>
  /** Every entry of a run, ordered by stage, scope and seq. */
  readonly entries: (runId: string) => Effect.Effect<ReadonlyArray<JournalEntry>, StorageError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const Journal = Context.GenericTag<Journal>("@phs/core/Journal")

/**
 * The identity of a step record.
 *
 * @since 0.1.0
 * @category models
 */
export const keyOf = (c: Omit<StepCall, "seq">): string => `${c.runId}/${c.stage}/${c.scope}/${c.step}/${c.inputHash}`

/**
 * Sort order of `entries`.
 *
 * @since 0.1.0
 * @category models
 */
export const compareEntries = (a: JournalEntry, b: JournalEntry): number =>
  byCodeUnits(a.stage, b.stage) || byCodeUnits(a.scope, b.scope) || a.seq - b.seq

/** Locale-independent string order, the same on every machine. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/**
 * An in-memory journal, for tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): Journal => {
  const store = new Map<string, JournalEntry>()
  return {
    lookup: (call) => Effect.sync(() => Option.fromNullable(store.get(keyOf(call)))),
    record: (entry) =>
      Effect.sync(() => {
        const key = keyOf(entry)
        const existing = store.get(key)
        if (existing !== undefined) return existing
        store.set(key, entry)
        return entry
      }),
    entries: (runId) => Effect.sync(() => [...store.values()].filter((e) => e.runId === runId).sort(compareEntries))
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Journal> = Layer.sync(Journal, makeMemory)

/**
 * A replay-only journal over a finished run's entries, and a check that the re-execution
 * asked for every recorded step.
 *
 * @since 0.1.0
 * @category models
 */
export interface Replay {
  readonly journal: Journal
  /** Fails with the first recorded step that the re-execution never asked for. */
  readonly verifyComplete: Effect.Effect<void, NondeterminismError>
  /** How many recorded steps were replayed so far. */
  readonly replayed: Effect.Effect<number>
}

/**
 * A journal that answers only from `recorded`: each call must be the next recorded step of
 * its scope, with the same name and input hash, or it fails with `NondeterminismError`.
 * Nothing runs and nothing is written.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeReplay = (recorded: ReadonlyArray<JournalEntry>): Effect.Effect<Replay> =>
  Effect.gen(function* () {
    const byScope = new Map<string, JournalEntry[]>()
    for (const e of [...recorded].sort(compareEntries)) {
      const k = `${e.stage}\u0000${e.scope}`
      const list = byScope.get(k) ?? []
      list.push(e)
      byScope.set(k, list)
    }
    const consumed = yield* Ref.make(new Map<string, number>())
    const diverged = (call: Omit<StepCall, "inputHash" | "runId">, reason: string) =>
      new NondeterminismError({ stage: call.stage, scope: call.scope, step: call.step, seq: call.seq, reason })
    const journal: Journal = {
      lookup: (call) =>
        Effect.gen(function* () {
          const k = `${call.stage}\u0000${call.scope}`
          const expected = byScope.get(k)?.[call.seq]
          if (expected === undefined)
            return yield* Effect.fail(diverged(call, `the recorded run has no step #${call.seq} in this scope; the re-execution asked for ${call.step}`))
          if (expected.step !== call.step)
            return yield* Effect.fail(diverged(call, `the recorded run called ${expected.step} here; the re-execution asked for ${call.step}`))
          if (expected.inputHash !== call.inputHash)
            return yield* Effect.fail(diverged(call, `same step, different input (recorded ${expected.inputHash.slice(0, 12)}, now ${call.inputHash.slice(0, 12)})`))
          yield* Ref.update(consumed, (m) => new Map(m).set(k, Math.max(m.get(k) ?? 0, call.seq + 1)))
          return Option.some(expected)
        }),
      record: (entry) => Effect.fail(diverged(entry, "a replay cannot run a step the recorded run did not")),
      entries: (runId) => Effect.succeed(recorded.filter((e) => e.runId === runId))
    }
    const verifyComplete = Effect.gen(function* () {
      const done = yield* Ref.get(consumed)
      for (const [k, list] of [...byScope.entries()].sort(([a], [b]) => byCodeUnits(a, b))) {
        const n = done.get(k) ?? 0
        if (n < list.length) {
          const next = list[n]
          return yield* Effect.fail(diverged(next, `the recorded run went on to ${next.step}; the re-execution stopped before it`))
        }
      }
    })
    const replayed = Ref.get(consumed).pipe(Effect.map((m) => [...m.values()].reduce((a, b) => a + b, 0)))
    return { journal, verifyComplete, replayed }
  })
