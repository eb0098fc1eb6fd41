import { Match, Template } from "aws-cdk-lib/assertions"
import { describe, expect, it } from "vitest"
import { logicalId, phsStacks, refersTo } from "./support.js"

describe("MonitoringStack", () => {
  const stacks = phsStacks()
  const template = Template.fromStack(stacks.monitoring)
  const { queues } = stacks.queues
  const alarms = () => Object.values(template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties)
  const alarmOn = (metric: string, queue: { readonly node: { readonly defaultChild?: unknown } }) =>
    alarms().filter((a) => a.MetricName === metric && refersTo(a.Dimensions, logicalId(queue)))

  it("alarms as soon as any dead-letter queue holds a message", () => {
    for (const dlq of [
      queues.fit.deadLetterQueue,
      queues.slow.deadLetterQueue,
      queues.catalog.deadLetterQueue,
      queues.splitFailures
    ]) {
      const found = alarmOn("ApproximateNumberOfMessagesVisible", dlq)
      expect(found).toHaveLength(1)
      expect(found[0]).toMatchObject({
        Namespace: "AWS/SQS",
        Statistic: "Maximum",
        Threshold: 0,
        ComparisonOperator: "GreaterThanThreshold",
        EvaluationPeriods: 1,
        TreatMissingData: "notBreaching"
      })
    }
  })

  it("alarms on a stuck run: fit or catalog work waiting more than 30 minutes", () => {
    for (const queue of [queues.fit.queue, queues.catalog.queue]) {
      const found = alarmOn("ApproximateAgeOfOldestMessage", queue)
      expect(found).toHaveLength(1)
      expect(found[0]).toMatchObject({ Threshold: 1800, ComparisonOperator: "GreaterThanThreshold" })
    }
  })

  it("gives deferred spectra two hours before the slow queue counts as stuck", () => {
    expect(alarmOn("ApproximateAgeOfOldestMessage", queues.slow.queue)[0]).toMatchObject({ Threshold: 7200 })
  })

  it("creates no topic and no alarm actions without an e-mail address", () => {
    template.resourceCountIs("AWS::SNS::Topic", 0)
    template.resourceCountIs("AWS::KMS::Key", 0)
    for (const a of alarms()) expect(a.AlarmActions).toBeUndefined()
    expect(stacks.monitoring.topic).toBeUndefined()
  })

  describe("with an e-mail address", () => {
    const notified = phsStacks({ alarmEmail: "ops@example.org" })
    const t = Template.fromStack(notified.monitoring)
    const topic = notified.monitoring.topic
    if (topic === undefined) throw new Error("no alarm topic")
    const topicId = logicalId(topic)

    it("notifies the address through an encrypted topic, from every alarm", () => {
      const keyId = Object.keys(t.findResources("AWS::KMS::Key"))[0]
      t.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true, PendingWindowInDays: 7 })
      t.hasResource("AWS::KMS::Key", { DeletionPolicy: "Delete" })
      t.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: { "Fn::GetAtt": [keyId, "Arn"] } })
      t.hasResourceProperties("AWS::SNS::Subscription", {
        Protocol: "email",
        Endpoint: "ops@example.org",
        TopicArn: { Ref: topicId }
      })
      const all = Object.values(t.findResources("AWS::CloudWatch::Alarm"))
      expect(all).toHaveLength(7)
      for (const a of all) expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }])
    })

    it("lets CloudWatch use the key and publish, and denies publishing without TLS", () => {
      t.hasResourceProperties("AWS::KMS::Key", {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: "cloudwatch.amazonaws.com" },
              Action: ["kms:Decrypt", "kms:GenerateDataKey*"]
            })
          ])
        }
      })
      t.hasResourceProperties("AWS::SNS::TopicPolicy", {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: "Deny",
              Action: "sns:Publish",
              Condition: { Bool: { "aws:SecureTransport": "false" } }
            }),
            Match.objectLike({
              Effect: "Allow",
              Principal: { Service: "cloudwatch.amazonaws.com" },
              Action: "sns:Publish"
            })
          ])
        }
      })
    })
  })
})
