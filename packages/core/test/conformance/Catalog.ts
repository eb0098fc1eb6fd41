/**
 * What every Catalog does, stated as tests: registering a partition is idempotent, and a
 * table lists exactly its partitions (in no promised order).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Catalog } from "../../src/index.js"

const partition = (survey: string, overrides: Partial<Catalog.Partition> = {}): Catalog.Partition => ({
  database: Catalog.RESULT_DATABASE,
  table: Catalog.RESULT_TABLE,
  values: { survey },
  location: `decompositions/survey=${survey}/`,
  ...overrides
})

const byLocation = (ps: ReadonlyArray<Catalog.Partition>) => [...ps].sort((a, b) => a.location.localeCompare(b.location))

export const catalogConformance = (name: string, layer: () => Layer.Layer<Catalog.Catalog, unknown>) =>
  describe(`Catalog conformance: ${name}`, () => {
    const withCatalog = <A, E>(f: (catalog: Catalog.Catalog) => Effect.Effect<A, E>) => () =>
      Effect.flatMap(Catalog.Catalog, f).pipe(Effect.provide(layer()))

    it.effect("a table with nothing registered has no partitions", withCatalog((catalog) =>
      Effect.gen(function* () {
        expect(yield* catalog.partitions(Catalog.RESULT_DATABASE, Catalog.RESULT_TABLE)).toEqual([])
      })))

    it.effect("registered partitions are listed with their values and location", withCatalog((catalog) =>
      Effect.gen(function* () {
        yield* catalog.registerPartition(partition("grs"))
        yield* catalog.registerPartition(partition("cgps"))
        expect(byLocation(yield* catalog.partitions(Catalog.RESULT_DATABASE, Catalog.RESULT_TABLE))).toEqual([
          partition("cgps"),
          partition("grs")
        ])
      })))

    it.effect("registering a partition again is idempotent", withCatalog((catalog) =>
      Effect.gen(function* () {
        yield* catalog.registerPartition(partition("grs"))
        yield* catalog.registerPartition(partition("grs"))
        expect(yield* catalog.partitions(Catalog.RESULT_DATABASE, Catalog.RESULT_TABLE)).toEqual([partition("grs")])
      })))

    it.effect("re-registering a partition replaces its location", withCatalog((catalog) =>
      Effect.gen(function* () {
        yield* catalog.registerPartition(partition("grs"))
        yield* catalog.registerPartition(partition("grs", { location: "compacted/survey=grs/" }))
        expect(yield* catalog.partitions(Catalog.RESULT_DATABASE, Catalog.RESULT_TABLE)).toEqual([
          partition("grs", { location: "compacted/survey=grs/" })
        ])
      })))

    it.effect("a partition is identified by its values, whatever their order", withCatalog((catalog) =>
      Effect.gen(function* () {
        yield* catalog.registerPartition(partition("grs", { values: { survey: "grs", beta: "3.5" } }))
        yield* catalog.registerPartition(partition("grs", { values: { beta: "3.5", survey: "grs" } }))
        expect((yield* catalog.partitions(Catalog.RESULT_DATABASE, Catalog.RESULT_TABLE)).length).toBe(1)
      })))

    it.effect("a table lists only its own partitions", withCatalog((catalog) =>
      Effect.gen(function* () {
        yield* catalog.registerPartition(partition("grs"))
        yield* catalog.registerPartition(partition("grs", { table: "other" }))
        yield* catalog.registerPartition(partition("grs", { database: "scratch" }))
        expect(yield* catalog.partitions(Catalog.RESULT_DATABASE, Catalog.RESULT_TABLE)).toEqual([partition("grs")])
        expect(yield* catalog.partitions(Catalog.RESULT_DATABASE, "other")).toEqual([partition("grs", { table: "other" })])
        expect(yield* catalog.partitions("scratch", Catalog.RESULT_TABLE)).toEqual([partition("grs", { database: "scratch" })])
      })))
  })
