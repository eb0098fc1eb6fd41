/**
 * Frees typed-array memory at once instead of at V8's next major GC. The fit path allocates
 * a few MiB of ArrayBuffers per chunk (the payload, the result columns, the Parquet pages)
 * and little else, so scavenges are rare and that memory piles up as external memory until
 * it forces a full mark-compact of the heap, every ~80 MiB (docs/results.md, "The fit path
 * without garbage"). Detaching a buffer (`ArrayBuffer.prototype.transfer(0)`) releases its
 * memory now; every view of it then reads as empty, so only buffers no one else holds may be
 * released.
 *
 * @since 0.4.0
 */

type Transferable = ArrayBuffer & { readonly transfer?: (length: number) => ArrayBuffer; readonly detached?: boolean }

/**
 * Detaches `buffer`; a no-op for a shared buffer, one already detached, or a runtime without
 * `transfer`.
 */
export const releaseBuffer = (buffer: ArrayBufferLike): void => {
  if (!(buffer instanceof ArrayBuffer)) return
  const b = buffer as Transferable
  if (b.detached !== true && b.transfer !== undefined) b.transfer(0)
}

/**
 * Detaches the buffer of each array that is the only view of the whole of it (a view of part
 * of a buffer, such as a slice of Node's pooled memory, is left alone).
 */
export const releaseWhole = (arrays: ReadonlyArray<ArrayBufferView>): void => {
  for (const a of arrays) if (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) releaseBuffer(a.buffer)
}
