/**
 * What a cube must be for phs to decompose it: the decomposer's limits and the blob stores',
 * checked against the header (at `phs pipeline`'s header check and at split's read-header
 * step) before anything is written, and the chunk plan that keeps every payload storable.
 *
 * @since 0.1.0
 */
import * as Native from "@phs/fit-native"
import { MAX_BLOB_BYTES } from "./BlobStore.js"

/**
 * The most channels a spectrum may have (the decomposer's limit).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_CHANNELS = Native.MAX_CHANNELS

/**
 * Bytes of one channel in a chunk payload (float32).
 *
 * @since 0.1.0
 * @category constants
 */
export const PAYLOAD_BYTES_PER_CHANNEL = 4

const fmt = (n: number): string => n.toLocaleString("en-US")

/**
 * Why phs cannot decompose a cube of this shape, or undefined when it can.
 *
 * @since 0.1.0
 * @category validation
 */
export const refusal = (shape: { readonly nx: number; readonly ny: number; readonly nchan: number }): string | undefined =>
  shape.nchan > MAX_CHANNELS
    ? `${fmt(shape.nchan)} channels per spectrum: the decomposer takes at most ${fmt(MAX_CHANNELS)} (rebin or cut the velocity axis)`
    : undefined

/**
 * The most spectra of `nChannels` channels one payload blob may hold.
 *
 * @since 0.1.0
 * @category planning
 */
export const maxChunkSpectra = (nChannels: number): number =>
  Math.max(1, Math.floor(MAX_BLOB_BYTES / (Math.max(1, nChannels) * PAYLOAD_BYTES_PER_CHANNEL)))

/**
 * The chunk size a run uses: the one asked for, made smaller when its payloads would exceed
 * what a blob store takes.
 *
 * @since 0.1.0
 * @category planning
 */
export const chunkSpectra = (requested: number, nChannels: number): number => Math.min(requested, maxChunkSpectra(nChannels))
