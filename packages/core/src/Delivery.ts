/**
 * What becomes of a handled queue message, decided once for every engine (the local driver
 * and the Lambda handlers): ack it, release it for a later delivery, or dead-letter it.
 * The delivery limits live here too; the queues (SQLite, SQS redrive policies, the CDK
 * stack) import them.
 *
 * @since 0.1.0
 */
import { Duration, type Either } from "effect"
import { isRetryable } from "./Errors.js"
import { delayAt, redeliveryBackoff } from "./Retry.js"

/**
 * The queues a message can be delivered on: the two work queues and the catalog queue.
 *
 * @since 0.1.0
 * @category models
 */
export type DeliveryQueue = "fit" | "slow" | "stage" | "catalog"

/**
 * Deliveries before a message goes to the dead letters, per queue (one retry for slow:
 * a slow fit is long; two for the others, user fan-out stages included).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxDeliveries: Readonly<Record<DeliveryQueue, number>> = { fit: 3, slow: 2, stage: 3, catalog: 3 }

/**
 * What handling a message came to.
 *
 * @since 0.1.0
 * @category models
 */
export type Handled =
  | { readonly _tag: "Done"; readonly runId: string; readonly runSettled: boolean }
  | { readonly _tag: "Busy"; readonly retryInMs: number }
  | { readonly _tag: "Failed"; readonly runId: string; readonly reason: string; readonly runSettled: boolean }

/**
 * What to do with the message.
 * - `Ack`: handled; delete it.
 * - `Release`: hide it for `delayMs`, then deliver it again.
 * - `DeadLetter`: give up on it with `reason`. `settle` says whether what the message
 *   stood for must still be failed first (its chunk, or the run for a slow message): true
 *   when the handler did not already do it.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision =
  | { readonly _tag: "Ack" }
  | { readonly _tag: "Release"; readonly delayMs: number }
  | { readonly _tag: "DeadLetter"; readonly reason: string; readonly settle: boolean }

/**
 * How long a delivery that failed transiently stays hidden: `Retry.redeliveryBackoff`
 * after the `receiveCount`-th delivery.
 *
 * @since 0.1.0
 * @category utils
 */
export const redeliveryDelayMs = (receiveCount: number): number => Duration.toMillis(delayAt(redeliveryBackoff, Math.max(0, receiveCount)))

/**
 * The decision for one delivery (`receiveCount` deliveries so far, this one included) that
 * ended with `outcome`: a handled result, or the error it failed with (`describe` turns the
 * error into the reason a dead letter carries).
 * - Done → Ack.
 * - Failed (a fatal error; the handler marked the chunk FAILED) → DeadLetter, so that the
 *   failure is on record where `phs redrive` and `phs resume` find it.
 * - Busy (another worker holds the chunk) → Release until its lease ends.
 * - a retryable error before the last delivery → Release after the backoff.
 * - any other error → DeadLetter, failing what the message stood for.
 *
 * @since 0.1.0
 * @category decisions
 */
export const decide = <E>(
  queue: DeliveryQueue,
  receiveCount: number,
  outcome: Either.Either<Handled, E>,
  describe: (error: E) => string
): Decision => {
  if (outcome._tag === "Right") {
    const handled = outcome.right
    if (handled._tag === "Busy") return { _tag: "Release", delayMs: handled.retryInMs }
    if (handled._tag === "Failed") return { _tag: "DeadLetter", reason: handled.reason, settle: false }
    return { _tag: "Ack" }
  }
  if (isRetryable(outcome.left) && receiveCount < maxDeliveries[queue])
    return { _tag: "Release", delayMs: redeliveryDelayMs(receiveCount) }
  return { _tag: "DeadLetter", reason: describe(outcome.left), settle: true }
}
