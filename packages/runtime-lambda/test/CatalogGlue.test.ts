/**
 * The Glue catalog against an in-process fake of the Glue API (there is no Glue emulator):
 * the core's Catalog conformance suite, plus what is specific to Glue.
 */
import { describe, expect, it } from "@effect/vitest"
import { Catalog } from "@phs/core"
import { CatalogGlue } from "@phs/runtime-lambda"
import { Effect } from "effect"
import { catalogConformance } from "../../core/test/conformance/Catalog.js"
import { awsError, fakeGlue } from "./fakes.js"

catalogConformance("CatalogGlue (fake Glue API)", () => CatalogGlue.layerApi(fakeGlue().api, { bucket: "phs-data", partitionProjection: false }))

const grs: Catalog.Partition = { database: "phspectra", table: "decompositions", values: { survey: "grs" }, location: "decompositions/survey=grs/" }

const withCatalog = <A, E>(glue: ReturnType<typeof fakeGlue>, options: Partial<CatalogGlue.Options>, f: (c: Catalog.Catalog) => Effect.Effect<A, E>) =>
  Effect.flatMap(Catalog.Catalog, f).pipe(Effect.provide(CatalogGlue.layerApi(glue.api, { bucket: "phs-data", partitionProjection: false, ...options })))

describe("CatalogGlue", () => {
  it.effect("with partition projection, registering calls Glue not at all", () => {
    const glue = fakeGlue()
    return withCatalog(glue, { partitionProjection: true }, (c) => c.registerPartition(grs)).pipe(Effect.map(() => expect(glue.calls).toEqual([])))
  })

  it.effect("a partition takes the table's storage descriptor with its own S3 location", () => {
    const glue = fakeGlue()
    return withCatalog(glue, {}, (c) => c.registerPartition(grs)).pipe(
      Effect.map(() => {
        const [p] = [...glue.partitions.values()]
        expect(p.Values).toEqual(["grs"])
        expect(p.StorageDescriptor?.Location).toBe("s3://phs-data/decompositions/survey=grs/")
        expect(p.StorageDescriptor?.Columns).toEqual([{ Name: "x", Type: "int" }])
        expect(p.StorageDescriptor?.SerdeInfo?.SerializationLibrary).toContain("Parquet")
      })
    )
  })

  it.effect("an existing partition is updated, not an error", () => {
    const glue = fakeGlue()
    return withCatalog(glue, {}, (c) => Effect.zipRight(c.registerPartition(grs), c.registerPartition(grs))).pipe(
      Effect.map(() => expect(glue.calls).toEqual(["getTable", "createPartition", "getTable", "createPartition", "updatePartition"]))
    )
  })

  it.effect("partitions follows GetPartitions' pages", () => {
    const glue = fakeGlue()
    return withCatalog(glue, {}, (c) =>
      Effect.gen(function* () {
        for (const survey of ["a", "b", "c", "d", "e"])
          yield* c.registerPartition({ ...grs, values: { survey }, location: `decompositions/survey=${survey}/` })
        const listed = yield* c.partitions("phspectra", "decompositions")
        expect(listed.map((p) => p.values.survey).sort()).toEqual(["a", "b", "c", "d", "e"])
        expect(glue.calls.filter((k) => k === "getPartitions").length).toBe(3)
      })
    )
  })

  it.effect("the core's result database maps to the configured Glue database and back", () => {
    const glue = fakeGlue()
    return withCatalog(glue, { database: "phs_prod" }, (c) =>
      Effect.gen(function* () {
        yield* c.registerPartition(grs)
        expect([...glue.partitions.values()][0].DatabaseName).toBe("phs_prod")
        expect(yield* c.partitions("phspectra", "decompositions")).toEqual([grs])
      })
    )
  })

  it.effect("a missing table is a fatal StorageError", () => {
    const glue = fakeGlue({ missingTables: ["phspectra.decompositions"] })
    return withCatalog(glue, {}, (c) => Effect.flip(c.registerPartition(grs))).pipe(
      Effect.map((e) => expect(e).toMatchObject({ _tag: "StorageError", retryable: false, reason: "no such Glue table" }))
    )
  })

  it.effect("throttling is a retryable StorageError", () => {
    const glue = fakeGlue()
    glue.failNext(awsError("ThrottlingException"))
    return withCatalog(glue, {}, (c) => Effect.flip(c.registerPartition(grs))).pipe(
      Effect.map((e) => expect(e).toMatchObject({ _tag: "StorageError", retryable: true }))
    )
  })
})
