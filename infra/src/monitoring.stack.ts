/**
 * Monitoring: an alarm on every dead-letter queue (any message there is work that will not
 * finish by itself), and on queues whose oldest message is too old (a stuck run). With an
 * e-mail address, the alarms notify an encrypted SNS topic.
 *
 * @since 0.1.0
 */
import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib"
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch"
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions"
import * as iam from "aws-cdk-lib/aws-iam"
import * as kms from "aws-cdk-lib/aws-kms"
import * as sns from "aws-cdk-lib/aws-sns"
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions"
import type * as sqs from "aws-cdk-lib/aws-sqs"
import type { Construct } from "constructs"
import type { PipelineQueues } from "./queues.stack.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface MonitoringStackProps extends StackProps {
  readonly queues: PipelineQueues
  /** Fit or catalog work older than this means a stuck run. Default 30 minutes. */
  readonly stuckAfter?: Duration
  /** Deferred spectra wait longer (ten slow workers): older than this is stuck. Default 2 hours. */
  readonly slowStuckAfter?: Duration
  /** Where alarm notifications go; without it, no topic is created. */
  readonly alarmEmail?: string
}

/**
 * @since 0.1.0
 * @category stacks
 */
export class MonitoringStack extends Stack {
  /** One alarm per dead-letter queue, by queue name. */
  readonly deadLetterAlarms: Readonly<Record<string, cloudwatch.Alarm>>
  /** Age of the oldest message, per work queue. */
  readonly stuckAlarms: Readonly<Record<string, cloudwatch.Alarm>>
  readonly topic: sns.ITopic | undefined

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props)
    const { queues } = props
    const stuckAfter = props.stuckAfter ?? Duration.minutes(30)

    const deadLetters: Record<string, sqs.IQueue> = {
      fit: queues.fit.deadLetterQueue,
      slow: queues.slow.deadLetterQueue,
      catalog: queues.catalog.deadLetterQueue,
      split: queues.splitFailures
    }
    const deadLetterAlarms = Object.fromEntries(
      Object.entries(deadLetters).map(([name, queue]) => [
        name,
        new cloudwatch.Alarm(this, `${name}DeadLetters`, {
          alarmDescription: `phs: messages in the ${name} dead-letter queue (work that will not finish by itself)`,
          metric: queue.metricApproximateNumberOfMessagesVisible({
            period: Duration.minutes(1),
            statistic: cloudwatch.Stats.MAXIMUM
          }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
        })
      ])
    )

    const stuck: Record<string, { queue: sqs.IQueue; after: Duration }> = {
      fit: { queue: queues.fit.queue, after: stuckAfter },
      slow: { queue: queues.slow.queue, after: props.slowStuckAfter ?? Duration.hours(2) },
      catalog: { queue: queues.catalog.queue, after: stuckAfter }
    }
    const stuckAlarms = Object.fromEntries(
      Object.entries(stuck).map(([name, { queue, after }]) => [
        name,
        new cloudwatch.Alarm(this, `${name}Stuck`, {
          alarmDescription: `phs: the oldest ${name} message has waited more than ${after.toHumanString()} (stuck run)`,
          metric: queue.metricApproximateAgeOfOldestMessage({
            period: Duration.minutes(5),
            statistic: cloudwatch.Stats.MAXIMUM
          }),
          threshold: after.toSeconds(),
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
        })
      ])
    )

    this.deadLetterAlarms = deadLetterAlarms
    this.stuckAlarms = stuckAlarms
    this.topic = props.alarmEmail === undefined ? undefined : this.notify(props.alarmEmail)
  }

  private notify(email: string): sns.ITopic {
    // A customer-managed key: CloudWatch cannot publish to a topic encrypted with the AWS
    // managed alias/aws/sns key, whose policy cannot grant it.
    const key = new kms.Key(this, "AlarmTopicKey", {
      description: "phs alarm topic",
      enableKeyRotation: true,
      // It encrypts notifications in transit only: nothing to keep once the stack is gone.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7)
    })
    const cloudwatchService = new iam.ServicePrincipal("cloudwatch.amazonaws.com")
    key.grant(cloudwatchService, "kms:Decrypt", "kms:GenerateDataKey*")
    const topic = new sns.Topic(this, "AlarmTopic", { displayName: "phs alarms", masterKey: key, enforceSSL: true })
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [cloudwatchService],
        actions: ["sns:Publish"],
        resources: [topic.topicArn],
        conditions: { StringEquals: { "aws:SourceAccount": this.account } }
      })
    )
    topic.addSubscription(new subscriptions.EmailSubscription(email))
    const action = new actions.SnsAction(topic)
    for (const alarm of [...Object.values(this.deadLetterAlarms), ...Object.values(this.stuckAlarms)]) {
      alarm.addAlarmAction(action)
    }
    return topic
  }
}
