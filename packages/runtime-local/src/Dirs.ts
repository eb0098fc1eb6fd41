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

/**
 * Creates `dir` and its missing parents (synchronously).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDirsSync = (dir: string): void => {
  const missing: Array<string> = []
  let level = path.resolve(dir)
  for (;;) {
    let stat: fs.Stats | undefined
    try {
      stat = fs.statSync(level)
    } catch (error) {
      if (!UP.has(codeOf(error))) fail(dir, level, "stat", error)
    }
    if (stat !== undefined) {
      if (!stat.isDirectory()) throw notADirectory(dir, level)
      break
    }
    missing.push(level)
    const parent = path.dirname(level)
    if (parent === level) break
    level = parent
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d)
    } catch (error) {
      if (codeOf(error) === "EEXIST" && fs.statSync(d, { throwIfNoEntry: false })?.isDirectory() === true) continue
      fail(dir, d, "mkdir", error)
    }
  }
}

/**
 * Creates `dir` and its missing parents. One stat when `dir` exists already.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDirs = async (dir: string): Promise<void> => {
  const missing: Array<string> = []
  let level = path.resolve(dir)
  for (;;) {
    const stat = await fs.promises.stat(level).catch((error: unknown) => (UP.has(codeOf(error)) ? undefined : fail(dir, level, "stat", error)))
    if (stat !== undefined) {
      if (!stat.isDirectory()) throw notADirectory(dir, level)
      break
    }
    missing.push(level)
    const parent = path.dirname(level)
    if (parent === level) break
    level = parent
  }
  for (const d of missing.reverse()) {
    await fs.promises.mkdir(d).catch(async (error: unknown) => {
      if (codeOf(error) === "EEXIST" && (await fs.promises.stat(d).catch(() => undefined))?.isDirectory() === true) return
      fail(dir, d, "mkdir", error)
    })
  }
}
