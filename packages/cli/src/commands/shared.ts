import { Options } from "@effect/cli"
import { Errors, Params, RunTable } from "@phs/core"
import { Effect, Option } from "effect"
import { DEFAULT_STACK } from "../aws/Defaults.js"
import { explainSetup } from "../aws/Setup.js"
import { defaultWorkdir } from "../target/LocalTarget.js"
import * as Target from "../target/Target.js"

export const workdir = Options.text("workdir").pipe(
  Options.withDescription("where runs live: SQLite run table, journal, queues, blobs (default .phs, or $PHS_WORKDIR)"),
  Options.withDefault(defaultWorkdir())
)

export const json = Options.boolean("json").pipe(Options.withDescription("print one JSON object instead of text"))

export const { TARGETS } = Target
export type TargetName = Target.Name

export const target = Options.choice("target", Target.TARGETS).pipe(
  Options.withDescription("local: the workdir on this machine; aws: the deployment named by --stack (Lambda, S3, DynamoDB, Athena)"),
  Options.withDefault("local" as TargetName)
)

export const stack = Options.text("stack").pipe(
  Options.withDescription(
    "with --target aws: the deployment's stack prefix (cdk context phs:prefix, matched without case); region and credentials come from the AWS environment (AWS_REGION, AWS_PROFILE)"
  ),
  Options.withDefault(DEFAULT_STACK)
)

export const awsConfig = Options.file("aws-config", { exists: "yes" }).pipe(
  Options.withDescription(
    "with --target aws: the stack outputs written by `cdk deploy --all --outputs-file FILE` (bucket, tables, queues, workgroup); without it, PHS_BUCKET, PHS_RUNS_TABLE, … (docs/deploying.md)"
  ),
  Options.optional
)

/** The options every command with a target takes. */
export const targetOptions = { target, stack, awsConfig, workdir }

/** Runs a command's body against the target its options name. */
export const onTarget =
  (o: Target.Options, mode: Target.Mode) =>
  <A, E>(body: Effect.Effect<A, E, Target.Services>): Effect.Effect<A, E | Target.Error> =>
    body.pipe(Effect.provide(Target.layer(o, mode)), explainSetup)

/** `--concurrency N` of the commands that drive chunks: at least 1 (with 0 no chunk is ever claimed). */
export const checkConcurrency = (n: number): Effect.Effect<number, Errors.InvalidInput> =>
  n >= 1 ? Effect.succeed(n) : Effect.fail(new Errors.InvalidInput({ reason: `--concurrency ${n}: must be at least 1 (chunks fitted at once)` }))

/** `--chunk-size N`: the spectra a chunk holds, 1 to `Params.MAX_CHUNK_SIZE`. */
export const checkChunkSize = (n: number): Effect.Effect<number, Errors.InvalidInput> =>
  n >= 1 && n <= Params.MAX_CHUNK_SIZE
    ? Effect.succeed(n)
    : Effect.fail(new Errors.InvalidInput({ reason: `--chunk-size ${n}: must be 1 to ${Params.MAX_CHUNK_SIZE} (spectra per chunk)` }))

/** The run, or a one-line error naming what exists. */
export const findRun = (runId: string) =>
  Effect.gen(function* () {
    const target = yield* Target.Target
    const table = yield* RunTable.RunTable
    const run = yield* table.getRun(runId)
    if (Option.isSome(run)) return run.value
    const all = yield* table.listRuns({ limit: 1000 })
    const prefixed = all.filter((r) => r.runId.startsWith(runId))
    if (prefixed.length === 1) return prefixed[0]
    return yield* Effect.fail(
      new Errors.InvalidInput({
        reason: prefixed.length > 1 ? `run id ${runId} is ambiguous: ${prefixed.map((r) => r.runId).join(", ")}` : `no run ${runId} ${target.where}`
      })
    )
  })
