/**
 * The aws target's modules, loaded on first use: they bring in the AWS SDK, whose loading
 * costs local commands about half a second of start-up for nothing.
 */
import { Effect } from "effect"

export const deployment = Effect.promise(() => import("./Deployment.js"))
export const athenaSql = Effect.promise(() => import("./AthenaSql.js"))
