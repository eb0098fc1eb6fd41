import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Schedule } from "effect"
import * as Delivery from "../src/Delivery.js"
import { InvalidInput, StorageError } from "../src/Errors.js"
import * as Retry from "../src/Retry.js"
import * as WorkQueue from "../src/WorkQueue.js"

const transient = new StorageError({ operation: "put", reason: "disk full", retryable: true })
const fatal = new InvalidInput({ reason: "bad cube" })
const describeError = (e: StorageError | InvalidInput) => `${e._tag}: ${e.message}`

describe("Delivery.decide", () => {
  it("acks a done message", () => {
    expect(Delivery.decide("fit", 1, Either.right({ _tag: "Done", runId: "r", runSettled: false }), describeError)).toEqual({ _tag: "Ack" })
  })

  it("dead-letters a chunk the handler failed for good, without failing it again", () => {
    const d = Delivery.decide("fit", 1, Either.right({ _tag: "Failed", runId: "r", reason: "FitError: x", runSettled: true }), describeError)
    expect(d).toEqual({ _tag: "DeadLetter", reason: "FitError: x", settle: false })
  })

  it("releases a busy chunk until its lease ends", () => {
    expect(Delivery.decide("fit", 2, Either.right({ _tag: "Busy", retryInMs: 4321 }), describeError)).toEqual({ _tag: "Release", delayMs: 4321 })
  })

  it("releases a transient failure with the backoff until the last delivery, then dead-letters it, per queue", () => {
    for (const queue of ["fit", "slow", "catalog"] as const) {
      const max = Delivery.maxDeliveries[queue]
      for (let n = 1; n < max; n++)
        expect(Delivery.decide(queue, n, Either.left(transient), describeError)).toEqual({ _tag: "Release", delayMs: Delivery.redeliveryDelayMs(n) })
      expect(Delivery.decide(queue, max, Either.left(transient), describeError)).toEqual({
        _tag: "DeadLetter",
        reason: "StorageError: put: disk full",
        settle: true
      })
    }
  })

  it("dead-letters a fatal error at once, settling what the message stood for", () => {
    expect(Delivery.decide("slow", 1, Either.left(fatal), describeError)).toEqual({ _tag: "DeadLetter", reason: "InvalidInput: bad cube", settle: true })
  })

  it("the work queues dead-letter after the same number of deliveries as the decision", () => {
    expect(WorkQueue.maxReceives).toEqual({ fit: Delivery.maxDeliveries.fit, slow: Delivery.maxDeliveries.slow, stage: Delivery.maxDeliveries.stage })
  })
})

describe("Retry.redeliveryBackoff", () => {
  it("doubles from 500 ms after the first delivery and stops growing at 30 s", () => {
    expect([1, 2, 3, 4, 6, 7, 10, 20].map(Delivery.redeliveryDelayMs)).toEqual([500, 1000, 2000, 4000, 16_000, 30_000, 30_000, 30_000])
  })

  it.effect("is the delay the schedule itself waits between recurrences", () =>
    Effect.gen(function* () {
      const delays = yield* Schedule.run(Retry.redeliveryBackoff, 0, [1, 2, 3, 4])
      expect([...delays].map(Duration.toMillis)).toEqual([250, 500, 1000, 2000])
      expect(Duration.toMillis(Retry.delayAt(Retry.redeliveryBackoff, 3))).toBe(2000)
    })
  )
})
