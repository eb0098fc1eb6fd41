/**
 * The live progress bar. It reads only the run table: spectra done / total, rate, ETA,
 * failed chunks, spectra deferred to the slow queue. On a terminal it redraws one line;
 * elsewhere it prints a plain line every few seconds.
 */
import { Pipeline, RunTable } from "@phs/core"
import { Clock, Duration, Effect, Option, Schedule } from "effect"

const pad2 = (n: number) => String(Math.floor(n)).padStart(2, "0")

/** 75 → "1:15", 3725 → "1:02:05". */
export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--"
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h > 0 ? `${h}:${pad2(m)}:${pad2(s)}` : `${m}:${pad2(s)}`
}

/** One progress line for a run observed `elapsedS` seconds after `doneAtStart` spectra. */
export const renderLine = (
  run: RunTable.RunRecord,
  rate: number,
  options: { readonly width: number; readonly bar: boolean; readonly stages?: Readonly<Record<string, number>> }
): string => {
  const stageText = Pipeline.stageProgressText(options.stages ?? {}, run.jobsTotal)
  const total = Math.max(1, run.nSpectra)
  const done = run.spectraDone
  const frac = Math.min(1, done / total)
  const eta = rate > 0 ? (total - done) / rate : Number.NaN
  const stats = [
    `${done.toLocaleString("en-US")}/${run.nSpectra.toLocaleString("en-US")} spectra`,
    `${(frac * 100).toFixed(1)}%`,
    `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)}/s`,
    `ETA ${run.status === "RUNNING" ? formatDuration(Math.round(eta)) : "--:--"}`,
    `failed ${run.jobsFailed}`,
    `slow ${run.slowPending}/${run.spectraDeferred}`,
    ...(stageText === "" ? [] : [stageText]),
    run.status.toLowerCase()
  ].join("  ")
  if (!options.bar) return stats
  const barWidth = Math.max(10, Math.min(40, options.width - stats.length - 4))
  const filled = Math.round(frac * barWidth)
  return `[${"█".repeat(filled)}${"░".repeat(barWidth - filled)}] ${stats}`
}

/** Watches a run until interrupted, writing to stderr. */
export const watch = (runId: string, options: { readonly tty: boolean }) =>
  Effect.gen(function* () {
    const table = yield* RunTable.RunTable
    const t0 = yield* Clock.currentTimeMillis
    let first: number | null = null
    let lastLen = 0
    const tick = Effect.gen(function* () {
      const run = yield* table.getRun(runId)
      if (Option.isNone(run)) return
      const now = yield* Clock.currentTimeMillis
      first ??= run.value.spectraDone
      const elapsed = (now - t0) / 1000
      const rate = elapsed > 0.5 ? (run.value.spectraDone - first) / elapsed : 0
      const stages = yield* table.stageProgress(runId)
      const line = renderLine(run.value, rate, { width: process.stderr.columns ?? 100, bar: options.tty, stages })
      if (options.tty) {
        process.stderr.write(`\r${line}${" ".repeat(Math.max(0, lastLen - line.length))}`)
        lastLen = line.length
      } else process.stderr.write(`${new Date(now).toISOString()} ${line}\n`)
    }).pipe(Effect.ignore)
    yield* tick.pipe(Effect.repeat(Schedule.spaced(Duration.millis(options.tty ? 250 : 5000))), Effect.ensuring(Effect.suspend(() => tick)), Effect.ensuring(Effect.sync(() => options.tty && process.stderr.write("\n"))))
  })
