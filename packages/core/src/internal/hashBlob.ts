import { createHash } from "node:crypto"
import { Effect } from "effect"

const PIECE = 8 * 1024 * 1024

/** SHA-256 (hex) of a blob of `size` bytes read in 8 MiB ranges. */
export const sha256Stream = <E>(size: number, read: (offset: number, length: number) => Effect.Effect<Uint8Array, E>) =>
  Effect.gen(function* () {
    const hash = createHash("sha256")
    for (let offset = 0; offset < size; offset += PIECE) {
      hash.update(yield* read(offset, Math.min(PIECE, size - offset)))
    }
    return hash.digest("hex")
  })
