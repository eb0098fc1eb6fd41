/**
 * The validation figures of `_validation.json` (docs/results.md), gathered over the rows
 * as they stream through compaction, batch by batch, without keeping rows: (x, y) seen as
 * one bit each over the cube's grid, and the rms values (8 bytes a spectrum) for the exact
 * median.
 *
 * @since 0.4.0
 */
import { Schema } from "effect"
import { RESULT_COLUMNS } from "../ResultSchema.js"
import type { ListColumn, NumberColumn, RowBatch } from "../RowBatch.js"

/**
 * @since 0.4.0
 * @category models
 */
export const Stats = Schema.Struct({
  rows: Schema.Int,
  duplicates: Schema.Int,
  deferredLeft: Schema.Int,
  blank: Schema.Int,
  nullCounts: Schema.Record({ key: Schema.String, value: Schema.Int }),
  nanCounts: Schema.Record({ key: Schema.String, value: Schema.Int }),
  componentHistogram: Schema.Record({ key: Schema.String, value: Schema.Int }),
  rms: Schema.Struct({ min: Schema.NullOr(Schema.Number), median: Schema.NullOr(Schema.Number), mean: Schema.NullOr(Schema.Number), max: Schema.NullOr(Schema.Number) })
})

/**
 * @since 0.4.0
 * @category models
 */
export type Stats = typeof Stats.Type

const index = (name: string): number => {
  const i = RESULT_COLUMNS.findIndex((c) => c.name === name)
  if (i < 0) throw new Error(`no result column ${name}`)
  return i
}
const X = index("x")
const Y = index("y")
const BETA = index("beta")
const RMS = index("rms")
const MIN_PERSISTENCE = index("min_persistence")
const N_COMPONENTS = index("n_components")
/** The component lists whose rows with a NaN value are counted. */
const NAN_LISTS = (["component_amplitudes", "component_means", "component_stddevs"] as const).map((name) => ({ name, at: index(name) }))

/**
 * @since 0.4.0
 * @category models
 */
export interface Collector {
  /** Counts the rows of one batch (batches in row order). */
  readonly add: (batch: RowBatch) => void
  readonly done: () => Stats
}

/**
 * @since 0.4.0
 * @category constructors
 */
export const collector = (grid: { readonly nx: number; readonly ny: number }): Collector => {
  const seenBits = new Uint8Array(Math.ceil((grid.nx * grid.ny) / 8))
  const seenOutside = new Set<string>()
  let rmsValues = new Float64Array(1024)
  let rmsCount = 0
  const s = {
    rows: 0,
    duplicates: 0,
    deferredLeft: 0,
    blank: 0,
    nullCounts: { rms: 0, min_persistence: 0 } as Record<string, number>,
    nanCounts: { rms: 0, min_persistence: 0, beta: 0, component_amplitudes: 0, component_means: 0, component_stddevs: 0 } as Record<string, number>,
    componentHistogram: {} as Record<string, number>
  }
  /** Whether (x, y) was seen before; marks it seen. */
  const seenBefore = (x: number, y: number): boolean => {
    if (x < grid.nx && y < grid.ny) {
      const i = y * grid.nx + x
      const bit = 1 << (i & 7)
      const before = (seenBits[i >> 3] & bit) !== 0
      seenBits[i >> 3] |= bit
      return before
    }
    const key = `${x},${y}`
    const before = seenOutside.has(key)
    seenOutside.add(key)
    return before
  }
  const keepRms = (v: number) => {
    if (rmsCount === rmsValues.length) {
      const grown = new Float64Array(rmsValues.length * 2)
      grown.set(rmsValues)
      rmsValues = grown
    }
    rmsValues[rmsCount++] = v
  }
  const add = (batch: RowBatch) => {
    const col = (i: number) => batch.columns[i] as NumberColumn
    const x = col(X).values
    const y = col(Y).values
    const beta = col(BETA).values
    const rms = col(RMS)
    const minPersistence = col(MIN_PERSISTENCE)
    const n = col(N_COMPONENTS).values
    const lists = NAN_LISTS.map(({ name, at }) => ({ name, list: batch.columns[at] as ListColumn }))
    for (let i = 0; i < batch.rows; i++) {
      s.rows++
      if (seenBefore(x[i], y[i])) s.duplicates++
      if (n[i] === -1) s.deferredLeft++
      if (rms.nulls[i] === 1) {
        s.nullCounts.rms++
        s.blank++
      } else if (Number.isNaN(rms.values[i])) s.nanCounts.rms++
      else keepRms(rms.values[i])
      if (minPersistence.nulls[i] === 1) s.nullCounts.min_persistence++
      else if (Number.isNaN(minPersistence.values[i])) s.nanCounts.min_persistence++
      if (Number.isNaN(beta[i])) s.nanCounts.beta++
      for (const { name, list } of lists) {
        for (let j = list.offsets[i]; j < list.offsets[i + 1]; j++) {
          if (Number.isNaN(list.values[j])) {
            s.nanCounts[name]++
            break
          }
        }
      }
      const k = String(n[i])
      s.componentHistogram[k] = (s.componentHistogram[k] ?? 0) + 1
    }
  }
  const done = (): Stats => {
    const values = rmsValues.subarray(0, rmsCount).sort()
    const count = values.length
    let sum = 0
    for (let i = 0; i < count; i++) sum += values[i]
    return {
      ...s,
      rms: {
        min: count > 0 ? values[0] : null,
        median: count > 0 ? values[Math.floor((count - 1) / 2)] : null,
        mean: count > 0 ? sum / count : null,
        max: count > 0 ? values[count - 1] : null
      }
    }
  }
  return { add, done }
}
