/**
 * The `phs` executable: commands, and the one place where errors become exit codes
 * (0 success, 1 run failed, 2 usage or input error) and one clear line on stderr.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Cause, Effect, Exit, Option } from "effect"
import { cost } from "./commands/cost.js"
import { exportCommand } from "./commands/export.js"
import { pipeline } from "./commands/pipeline.js"
import { plot } from "./commands/plot.js"
import { view } from "./commands/view.js"
import { query } from "./commands/query.js"
import { redrive, replay, resume, runs, status } from "./commands/runs.js"
import { sweep } from "./commands/sweep.js"
import { tune } from "./commands/tune.js"

export const VERSION = "0.1.0"

const phs = Command.make("phs").pipe(
  Command.withDescription("Gaussian decomposition of radio survey cubes, with durable, replayable runs"),
  Command.withSubcommands([pipeline, runs, status, resume, replay, redrive, query, plot, view, exportCommand, cost, sweep, tune])
)

const cli = Command.run(phs, { name: "phs", version: VERSION })

/** Exit code and message for a failure. */
export const classify = (error: unknown): { code: number; message: string | null } => {
  if (ValidationError.isValidationError(error)) return { code: 2, message: null }
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : ""
  const message = typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
  switch (tag) {
    case "InvalidInput":
    case "RunNotFound":
      return { code: 2, message }
    case "RunFailed":
    case "RunStalled":
      return { code: 1, message }
    default:
      return { code: 1, message: `${tag || "error"}: ${message}` }
  }
}

const main = async () => {
  const argv = process.argv.slice(2)
  const verbose = argv.includes("--verbose")
  const args = argv.filter((a) => a !== "--verbose")
  const exit = await Effect.runPromiseExit(cli(["node", "phs", ...args]).pipe(Effect.provide(NodeContext.layer)))
  if (Exit.isSuccess(exit)) return 0
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) {
    if (Cause.isInterruptedOnly(exit.cause)) return 130
    process.stderr.write(`phs: internal error: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
    if (verbose) process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    return 1
  }
  const { code, message } = classify(failure.value)
  if (message !== null) process.stderr.write(`phs: ${message}\n`)
  if (verbose) process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
  return code
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`phs: internal error: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exitCode = 1
  }
)
