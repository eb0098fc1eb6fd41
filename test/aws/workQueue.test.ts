/**
 * The core's WorkQueue conformance suite against the SQS layer on fauxqs, each test on
 * fresh queues (with the redrive policy of the CDK stack). The suite moves time with
 * `TestClock`; `fauxqsClock` makes the in-process emulator follow it.
 */
import { WorkQueueSqs } from "@phs/runtime-lambda"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll } from "vitest"
import { workQueueConformance } from "../../packages/core/test/conformance/WorkQueue.js"
import { aws, createQueues, startSqs } from "./emulators.js"
import { describeEmulated, emulated } from "./suite.js"
import * as FauxqsClock from "./fauxqsClock.js"

let sqs: Awaited<ReturnType<typeof startSqs>>

beforeAll(async () => {
  if (!emulated) return
  sqs = await startSqs()
  await FauxqsClock.install()
})

afterAll(async () => {
  if (!emulated) return
  FauxqsClock.uninstall()
  await sqs.stop()
})

describeEmulated("on fauxqs", () => {
  workQueueConformance("WorkQueueSqs (fauxqs)", () =>
    FauxqsClock.slaved(
      Layer.unwrapEffect(
        Effect.sync(() => {
          const { fit, slow } = createQueues(sqs.server)
          return WorkQueueSqs.layer({ aws: aws(sqs.endpoint), queues: { fit, slow }, scanWaitSeconds: 0 })
        })
      )
    )
  )
})
