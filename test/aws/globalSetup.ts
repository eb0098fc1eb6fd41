/**
 * Starts DynamoDB Local and s3rver once for the whole emulated AWS suite and stops them
 * after it; the test files get their endpoints through `inject("endpoints")`. (fauxqs runs
 * inside each test file's own process: see `emulators.startSqs`.)
 */
import type { TestProject } from "vitest/node"
import { assertPrivateNetwork, startDynamoDbLocal, startS3 } from "./emulators.js"

declare module "vitest" {
  export interface ProvidedContext {
    endpoints: { readonly dynamodb: string; readonly s3: string }
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  assertPrivateNetwork()
  const [dynamodb, s3] = await Promise.all([startDynamoDbLocal(), startS3()])
  project.provide("endpoints", { dynamodb: dynamodb.endpoint, s3: s3.endpoint })
  return async () => {
    await Promise.all([dynamodb.stop(), s3.stop()])
  }
}
