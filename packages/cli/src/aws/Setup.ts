/**
 * SDK failures that mean "the AWS environment is not set up" (no region, no credentials),
 * as one clear `InvalidInput` (exit 2). Pure, without the SDK: every command applies it.
 */
import { Errors } from "@phs/core"
import { Effect } from "effect"

/** The error as the user should read it. */
export const explain = <E>(e: E): E | Errors.InvalidInput => {
  if (!(e instanceof Errors.StorageError)) return e
  if (/Region is missing/i.test(e.reason)) return new Errors.InvalidInput({ reason: "no AWS region: set AWS_REGION, or a region in your AWS profile (AWS_PROFILE)" })
  if (/Could not load credentials|CredentialsProviderError/i.test(e.reason))
    return new Errors.InvalidInput({
      reason: "no AWS credentials: configure them as for the aws CLI (AWS_PROFILE, aws sso login, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    })
  return e
}

export const explainSetup = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | Errors.InvalidInput, R> => Effect.mapError(effect, explain)
