/**
 * Slaves the in-process fauxqs to Effect's `TestClock`, so that the core's WorkQueue
 * conformance suite (which moves time with `TestClock.adjust`) can run against SQS
 * semantics: fauxqs reads `Date.now()` for visibility deadlines, so while installed,
 * `Date.now()` is frozen at (install time + the TestClock's time as last synced).
 *
 * fauxqs also only expires visibility timeouts when a queue is received from, where SQS
 * counts an expired message as visible at once; the patch makes `GetQueueAttributes`
 * expire them first. Both are test scaffolding over the emulator, not part of the layer.
 */
import { Clock, Effect, Layer } from "effect"
import { WorkQueue } from "@phs/core"

interface SqsQueuePrototype {
  getAllAttributes(this: { processTimers(): void }, requested: ReadonlyArray<string>): Record<string, string>
}

let base = 0
let offset = 0
const realNow = Date.now
let restore: (() => void) | undefined

export const install = async (): Promise<void> => {
  const store = (await import(new URL("../../node_modules/fauxqs/dist/sqs/sqsStore.js", import.meta.url).href)) as {
    SqsQueue: { prototype: SqsQueuePrototype }
  }
  const proto = store.SqsQueue.prototype
  const getAllAttributes = proto.getAllAttributes
  proto.getAllAttributes = function (requested) {
    this.processTimers()
    return getAllAttributes.call(this, requested)
  }
  base = realNow()
  offset = 0
  Date.now = () => base + offset
  restore = () => {
    Date.now = realNow
    proto.getAllAttributes = getAllAttributes
  }
}

export const uninstall = (): void => {
  restore?.()
  restore = undefined
}

const sync = Effect.flatMap(Clock.currentTimeMillis, (t) =>
  Effect.sync(() => {
    offset = t
  })
)

/** The queue with the emulator's clock set from Effect's `Clock` before every operation. */
export const slaved = <E, R>(inner: Layer.Layer<WorkQueue.WorkQueue, E, R>): Layer.Layer<WorkQueue.WorkQueue, E, R> =>
  Layer.effect(
    WorkQueue.WorkQueue,
    Effect.map(WorkQueue.WorkQueue, (q): WorkQueue.WorkQueue => ({
      send: (queue, bodies) => Effect.zipRight(sync, q.send(queue, bodies)),
      receive: (queue, options) => Effect.zipRight(sync, q.receive(queue, options)),
      ack: (queue, receipt) => Effect.zipRight(sync, q.ack(queue, receipt)),
      release: (queue, receipt, delayMs) => Effect.zipRight(sync, q.release(queue, receipt, delayMs)),
      deadLetter: (queue, receipt, reason) => Effect.zipRight(sync, q.deadLetter(queue, receipt, reason)),
      depth: (queue) => Effect.zipRight(sync, q.depth(queue)),
      deadLetters: (queue) => Effect.zipRight(sync, q.deadLetters(queue)),
      redrive: (queue, filter) => Effect.zipRight(sync, q.redrive(queue, filter))
    }))
  ).pipe(Layer.provide(inner))
