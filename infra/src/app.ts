/**
 * The phs deployment: six stacks, one per concern, wired by their typed props.
 *
 *   storage ─┬─► catalog ─┐
 *            │            ▼
 *   state ───┼────────► compute
 *   queues ──┴──────────┘ └──► monitoring (queues)
 *
 * @since 0.1.0
 */
import { RemovalPolicy, type Environment, type Stage } from "aws-cdk-lib"
import { CatalogStack, type SurveyPartitions } from "./catalog.stack.js"
import { ComputeStack } from "./compute.stack.js"
import { MonitoringStack } from "./monitoring.stack.js"
import { QueuesStack } from "./queues.stack.js"
import { StateStack } from "./state.stack.js"
import { StorageStack } from "./storage.stack.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface PhsProps {
  /** Prefix of the stack names. Default `Phs` (PhsStorage, PhsState, …). */
  readonly prefix?: string
  /** Unset: environment-agnostic stacks, deployed to the CLI's account and region. */
  readonly env?: Environment
  readonly workerReservedConcurrency?: number
  readonly slowReservedConcurrency?: number
  readonly workerMemoryMiB?: number
  readonly surveyPartitions?: SurveyPartitions
  readonly alarmEmail?: string
  /** Buckets and tables survive `cdk destroy` unless this is DESTROY. Default RETAIN. */
  readonly dataRemovalPolicy?: RemovalPolicy
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PhsStacks {
  readonly storage: StorageStack
  readonly state: StateStack
  readonly queues: QueuesStack
  readonly catalog: CatalogStack
  readonly compute: ComputeStack
  readonly monitoring: MonitoringStack
}

/**
 * Adds the phs stacks to an app (or stage).
 *
 * @since 0.1.0
 * @category constructors
 */
export const addPhsStacks = (scope: Stage, props: PhsProps = {}): PhsStacks => {
  const prefix = props.prefix ?? "Phs"
  const common = { env: props.env }
  const removalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN

  const storage = new StorageStack(scope, `${prefix}Storage`, {
    ...common,
    description: "phs: data bucket and its access-log bucket",
    removalPolicy
  })
  const state = new StateStack(scope, `${prefix}State`, {
    ...common,
    description: "phs: run table and step journal",
    removalPolicy
  })
  const queues = new QueuesStack(scope, `${prefix}Queues`, {
    ...common,
    description: "phs: fit, slow and catalog queues with their dead-letter queues"
  })
  const catalog = new CatalogStack(scope, `${prefix}Catalog`, {
    ...common,
    description: "phs: Glue table phspectra.decompositions, Athena workgroup and named queries",
    bucket: storage.bucket,
    surveyPartitions: props.surveyPartitions
  })
  const compute = new ComputeStack(scope, `${prefix}Compute`, {
    ...common,
    description: "phs: splitter, worker, slow worker and catalog Lambdas",
    bucket: storage.bucket,
    tables: state.tables,
    queues: queues.queues,
    resultTable: catalog.resultTable,
    workerReservedConcurrency: props.workerReservedConcurrency,
    slowReservedConcurrency: props.slowReservedConcurrency,
    workerMemoryMiB: props.workerMemoryMiB
  })
  // The catalog Lambda writes into the table: create it first, delete it last.
  compute.addStackDependency(catalog, "the catalog Lambda writes into the result table")
  const monitoring = new MonitoringStack(scope, `${prefix}Monitoring`, {
    ...common,
    description: "phs: dead-letter and stuck-run alarms",
    queues: queues.queues,
    alarmEmail: props.alarmEmail
  })
  return { storage, state, queues, catalog, compute, monitoring }
}

/**
 * Reads the props from CDK context (`cdk deploy -c phs:workerConcurrency=200 …`).
 *
 * | context key               | prop                        |
 * |---------------------------|-----------------------------|
 * | phs:prefix                | prefix                      |
 * | phs:account, phs:region   | env                         |
 * | phs:workerConcurrency     | workerReservedConcurrency   |
 * | phs:slowConcurrency       | slowReservedConcurrency     |
 * | phs:workerMemory          | workerMemoryMiB             |
 * | phs:surveyPartitions      | surveyPartitions            |
 * | phs:alarmEmail            | alarmEmail                  |
 * | phs:destroyData=true      | dataRemovalPolicy = DESTROY |
 *
 * @since 0.1.0
 * @category constructors
 */
export const propsFromContext = (scope: Stage): PhsProps => {
  const get = (key: string): string | undefined => {
    const value: unknown = scope.node.tryGetContext(`phs:${key}`)
    return value === undefined || value === null || value === "" ? undefined : String(value)
  }
  const int = (key: string, min: number, max: number): number | undefined => {
    const raw = get(key)
    if (raw === undefined) return undefined
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`phs infra: context phs:${key} must be an integer in [${min}, ${max}], got ${raw}`)
    }
    return n
  }
  const partitions = get("surveyPartitions")
  if (partitions !== undefined && partitions !== "projected" && partitions !== "registered") {
    throw new Error(`phs infra: context phs:surveyPartitions must be "projected" or "registered", got ${partitions}`)
  }
  const account = get("account")
  const region = get("region")
  const entries: Array<[keyof PhsProps, unknown]> = [
    ["prefix", get("prefix")],
    ["env", account === undefined && region === undefined ? undefined : { account, region }],
    ["workerReservedConcurrency", int("workerConcurrency", 1, 10_000)],
    ["slowReservedConcurrency", int("slowConcurrency", 1, 1_000)],
    ["workerMemoryMiB", int("workerMemory", 128, 10_240)],
    ["surveyPartitions", partitions],
    ["alarmEmail", get("alarmEmail")],
    ["dataRemovalPolicy", get("destroyData") === "true" ? RemovalPolicy.DESTROY : undefined]
  ]
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as PhsProps
}
