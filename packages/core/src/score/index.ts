/**
 * Choosing parameters: labelled spectra, the Lindner et al. (2015) scorer, parameter grids,
 * residual figures and a synthetic benchmark matched to a cube (docs/tuning.md).
 *
 * @since 0.1.0
 */
export * as Assignment from "./Assignment.js"
export * as Grid from "./Grid.js"
export * as Labels from "./Labels.js"
export * as Residual from "./Residual.js"
export * as Score from "./Score.js"
export * as Summary from "./Summary.js"
export * as SweepFitter from "./SweepFitter.js"
export * as Synthetic from "./Synthetic.js"
