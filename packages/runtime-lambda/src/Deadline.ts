/**
 * The Lambda deadline arithmetic. A fit invocation stops starting new spectra a safety
 * margin (60 s) before its deadline, so that it still has time to write the chunk's
 * Parquet file and commit; the spectra it did not start are deferred to the slow queue.
 *
 * @since 0.1.0
 */
import { Delivery } from "@phs/core"
import { Clock, Effect } from "effect"

/**
 * @since 0.1.0
 * @category constants
 */
export const SAFETY_MARGIN_MS = 60_000

/**
 * The epoch ms after which no spectrum is started: `now + remaining − margin`. With less
 * than the margin left, that is already past and every spectrum is deferred.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startBefore = (nowMs: number, remainingMs: number, marginMs: number = SAFETY_MARGIN_MS): number =>
  nowMs + remainingMs - marginMs

/**
 * `startBefore` from Effect's clock and the invocation's remaining time
 * (`context.getRemainingTimeInMillis()`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRemaining = (remainingMs: number, marginMs: number = SAFETY_MARGIN_MS): Effect.Effect<number> =>
  Effect.map(Clock.currentTimeMillis, (now) => startBefore(now, remainingMs, marginMs))

/**
 * How long a delivery that failed transiently stays hidden before its retry
 * (`Delivery.redeliveryDelayMs`, the same for every engine).
 *
 * @since 0.1.0
 * @category constructors
 */
export const retryDelayMs = (receiveCount: number): number => Delivery.redeliveryDelayMs(receiveCount)
