/**
 * The `phs` executable: commands, and the one place where errors become exit codes
 * (0 success, 1 run failed, 2 usage or input error, 130/143 interrupted) and one clear line
 * on stderr. Help, a mistyped command and malformed options are answered here too, in
 * phs's words (Help.ts), before the framework parses anything.
 */
import { Command } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Console, Effect, Exit, Fiber, Option } from "effect"
import { phs, tree, VERSION } from "./Commands.js"
import { classify, pathDefect } from "./Failure.js"
import * as Help from "./Help.js"
import { exitCodeWith, guardStreams, printable, streamFault } from "./Output.js"

const cli = Command.run(phs, { name: "phs", version: VERSION })

/** Commands that drive work: they carry on when their output can no longer be written. */
const DRIVING = new Set(["pipeline", "resume", "redrive", "sweep", "tune"])

/** Answers help, a mistyped command, and malformed options; the exit code when it did. */
const preflight = (args: ReadonlyArray<string>): number | undefined => {
  const width = Math.max(40, Math.min(process.stdout.columns ?? 80, 120))
  const path: string[] = []
  let node = tree
  for (const a of args) {
    if (a.startsWith("-")) break
    const child = node.children.find((c) => c.name === a)
    if (child === undefined) {
      if (node.children.length === 0) break
      const near = Help.nearest(a, node.children.map((c) => c.name))
      const where = ["phs", ...path].join(" ")
      process.stderr.write(`phs: unknown command ${printable(a)}${near === undefined ? "" : `; did you mean ${near}?`} (${where} --help lists the commands)\n`)
      return 2
    }
    path.push(a)
    node = child
  }
  if (path.length === 0 && args.includes("--version")) {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const help = args.includes("--help") || args.includes("-h")
  const unknown = help ? undefined : Help.unknownOption(node, path, args)
  if (unknown !== undefined) {
    process.stderr.write(`phs: ${printable(unknown)}\n`)
    return 2
  }
  if (help || node.children.length > 0) {
    process.stdout.write(Help.render(tree, path, width))
    return 0
  }
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2)
    if (flag !== "--param") continue
    const value = inline ?? args[i + 1]
    if (value === undefined || !value.includes("=")) {
      process.stderr.write(`phs: --param expects NAME=VALUE (e.g. --param beta=4), got ${value === undefined ? "nothing" : printable(value)}\n`)
      return 2
    }
  }
  return undefined
}

/** Exit codes of a command stopped by a signal (128 + its number, as shells report it). */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> & Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 }

/** The framework prints usage errors itself, with ANSI codes: phs says them in its own words instead. */
const quietUsageErrors = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Console.consoleWith((console) => Effect.withConsole(effect, { ...console, error: () => Effect.void }))

/**
 * Node's warnings as one line each after `phs: warning:`; the AWS SDK's notice about Node
 * versions it will stop supporting is not the user's business in the middle of a command.
 */
const quietWarnings = () => {
  process.removeAllListeners("warning")
  process.on("warning", (w) => {
    if (w.name === "NodeVersionSupportWarning" || w.message.startsWith("NodeVersionSupportWarning") || /AWS SDK for JavaScript/.test(w.message)) return
    process.stderr.write(`phs: warning: ${printable(w.message.split("\n")[0])}\n`)
  })
}

const main = async () => {
  quietWarnings()
  const argv = process.argv.slice(2)
  const verbose = argv.includes("--verbose")
  const args = argv.filter((a) => a !== "--verbose")
  guardStreams({ keepWorking: DRIVING.has(args.find((a) => !a.startsWith("-")) ?? "") })
  const answered = preflight(args)
  if (answered !== undefined) return answered
  const fiber = Effect.runFork(cli(["node", "phs", ...args]).pipe(quietUsageErrors, Effect.provide(NodeContext.layer)))
  // Ctrl-C or SIGTERM interrupts the command: what it holds is given back (the driver's
  // in-flight work returns to the queue) and it says how to go on. A second signal exits now.
  let signal: NodeJS.Signals | undefined
  const onSignal = (s: NodeJS.Signals) => {
    if (signal !== undefined) process.exit(SIGNAL_EXIT[s])
    signal = s
    Effect.runFork(Fiber.interrupt(fiber))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const exit = await Effect.runPromise(Fiber.await(fiber))
  if (Exit.isSuccess(exit)) return 0
  if (signal !== undefined && Cause.isInterrupted(exit.cause)) return SIGNAL_EXIT[signal]
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) {
    if (Cause.isInterruptedOnly(exit.cause)) return 130
    const path = pathDefect(Cause.squash(exit.cause))
    if (path !== undefined) {
      process.stderr.write(`phs: ${printable(path)}\n`)
      return 2
    }
    process.stderr.write(`phs: internal error: ${printable(Cause.pretty(exit.cause).split("\n")[0])}\n`)
    if (verbose) process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    return 1
  }
  const { code, message } = classify(failure.value, args)
  if (message !== null) process.stderr.write(`phs: ${printable(message)}\n`)
  if (verbose) process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
  return code
}

main().then(
  (code) => {
    process.exitCode = exitCodeWith(code ?? 1, streamFault())
  },
  (e: unknown) => {
    process.stderr.write(`phs: internal error: ${printable(e instanceof Error ? e.message : String(e))}\n`)
    process.exitCode = 1
  }
)
