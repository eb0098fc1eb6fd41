import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { type App, Duration } from "aws-cdk-lib"
import { Match, Template } from "aws-cdk-lib/assertions"
import type * as lambda from "aws-cdk-lib/aws-lambda"
import { describe, expect, it } from "vitest"
import { ComputeStack } from "../src/compute.stack.js"
import { handlerCommand, type HandlerName } from "../src/image.js"
import {
  actions,
  logicalId,
  phsStacks,
  refersTo,
  resourcesFor,
  roleStatements,
  type Statement
} from "./support.js"

const HANDLERS: ReadonlyArray<HandlerName> = ["splitter", "worker", "slowWorker", "stageWorker", "catalog"]

describe("ComputeStack", () => {
  const stacks = phsStacks()
  const { compute, queues: q, storage, state } = stacks
  const template = Template.fromStack(compute)
  const fns = compute.functions
  const resource = (fn: lambda.IFunction) => template.toJSON().Resources[logicalId(fn)]
  const statements = (name: HandlerName): ReadonlyArray<Statement> => {
    const role = fns[name].role
    if (role === undefined) throw new Error(`${name} has no role`)
    return roleStatements(template, compute, role)
  }
  const queueIds = {
    fit: logicalId(q.queues.fit.queue),
    fitDlq: logicalId(q.queues.fit.deadLetterQueue),
    slow: logicalId(q.queues.slow.queue),
    slowDlq: logicalId(q.queues.slow.deadLetterQueue),
    stage: logicalId(q.queues.stage.queue),
    stageDlq: logicalId(q.queues.stage.deadLetterQueue),
    catalog: logicalId(q.queues.catalog.queue),
    catalogDlq: logicalId(q.queues.catalog.deadLetterQueue),
    splitFailures: logicalId(q.queues.splitFailures)
  }
  /** Names of the queues the values refer to. */
  const queuesIn = (values: ReadonlyArray<unknown>): string[] =>
    Object.entries(queueIds)
      .filter(([, id]) => values.some((v) => refersTo(v, id)))
      .map(([name]) => name)
      .sort()
  /** The key patterns (`chunks/*`, …) of the object ARNs among the values. */
  const prefixesIn = (values: ReadonlyArray<unknown>): string[] =>
    values
      .flatMap((v) => {
        const parts = (v as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"]?.[1]
        const last = parts?.[parts.length - 1]
        return typeof last === "string" && last.startsWith("/") ? [last.slice(1)] : []
      })
      .sort()

  describe("functions", () => {
    it("runs exactly five functions, all ARM64, from one container image", () => {
      template.resourceCountIs("AWS::Lambda::Function", 5)
      const uris = new Set(HANDLERS.map((h) => JSON.stringify(resource(fns[h]).Properties.Code.ImageUri)))
      expect(uris.size).toBe(1)
      template.allResourcesProperties("AWS::Lambda::Function", { PackageType: "Image", Architectures: ["arm64"] })
    })

    it("selects each function's handler with the image command", () => {
      for (const h of HANDLERS) {
        expect(resource(fns[h]).Properties.ImageConfig).toEqual({ Command: [handlerCommand(h)] })
      }
      expect(handlerCommand("worker")).toBe("packages/runtime-lambda/dist/handlers/worker.handler")
    })

    it("gives the worker 1024 MB, 15 minutes and 500 reserved executions", () => {
      expect(resource(fns.worker).Properties).toMatchObject({
        MemorySize: 1024,
        Timeout: 900,
        ReservedConcurrentExecutions: 500
      })
    })

    it("gives the slow worker 10 reserved executions and a timeout within the slow queue's 16-minute visibility", () => {
      expect(resource(fns.slowWorker).Properties).toMatchObject({ Timeout: 900, ReservedConcurrentExecutions: 10 })
      expect(q.queues.slow.visibilityTimeout.toSeconds()).toBeGreaterThan(900)
    })

    it("leaves the splitter and the catalog function unreserved", () => {
      expect(resource(fns.splitter).Properties.ReservedConcurrentExecutions).toBeUndefined()
      expect(resource(fns.catalog).Properties.ReservedConcurrentExecutions).toBeUndefined()
    })

    it("takes reserved concurrency and worker memory from props", () => {
      const custom = phsStacks({ workerReservedConcurrency: 50, slowReservedConcurrency: 4, workerMemoryMiB: 1769 })
      const t = Template.fromStack(custom.compute)
      const props = (fn: lambda.IFunction) => t.toJSON().Resources[logicalId(fn)].Properties
      expect(props(custom.compute.functions.worker)).toMatchObject({ ReservedConcurrentExecutions: 50, MemorySize: 1769 })
      expect(props(custom.compute.functions.slowWorker)).toMatchObject({ ReservedConcurrentExecutions: 4, MemorySize: 1769 })
      t.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        FunctionName: { Ref: logicalId(custom.compute.functions.worker) },
        ScalingConfig: { MaximumConcurrency: 50 }
      })
    })

    it("gives every function the environment contract of runtime-lambda", () => {
      for (const h of HANDLERS) {
        const env = resource(fns[h]).Properties.Environment.Variables
        expect(Object.keys(env).sort()).toEqual(
          [
            "PHS_BUCKET",
            "PHS_CATALOG_QUEUE_URL",
            "PHS_FIT_DLQ_URL",
            "PHS_FIT_QUEUE_URL",
            "PHS_GLUE_DATABASE",
            "PHS_JOURNAL_TABLE",
            "PHS_PARTITION_PROJECTION",
            "PHS_RUNS_TABLE",
            "PHS_SLOW_DLQ_URL",
            "PHS_SLOW_QUEUE_URL",
            "PHS_STAGE_DLQ_URL",
            "PHS_STAGE_QUEUE_URL"
          ].sort()
        )
        expect(env.PHS_GLUE_DATABASE).toBe("phspectra")
        expect(env.PHS_PARTITION_PROJECTION).toBe("false")
        expect(refersTo(env.PHS_BUCKET, logicalId(storage.bucket))).toBe(true)
        expect(refersTo(env.PHS_RUNS_TABLE, logicalId(state.tables.runs))).toBe(true)
        expect(refersTo(env.PHS_JOURNAL_TABLE, logicalId(state.tables.journal))).toBe(true)
        expect(queuesIn([env.PHS_FIT_QUEUE_URL])).toEqual(["fit"])
        expect(queuesIn([env.PHS_FIT_DLQ_URL])).toEqual(["fitDlq"])
        expect(queuesIn([env.PHS_SLOW_QUEUE_URL])).toEqual(["slow"])
        expect(queuesIn([env.PHS_SLOW_DLQ_URL])).toEqual(["slowDlq"])
        expect(queuesIn([env.PHS_STAGE_QUEUE_URL])).toEqual(["stage"])
        expect(queuesIn([env.PHS_STAGE_DLQ_URL])).toEqual(["stageDlq"])
        expect(queuesIn([env.PHS_CATALOG_QUEUE_URL])).toEqual(["catalog"])
      }
    })

    it("says PHS_PARTITION_PROJECTION=true when partitions are projected", () => {
      const projected = phsStacks({ surveyPartitions: "projected" })
      Template.fromStack(projected.compute).allResourcesProperties("AWS::Lambda::Function", {
        Environment: { Variables: Match.objectLike({ PHS_PARTITION_PROJECTION: "true" }) }
      })
    })

    it("logs each function to its own log group, kept a month", () => {
      template.resourceCountIs("AWS::Logs::LogGroup", 5)
      template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 })
      for (const h of HANDLERS) {
        const logGroup = resource(fns[h]).Properties.LoggingConfig.LogGroup
        expect(resourcesFor(statements(h), "logs:PutLogEvents")).toEqual([{ "Fn::GetAtt": [logGroup.Ref, "Arn"] }])
      }
    })
  })

  it("outputs each function's log group", () => {
    for (const h of HANDLERS) {
      const output = `${h.charAt(0).toUpperCase()}${h.slice(1)}LogGroup`
      template.hasOutput(output, { Value: { Ref: resource(fns[h]).Properties.LoggingConfig.LogGroup.Ref } })
    }
  })

  describe("triggers", () => {
    it("consumes each queue one message per invocation, reporting failed items", () => {
      const consumers: Array<[HandlerName, keyof typeof queueIds, number | undefined]> = [
        ["worker", "fit", 500],
        ["slowWorker", "slow", 10],
        ["stageWorker", "stage", 500],
        ["catalog", "catalog", undefined]
      ]
      template.resourceCountIs("AWS::Lambda::EventSourceMapping", consumers.length)
      for (const [h, queue, max] of consumers) {
        const mapping = Object.values(template.findResources("AWS::Lambda::EventSourceMapping")).find((m) =>
          refersTo(m.Properties.FunctionName, logicalId(fns[h]))
        )
        expect(mapping?.Properties).toMatchObject({ BatchSize: 1, FunctionResponseTypes: ["ReportBatchItemFailures"] })
        expect(queuesIn([mapping?.Properties.EventSourceArn])).toEqual([queue])
        expect(mapping?.Properties.ScalingConfig).toEqual(max === undefined ? undefined : { MaximumConcurrency: max })
      }
    })

    it("starts the splitter on an S3 Object Created event for manifests/*.json in the data bucket", () => {
      const rules = Object.values(template.findResources("AWS::Events::Rule"))
      expect(rules).toHaveLength(1)
      const { EventPattern, Targets } = rules[0].Properties
      expect(EventPattern).toMatchObject({
        source: ["aws.s3"],
        "detail-type": ["Object Created"],
        detail: { object: { key: [{ wildcard: "manifests/*.json" }] } }
      })
      expect(refersTo(EventPattern.detail.bucket.name, logicalId(storage.bucket))).toBe(true)
      expect(Targets).toEqual([{ Arn: { "Fn::GetAtt": [logicalId(fns.splitter), "Arn"] }, Id: "Target0" }])
    })

    it("retries a failed manifest event twice, then parks it in the split-failure queue", () => {
      const config = Object.values(template.findResources("AWS::Lambda::EventInvokeConfig"))
      expect(config).toHaveLength(1)
      expect(config[0].Properties).toMatchObject({
        FunctionName: { Ref: logicalId(fns.splitter) },
        MaximumRetryAttempts: 2
      })
      expect(queuesIn([config[0].Properties.DestinationConfig.OnFailure.Destination])).toEqual(["splitFailures"])
    })

    it("rejects a queue whose visibility timeout a 15-minute function could outlive", () => {
      const other = phsStacks({ prefix: "Other" })
      expect(
        () =>
          new ComputeStack(other.compute.node.root as App, "Short", {
            bucket: other.storage.bucket,
            tables: other.state.tables,
            queues: { ...other.queues.queues, fit: { ...other.queues.queues.fit, visibilityTimeout: Duration.minutes(5) } },
            resultTable: other.catalog.resultTable
          })
      ).toThrow(/visibility timeout/)
    })
  })

  describe("least privilege", () => {
    const all = HANDLERS.flatMap((h) => statements(h))

    it("attaches no managed policy to any role", () => {
      template.resourceCountIs("AWS::IAM::Role", 5)
      template.allResourcesProperties("AWS::IAM::Role", { ManagedPolicyArns: Match.absent() })
    })

    it("grants no wildcard action and no wildcard resource", () => {
      for (const s of all) {
        expect(s.Effect).toBe("Allow")
        for (const a of actions(s)) expect(a === "*" || a.endsWith(":*")).toBe(false)
        const res = Array.isArray(s.Resource) ? s.Resource : [s.Resource]
        expect(res).not.toContain("*")
      }
    })

    it("scopes each function's S3 reads and writes to its stage's prefixes", () => {
      const access = (h: HandlerName) => ({
        read: prefixesIn(resourcesFor(statements(h), "s3:GetObject*")),
        write: prefixesIn(resourcesFor(statements(h), "s3:PutObject"))
      })
      expect(access("splitter")).toEqual({ read: ["cubes/*", "manifests/*"], write: ["chunks/*"] })
      expect(access("worker")).toEqual({ read: ["chunks/*"], write: ["chunks/*"] })
      expect(access("slowWorker")).toEqual({ read: ["chunks/*"], write: ["chunks/*"] })
      expect(access("stageWorker")).toEqual({ read: ["chunks/*"], write: ["chunks/*"] })
      expect(access("catalog")).toEqual({
        read: ["chunks/*", "decompositions/*"],
        write: ["decompositions/*", "runs/*"]
      })
    })

    it("lets each function send only to the queues its stage feeds", () => {
      const sendsTo = (h: HandlerName) => queuesIn(resourcesFor(statements(h), "sqs:SendMessage"))
      expect(sendsTo("splitter")).toEqual(["fit", "splitFailures"])
      expect(sendsTo("worker")).toEqual(["catalog", "fitDlq", "slow"])
      expect(sendsTo("slowWorker")).toEqual(["catalog", "slowDlq"])
      expect(sendsTo("stageWorker")).toEqual(["catalog", "stageDlq"])
      expect(sendsTo("catalog")).toEqual(["stage"])
    })

    it("lets each consumer receive from its own queue only", () => {
      const receivesFrom = (h: HandlerName) => queuesIn(resourcesFor(statements(h), "sqs:ReceiveMessage"))
      expect(receivesFrom("splitter")).toEqual([])
      expect(receivesFrom("worker")).toEqual(["fit"])
      expect(receivesFrom("slowWorker")).toEqual(["slow"])
      expect(receivesFrom("stageWorker")).toEqual(["stage"])
      expect(receivesFrom("catalog")).toEqual(["catalog"])
    })

    it("reaches DynamoDB only on the run table, its index and the journal", () => {
      const runs = logicalId(state.tables.runs)
      const journal = logicalId(state.tables.journal)
      for (const h of HANDLERS) {
        const tables = resourcesFor(statements(h), "dynamodb:UpdateItem")
        expect(tables.length).toBeGreaterThan(0)
        for (const t of tables) expect(refersTo(t, runs) || refersTo(t, journal)).toBe(true)
      }
    })

    it("lets only the catalog function use Glue, on phspectra.decompositions alone", () => {
      for (const h of ["splitter", "worker", "slowWorker", "stageWorker"] as const) {
        expect(statements(h).flatMap(actions).filter((a) => a.startsWith("glue:"))).toEqual([])
      }
      const glue = statements("catalog").filter((s) => actions(s).some((a) => a.startsWith("glue:")))
      expect(glue).toHaveLength(1)
      expect(JSON.stringify(glue[0].Resource)).not.toContain("*")
      expect(JSON.stringify(glue[0].Resource)).toContain(":table/phspectra/decompositions")
      expect(actions(glue[0])).toContain("glue:BatchCreatePartition")
    })
  })

  describe("image", () => {
    const assembly = (compute.node.root as App).synth()
    const manifest = JSON.parse(readFileSync(join(assembly.directory, `${compute.artifactId}.assets.json`), "utf8"))
    const images = Object.values(manifest.dockerImages) as Array<{
      source: { directory: string; dockerFile: string; platform: string }
    }>
    const staged = join(assembly.directory, images[0].source.directory)
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name)
        return statSync(path).isDirectory() ? files(path) : [relative(staged, path)]
      })
    const contents = files(staged)

    it("is one ARM64 image asset built from infra/lambda/Dockerfile", () => {
      expect(images).toHaveLength(1)
      expect(images[0].source).toMatchObject({ dockerFile: "infra/lambda/Dockerfile", platform: "linux/arm64" })
    })

    it("stages only the allow-listed build context at synth, without Docker", () => {
      expect(contents).toEqual(
        expect.arrayContaining([
          "infra/lambda/Dockerfile",
          "package.json",
          "package-lock.json",
          "tsconfig.base.json",
          "packages/fit-native/binding.gyp",
          "packages/fit-native/src/index.ts",
          "packages/core/src/index.ts",
          "packages/runtime-lambda/package.json",
          "packages/cli/package.json"
        ])
      )
      for (const path of contents) {
        expect(path).not.toMatch(/(^|\/)(node_modules|\.git|\.phs|dist|build|test|cdk\.out)\//)
      }
      const bytes = contents.reduce((sum, path) => sum + statSync(join(staged, path)).size, 0)
      expect(bytes).toBeLessThan(5 * 1024 * 1024)
    })
  })
})
