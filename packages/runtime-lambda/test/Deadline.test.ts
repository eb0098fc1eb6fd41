import { describe, expect, it } from "@effect/vitest"
import { Deadline } from "@phs/runtime-lambda"
import { Effect, TestClock } from "effect"

describe("Deadline", () => {
  it("stops starting spectra 60 s before the invocation's deadline", () => {
    expect(Deadline.startBefore(1_000_000, 900_000)).toBe(1_000_000 + 900_000 - 60_000)
  })

  it("with less than the margin left, the start deadline is already past: everything is deferred", () => {
    expect(Deadline.startBefore(1_000_000, 30_000)).toBeLessThan(1_000_000)
    expect(Deadline.startBefore(1_000_000, 60_000)).toBe(1_000_000)
  })

  it("takes another margin when given one", () => {
    expect(Deadline.startBefore(0, 10_000, 2_000)).toBe(8_000)
  })

  it.effect("fromRemaining reads the time from Effect's clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(5_000_000)
      expect(yield* Deadline.fromRemaining(120_000)).toBe(5_000_000 + 60_000)
    })
  )

  it("retries back off exponentially from 500 ms after the first delivery, up to 30 s", () => {
    expect([1, 2, 3, 4, 10, 20].map(Deadline.retryDelayMs)).toEqual([500, 1000, 2000, 4000, 30_000, 30_000])
  })
})
