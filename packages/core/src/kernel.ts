/**
 * `@phs/core/kernel`: the workflow kernel without the stages, so without the native
 * decomposer: steps, stages, the journal, errors, retry and delivery policy, the service
 * interfaces a runtime provides, and the blob layout. Infra and tools import this.
 *
 * @since 0.1.0
 */
export * as BlobStore from "./BlobStore.js"
export * as Catalog from "./Catalog.js"
export * as Delivery from "./Delivery.js"
export * as Errors from "./Errors.js"
export * as Journal from "./Journal.js"
export * as Keys from "./Keys.js"
export * as Retry from "./Retry.js"
export * as RunTable from "./RunTable.js"
export * as Settings from "./Settings.js"
export * as Stage from "./Stage.js"
export * as Step from "./Step.js"
export * as WorkQueue from "./WorkQueue.js"
