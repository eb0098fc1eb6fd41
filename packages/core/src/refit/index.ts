/**
 * Spatially coherent refit (docs/algorithm.md, "Spatially coherent refit").
 *
 * @since 0.2.0
 */
export * from "./Flags.js"
export * from "./RefitBlock.js"
export * from "./RefitStage.js"
export * from "./RefitChunk.js"
export * as RefitPool from "./RefitPool.js"
