/**
 * Plain text tables and summaries for the terminal.
 */

/** Left-aligned columns with two spaces between; numbers right-aligned. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string => {
  const cells = [header.map(String), ...rows.map((r) => r.map((c) => (c === null ? "" : String(c))))]
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number" || r[i] === null))
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)))
  return cells
    .map((r) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd())
    .join("\n")
}

/** "2026-11-25 01:02:03" in UTC. */
export const timestamp = (ms: number): string => new Date(ms).toISOString().replace("T", " ").slice(0, 19)

/** Writes a line to stdout. */
export const line = (text: string): void => void process.stdout.write(`${text}\n`)
