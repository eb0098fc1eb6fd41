/**
 * State: the run table (runs and their chunks, docs/architecture.md, "Run table") and the step journal
 * (durable step records), both DynamoDB on demand with point-in-time recovery.
 *
 * @since 0.1.0
 */
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib"
import * as dynamodb from "aws-cdk-lib/aws-dynamodb"
import type { Construct } from "constructs"

/**
 * The index of runs by survey, newest last: `phs runs` and `phs status` read it.
 *
 * @since 0.1.0
 * @category constants
 */
export const RUNS_BY_SURVEY_INDEX = "by-survey"

/**
 * @since 0.1.0
 * @category models
 */
export interface PipelineTables {
  /** pk = run id, sk = `RUN` | `CHUNK#0000000`; GSI `by-survey` (survey, created_at). */
  readonly runs: dynamodb.ITable
  /** pk, sk: one item per durable step record. */
  readonly journal: dynamodb.ITable
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StateStackProps extends StackProps {
  /** What `cdk destroy` does with the tables. Default RETAIN. */
  readonly removalPolicy?: RemovalPolicy
}

/**
 * @since 0.1.0
 * @category stacks
 */
export class StateStack extends Stack {
  readonly tables: PipelineTables

  constructor(scope: Construct, id: string, props: StateStackProps = {}) {
    super(scope, id, props)
    const common = {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN
    }

    const runs = new dynamodb.Table(this, "Runs", common)
    runs.addGlobalSecondaryIndex({
      indexName: RUNS_BY_SURVEY_INDEX,
      partitionKey: { name: "survey", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "created_at", type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.ALL
    })
    const journal = new dynamodb.Table(this, "Journal", common)

    this.tables = { runs, journal }

    new CfnOutput(this, "RunsTableName", { value: runs.tableName, description: "run table (PHS_RUNS_TABLE)" })
    new CfnOutput(this, "JournalTableName", { value: journal.tableName, description: "step journal (PHS_JOURNAL_TABLE)" })
  }
}
