import { type App, Aspects, RemovalPolicy, type Stack } from "aws-cdk-lib"
import { Annotations, Match, Template } from "aws-cdk-lib/assertions"
import { AwsSolutionsChecks } from "cdk-nag"
import { describe, expect, it } from "vitest"
import { addPhsStacks, type PhsProps, type PhsStacks, propsFromContext } from "../src/app.js"
import { actions, resources, type Statement, testApp } from "./support.js"

const checked = (props: PhsProps = {}): PhsStacks => {
  const app = testApp()
  const stacks = addPhsStacks(app, props)
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }))
  return stacks
}

const all = (stacks: PhsStacks): ReadonlyArray<Stack> => Object.values(stacks)

interface Suppression {
  readonly id: string
  readonly reason: string
  readonly applies_to?: ReadonlyArray<unknown>
}

const suppressions = (stacks: PhsStacks): ReadonlyArray<Suppression> =>
  all(stacks).flatMap((stack) =>
    Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, { Metadata?: any }>).flatMap(
      (r) => (r.Metadata?.cdk_nag?.rules_to_suppress ?? []) as Suppression[]
    )
  )

describe("the phs app", () => {
  const variants: Array<[string, PhsProps]> = [
    ["default props", {}],
    ["an alarm topic and registered partitions", { alarmEmail: "ops@example.org", surveyPartitions: "registered" }]
  ]

  it("has one stack per concern", () => {
    const stacks = addPhsStacks(testApp())
    expect(all(stacks).map((s) => s.stackName)).toEqual([
      "PhsStorage",
      "PhsState",
      "PhsQueues",
      "PhsCatalog",
      "PhsCompute",
      "PhsMonitoring"
    ])
    expect(addPhsStacks(testApp(), { prefix: "PhsDev" }).storage.stackName).toBe("PhsDevStorage")
  })

  it("deploys compute after everything it refers to", () => {
    const s = addPhsStacks(testApp())
    const assembly = (s.storage.node.root as App).synth()
    const dependsOn = (stack: Stack) =>
      assembly
        .getStackArtifact(stack.artifactId)
        .dependencies.map((d) => d.id)
        .filter((id) => !id.endsWith(".assets"))
        .sort()
    expect(dependsOn(s.storage)).toEqual([])
    expect(dependsOn(s.catalog)).toEqual(["PhsStorage"])
    expect(dependsOn(s.compute)).toEqual(["PhsCatalog", "PhsQueues", "PhsState", "PhsStorage"])
    expect(dependsOn(s.monitoring)).toEqual(["PhsQueues"])
  })

  describe.each(variants)("cdk-nag AwsSolutions, with %s", (_, props) => {
    const stacks = checked(props)

    it.each(all(stacks).map((s) => [s.stackName, s] as const))("finds no unsuppressed error in %s", (_name, stack) => {
      expect(Annotations.fromStack(stack).findError("*", Match.stringLikeRegexp("AwsSolutions-.*"))).toEqual([])
    })

    it.each(all(stacks).map((s) => [s.stackName, s] as const))("finds no unsuppressed warning in %s", (_name, stack) => {
      expect(Annotations.fromStack(stack).findWarning("*", Match.stringLikeRegexp("AwsSolutions-.*"))).toEqual([])
    })

    it("suppresses only IAM5 on named wildcards and SQS3 on the split-failure queue, each with its reason", () => {
      const found = suppressions(stacks)
      expect(new Set(found.map((s) => s.id))).toEqual(new Set(["AwsSolutions-IAM5", "AwsSolutions-SQS3"]))
      for (const s of found) {
        expect(s.reason.length).toBeGreaterThan(80)
        if (s.id === "AwsSolutions-IAM5") expect(s.applies_to?.length ?? 0).toBeGreaterThan(0)
      }
    })
  })

  it("allows no wildcard action or resource in any IAM policy, and no anonymous principal anywhere", () => {
    const stacks = addPhsStacks(testApp(), { alarmEmail: "ops@example.org" })
    for (const stack of all(stacks)) {
      for (const [type, props] of Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, any>).map(
        (r) => [r.Type as string, r.Properties] as const
      )) {
        const statements: Statement[] =
          type === "AWS::IAM::Policy" || type.endsWith("Policy") ? (props.PolicyDocument?.Statement ?? []) : []
        for (const s of statements) {
          if (s.Effect === "Deny") continue // the TLS-only denials: any principal, any action, no TLS
          expect(actions(s).filter((a) => a === "*" || a.endsWith(":*"))).toEqual([])
          expect(resources(s)).not.toContain("*")
          expect(JSON.stringify((s as { Principal?: unknown }).Principal ?? null)).not.toMatch(/"\*"/)
        }
        // A KMS key policy's "Resource": "*" means the key itself; its admin statement is CDK's default.
        if (type === "AWS::KMS::Key") {
          for (const s of props.KeyPolicy.Statement as Statement[]) {
            expect(JSON.stringify((s as { Principal?: unknown }).Principal)).not.toMatch(/"\*"/)
          }
        }
      }
    }
  })

  describe("props from context", () => {
    const fromContext = (context: Record<string, unknown>) => propsFromContext(testApp(context))

    it("is empty without phs: keys", () => {
      expect(fromContext({})).toEqual({})
    })

    it("reads every key, numbers from strings as the CLI passes them", () => {
      expect(
        fromContext({
          "phs:prefix": "PhsDev",
          "phs:account": "123456789012",
          "phs:region": "us-east-1",
          "phs:workerConcurrency": "200",
          "phs:slowConcurrency": "5",
          "phs:workerMemory": "1769",
          "phs:surveyPartitions": "registered",
          "phs:alarmEmail": "ops@example.org",
          "phs:destroyData": "true"
        })
      ).toEqual({
        prefix: "PhsDev",
        env: { account: "123456789012", region: "us-east-1" },
        workerReservedConcurrency: 200,
        slowReservedConcurrency: 5,
        workerMemoryMiB: 1769,
        surveyPartitions: "registered",
        alarmEmail: "ops@example.org",
        dataRemovalPolicy: RemovalPolicy.DESTROY
      })
    })

    it("rejects a value it cannot use, naming the key", () => {
      expect(() => fromContext({ "phs:workerConcurrency": "lots" })).toThrow(/phs:workerConcurrency/)
      expect(() => fromContext({ "phs:workerConcurrency": "0" })).toThrow(/phs:workerConcurrency/)
      expect(() => fromContext({ "phs:surveyPartitions": "enum" })).toThrow(/phs:surveyPartitions/)
    })
  })
})
