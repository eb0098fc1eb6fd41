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
