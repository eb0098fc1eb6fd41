import { Match, Template } from "aws-cdk-lib/assertions"
import { describe, expect, it } from "vitest"
import { QueuesStack } from "../src/queues.stack.js"
import { logicalId, testApp } from "./support.js"

describe("QueuesStack", () => {
  const stack = new QueuesStack(testApp(), "Queues")
  const template = Template.fromStack(stack)
  const { fit, slow, catalog, splitFailures } = stack.queues
  const props = (q: { readonly node: { readonly defaultChild?: unknown } }) =>
    template.toJSON().Resources[logicalId(q)].Properties

  it("creates four work queues (fit, slow, stage, catalog), their four dead-letter queues, and the split-failure queue", () => {
    template.resourceCountIs("AWS::SQS::Queue", 9)
  })

  it("retries a fan-out stage's chunk like a fit chunk (three receives), whatever the stage", () => {
    const { stage } = stack.queues
    expect(props(stage.queue).RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [logicalId(stage.deadLetterQueue), "Arn"] },
      maxReceiveCount: 3
    })
    expect(props(stage.queue).VisibilityTimeout).toBe(960)
  })

  it("moves a fit message to its dead-letter queue on the third receive", () => {
    expect(props(fit.queue).RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [logicalId(fit.deadLetterQueue), "Arn"] },
      maxReceiveCount: 3
    })
    expect(fit.maxReceiveCount).toBe(3)
  })

  it("retries a slow message once (two receives), with a 16-minute visibility timeout", () => {
    expect(props(slow.queue).RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [logicalId(slow.deadLetterQueue), "Arn"] },
      maxReceiveCount: 2
    })
    expect(props(slow.queue).VisibilityTimeout).toBe(960)
  })

  it("gives the catalog queue its own dead-letter queue", () => {
    expect(props(catalog.queue).RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [logicalId(catalog.deadLetterQueue), "Arn"] },
      maxReceiveCount: 3
    })
  })

  it("hides a received message longer than a 15-minute Lambda can run", () => {
    for (const q of [fit, slow, catalog]) {
      expect(props(q.queue).VisibilityTimeout).toBe(960)
      expect(q.visibilityTimeout.toSeconds()).toBe(960)
    }
  })

  it("keeps dead letters for 14 days", () => {
    for (const q of [fit.deadLetterQueue, slow.deadLetterQueue, catalog.deadLetterQueue, splitFailures]) {
      expect(props(q).MessageRetentionPeriod).toBe(1_209_600)
    }
  })

  it("encrypts every queue (SSE-SQS)", () => {
    template.allResourcesProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true })
  })

  it("denies every queue any request not made over TLS", () => {
    for (const q of [fit, slow, catalog].flatMap((x) => [x.queue, x.deadLetterQueue]).concat([splitFailures])) {
      template.hasResourceProperties("AWS::SQS::QueuePolicy", {
        Queues: [{ Ref: logicalId(q) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: "Deny",
              Action: "sqs:*",
              Condition: { Bool: { "aws:SecureTransport": "false" } }
            })
          ])
        }
      })
    }
  })

  it("outputs every queue's URL", () => {
    const outputs: Array<[string, { readonly node: { readonly defaultChild?: unknown } }]> = [
      ["FitQueueUrl", fit.queue],
      ["FitDeadLetterQueueUrl", fit.deadLetterQueue],
      ["SlowQueueUrl", slow.queue],
      ["SlowDeadLetterQueueUrl", slow.deadLetterQueue],
      ["CatalogQueueUrl", catalog.queue],
      ["CatalogDeadLetterQueueUrl", catalog.deadLetterQueue],
      ["SplitFailuresQueueUrl", splitFailures]
    ]
    for (const [name, queue] of outputs) template.hasOutput(name, { Value: { Ref: logicalId(queue) } })
  })
})
