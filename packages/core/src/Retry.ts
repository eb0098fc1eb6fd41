/**
 * The retry schedules of the engine, in one place: how a step retries (`Step.defaultRetry`
 * re-exports `stepRetry`), how the engine retries its own calls, and how long a message
 * that failed transiently stays hidden before its next delivery.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"

/**
 * Three retries with jittered exponential backoff from 200 ms.
 *
 * @since 0.1.0
 * @category schedules
 */
export const stepRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("200 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(3))
)

/**
 * Backoff for the engine's own calls (a claim, a receive, a split): 100 ms doubling to 5 s,
 * ten times.
 *
 * @since 0.1.0
 * @category schedules
 */
export const engineRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.intersect(Schedule.recurs(10))
)

/**
 * The delay before the next delivery of a message that failed transiently: 250 ms · 2^n
 * after the n-th delivery, at most 30 s. Its n-th recurrence is the delay after delivery n.
 *
 * @since 0.1.0
 * @category schedules
 */
export const redeliveryBackoff: Schedule.Schedule<Duration.Duration, unknown> = Schedule.delays(
  Schedule.exponential("250 millis").pipe(Schedule.union(Schedule.spaced("30 seconds")))
)

/**
 * The delay `schedule` gives at its `n`-th recurrence (0-based), computed without waiting:
 * the schedule is only stepped. For a schedule without jitter this is a pure function of `n`.
 *
 * @since 0.1.0
 * @category utils
 */
export const delayAt = (schedule: Schedule.Schedule<Duration.Duration, unknown>, n: number): Duration.Duration => {
  const outputs = Effect.runSync(Schedule.run(schedule, 0, Array.from({ length: Math.max(0, n) + 1 }, () => undefined)))
  const all = [...outputs]
  return all[all.length - 1] ?? Duration.zero
}
