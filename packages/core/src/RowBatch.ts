/**
 * Result rows held column by column, in `RESULT_COLUMNS` order: typed arrays for the number
 * and list columns, one string (or null) a row for the string columns. It is the form the
 * Parquet writer encodes and the catalog compacts chunk results in, so moving rows from
 * chunk files into parts never builds a row object (docs/architecture.md, "catalog").
 *
 * @since 0.4.0
 */
import { releaseWhole } from "./internal/release.js"
import { type DecompositionRow, RESULT_COLUMNS, type ResultColumn } from "./ResultSchema.js"

/**
 * A number column (int32 or double): one value per row, NaN where null; `nulls[i]` is 1
 * where the row's value is null (all 0 for a required column, all 1 for a column the file
 * lacks).
 *
 * @since 0.3.0
 * @category models
 */
export interface NumberColumn {
  readonly kind: "number"
  readonly values: Float64Array
  readonly nulls: Uint8Array
}

/**
 * A list column: row i's list is `values[offsets[i] .. offsets[i + 1])`; `nulls[i]` is 1
 * where the list itself is null (then it is empty).
 *
 * @since 0.3.0
 * @category models
 */
export interface ListColumn {
  readonly kind: "list"
  readonly offsets: Int32Array
  readonly values: Float64Array
  readonly nulls: Uint8Array
}

/**
 * A string column: one value per row, null where null.
 *
 * @since 0.4.0
 * @category models
 */
export interface StringColumn {
  readonly kind: "string"
  readonly values: ReadonlyArray<string | null>
}

/**
 * @since 0.4.0
 * @category models
 */
export type Column = NumberColumn | ListColumn | StringColumn

/**
 * Rows of the result table as columns: `columns[i]` is `RESULT_COLUMNS[i]`, each `rows` long.
 *
 * @since 0.4.0
 * @category models
 */
export interface RowBatch {
  readonly rows: number
  readonly columns: ReadonlyArray<Column>
}

/**
 * A batch of at most `capacity` rows, filled by copying rows of other batches (or row
 * objects) into buffers allocated once: compaction reuses one builder for every row group.
 *
 * @since 0.4.0
 * @category models
 */
export interface Builder {
  readonly rows: () => number
  /** Rows that still fit. */
  readonly room: () => number
  /** Appends rows `[start, end)` of `batch`; at most `room()` of them. */
  readonly append: (batch: RowBatch, start: number, end: number) => void
  /** Appends one row object (the writer's path for rows built in memory). */
  readonly appendRow: (row: DecompositionRow) => void
  /** The rows so far, as views of the builder's buffers: valid until the next append or reset. */
  readonly batch: () => RowBatch
  readonly reset: () => void
}

interface NumberSlot {
  readonly kind: "number"
  readonly values: Float64Array
  readonly nulls: Uint8Array
}
interface ListSlot {
  readonly kind: "list"
  readonly offsets: Int32Array
  values: Float64Array
  readonly nulls: Uint8Array
}
interface StringSlot {
  readonly kind: "string"
  readonly values: Array<string | null>
}
type Slot = NumberSlot | ListSlot | StringSlot

const slotOf = (column: ResultColumn, capacity: number): Slot => {
  switch (column.parquet) {
    case "int32":
    case "double":
      return { kind: "number", values: new Float64Array(capacity), nulls: new Uint8Array(capacity) }
    case "list<double>":
      return { kind: "list", offsets: new Int32Array(capacity + 1), values: new Float64Array(Math.max(16, capacity * 4)), nulls: new Uint8Array(capacity) }
    case "string":
      return { kind: "string", values: new Array<string | null>(capacity).fill(null) }
  }
}

/** Room for `need` list values in `slot`, doubling its buffer. */
const reserve = (slot: ListSlot, used: number, need: number) => {
  if (used + need <= slot.values.length) return
  let size = slot.values.length * 2
  while (size < used + need) size *= 2
  const grown = new Float64Array(size)
  grown.set(slot.values.subarray(0, used))
  slot.values = grown
}

/**
 * @since 0.4.0
 * @category constructors
 */
export const builder = (capacity: number): Builder => {
  const slots = RESULT_COLUMNS.map((column) => slotOf(column, capacity))
  let rows = 0
  const listEnd = (slot: ListSlot) => slot.offsets[rows]
  const append = (batch: RowBatch, start: number, end: number) => {
    const n = Math.min(end - start, capacity - rows)
    if (n <= 0) return
    for (let c = 0; c < slots.length; c++) {
      const slot = slots[c]
      const from = batch.columns[c]
      if (slot.kind === "number" && from.kind === "number") {
        slot.values.set(from.values.subarray(start, start + n), rows)
        slot.nulls.set(from.nulls.subarray(start, start + n), rows)
      } else if (slot.kind === "list" && from.kind === "list") {
        const base = listEnd(slot)
        const first = from.offsets[start]
        const count = from.offsets[start + n] - first
        reserve(slot, base, count)
        slot.values.set(from.values.subarray(first, first + count), base)
        for (let i = 1; i <= n; i++) slot.offsets[rows + i] = base + from.offsets[start + i] - first
        slot.nulls.set(from.nulls.subarray(start, start + n), rows)
      } else if (slot.kind === "string" && from.kind === "string") {
        for (let i = 0; i < n; i++) slot.values[rows + i] = from.values[start + i]
      } else {
        throw new Error(`column ${RESULT_COLUMNS[c].name}: a ${from.kind} column where a ${slot.kind} one belongs`)
      }
    }
    rows += n
  }
  const appendRow = (row: DecompositionRow) => {
    if (rows >= capacity) throw new Error(`a batch of ${capacity} rows is full`)
    for (let c = 0; c < slots.length; c++) {
      const slot = slots[c]
      // an optional column a row lacks (`refit` of a run without refit) is null
      const v: unknown = row[RESULT_COLUMNS[c].name] ?? null
      if (slot.kind === "number") {
        slot.values[rows] = v === null ? Number.NaN : (v as number)
        slot.nulls[rows] = v === null ? 1 : 0
      } else if (slot.kind === "list") {
        const base = listEnd(slot)
        const list = v as ReadonlyArray<number> | null
        const count = list === null ? 0 : list.length
        reserve(slot, base, count)
        for (let i = 0; i < count; i++) slot.values[base + i] = list![i]
        slot.offsets[rows + 1] = base + count
        slot.nulls[rows] = list === null ? 1 : 0
      } else {
        slot.values[rows] = v as string | null
      }
    }
    rows++
  }
  const batch = (): RowBatch => ({
    rows,
    columns: slots.map((slot): Column => {
      switch (slot.kind) {
        case "number":
          return { kind: "number", values: slot.values.subarray(0, rows), nulls: slot.nulls.subarray(0, rows) }
        case "list":
          return { kind: "list", offsets: slot.offsets.subarray(0, rows + 1), values: slot.values.subarray(0, listEnd(slot)), nulls: slot.nulls.subarray(0, rows) }
        case "string":
          return { kind: "string", values: slot.values.slice(0, rows) }
      }
    })
  })
  return {
    rows: () => rows,
    room: () => capacity - rows,
    append,
    appendRow,
    batch,
    reset: () => {
      rows = 0
    }
  }
}

/**
 * Row objects as a batch.
 *
 * @since 0.4.0
 * @category constructors
 */
export const fromRows = (rows: ReadonlyArray<DecompositionRow>): RowBatch => {
  const b = builder(rows.length)
  for (const row of rows) b.appendRow(row)
  return b.batch()
}

/**
 * Frees the typed arrays of a batch that its holder alone owns (one made for a chunk and
 * done with), at once rather than at the next major GC (`internal/release.ts`); every view of
 * them then reads as empty. Arrays that view part of a larger buffer (a builder's) are left.
 *
 * @since 0.4.0
 * @category utils
 */
export const release = (batch: RowBatch): void => {
  for (const c of batch.columns) {
    if (c.kind === "number") releaseWhole([c.values, c.nulls])
    else if (c.kind === "list") releaseWhole([c.offsets, c.values, c.nulls])
  }
}
