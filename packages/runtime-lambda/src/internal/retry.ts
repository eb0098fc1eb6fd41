/**
 * The aws runtime's retry policy, in one place: how a batch call retries the part the
 * service left unprocessed, and how a conditional write that lost a race re-reads and tries
 * again. Backoffs run on a real clock: a test may freeze Effect's clock while AWS moves on.
 */
import { Clock, Data, Effect, Ref, Schedule } from "effect"

/** Backoff between retries of an unprocessed part: 50 ms doubling, at most 1 s apart. */
export const unprocessedBackoff = Schedule.exponential("50 millis").pipe(Schedule.union(Schedule.spaced("1 second")))

/** Attempts of a batch call before its unprocessed part is an error. */
export const UNPROCESSED_ATTEMPTS = 8

/** Attempts of a conditional write that lost a race to another writer (no wait: it re-reads). */
export const RACE_ATTEMPTS = 3

const realClock = Clock.make()

class Unprocessed extends Data.TaggedError("Unprocessed")<{ readonly left: number }> {}

/**
 * Sends `items` with `send` (which answers with the items it left unprocessed), then again
 * with what was left, under `unprocessedBackoff`, up to `attempts` calls; what is still left
 * fails with `exhausted(left)`.
 */
export const untilProcessed = <T, E, R, E2>(
  items: ReadonlyArray<T>,
  send: (pending: ReadonlyArray<T>) => Effect.Effect<ReadonlyArray<T>, E, R>,
  options: { readonly attempts?: number; readonly exhausted: (left: number) => E2 }
): Effect.Effect<void, E | E2, R> =>
  Effect.gen(function* () {
    const pending = yield* Ref.make(items)
    const once = Effect.flatMap(Ref.get(pending), send).pipe(
      Effect.tap((left) => Ref.set(pending, left)),
      Effect.flatMap((left) => (left.length === 0 ? Effect.void : Effect.fail(new Unprocessed({ left: left.length }))))
    )
    const attempts = options.attempts ?? UNPROCESSED_ATTEMPTS
    yield* once.pipe(
      Effect.retry({ schedule: Schedule.intersect(unprocessedBackoff, Schedule.recurs(attempts - 1)), while: (e) => e instanceof Unprocessed }),
      Effect.catchIf(
        (e): e is Unprocessed => e instanceof Unprocessed,
        (e) => Effect.fail(options.exhausted(e.left))
      ),
      Effect.withClock(realClock)
    )
  })

/**
 * Runs `attempt` again while it answers `"raced"` (a condition another writer broke), up
 * to `RACE_ATTEMPTS` times; the last answer stands.
 */
export const whileRaced = <A, E, R>(attempt: Effect.Effect<A | "raced", E, R>): Effect.Effect<A | "raced", E, R> =>
  Effect.repeat(attempt, { times: RACE_ATTEMPTS - 1, until: (a) => a !== "raced" })
