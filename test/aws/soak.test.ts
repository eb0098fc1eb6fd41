/**
 * The soak on the emulated AWS runtime: the same seeded fault plans as the local soak
 * (test/soak.test.ts), over the S3, SQS and DynamoDB layers on their emulators. Fewer plans
 * (SQS visibility is in whole seconds, so every crash costs a second or two):
 * PHS_AWS_SOAK_PLANS sets how many. Every plan has one fit that fails for good: its chunk is
 * FAILED (or its slow fit dead-lettered) and the run with it, until the run is reopened as
 * `phs resume --target aws` / `phs redrive --target aws` do; then it completes exactly once.
 */
import { Context, Effect, Layer } from "effect"
import { RuntimeAws } from "@phs/runtime-lambda"
import { afterAll, beforeAll, expect, it } from "vitest"
import { type Outcome, report, soakOne, type Services } from "../support/soak.js"
import { deploy, type Deployment } from "./deployment.js"
import { startSqs } from "./emulators.js"
import { describeEmulated, emulated, endpoints } from "./suite.js"

const PLANS = Number(process.env.PHS_AWS_SOAK_PLANS ?? 3)
let sqs: Awaited<ReturnType<typeof startSqs>>
const outcomes: Outcome[] = []

beforeAll(async () => {
  if (emulated) sqs = await startSqs()
})

afterAll(async () => {
  if (!emulated) return
  await sqs.stop()
  process.stdout.write(report(outcomes, "aws soak"))
})

describeEmulated(`soak on the emulated AWS runtime: ${PLANS} seeded fault plans`, () => {
  for (let seed = 1; seed <= PLANS; seed++) {
    it(`plan ${seed}: nothing lost, nothing doubled`, async () => {
      const d: Deployment = await deploy({ ...endpoints(), sqs: sqs.endpoint }, sqs.server)
      try {
        const o = await Effect.runPromise(
          Effect.scoped(
            Effect.flatMap(Layer.build(RuntimeAws.layer(d.config)), (ctx) =>
              soakOne(seed, ctx as Context.Context<Services>, { leaseMs: 2000, pollMs: 100, fatal: true })
            )
          )
        )
        outcomes.push(o)
        expect(o.lost).toBe(0)
        expect(o.duplicated).toBe(0)
      } finally {
        await d.dispose()
      }
    }, 300_000)
  }
})
