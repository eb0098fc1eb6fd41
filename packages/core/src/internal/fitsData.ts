/**
 * FITS data access for a cube stored channel-major (x fastest, then y, then channel):
 * planning ranged reads for a pixel range, and decoding big-endian values into a
 * spectrum-major Float32Array.
 */
import type { CubeHeader } from "../Fits.js"

/** One ranged read covering `channels` consecutive channels from `firstChannel`. */
export interface Segment {
  readonly offset: number
  readonly length: number
  readonly firstChannel: number
  readonly channels: number
}

/**
 * Plans the reads for pixels `start .. start+count`: one range per channel, except that
 * consecutive channels are merged into one read when the bytes between them (the rest of
 * the plane) are at most `maxGapBytes` and the merged read stays within `maxReadBytes`.
 * A range covering whole planes has no gap, so whole-plane reads always merge.
 */
export const planSegments = (
  header: CubeHeader,
  start: number,
  count: number,
  maxGapBytes: number,
  maxReadBytes: number
): ReadonlyArray<Segment> => {
  const { nx, ny, nchan, bytesPerValue: bpv, dataOffset } = header
  const npix = nx * ny
  const gap = (npix - count) * bpv
  const perRead = gap <= maxGapBytes
    ? Math.max(1, Math.min(nchan, Math.floor((maxReadBytes / bpv - count) / npix) + 1))
    : 1
  const segments: Array<Segment> = []
  for (let c = 0; c < nchan; c += perRead) {
    const channels = Math.min(perRead, nchan - c)
    segments.push({
      offset: dataOffset + (c * npix + start) * bpv,
      length: ((channels - 1) * npix + count) * bpv,
      firstChannel: c,
      channels
    })
  }
  return segments
}

/**
 * Decodes one segment's bytes into `out` (`[count][nchan]`), applying BSCALE/BZERO and
 * mapping integer BLANK to NaN.
 */
export const decodeSegment = (
  header: CubeHeader,
  segment: Segment,
  bytes: Uint8Array,
  count: number,
  out: Float32Array
): void => {
  const { nx, ny, nchan, bitpix, bscale, bzero, blank, bytesPerValue: bpv } = header
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const planeBytes = nx * ny * bpv
  const identity = bscale === 1 && bzero === 0
  const blankValue = blank === null ? Number.NaN : blank
  for (let k = 0; k < segment.channels; k++) {
    const c = segment.firstChannel + k
    let p = k * planeBytes
    let o = c
    switch (bitpix) {
      case -32:
        if (identity) {
          for (let i = 0; i < count; i++, p += 4, o += nchan) out[o] = view.getFloat32(p, false)
        } else {
          for (let i = 0; i < count; i++, p += 4, o += nchan) out[o] = view.getFloat32(p, false) * bscale + bzero
        }
        break
      case -64:
        for (let i = 0; i < count; i++, p += 8, o += nchan) out[o] = view.getFloat64(p, false) * bscale + bzero
        break
      case 8:
        for (let i = 0; i < count; i++, p += 1, o += nchan) {
          const v = bytes[p]
          out[o] = v === blankValue ? Number.NaN : v * bscale + bzero
        }
        break
      case 16:
        for (let i = 0; i < count; i++, p += 2, o += nchan) {
          const v = view.getInt16(p, false)
          out[o] = v === blankValue ? Number.NaN : v * bscale + bzero
        }
        break
      case 32:
        for (let i = 0; i < count; i++, p += 4, o += nchan) {
          const v = view.getInt32(p, false)
          out[o] = v === blankValue ? Number.NaN : v * bscale + bzero
        }
        break
    }
  }
}
