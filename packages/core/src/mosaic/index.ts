/**
 * Mosaics of a survey's tiles: the common grid, the quantities, the stitching.
 *
 * @since 0.2.0
 */
export * as Grid from "./Grid.js"
export * as Quantities from "./Quantities.js"
export * as Stitch from "./Stitch.js"
