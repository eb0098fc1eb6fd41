/**
 * Athena queries against an in-process fake of the Athena API: polling on a schedule,
 * result pages, and what a failed or endless query comes to.
 */
import { describe, expect, it } from "@effect/vitest"
import { AthenaQuery } from "@phs/runtime-lambda"
import { Duration, Effect, Fiber, TestClock } from "effect"
import { fakeAthena } from "./fakes.js"

const header = (...names: string[]) => ({ Data: names.map((n) => ({ VarCharValue: n })) })
const row = (...values: Array<string | undefined>) => ({ Data: values.map((v) => (v === undefined ? {} : { VarCharValue: v })) })
const metadata = {
  ColumnInfo: [
    { Name: "survey", Label: "survey", Type: "varchar" },
    { Name: "beta", Label: "beta", Type: "double" },
    { Name: "spectra", Label: "spectra", Type: "bigint" },
    { Name: "median_components", Label: "median_components", Type: "integer" }
  ]
}

const run = (athena: ReturnType<typeof fakeAthena>, options: Partial<AthenaQuery.Options> = {}) =>
  Effect.flatMap(AthenaQuery.AthenaQuery, (q) => q.run("SELECT 1")).pipe(
    Effect.provide(AthenaQuery.layerApi(athena.api, { workgroup: "phs", pollInterval: "1 second", ...options }))
  )

/** Runs `effect` while moving the test clock a second at a time. */
const ticking = <A, E>(effect: Effect.Effect<A, E>, seconds: number) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < seconds; i++) yield* TestClock.adjust(Duration.seconds(1))
    return yield* Fiber.join(fiber)
  })

describe("AthenaQuery", () => {
  it.effect("polls until the query succeeds, then reads every page without the header row", () =>
    Effect.gen(function* () {
      const athena = fakeAthena({
        states: [{ State: "QUEUED" }, { State: "RUNNING" }, { State: "SUCCEEDED" }],
        pages: [
          { ResultSetMetadata: metadata, Rows: [header("survey", "beta", "spectra", "median_components"), row("grs", "3.5", "116000", "2")] },
          { ResultSetMetadata: metadata, Rows: [row("grs", "4.0", "116000", undefined)] }
        ]
      })
      const result = yield* ticking(run(athena), 5)
      expect(result.columns.map((c) => c.name)).toEqual(["survey", "beta", "spectra", "median_components"])
      expect(result.rows).toEqual([
        { survey: "grs", beta: 3.5, spectra: 116000, median_components: 2 },
        { survey: "grs", beta: 4, spectra: 116000, median_components: null }
      ])
      expect(athena.calls).toEqual(["start phs phspectra -", "status", "status", "status", "results -", "results 1"])
    })
  )

  it.effect("waits the poll interval between status checks", () =>
    Effect.gen(function* () {
      const athena = fakeAthena({ states: [{ State: "RUNNING" }, { State: "RUNNING" }, { State: "SUCCEEDED" }], pages: [{ ResultSetMetadata: metadata, Rows: [] }] })
      const fiber = yield* Effect.fork(run(athena, { pollInterval: "10 seconds" }))
      yield* TestClock.adjust("9 seconds")
      expect(athena.calls.filter((c) => c === "status").length).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(athena.calls.filter((c) => c === "status").length).toBe(2)
      yield* TestClock.adjust("10 seconds")
      expect((yield* Fiber.join(fiber)).rows).toEqual([])
    })
  )

  it.effect("a query Athena refuses as the user's mistake is InvalidInput with Athena's reason", () =>
    Effect.gen(function* () {
      const athena = fakeAthena({
        states: [{ State: "FAILED", StateChangeReason: "line 1:8: Column 'betta' cannot be resolved", AthenaError: { ErrorCategory: 2 } }]
      })
      const error = yield* Effect.flip(run(athena))
      expect(error).toMatchObject({ _tag: "InvalidInput", reason: "line 1:8: Column 'betta' cannot be resolved" })
    })
  )

  it.effect("a system failure Athena calls retryable is a retryable StorageError", () =>
    Effect.gen(function* () {
      const athena = fakeAthena({ states: [{ State: "FAILED", StateChangeReason: "internal", AthenaError: { ErrorCategory: 1, Retryable: true } }] })
      expect(yield* Effect.flip(run(athena))).toMatchObject({ _tag: "StorageError", retryable: true, reason: "internal" })
    })
  )

  it.effect("a query still running at the timeout is stopped and fails", () =>
    Effect.gen(function* () {
      const athena = fakeAthena({ states: [{ State: "RUNNING" }] })
      const error = yield* ticking(Effect.flip(run(athena, { timeout: "5 seconds" })), 6)
      expect(error).toMatchObject({ _tag: "StorageError", retryable: false })
      expect(athena.calls.at(-1)).toBe("stop")
    })
  )

  it.effect("sends the output location when given one", () =>
    Effect.gen(function* () {
      const athena = fakeAthena({ states: [{ State: "SUCCEEDED" }], pages: [{ ResultSetMetadata: metadata, Rows: [] }] })
      yield* run(athena, { outputLocation: "s3://phs-data/athena-results/", database: "phs_prod" })
      expect(athena.calls[0]).toBe("start phs phs_prod s3://phs-data/athena-results/")
    })
  )
})
