/**
 * A run's result columns as the viewer keeps them: core's `ResultColumns` of each part,
 * joined in part order (row r of the run is row r of the joined columns), and one row
 * rebuilt from them when a pixel is asked for.
 */
import type { ResultColumns, ResultSchema } from "@phs/core"

type Column = ResultColumns.NumberColumn | ResultColumns.ListColumn

/** The number and list columns the pixel answer (and the hand fit) read: all of them. */
export const ROW_COLUMNS = [
  "x", "y", "beta", "rms", "min_persistence", "n_components", "component_amplitudes", "component_means", "component_stddevs",
  "nan_channels", "residual_rms", "chi2_reduced", "aicc", "component_amplitude_errors", "component_mean_errors",
  "component_stddev_errors", "lon", "lat", "component_velocities", "component_velocity_dispersions", "component_integrated_intensities"
] as const satisfies ReadonlyArray<keyof ResultSchema.DecompositionRow>

export type ColumnName = (typeof ROW_COLUMNS)[number]

/** One column over several parts, in order. */
export const join = (parts: ReadonlyArray<Column>): Column => {
  if (parts.length === 1) return parts[0]
  const rows = parts.reduce((n, p) => n + p.nulls.length, 0)
  const nulls = new Uint8Array(rows)
  let at = 0
  for (const p of parts) (nulls.set(p.nulls, at), (at += p.nulls.length))
  if (parts[0].kind === "number") {
    const values = new Float64Array(rows)
    at = 0
    for (const p of parts) (values.set(p.values, at), (at += p.values.length))
    return { kind: "number", values, nulls }
  }
  const lists = parts as ReadonlyArray<ResultColumns.ListColumn>
  const offsets = new Int32Array(rows + 1)
  const values = new Float64Array(lists.reduce((n, p) => n + p.values.length, 0))
  let row = 0
  let base = 0
  for (const p of lists) {
    for (let i = 0; i < p.nulls.length; i++) offsets[row + i] = base + p.offsets[i]
    values.set(p.values, base)
    row += p.nulls.length
    base += p.values.length
  }
  offsets[rows] = base
  return { kind: "list", offsets, values, nulls }
}

/** A number column's value at row i; null where null (or the column is not a number column). */
export const numberAt = (c: Column | undefined, i: number): number | null =>
  c === undefined || c.kind !== "number" || c.nulls[i] === 1 ? null : c.values[i]

/** A list column's list at row i (a copy); null where null. */
export const listAt = (c: Column | undefined, i: number): Array<number> | null =>
  c === undefined || c.kind !== "list" || c.nulls[i] === 1 ? null : Array.from(c.values.subarray(c.offsets[i], c.offsets[i + 1]))

/**
 * Row i rebuilt from the columns that were read: a column not read is null (numbers) or
 * empty (the component lists), so read every column a use of the row looks at
 * (`ROW_COLUMNS` for all).
 */
export const rowOf = (
  columns: ReadonlyMap<string, Column>,
  i: number,
  ids: { readonly runId: string; readonly cubeKey: string }
): ResultSchema.DecompositionRow => {
  const n = (name: ColumnName) => numberAt(columns.get(name), i)
  const l = (name: ColumnName) => listAt(columns.get(name), i)
  return {
    x: n("x") ?? 0,
    y: n("y") ?? 0,
    beta: n("beta") ?? Number.NaN,
    rms: n("rms"),
    min_persistence: n("min_persistence"),
    n_components: n("n_components") ?? -1,
    component_amplitudes: l("component_amplitudes") ?? [],
    component_means: l("component_means") ?? [],
    component_stddevs: l("component_stddevs") ?? [],
    nan_channels: n("nan_channels") ?? 0,
    residual_rms: n("residual_rms"),
    chi2_reduced: n("chi2_reduced"),
    aicc: n("aicc"),
    component_amplitude_errors: l("component_amplitude_errors") ?? [],
    component_mean_errors: l("component_mean_errors") ?? [],
    component_stddev_errors: l("component_stddev_errors") ?? [],
    run_id: ids.runId,
    cube: ids.cubeKey,
    lon: n("lon"),
    lat: n("lat"),
    component_velocities: l("component_velocities"),
    component_velocity_dispersions: l("component_velocity_dispersions"),
    component_integrated_intensities: l("component_integrated_intensities"),
    refit: null
  }
}
