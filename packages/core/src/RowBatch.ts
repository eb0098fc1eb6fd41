/**
 * Result rows held column by column, in `RESULT_COLUMNS` order: typed arrays for the number
 * and list columns, one string (or null) a row for the string columns. It is the form the
 * Parquet writer encodes and the catalog compacts chunk results in, so moving rows from
 * chunk files into parts never builds a row object (docs/architecture.md, "catalog"). It is
 * also how rows cross to and from a refit worker thread, their buffers transferred
 * (`buffersOf`), and how a fan-out stage keeps a decoded chunk file: so a batch made from row
 * objects tells a key the object lacked (`absent`) from a null value, and `toRows` gives
 * the objects back as they were.
 *
 * @since 0.4.0
 */
import { releaseWhole } from "./internal/release.js"
import { type DecompositionRow, RESULT_COLUMNS, type ResultColumn } from "./ResultSchema.js"

/**
 * Where the row objects a batch was made from lacked the column's key: `absent[i]` is 1
 * where row i had no such key (its value is then null, as the writer writes it). Only a
 * column some row lacked has it; a decoded file's never does.
 *
 * @since 0.4.0
 * @category models
 */
export interface Presence {
  readonly absent?: Uint8Array
}

/**
 * A number column (int32 or double): one value per row, NaN where null; `nulls[i]` is 1
 * where the row's value is null (all 0 for a required column, all 1 for a column the file
 * lacks).
 *
 * @since 0.3.0
 * @category models
 */
export interface NumberColumn extends Presence {
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
export interface ListColumn extends Presence {
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
export interface StringColumn extends Presence {
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

/** `absent` is allocated when a row first lacks the column. */
interface NumberSlot {
  readonly kind: "number"
  readonly values: Float64Array
  readonly nulls: Uint8Array
  absent: Uint8Array | undefined
}
interface ListSlot {
  readonly kind: "list"
  readonly offsets: Int32Array
  values: Float64Array
  readonly nulls: Uint8Array
  absent: Uint8Array | undefined
}
interface StringSlot {
  readonly kind: "string"
  readonly values: Array<string | null>
  absent: Uint8Array | undefined
}
type Slot = NumberSlot | ListSlot | StringSlot

const slotOf = (column: ResultColumn, capacity: number): Slot => {
  switch (column.parquet) {
    case "int32":
    case "double":
      return { kind: "number", values: new Float64Array(capacity), nulls: new Uint8Array(capacity), absent: undefined }
    case "list<double>":
      return {
        kind: "list",
        offsets: new Int32Array(capacity + 1),
        values: new Float64Array(Math.max(16, capacity * 4)),
        nulls: new Uint8Array(capacity),
        absent: undefined
      }
    case "string":
      return { kind: "string", values: new Array<string | null>(capacity).fill(null), absent: undefined }
  }
}

/** Each kind's columns (their places in `RESULT_COLUMNS`), so a row is copied by one loop per kind. */
const placesOf = (kind: (c: ResultColumn) => boolean) => RESULT_COLUMNS.flatMap((c, i) => (kind(c) ? [i] : []))
const NUMBER_PLACES = placesOf((c) => c.parquet === "int32" || c.parquet === "double")
const LIST_PLACES = placesOf((c) => c.parquet === "list<double>")
const STRING_PLACES = placesOf((c) => c.parquet === "string")
const NAMES = RESULT_COLUMNS.map((c) => c.name)

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
      if (from.absent !== undefined || slot.absent !== undefined) {
        const absent = (slot.absent ??= new Uint8Array(capacity))
        if (from.absent !== undefined) absent.set(from.absent.subarray(start, start + n), rows)
        else absent.fill(0, rows, rows + n)
      }
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
  const numberSlots = NUMBER_PLACES.map((c) => slots[c] as NumberSlot)
  const listSlots = LIST_PLACES.map((c) => slots[c] as ListSlot)
  const stringSlots = STRING_PLACES.map((c) => slots[c] as StringSlot)
  /** The row's value of column `c`; a key it lacks (`refit` of a run without refit) is null, and marked absent. */
  const valueOf = (fields: Readonly<Record<string, unknown>>, c: number, slot: Slot): unknown => {
    const v = fields[NAMES[c]]
    if (v === undefined) (slot.absent ??= new Uint8Array(capacity))[rows] = 1
    return v ?? null
  }
  const appendRow = (row: DecompositionRow) => {
    if (rows >= capacity) throw new Error(`a batch of ${capacity} rows is full`)
    const fields = row as unknown as Readonly<Record<string, unknown>>
    for (let k = 0; k < numberSlots.length; k++) {
      const slot = numberSlots[k]
      const v = valueOf(fields, NUMBER_PLACES[k], slot)
      slot.values[rows] = v === null ? Number.NaN : (v as number)
      slot.nulls[rows] = v === null ? 1 : 0
    }
    for (let k = 0; k < listSlots.length; k++) {
      const slot = listSlots[k]
      const list = valueOf(fields, LIST_PLACES[k], slot) as ReadonlyArray<number> | null
      const base = listEnd(slot)
      const count = list === null ? 0 : list.length
      reserve(slot, base, count)
      for (let i = 0; i < count; i++) slot.values[base + i] = list![i]
      slot.offsets[rows + 1] = base + count
      slot.nulls[rows] = list === null ? 1 : 0
    }
    for (let k = 0; k < stringSlots.length; k++) {
      const slot = stringSlots[k]
      slot.values[rows] = valueOf(fields, STRING_PLACES[k], slot) as string | null
    }
    rows++
  }
  const batch = (): RowBatch => ({
    rows,
    columns: slots.map((slot): Column => {
      const presence = slot.absent !== undefined ? { absent: slot.absent.subarray(0, rows) } : {}
      switch (slot.kind) {
        case "number":
          return { kind: "number", values: slot.values.subarray(0, rows), nulls: slot.nulls.subarray(0, rows), ...presence }
        case "list":
          return {
            kind: "list",
            offsets: slot.offsets.subarray(0, rows + 1),
            values: slot.values.subarray(0, listEnd(slot)),
            nulls: slot.nulls.subarray(0, rows),
            ...presence
          }
        case "string":
          return { kind: "string", values: slot.values.slice(0, rows), ...presence }
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
      for (const slot of slots) slot.absent = undefined
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
 * Rows `at` of the batch (every row, in order, without `at`) as row objects, the columns' keys
 * in `RESULT_COLUMNS` order: what `fromRows` was given, a key a row lacked left out again.
 * Each call builds new objects (and lists): what it returns is the caller's.
 *
 * @since 0.4.0
 * @category constructors
 */
export const toRows = (batch: RowBatch, at?: ArrayLike<number>): Array<DecompositionRow> => {
  const n = at === undefined ? batch.rows : at.length
  const out = new Array<DecompositionRow>(n)
  const { columns } = batch
  for (let k = 0; k < n; k++) {
    const i = at === undefined ? k : at[k]
    const row: Record<string, unknown> = {}
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c]
      if (column.absent !== undefined && column.absent[i] === 1) continue
      if (column.kind === "number") row[NAMES[c]] = column.nulls[i] === 1 ? null : column.values[i]
      else if (column.kind === "list") {
        if (column.nulls[i] === 1) row[NAMES[c]] = null
        else {
          const from = column.offsets[i]
          const list = new Array<number>(column.offsets[i + 1] - from)
          for (let j = 0; j < list.length; j++) list[j] = column.values[from + j]
          row[NAMES[c]] = list
        }
      } else row[NAMES[c]] = column.values[i]
    }
    // a batch's columns are the result columns
    out[k] = row as unknown as DecompositionRow
  }
  return out
}

/**
 * The distinct buffers under the batch's typed arrays: what to transfer with a message that
 * carries it (the string columns are copied with the message).
 *
 * @since 0.4.0
 * @category utils
 */
export const buffersOf = (batch: RowBatch): Array<ArrayBuffer> => {
  const buffers = new Set<ArrayBuffer>()
  const add = (a: ArrayBufferView | undefined) => {
    if (a !== undefined && a.buffer instanceof ArrayBuffer) buffers.add(a.buffer)
  }
  for (const c of batch.columns) {
    add(c.absent)
    if (c.kind === "number") [c.values, c.nulls].forEach(add)
    else if (c.kind === "list") [c.offsets, c.values, c.nulls].forEach(add)
  }
  return [...buffers]
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
    if (c.absent !== undefined) releaseWhole([c.absent])
    if (c.kind === "number") releaseWhole([c.values, c.nulls])
    else if (c.kind === "list") releaseWhole([c.offsets, c.values, c.nulls])
  }
}
