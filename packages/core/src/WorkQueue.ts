/**
 * Durable work queues with SQS semantics: a received message is invisible for its
 * visibility timeout, comes back if not acknowledged, and after `maxReceives`
 * deliveries moves to the queue's dead letters instead.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer } from "effect"
import { maxDeliveries } from "./Delivery.js"
import { StorageError } from "./Errors.js"

/**
 * The queues the pipeline uses.
 *
 * @since 0.1.0
 * @category models
 */
export type QueueName = "fit" | "slow" | "stage"

/**
 * Every work queue (`stage` carries the chunks of every user fan-out stage, routed by name).
 *
 * @since 0.3.0
 * @category constants
 */
export const QUEUE_NAMES: ReadonlyArray<QueueName> = ["fit", "slow", "stage"]

/**
 * @since 0.1.0
 * @category models
 */
export interface Message {
  readonly id: string
  /** Opaque handle for ack/release of this delivery. */
  readonly receipt: string
  readonly body: string
  /** Deliveries so far, this one included. */
  readonly receiveCount: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeadLetter {
  readonly id: string
  readonly body: string
  readonly receiveCount: number
  readonly reason: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface QueueDepth {
  readonly visible: number
  readonly inFlight: number
  readonly deadLetters: number
}

/**
 * Deliveries before a message goes to the dead letters, per queue (`Delivery.maxDeliveries`).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxReceives: Readonly<Record<QueueName, number>> = { fit: maxDeliveries.fit, slow: maxDeliveries.slow, stage: maxDeliveries.stage }

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkQueue {
  /** Enqueues messages. */
  readonly send: (queue: QueueName, bodies: ReadonlyArray<string>) => Effect.Effect<void, StorageError>
  /** Up to `max` visible messages, each hidden for `visibilityMs` from now. */
  readonly receive: (
    queue: QueueName,
    options: { readonly max: number; readonly visibilityMs: number }
  ) => Effect.Effect<ReadonlyArray<Message>, StorageError>
  /** Deletes a delivered message. Acking a stale receipt is not an error. */
  readonly ack: (queue: QueueName, receipt: string) => Effect.Effect<void, StorageError>
  /** Makes a delivered message visible again after `delayMs`. */
  readonly release: (queue: QueueName, receipt: string, delayMs: number) => Effect.Effect<void, StorageError>
  /** Moves a delivered message to the dead letters now, with a reason. */
  readonly deadLetter: (queue: QueueName, receipt: string, reason: string) => Effect.Effect<void, StorageError>
  readonly depth: (queue: QueueName) => Effect.Effect<QueueDepth, StorageError>
  readonly deadLetters: (queue: QueueName) => Effect.Effect<ReadonlyArray<DeadLetter>, StorageError>
  /** Moves dead letters (those whose body passes `filter`) back to the queue; returns how many. */
  readonly redrive: (queue: QueueName, filter: (body: string) => boolean) => Effect.Effect<number, StorageError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const WorkQueue = Context.GenericTag<WorkQueue>("@phs/core/WorkQueue")

interface Stored {
  id: string
  body: string
  visibleAt: number
  receiveCount: number
  receipt: string | null
}

/**
 * An in-memory queue driven by Effect's `Clock`, so tests move time with `TestClock`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): WorkQueue => {
  const queues: Record<QueueName, Stored[]> = { fit: [], slow: [], stage: [] }
  const dead: Record<QueueName, DeadLetter[]> = { fit: [], slow: [], stage: [] }
  let counter = 0
  const byReceipt = (queue: QueueName, receipt: string) => queues[queue].findIndex((m) => m.receipt === receipt)
  return {
    send: (queue, bodies) =>
      Effect.sync(() => {
        for (const body of bodies) queues[queue].push({ id: `m${++counter}`, body, visibleAt: 0, receiveCount: 0, receipt: null })
      }),
    receive: (queue, { max, visibilityMs }) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const out: Message[] = []
        for (const m of [...queues[queue]]) {
          if (out.length >= max) break
          if (m.visibleAt > now) continue
          if (m.receiveCount >= maxReceives[queue]) {
            queues[queue].splice(queues[queue].indexOf(m), 1)
            dead[queue].push({ id: m.id, body: m.body, receiveCount: m.receiveCount, reason: `not acknowledged after ${m.receiveCount} deliveries` })
            continue
          }
          m.receiveCount++
          m.visibleAt = now + visibilityMs
          m.receipt = `${m.id}#${++counter}`
          out.push({ id: m.id, receipt: m.receipt, body: m.body, receiveCount: m.receiveCount })
        }
        return out
      }),
    ack: (queue, receipt) =>
      Effect.sync(() => {
        const i = byReceipt(queue, receipt)
        if (i >= 0) queues[queue].splice(i, 1)
      }),
    release: (queue, receipt, delayMs) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const i = byReceipt(queue, receipt)
        if (i >= 0) queues[queue][i].visibleAt = now + delayMs
      }),
    deadLetter: (queue, receipt, reason) =>
      Effect.sync(() => {
        const i = byReceipt(queue, receipt)
        if (i < 0) return
        const [m] = queues[queue].splice(i, 1)
        dead[queue].push({ id: m.id, body: m.body, receiveCount: m.receiveCount, reason })
      }),
    depth: (queue) =>
      Effect.map(Clock.currentTimeMillis, (now) => ({
        visible: queues[queue].filter((m) => m.visibleAt <= now).length,
        inFlight: queues[queue].filter((m) => m.visibleAt > now).length,
        deadLetters: dead[queue].length
      })),
    deadLetters: (queue) => Effect.sync(() => [...dead[queue]]),
    redrive: (queue, filter) =>
      Effect.sync(() => {
        const moving = dead[queue].filter((d) => filter(d.body))
        dead[queue] = dead[queue].filter((d) => !filter(d.body))
        for (const d of moving) queues[queue].push({ id: d.id, body: d.body, visibleAt: 0, receiveCount: 0, receipt: null })
        return moving.length
      })
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<WorkQueue> = Layer.sync(WorkQueue, makeMemory)
