/**
 * A failure as the user sees it: its exit code (0 success, 1 run failed, 2 usage or input
 * error) and one line, usage errors in phs's words with the option they are about named.
 */
import { type HelpDoc, ValidationError } from "@effect/cli"
// The module, not the package index: that loads all of @effect/platform (HTTP, MsgPack, …) at start-up.
import * as PlatformError from "@effect/platform/Error"

/** One line from the framework's description of a usage error. */
const docText = (doc: HelpDoc.HelpDoc): string => {
  const span = (s: HelpDoc.Paragraph["value"]): string =>
    s._tag === "Text" || s._tag === "URI" ? s.value : s._tag === "Sequence" ? span(s.left) + span(s.right) : span(s.value)
  switch (doc._tag) {
    case "Paragraph":
      return span(doc.value)
    case "Header":
      return span(doc.value)
    case "Sequence":
      return [docText(doc.left), docText(doc.right)].filter((t) => t !== "").join("; ")
    case "Enumeration":
      return doc.elements.map(docText).join("; ")
    case "DescriptionList":
      return doc.definitions.map(([s, d]) => `${span(s)}: ${docText(d)}`).join("; ")
    default:
      return ""
  }
}

/** A usage error in phs's words: the option it is about named. */
export const usageMessage = (text: string, args: ReadonlyArray<string>): string => {
  const choices = /^Expected one of the following cases: (.*)$/.exec(text.trim())
  if (choices !== null) {
    const allowed = choices[1].split(/,\s*/)
    for (let i = 0; i + 1 < args.length; i++) {
      const [flag, inline] = args[i].split("=", 2)
      const value = inline ?? args[i + 1]
      if (flag.startsWith("--") && !allowed.includes(value) && !value.startsWith("-") && CHOICE_FLAGS.has(flag))
        return `${flag} ${value}: expected one of ${allowed.join(", ")}`
    }
    return `expected one of ${allowed.join(", ")}`
  }
  const unknown = /^Received unknown argument: '(.*)'$/.exec(text.trim())
  if (unknown !== null) return `unknown argument ${unknown[1]}`
  const missingOption = /^Expected to find option: '(.*)'$/.exec(text.trim())
  if (missingOption !== null) return `missing option ${missingOption[1]}`
  const missingArg = /^Missing argument (<.*>)$/.exec(text.trim())
  if (missingArg !== null) return `missing argument ${missingArg[1]}`
  const notA = /^'(.*)' is not a (\w+)$/s.exec(text.trim())
  if (notA !== null) return `${flagOf(notA[1], args) ?? notA[1]}: expected ${notA[2] === "integer" ? "an integer" : `a ${notA[2]}`}`
  const noPath = /^Path '(.*)' must exist$/s.exec(text.trim())
  if (noPath !== null) return `${flagOf(noPath[1], args) ?? noPath[1]}: no such file or directory`
  return text.trim().replace(/\s+/g, " ")
}

/** "--flag value" when `value` was given to an option of `args` (as `--flag value` or `--flag=value`). */
const flagOf = (value: string, args: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2)
    if (!flag.startsWith("--")) continue
    if (inline === value || (inline === undefined && args[i + 1] === value)) return `${flag} ${value}`
  }
  return undefined
}

/** The options whose value is one of a list. */
const CHOICE_FLAGS = new Set(["--target", "--format", "--value", "--arch", "--refit"])

/** Exit code and message for a failure. */
export const classify = (error: unknown, args: ReadonlyArray<string> = []): { code: number; message: string | null } => {
  if (ValidationError.isValidationError(error)) {
    const text = "error" in error ? docText(error.error) : ""
    return { code: 2, message: text === "" ? null : usageMessage(text, args) }
  }
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : ""
  const message = typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
  switch (tag) {
    case "InvalidInput":
    case "RunNotFound":
    case "DriverBusy":
      return { code: 2, message }
    case "RunFailed":
    case "RunStalled":
    case "DriverLost":
    case "PartsDamaged":
      return { code: 1, message }
    default:
      return { code: 1, message: `${tag || "error"}: ${message}` }
  }
}

/**
 * A path option the framework could not check: it dies when `access` fails other than with
 * ENOENT (a file where a directory should be, no permission). The path and why, as a usage
 * error; undefined for any other defect.
 */
export const pathDefect = (defect: unknown): string | undefined => {
  if (!(defect instanceof PlatformError.SystemError) || defect.module !== "FileSystem" || typeof defect.pathOrDescriptor !== "string") return undefined
  const why = /^[A-Z]+: ([^,]+)/.exec(defect.description ?? "")?.[1] ?? defect.reason
  return `${defect.pathOrDescriptor}: ${why}`
}
