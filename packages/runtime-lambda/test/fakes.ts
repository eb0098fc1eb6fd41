/**
 * In-process stand-ins for the Glue and Athena APIs (there is no emulator for either):
 * small models of the behaviour the layers rely on, with every call recorded.
 */
import type { GetPartitionsCommandOutput, Partition, PartitionInput } from "@aws-sdk/client-glue"
import type { GetQueryResultsCommandOutput, QueryExecutionStatus } from "@aws-sdk/client-athena"
import type { AthenaQuery, CatalogGlue } from "@phs/runtime-lambda"

export const awsError = (name: string, status = 400) =>
  Object.assign(new Error(`${name} (fake)`), { name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status } })

/** Glue with tables that exist on first use (partition keys `survey`), pages of 2 partitions. */
export const fakeGlue = (options: { readonly missingTables?: ReadonlyArray<string> } = {}) => {
  const calls: string[] = []
  const partitions = new Map<string, Partition>()
  const failures: Error[] = []
  const id = (db: string | undefined, table: string | undefined, values: ReadonlyArray<string> | undefined) =>
    `${db}.${table}/${(values ?? []).join("\u0001")}`
  const step = (name: string) => {
    calls.push(name)
    const f = failures.shift()
    if (f !== undefined) throw f
  }
  const store = (db: string | undefined, table: string | undefined, input: PartitionInput | undefined) =>
    partitions.set(id(db, table, input?.Values), { ...input, DatabaseName: db, TableName: table })
  const api: CatalogGlue.GlueApi = {
    getTable: async ({ DatabaseName, Name }) => {
      step("getTable")
      if (options.missingTables?.includes(`${DatabaseName}.${Name}`)) throw awsError("EntityNotFoundException")
      return {
        $metadata: {},
        Table: {
          Name,
          DatabaseName,
          PartitionKeys: [{ Name: "survey", Type: "string" }],
          StorageDescriptor: { Columns: [{ Name: "x", Type: "int" }], Location: "s3://bucket/decompositions/" }
        }
      }
    },
    createPartition: async ({ DatabaseName, TableName, PartitionInput }) => {
      step("createPartition")
      if (partitions.has(id(DatabaseName, TableName, PartitionInput?.Values))) throw awsError("AlreadyExistsException")
      store(DatabaseName, TableName, PartitionInput)
      return {}
    },
    updatePartition: async ({ DatabaseName, TableName, PartitionValueList, PartitionInput }) => {
      step("updatePartition")
      if (!partitions.has(id(DatabaseName, TableName, PartitionValueList))) throw awsError("EntityNotFoundException")
      store(DatabaseName, TableName, PartitionInput)
      return {}
    },
    getPartitions: async ({ DatabaseName, TableName, NextToken }): Promise<GetPartitionsCommandOutput> => {
      step("getPartitions")
      const all = [...partitions.values()].filter((p) => p.DatabaseName === DatabaseName && p.TableName === TableName)
      const from = NextToken === undefined ? 0 : Number(NextToken)
      return { $metadata: {}, Partitions: all.slice(from, from + 2), ...(from + 2 < all.length ? { NextToken: String(from + 2) } : {}) }
    }
  }
  return { api, calls, partitions, failNext: (e: Error) => failures.push(e) }
}

/** Athena whose query goes through `states`, then serves `pages` of results. */
export const fakeAthena = (script: {
  readonly states: ReadonlyArray<QueryExecutionStatus>
  readonly pages?: ReadonlyArray<GetQueryResultsCommandOutput["ResultSet"]>
}) => {
  const calls: string[] = []
  let polls = 0
  const api: AthenaQuery.AthenaApi = {
    startQueryExecution: async (input) => {
      calls.push(`start ${input.WorkGroup} ${input.QueryExecutionContext?.Database} ${input.ResultConfiguration?.OutputLocation ?? "-"}`)
      return { $metadata: {}, QueryExecutionId: "q-1" }
    },
    getQueryExecution: async () => {
      calls.push("status")
      const status = script.states[Math.min(polls++, script.states.length - 1)]
      return { $metadata: {}, QueryExecution: { QueryExecutionId: "q-1", Status: status } }
    },
    getQueryResults: async ({ NextToken }) => {
      calls.push(`results ${NextToken ?? "-"}`)
      const pages = script.pages ?? []
      const i = NextToken === undefined ? 0 : Number(NextToken)
      return { $metadata: {}, ResultSet: pages[i], ...(i + 1 < pages.length ? { NextToken: String(i + 1) } : {}) }
    },
    stopQueryExecution: async () => {
      calls.push("stop")
      return {}
    }
  }
  return { api, calls }
}
