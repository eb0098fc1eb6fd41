/**
 * Creating a directory and its missing parents, one level at a time. Not Node's
 * `mkdir(…, { recursive: true })`: under /proc (and other pseudo file systems) mkdir answers
 * ENOENT although the parent exists, and Node's recursive mkdir retries that for ever at
 * 100 % CPU. Here any failure to create a level is an error at once.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * A directory that could not be created. `detail` names the level that failed and why, e.g.
 * "mkdir /proc/x: no such file or directory (ENOENT)" or "/etc/hostname is not a directory
 * (ENOTDIR)"; `code` is the errno name.
 *
 * @since 0.1.0
 * @category errors
 */
export class DirError extends Error {
  constructor(readonly dir: string, readonly code: string, readonly detail: string) {
    super(`cannot create ${dir}: ${detail}`)
  }
}

const codeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : "EIO"

/** The text of an errno message without its code and syscall: "no such file or directory". */
const why = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/^[A-Z]+: /, "").replace(/, [a-z]+ '.*'$/, "")
}

/** Stat answers meaning "look at the parent": missing, or an ancestor is a file (found and named there). */
const UP = new Set(["ENOENT", "ENOTDIR"])

const fail = (dir: string, level: string, syscall: string, error: unknown): never => {
  throw new DirError(dir, codeOf(error), `${syscall} ${level}: ${why(error)} (${codeOf(error)})`)
}

const notADirectory = (dir: string, level: string) => new DirError(dir, "ENOTDIR", `${level} is not a directory (ENOTDIR)`)

/** A file-system step the walk asks for, and what it is told back. */
type Ask = { readonly op: "stat" | "mkdir"; readonly path: string }
type Answer = { readonly ok: true; readonly isDirectory: boolean } | { readonly ok: false; readonly error: unknown }

/**
 * The walk itself, written once: stat up from `dir` to the first level that exists, then
 * mkdir each missing level down again. It yields the steps it needs; the sync and the async
 * runners below perform them.
 */
function* walk(dir: string): Generator<Ask, void, Answer> {
  const missing: Array<string> = []
  let level = path.resolve(dir)
  for (;;) {
    const stat = yield { op: "stat", path: level }
    if (stat.ok) {
      if (!stat.isDirectory) throw notADirectory(dir, level)
      break
    }
    if (!UP.has(codeOf(stat.error))) fail(dir, level, "stat", stat.error)
    missing.push(level)
    const parent = path.dirname(level)
    if (parent === level) break
    level = parent
  }
  for (const d of missing.reverse()) {
    const made = yield { op: "mkdir", path: d }
    if (made.ok) continue
    // Another process made it between our stat and mkdir: fine if it is a directory.
    if (codeOf(made.error) === "EEXIST") {
      const again = yield { op: "stat", path: d }
      if (again.ok && again.isDirectory) continue
    }
    fail(dir, d, "mkdir", made.error)
  }
}

const answered = (isDirectory: boolean): Answer => ({ ok: true, isDirectory })
const failed = (error: unknown): Answer => ({ ok: false, error })

/**
 * Creates `dir` and its missing parents (synchronously).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDirsSync = (dir: string): void => {
  const steps = walk(dir)
  let next = steps.next()
  while (next.done !== true) {
    const ask = next.value
    let answer: Answer
    try {
      answer = ask.op === "stat" ? answered(fs.statSync(ask.path).isDirectory()) : (fs.mkdirSync(ask.path), answered(true))
    } catch (error) {
      answer = failed(error)
    }
    next = steps.next(answer)
  }
}

/**
 * Creates `dir` and its missing parents. One stat when `dir` exists already.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDirs = async (dir: string): Promise<void> => {
  const steps = walk(dir)
  let next = steps.next()
  while (next.done !== true) {
    const ask = next.value
    const answer = await (ask.op === "stat" ? fs.promises.stat(ask.path).then((s) => answered(s.isDirectory())) : fs.promises.mkdir(ask.path).then(() => answered(true))).catch(failed)
    next = steps.next(answer)
  }
}
