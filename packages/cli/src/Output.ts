/**
 * Plain text tables and summaries for the terminal. Everything phs prints goes through
 * `printable`: control characters from file names, survey names or FITS header strings are
 * shown escaped (`\u001b`), never sent to the terminal raw.
 */

/** Text with every control character escaped, line breaks included unless `keepNewlines`. */
export const printable = (text: string, options: { readonly keepNewlines?: boolean } = {}): string =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    options.keepNewlines === true && c === "\n" ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

/** Left-aligned columns with two spaces between; numbers right-aligned. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string => {
  const cells = [header.map(String), ...rows.map((r) => r.map((c) => (c === null ? "" : printable(String(c)))))]
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number" || r[i] === null))
  const widths = header.map((_, i) => cells.reduce((w, r) => Math.max(w, r[i]?.length ?? 0), 0))
  return cells
    .map((r) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd())
    .join("\n")
}

/** "2026-11-25 01:02:03" in UTC. */
export const timestamp = (ms: number): string => new Date(ms).toISOString().replace("T", " ").slice(0, 19)

/** Writes a line to stdout. */
export const line = (text: string): void => void process.stdout.write(`${printable(text, { keepNewlines: true })}\n`)

/** Writes a note to stderr: `phs: text`. */
export const note = (text: string): void => void process.stderr.write(`phs: ${printable(text)}\n`)

/**
 * A word for a shell command line, quoted when it needs to be (POSIX shell): bare when safe,
 * in double quotes when nothing in it is special there (SQL with '…' literals), else in
 * single quotes.
 */
export const shellWord = (word: string): string => {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word
  if (!/["$`\\!]/.test(word)) return `"${word}"`
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/**
 * A stream phs could not write to: `EPIPE` when its reader has gone (`| head -1`), or a
 * failed write (`> /dev/full`: ENOSPC, EIO…).
 */
export interface StreamFault {
  readonly stream: "stdout" | "stderr"
  readonly code: string
  readonly message: string
}

let fault: StreamFault | undefined

/** The first stream fault of this process, if any. */
export const streamFault = (): StreamFault | undefined => fault

/** The one line saying that the output could not be written (none for EPIPE: the reader left on purpose). */
export const describeFault = (f: StreamFault): string | null =>
  f.code === "EPIPE" ? null : `cannot write to ${f.stream}: ${f.message.replace(/^[A-Z]+: /, "").replace(/, write$/, "")} (${f.code})`

/**
 * The exit code once the command has ended: a closed reader changes nothing (the command did
 * its work; like other Unix tools phs does not complain), a failed write makes a success 1.
 */
export const exitCodeWith = (code: number, f: StreamFault | undefined): number =>
  f === undefined || f.code === "EPIPE" ? code : Math.max(code, 1)

/**
 * Handles errors of stdout and stderr so that none is an uncaught exception with a stack.
 * After the first fault, writes to the faulty stream are dropped by Node (it is destroyed).
 * A command that only reads (`keepWorking: false`) ends at once when stdout fails: exit 0
 * when the reader has gone, else 1 with one line on stderr. A command that drives work (`pipeline`, `resume`,
 * `redrive`) carries on: its work never depends on its output, and `main` folds the fault
 * into the exit code at the end.
 */
export const guardStreams = (options: { readonly keepWorking: boolean }): void => {
  const onError = (stream: "stdout" | "stderr") => (error: NodeJS.ErrnoException) => {
    if (fault !== undefined) return
    fault = { stream, code: error.code ?? "EIO", message: error.message }
    const text = describeFault(fault)
    if (text !== null && stream === "stdout") process.stderr.write(`phs: ${text}\n`)
    // A read command's output is stdout: once that is gone there is nothing left to do. A
    // fault of stderr alone leaves the command's own exit code standing.
    if (!options.keepWorking && stream === "stdout") process.exit(exitCodeWith(0, fault))
    // The error can arrive after the command's own exit code was set (a write's error is emitted on the next tick).
    if (typeof process.exitCode === "number") process.exitCode = exitCodeWith(process.exitCode, fault)
  }
  process.stdout.on("error", onError("stdout"))
  process.stderr.on("error", onError("stderr"))
}
