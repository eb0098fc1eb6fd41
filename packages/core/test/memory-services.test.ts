/**
 * Every service conformance suite against the in-memory layers that stage tests use.
 */
import { BlobStore, Catalog, Journal, RunTable, WorkQueue } from "../src/index.js"
import { blobStoreConformance } from "./conformance/BlobStore.js"
import { catalogConformance } from "./conformance/Catalog.js"
import { journalConformance } from "./conformance/Journal.js"
import { runTableConformance } from "./conformance/RunTable.js"
import { workQueueConformance } from "./conformance/WorkQueue.js"

blobStoreConformance("memory", () => BlobStore.layerMemory)
workQueueConformance("memory", () => WorkQueue.layerMemory)
runTableConformance("memory", () => RunTable.layerMemory)
journalConformance("memory", () => Journal.layerMemory)
catalogConformance("memory", () => Catalog.layerMemory)
