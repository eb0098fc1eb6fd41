/**
 * @phs/core — the workflow kernel (steps, stages, journal, errors, retry and timeout
 * policy), the service interfaces a runtime provides, the FITS reader, the result schema
 * and its Parquet writer, and the four pipeline stages.
 *
 * @since 0.1.0
 */
export * as BlobStore from "./BlobStore.js"
export * as Catalog from "./Catalog.js"
export * as CubeLimits from "./CubeLimits.js"
export * as Delivery from "./Delivery.js"
export * as Errors from "./Errors.js"
export * as Faults from "./Faults.js"
export * as Fits from "./Fits.js"
export * as FitsWriter from "./FitsWriter.js"
export * as Fitter from "./Fitter.js"
export * as Journal from "./Journal.js"
export * as Keys from "./Keys.js"
export * as NamedQueries from "./NamedQueries.js"
export * as Params from "./Params.js"
export * as PartIntegrity from "./PartIntegrity.js"
export * as Pipeline from "./Pipeline.js"
export * as ResultParquet from "./ResultParquet.js"
export * as ResultSchema from "./ResultSchema.js"
export * as Retry from "./Retry.js"
export * as RunTable from "./RunTable.js"
export * as Scoring from "./score/index.js"
export * as Settings from "./Settings.js"
export * as Stage from "./Stage.js"
export * as Step from "./Step.js"
export * as Tasks from "./stages/Tasks.js"
export * as WorkQueue from "./WorkQueue.js"
export * as Wcs from "./wcs/Wcs.js"
export * as WorldColumns from "./wcs/WorldColumns.js"
export { catalog, repairParts } from "./stages/CatalogStage.js"
export { fit, StartDeadline } from "./stages/Fit.js"
export { slowFit } from "./stages/SlowFit.js"
export { split } from "./stages/Split.js"
export * as Mosaic from "./mosaic/index.js"
