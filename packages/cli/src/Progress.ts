/**
 * The live progress display, the same for every target: it reads only run records (spectra
 * done / total, rate, ETA, failed chunks, spectra deferred to the slow queue). On a terminal
 * it redraws one line that always fits the terminal's width (the bar goes first, then the
 * least useful fields); elsewhere it prints a plain line now and then. Rates are of the work
 * this process saw done: a resumed run's earlier work does not count.
 */
import { Pipeline, RunTable } from "@phs/core"
import { Clock, Duration, Effect, Option, Schedule } from "effect"
import { printable } from "./Output.js"

const pad2 = (n: number) => String(Math.floor(n)).padStart(2, "0")

/** 75 → "1:15", 3725 → "1:02:05". */
export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--"
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h > 0 ? `${h}:${pad2(m)}:${pad2(s)}` : `${m}:${pad2(s)}`
}

/** Spectra per second, for people. */
export const formatRate = (rate: number): string => `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)}/s`

const count = (n: number) => n.toLocaleString("en-US")

/**
 * One progress line, at most `width - 1` characters (a line as wide as the terminal wraps on
 * some terminals). The fields, most useful first; the bar is drawn when there is room.
 */
export const renderLine = (
  run: RunTable.RunRecord,
  rate: number,
  options: { readonly width: number; readonly bar: boolean; readonly stages?: Readonly<Record<string, number>> }
): string => {
  const max = Math.max(20, options.width - 1)
  const total = Math.max(1, run.nSpectra)
  const frac = Math.min(1, run.spectraDone / total)
  const eta = rate > 0 ? (total - run.spectraDone) / rate : Number.NaN
  // Dropped from the end of this list first.
  const fields: ReadonlyArray<{ readonly rank: number; readonly text: string }> = [
    { rank: 0, text: `${count(run.spectraDone)}/${count(run.nSpectra)} spectra` },
    { rank: 1, text: `${(frac * 100).toFixed(1)}%` },
    { rank: 3, text: formatRate(rate) },
    { rank: 2, text: `ETA ${run.status === "RUNNING" ? formatDuration(Math.round(eta)) : "--:--"}` },
    { rank: 5, text: `failed ${run.jobsFailed}` },
    { rank: 6, text: `slow ${run.slowPending}/${run.spectraDeferred}` },
    // fan-out stages' chunks done (`despike 3/5`), when any
    ...[Pipeline.stageProgressText(options.stages ?? {}, run.jobsTotal)].filter((t) => t !== "").map((text) => ({ rank: 6, text })),
    { rank: 4, text: run.status.toLowerCase() }
  ]
  let kept = fields
  const join = (fs: typeof fields) => fs.map((f) => f.text).join("  ")
  const BAR_MIN = 10
  if (options.bar && join(kept).length + BAR_MIN + 3 <= max) {
    const stats = join(kept)
    const barWidth = Math.min(40, max - stats.length - 3)
    const filled = Math.round(frac * barWidth)
    return `[${"█".repeat(filled)}${"░".repeat(barWidth - filled)}] ${stats}`
  }
  for (let rank = 6; rank > 0 && join(kept).length > max; rank--) kept = kept.filter((f) => f.rank !== rank)
  const text = join(kept)
  return text.length <= max ? text : `${count(run.spectraDone)}/${count(run.nSpectra)}`.slice(0, max)
}

export interface DisplayOptions {
  readonly tty: boolean
  /** No output at all (--json). */
  readonly quiet: boolean
  /** Where it goes (default stderr). */
  readonly write?: (text: string) => void
  /** The terminal's width now (default stderr's, else 100). */
  readonly width?: () => number
}

/** The display's state: what it drew, and the first observation that rates are measured from. */
export interface Display {
  /** Draws a run as observed at `now` (ms), with its fan-out stages' progress. */
  readonly draw: (run: RunTable.RunRecord, now: number, stages?: Readonly<Record<string, number>>) => void
  /** A line of its own (`phs: …`), below the progress line. */
  readonly note: (text: string) => void
  /** Ends the display: the last line, with the mean rate since the first observation. */
  readonly end: (run: Option.Option<RunTable.RunRecord>, now: number) => void
  /** Spectra done and seconds elapsed since the first observation (this process's work). */
  readonly work: () => { readonly spectra: number; readonly seconds: number }
}

export const makeDisplay = (options: DisplayOptions): Display => {
  const write = options.write ?? ((text: string) => void process.stderr.write(text))
  const width = options.width ?? (() => process.stderr.columns ?? 100)
  let first: { readonly done: number; readonly at: number } | undefined
  let last: { readonly done: number; readonly at: number } | undefined
  let lastLen = 0
  const rateAt = (done: number, now: number, minSeconds: number) => {
    if (first === undefined) return 0
    const elapsed = (now - first.at) / 1000
    return elapsed > minSeconds ? (done - first.done) / elapsed : 0
  }
  const show = (run: RunTable.RunRecord, rate: number, now: number, stages?: Readonly<Record<string, number>>) => {
    const text = renderLine(run, rate, { width: width(), bar: options.tty, ...(stages === undefined ? {} : { stages }) })
    if (options.tty) {
      write(`\r${text}${" ".repeat(Math.max(0, lastLen - text.length))}`)
      lastLen = text.length
    } else write(`${new Date(now).toISOString()} ${text}\n`)
  }
  return {
    draw: (run, now, stages) => {
      first ??= { done: run.spectraDone, at: now }
      last = { done: run.spectraDone, at: now }
      if (!options.quiet) show(run, rateAt(run.spectraDone, now, 0.5), now, stages)
    },
    note: (text) => {
      if (options.quiet) return
      if (options.tty && lastLen > 0) {
        write("\n")
        lastLen = 0
      }
      write(`phs: ${printable(text)}\n`)
    },
    end: (run, now) => {
      if (Option.isSome(run)) {
        first ??= { done: run.value.spectraDone, at: now }
        last = { done: run.value.spectraDone, at: now }
        if (!options.quiet) show(run.value, rateAt(run.value.spectraDone, now, 0), now)
      }
      if (!options.quiet && options.tty && lastLen > 0) write("\n")
      lastLen = 0
    },
    work: () =>
      first === undefined || last === undefined ? { spectra: 0, seconds: 0 } : { spectra: last.done - first.done, seconds: (last.at - first.at) / 1000 }
  }
}

/** How often a run driven here is redrawn. */
export const REDRAW_MS = { tty: 250, plain: 5_000 } as const

/** Follows a run in the run table until interrupted; the last line is drawn as it ends. */
export const follow = (runId: string, display: Display, options: { readonly tty: boolean }) =>
  Effect.gen(function* () {
    const table = yield* RunTable.RunTable
    const observe = Effect.flatMap(table.getRun(runId), (run) => Effect.map(Clock.currentTimeMillis, (now) => ({ run, now })))
    const tick = observe.pipe(
      Effect.flatMap(({ run, now }) => Effect.map(table.stageProgress(runId), (stages) => Option.map(run, (r) => display.draw(r, now, stages)))),
      Effect.ignore
    )
    const last = observe.pipe(
      Effect.map(({ run, now }) => display.end(run, now)),
      Effect.catchAll(() => Effect.map(Clock.currentTimeMillis, (now) => display.end(Option.none(), now)))
    )
    yield* tick.pipe(Effect.repeat(Schedule.spaced(Duration.millis(options.tty ? REDRAW_MS.tty : REDRAW_MS.plain))), Effect.ensuring(last))
  })
