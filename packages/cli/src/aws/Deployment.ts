/**
 * Where the aws target's resources are: the data bucket, the run table, the queues and the
 * Athena workgroup of one phs deployment.
 *
 * `@aws-sdk/client-cloudformation` is not a dependency, so the stacks are not asked
 * directly. The resources come from, in this order:
 *
 * 1. `--aws-config FILE`: the JSON `cdk deploy --all --outputs-file FILE` writes,
 *    `{ "PhsStorage": { "BucketName": … }, "PhsState": { "RunsTableName": … }, … }`. The
 *    stacks read are `{stack}Storage`, `{stack}State`, `{stack}Queues`, `{stack}Catalog`,
 *    matched without regard to case (`--stack phs` finds `PhsStorage`: the default
 *    `phs:prefix` is `Phs`).
 * 2. The environment, for whatever the file does not name: the Lambda functions' own
 *    contract (`PHS_BUCKET`, `PHS_RUNS_TABLE`, `PHS_FIT_QUEUE_URL`, …,
 *    `PHS_ATHENA_WORKGROUP`; see `RuntimeAws.ENV`), and the endpoint overrides
 *    `PHS_AWS_ENDPOINT`, `PHS_S3_ENDPOINT`, `PHS_SQS_ENDPOINT`, `PHS_DYNAMODB_ENDPOINT`.
 *
 * Region and credentials are the SDK's: `AWS_REGION` (or `AWS_DEFAULT_REGION`), else the
 * region in a queue URL of the deployment, else the profile's (`AWS_PROFILE`,
 * `~/.aws/config`); credentials from the SDK's default chain.
 */
import { Errors, Keys } from "@phs/core"
import { type AwsConfig, RuntimeAws } from "@phs/runtime-lambda"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import { shellWord } from "../Output.js"

export type Service = AwsConfig.Service

/** The stack prefix `--stack` defaults to (`phs:prefix` is `Phs`; matched without case). */
import { DEFAULT_STACK } from "./Defaults.js"

export { DEFAULT_STACK }

/** The workgroup the catalog stack creates. */
export const DEFAULT_WORKGROUP = "phs"

export interface QueuePair {
  readonly url: string
  readonly dlqUrl: string
}

export interface Deployment {
  readonly stack: string
  /** Region (undefined: the SDK's chain decides), credentials from the SDK's chain. */
  readonly aws: AwsConfig.AwsConfig
  readonly endpoints: Partial<Record<Service, string>>
  readonly bucket: string | undefined
  readonly runsTable: string | undefined
  readonly journalTable: string | undefined
  /** The fit and slow queues with their dead-letter queues; undefined unless all four are known. */
  readonly queues: { readonly fit: QueuePair; readonly slow: QueuePair } | undefined
  readonly catalogQueueUrl: string | undefined
  readonly workgroup: string
  readonly athenaOutput: string | undefined
  readonly glueDatabase: string
  /** The settings naming the queues that are not known (when `queues` is undefined). */
  readonly queuesMissing: ReadonlyArray<string>
}

/** The aws options every command takes. */
export interface Target {
  readonly stack: string
  readonly awsConfig: Option.Option<string>
}

/** Stack suffix → output key → what it names. */
const OUTPUTS = {
  Storage: { BucketName: "bucket" },
  State: { RunsTableName: "runsTable", JournalTableName: "journalTable" },
  Queues: {
    FitQueueUrl: "fitQueue",
    FitDeadLetterQueueUrl: "fitDlq",
    SlowQueueUrl: "slowQueue",
    SlowDeadLetterQueueUrl: "slowDlq",
    CatalogQueueUrl: "catalogQueue"
  },
  Catalog: { WorkGroupName: "workgroup" }
} as const

type Field = "bucket" | "runsTable" | "journalTable" | "fitQueue" | "fitDlq" | "slowQueue" | "slowDlq" | "catalogQueue" | "workgroup"

const ENV_OF: Readonly<Record<Field, string>> = {
  bucket: RuntimeAws.ENV.bucket,
  runsTable: RuntimeAws.ENV.runsTable,
  journalTable: RuntimeAws.ENV.journalTable,
  fitQueue: RuntimeAws.ENV.fitQueue,
  fitDlq: RuntimeAws.ENV.fitDlq,
  slowQueue: RuntimeAws.ENV.slowQueue,
  slowDlq: RuntimeAws.ENV.slowDlq,
  catalogQueue: RuntimeAws.ENV.catalogQueue,
  workgroup: RuntimeAws.ENV.athenaWorkgroup
}

/** What each resource is, in words, and where it comes from. */
const DESCRIBE: Readonly<Record<Field, string>> = {
  bucket: "the data bucket (PhsStorage BucketName)",
  runsTable: "the run table (PhsState RunsTableName)",
  journalTable: "the journal table (PhsState JournalTableName)",
  fitQueue: "the fit queue (PhsQueues FitQueueUrl)",
  fitDlq: "the fit dead-letter queue (PhsQueues FitDeadLetterQueueUrl)",
  slowQueue: "the slow queue (PhsQueues SlowQueueUrl)",
  slowDlq: "the slow dead-letter queue (PhsQueues SlowDeadLetterQueueUrl)",
  catalogQueue: "the catalog queue (PhsQueues CatalogQueueUrl)",
  workgroup: "the Athena workgroup (PhsCatalog WorkGroupName)"
}

const invalid = (reason: string) => new Errors.InvalidInput({ reason })

/** The values a `cdk deploy --outputs-file` JSON names for the stacks of `stack`. */
export const fromOutputs = (json: unknown, stack: string, file: string): Effect.Effect<Partial<Record<Field, string>>, Errors.InvalidInput> =>
  Effect.suspend(() => {
    if (typeof json !== "object" || json === null || Array.isArray(json))
      return Effect.fail(invalid(`${file}: not a cdk outputs file (expected {"${stackName(stack, "Storage")}": {"BucketName": …}, …})`))
    const stacks = json as Record<string, unknown>
    const out: Partial<Record<Field, string>> = {}
    let found = 0
    for (const [suffix, keys] of Object.entries(OUTPUTS)) {
      const name = Object.keys(stacks).find((k) => k.toLowerCase() === `${stack}${suffix}`.toLowerCase())
      if (name === undefined) continue
      found++
      const outputs = stacks[name]
      if (typeof outputs !== "object" || outputs === null) continue
      for (const [key, field] of Object.entries(keys)) {
        const v = (outputs as Record<string, unknown>)[key]
        if (typeof v === "string" && v.trim() !== "") out[field as Field] = v.trim()
      }
    }
    if (found === 0)
      return Effect.fail(
        invalid(
          `${file} has no stack of the deployment ${stack} (looked for ${Object.keys(OUTPUTS).map((s) => stackName(stack, s)).join(", ")}; ` +
            `it has ${Object.keys(stacks).join(", ") || "none"}): pass --stack NAME`
        )
      )
    return Effect.succeed(out)
  })

const stackName = (stack: string, suffix: string) => `${stack.charAt(0).toUpperCase()}${stack.slice(1)}${suffix}`

const readJson = (file: string) =>
  Effect.try({
    try: () => JSON.parse(fs.readFileSync(file, "utf8")) as unknown,
    catch: (e) => invalid(`cannot read ${file}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`)
  })

/** `https://sqs.eu-west-1.amazonaws.com/…` → `eu-west-1`. */
export const regionOfQueueUrl = (url: string | undefined): string | undefined => url?.match(/^https:\/\/sqs[.-]([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com/)?.[1]

/** The deployment for the aws options and an environment. */
export const resolve = (
  target: Target,
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<Deployment, Errors.InvalidInput> =>
  Effect.gen(function* () {
    const stack = target.stack.trim()
    if (stack === "") return yield* Effect.fail(invalid("--stack needs a name (the deployment's stack prefix, default phs)"))
    const file = Option.getOrUndefined(target.awsConfig)
    const fromFile = file === undefined ? {} : yield* Effect.flatMap(readJson(file), (j) => fromOutputs(j, stack, file))
    const get = (name: string): string | undefined => {
      const v = env[name]
      return v === undefined || v.trim() === "" ? undefined : v.trim()
    }
    const value = (field: Field): string | undefined => fromFile[field] ?? get(ENV_OF[field])
    const fit = { url: value("fitQueue"), dlqUrl: value("fitDlq") }
    const slow = { url: value("slowQueue"), dlqUrl: value("slowDlq") }
    const catalogQueueUrl = value("catalogQueue")
    const region = get("AWS_REGION") ?? get("AWS_DEFAULT_REGION") ?? regionOfQueueUrl(fit.url ?? slow.url ?? catalogQueueUrl)
    const endpoint = get(RuntimeAws.ENV.endpoint)
    const endpoints: Partial<Record<Service, string>> = {}
    for (const [service, name] of [["s3", RuntimeAws.ENV.s3Endpoint], ["sqs", RuntimeAws.ENV.sqsEndpoint], ["dynamodb", RuntimeAws.ENV.dynamodbEndpoint]] as const) {
      const v = get(name)
      if (v !== undefined) endpoints[service] = v
    }
    const bucket = value("bucket")
    return {
      stack,
      // No region: the SDK's own chain (the profile's region) decides, as `aws` does.
      aws: { region: region as string, ...(endpoint === undefined ? {} : { endpoint }) },
      endpoints,
      bucket,
      runsTable: value("runsTable"),
      journalTable: value("journalTable"),
      queues:
        fit.url !== undefined && fit.dlqUrl !== undefined && slow.url !== undefined && slow.dlqUrl !== undefined
          ? { fit: { url: fit.url, dlqUrl: fit.dlqUrl }, slow: { url: slow.url, dlqUrl: slow.dlqUrl } }
          : undefined,
      catalogQueueUrl,
      workgroup: value("workgroup") ?? DEFAULT_WORKGROUP,
      athenaOutput: get(RuntimeAws.ENV.athenaOutput) ?? (bucket === undefined ? undefined : `s3://${bucket}/athena-results/`),
      glueDatabase: get(RuntimeAws.ENV.glueDatabase) ?? Keys.RESULT_DATABASE,
      queuesMissing: (["fitQueue", "fitDlq", "slowQueue", "slowDlq"] as const).filter((f) => value(f) === undefined).map((f) => ENV_OF[f])
    }
  })

/** A resource the command cannot do without, or a one-line error saying how to name it. */
export const need = (d: Deployment, field: "bucket" | "runsTable"): Effect.Effect<string, Errors.InvalidInput> => {
  const v = d[field]
  return v !== undefined
    ? Effect.succeed(v)
    : Effect.fail(
        invalid(
          `the aws target needs ${DESCRIBE[field]}: pass --aws-config FILE (written by cdk deploy --outputs-file FILE) or set ${ENV_OF[field]} (see docs/deploying.md)`
        )
      )
}

/** The client config of one service (its endpoint override applied). */
export const awsFor = (d: Deployment, service: Service): AwsConfig.AwsConfig => {
  const endpoint = d.endpoints[service]
  return endpoint === undefined ? d.aws : { ...d.aws, endpoint }
}

/** The `--target aws …` flags that reach the same deployment, for hints. */
export const flags = (t: Target): string =>
  ` --target aws${t.stack === DEFAULT_STACK ? "" : ` --stack ${shellWord(t.stack)}`}${Option.isSome(t.awsConfig) ? ` --aws-config ${shellWord(t.awsConfig.value)}` : ""}`

export { explainSetup } from "./Setup.js"
