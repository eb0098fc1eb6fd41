/**
 * Runs the built `phs` executable as a user would, in a child process.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const PHS = fileURLToPath(new URL("../../packages/cli/bin/phs.js", import.meta.url))

export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `phs args…` to completion. Asynchronous on purpose: a test worker blocked in a
 * synchronous spawn cannot answer the test runner, which then gives up on it.
 */
export const phs = (args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Result> =>
  phsAsync(args, options).done

/** Starts `phs args…`; the caller may kill it. */
export const phsAsync = (args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string> } = {}) => {
  const child = spawn(process.execPath, [PHS, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d) => (stdout += d))
  child.stderr.on("data", (d) => (stderr += d))
  const done = new Promise<Result>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })))
  return { child, done }
}

/** A fresh temporary directory. */
export const tempDir = (prefix = "phs-test-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))
