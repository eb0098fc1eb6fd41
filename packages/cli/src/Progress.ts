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

/** A field of a progress line: its text, and when it goes as the line gets narrow (highest rank first). */
interface Field {
  readonly rank: number
  readonly text: string
}

/**
 * A line of `fields`, at most `width - 1` characters (a line as wide as the terminal wraps
 * on some terminals): with the bar of `frac` in front when there is room for it and every
 * field of rank ≤ `barKeeps` (fields of higher ranks give way to the bar), else without the
 * bar and the fields of the highest ranks; `short` (cut) when nothing else fits.
 */
const fitLine = (
  fields: ReadonlyArray<Field>,
  frac: number,
  short: string,
  options: { readonly width: number; readonly bar: boolean; readonly barKeeps?: number }
): string => {
  const max = Math.max(20, options.width - 1)
  const join = (fs: ReadonlyArray<Field>) => fs.map((f) => f.text).join("  ")
  const BAR_MIN = 10
  const top = Math.max(...fields.map((f) => f.rank))
  if (options.bar) {
    let kept = fields
    for (let rank = top; ; rank--) {
      if (join(kept).length + BAR_MIN + 3 <= max) {
        const stats = join(kept)
        const barWidth = Math.min(40, max - stats.length - 3)
        const filled = Math.round(frac * barWidth)
        return `[${"█".repeat(filled)}${"░".repeat(barWidth - filled)}] ${stats}`
      }
      if (rank <= (options.barKeeps ?? top)) break
      kept = kept.filter((f) => f.rank !== rank)
    }
  }
  let kept = fields
  for (let rank = top; rank > 0 && join(kept).length > max; rank--) kept = kept.filter((f) => f.rank !== rank)
  const text = join(kept)
  return text.length <= max ? text : short.slice(0, max)
}

const etaText = (run: RunTable.RunRecord, remaining: number, rate: number) =>
  `ETA ${run.status === "RUNNING" && rate > 0 ? formatDuration(Math.round(remaining / rate)) : "--:--"}`

/** The chunk counters of a run: failed chunks, slow-fit spectra, fan-out stages' chunks done. */
const counterFields = (run: RunTable.RunRecord, stages: Readonly<Record<string, number>> | undefined, rank: number): ReadonlyArray<Field> => [
  { rank, text: `failed ${run.jobsFailed}` },
  { rank: rank + 1, text: `slow ${run.slowPending}/${run.spectraDeferred}` },
  // fan-out stages' chunks done (`despike 3/5`), when any
  ...[Pipeline.stageProgressText(stages ?? {}, run.jobsTotal)].filter((t) => t !== "").map((text) => ({ rank: rank + 1, text }))
]

/**
 * One progress line of a run, at most `width - 1` characters. The fields, most useful
 * first; the bar is drawn when there is room.
 */
export const renderLine = (
  run: RunTable.RunRecord,
  rate: number,
  options: { readonly width: number; readonly bar: boolean; readonly stages?: Readonly<Record<string, number>> }
): string => {
  const frac = Math.min(1, run.spectraDone / Math.max(1, run.nSpectra))
  const [failed, ...slow] = counterFields(run, options.stages, 5)
  return fitLine(
    [
      { rank: 0, text: `${count(run.spectraDone)}/${count(run.nSpectra)} spectra` },
      { rank: 1, text: `${(frac * 100).toFixed(1)}%` },
      { rank: 3, text: formatRate(rate) },
      { rank: 2, text: etaText(run, run.nSpectra - run.spectraDone, rate) },
      failed,
      ...slow,
      { rank: 4, text: run.status.toLowerCase() }
    ],
    frac,
    `${count(run.spectraDone)}/${count(run.nSpectra)}`,
    options
  )
}

/** Where a set of cubes stands: cube `index` (from 0) of `count` is driven; `done` of `total` spectra of the set are done. */
export interface SetPosition {
  readonly index: number
  readonly count: number
  readonly name: string
  readonly done: number
  readonly total: number
  /** Spectra per second of the set's work in this process. */
  readonly rate: number
}

/** A cube's file name for a progress line: at most 24 characters. */
const shortName = (name: string) => (name.length > 24 ? `${name.slice(0, 11)}…${name.slice(-12)}` : name)

/**
 * The progress line of a set of cubes (`phs pipeline a.fits b.fits …`): the bar, count,
 * percentage and ETA of the whole set, then the cube driven now and its own count, then the
 * rate, its status and counters; at most `width - 1` characters, dropped from the end.
 */
export const renderSetLine = (
  run: RunTable.RunRecord,
  set: SetPosition,
  options: { readonly width: number; readonly bar: boolean; readonly stages?: Readonly<Record<string, number>> }
): string => {
  const frac = Math.min(1, set.done / Math.max(1, set.total))
  return fitLine(
    [
      { rank: 0, text: `${count(set.done)}/${count(set.total)} spectra` },
      { rank: 0, text: `cube ${set.index + 1}/${set.count}` },
      { rank: 1, text: `${(frac * 100).toFixed(1)}%` },
      { rank: 2, text: etaText(run, set.total - set.done, set.rate) },
      { rank: 3, text: `${printable(shortName(set.name))} ${count(run.spectraDone)}/${count(run.nSpectra)}` },
      { rank: 4, text: formatRate(set.rate) },
      { rank: 5, text: run.status.toLowerCase() },
      ...counterFields(run, options.stages, 6)
    ],
    frac,
    `${count(set.done)}/${count(set.total)}`,
    // the bar before the rate, the status and the counters
    { ...options, barKeeps: 3 }
  )
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
  /** A line of its own (`phs: …`), above the progress line. */
  readonly note: (text: string) => void
  /** Ends the display: the last line, with the mean rate since the first observation. */
  readonly end: (run: Option.Option<RunTable.RunRecord>, now: number) => void
  /** Spectra done and seconds elapsed since the first observation (this process's work). */
  readonly work: () => { readonly spectra: number; readonly seconds: number }
}

/**
 * Where the lines go. On a terminal one line is redrawn in place; a note erases it, takes
 * its place and the line is drawn again below it. Elsewhere each line is a timestamped
 * line of its own.
 */
const makeScreen = (options: DisplayOptions) => {
  const write = options.write ?? ((text: string) => void process.stderr.write(text))
  let last = ""
  const erase = () => {
    if (options.tty && last !== "") write(`\r${" ".repeat(last.length)}\r`)
  }
  return {
    width: options.width ?? (() => process.stderr.columns ?? 100),
    show: (text: string, now: number) => {
      if (options.quiet) return
      if (options.tty) {
        write(`\r${text}${" ".repeat(Math.max(0, last.length - text.length))}`)
        last = text
      } else write(`${new Date(now).toISOString()} ${text}\n`)
    },
    note: (text: string) => {
      if (options.quiet) return
      erase()
      write(`phs: ${printable(text)}\n`)
      if (options.tty && last !== "") write(last)
    },
    /** Takes the line off the terminal, for output that is not the display's (drawn again at the next draw). */
    clear: () => {
      if (options.quiet) return
      erase()
      last = ""
    },
    /** Leaves the last line on the terminal, ended. */
    close: () => {
      if (!options.quiet && options.tty && last !== "") write("\n")
      last = ""
    }
  }
}

/** Spectra done as first and last observed: the rate of the work seen. */
const makeRate = () => {
  let first: { readonly done: number; readonly at: number } | undefined
  let last: { readonly done: number; readonly at: number } | undefined
  return {
    observe: (done: number, now: number) => {
      first ??= { done, at: now }
      last = { done, at: now }
    },
    /** Spectra per second since the first observation, 0 before `minSeconds` have passed. */
    rate: (minSeconds: number) => {
      if (first === undefined || last === undefined) return 0
      const elapsed = (last.at - first.at) / 1000
      return elapsed > minSeconds ? (last.done - first.done) / elapsed : 0
    },
    work: () => (first === undefined || last === undefined ? { spectra: 0, seconds: 0 } : { spectra: last.done - first.done, seconds: (last.at - first.at) / 1000 })
  }
}

export const makeDisplay = (options: DisplayOptions): Display => {
  const screen = makeScreen(options)
  const rate = makeRate()
  // the fan-out stages last drawn: the last line keeps them (a refit's passes done)
  let stagesSeen: Readonly<Record<string, number>> | undefined
  const show = (run: RunTable.RunRecord, minSeconds: number, now: number, stages?: Readonly<Record<string, number>>) =>
    screen.show(renderLine(run, rate.rate(minSeconds), { width: screen.width(), bar: options.tty, ...(stages === undefined ? {} : { stages }) }), now)
  return {
    draw: (run, now, stages) => {
      rate.observe(run.spectraDone, now)
      stagesSeen = stages ?? stagesSeen
      show(run, 0.5, now, stages)
    },
    note: screen.note,
    end: (run, now) => {
      if (Option.isSome(run)) {
        rate.observe(run.value.spectraDone, now)
        show(run.value, 0, now, stagesSeen)
      }
      screen.close()
    },
    work: rate.work
  }
}

/** A cube of a set, as the set display knows it before its run is observed. */
export interface SetCube {
  readonly name: string
  readonly spectra: number
}

/**
 * One display for a set of cubes driven one after another: a single line (per cube and
 * for the set) that stays at the bottom of the terminal while the cubes' notes scroll
 * above it.
 */
export interface SetDisplay {
  /** The display of cube `index` while its run is driven: it draws the set's line. */
  readonly cube: (index: number) => Display
  /** Cube `index` found finished already (its spectra count as done, not as work of this process). */
  readonly settled: (index: number, run: RunTable.RunRecord) => void
  /** A line of its own above the progress line. */
  readonly note: (text: string) => void
  /** Takes the line off the terminal before output that is not the display's. */
  readonly clear: () => void
  /** Ends the display, leaving its last line. */
  readonly end: () => void
  /** Spectra done and seconds elapsed in this process, over the set. */
  readonly work: () => { readonly spectra: number; readonly seconds: number }
}

export const makeSetDisplay = (options: DisplayOptions, cubes: ReadonlyArray<SetCube>): SetDisplay => {
  const screen = makeScreen(options)
  const done = cubes.map(() => 0)
  const totals = cubes.map((c) => c.spectra)
  const rates = cubes.map(() => makeRate())
  const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
  let since: number | undefined
  let latest = 0
  const work = () => ({ spectra: sum(rates.map((r) => r.work().spectra)), seconds: since === undefined ? 0 : (latest - since) / 1000 })
  const observe = (k: number, run: RunTable.RunRecord, now: number) => {
    since ??= now
    latest = Math.max(latest, now)
    rates[k].observe(run.spectraDone, now)
    done[k] = run.spectraDone
    totals[k] = run.nSpectra
  }
  const show = (k: number, run: RunTable.RunRecord, minSeconds: number, now: number, stages?: Readonly<Record<string, number>>) => {
    const w = work()
    const set: SetPosition = {
      index: k,
      count: cubes.length,
      name: cubes[k].name,
      done: sum(done),
      total: sum(totals),
      rate: w.seconds > minSeconds ? w.spectra / w.seconds : 0
    }
    screen.show(renderSetLine(run, set, { width: screen.width(), bar: options.tty, ...(stages === undefined ? {} : { stages }) }), now)
  }
  return {
    cube: (k) => ({
      draw: (run, now, stages) => {
        observe(k, run, now)
        show(k, run, 0.5, now, stages)
      },
      note: screen.note,
      // The set's line stays: the next cube draws over it.
      end: (run, now) => {
        if (Option.isNone(run)) return
        observe(k, run.value, now)
        show(k, run.value, 0, now)
      },
      work: rates[k].work
    }),
    settled: (k, run) => {
      done[k] = run.spectraDone
      totals[k] = run.nSpectra
    },
    note: screen.note,
    clear: screen.clear,
    end: screen.close,
    work
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
