import { RemovalPolicy } from "aws-cdk-lib"
import { Template } from "aws-cdk-lib/assertions"
import { describe, expect, it } from "vitest"
import { RUNS_BY_SURVEY_INDEX, StateStack } from "../src/state.stack.js"
import { logicalId, testApp } from "./support.js"

describe("StateStack", () => {
  const stack = new StateStack(testApp(), "State")
  const template = Template.fromStack(stack)
  const table = (t: { readonly node: { readonly defaultChild?: unknown } }) =>
    template.toJSON().Resources[logicalId(t)]

  it("creates the run table and the journal", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 2)
  })

  it("keys both tables by pk (S) and sk (S)", () => {
    for (const t of [stack.tables.runs, stack.tables.journal]) {
      const props = table(t).Properties
      expect(props.KeySchema).toEqual([
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" }
      ])
      expect(props.AttributeDefinitions).toEqual(
        expect.arrayContaining([
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" }
        ])
      )
    }
  })

  it("bills both on demand, with point-in-time recovery and encryption", () => {
    template.allResourcesProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true }
    })
  })

  it("indexes runs by survey (S) and creation time (N)", () => {
    const props = table(stack.tables.runs).Properties
    expect(props.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: RUNS_BY_SURVEY_INDEX,
        KeySchema: [
          { AttributeName: "survey", KeyType: "HASH" },
          { AttributeName: "created_at", KeyType: "RANGE" }
        ],
        Projection: { ProjectionType: "ALL" }
      }
    ])
    expect(RUNS_BY_SURVEY_INDEX).toBe("by-survey")
    expect(props.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: "survey", AttributeType: "S" },
        { AttributeName: "created_at", AttributeType: "N" }
      ])
    )
  })

  it("gives the journal no index", () => {
    expect(table(stack.tables.journal).Properties.GlobalSecondaryIndexes).toBeUndefined()
  })

  it("retains the tables on stack deletion unless told to destroy them", () => {
    template.allResources("AWS::DynamoDB::Table", { DeletionPolicy: "Retain" })
    const destroyed = Template.fromStack(new StateStack(testApp(), "State", { removalPolicy: RemovalPolicy.DESTROY }))
    destroyed.allResources("AWS::DynamoDB::Table", { DeletionPolicy: "Delete" })
  })

  it("outputs both table names", () => {
    template.hasOutput("RunsTableName", { Value: { Ref: logicalId(stack.tables.runs) } })
    template.hasOutput("JournalTableName", { Value: { Ref: logicalId(stack.tables.journal) } })
  })
})
