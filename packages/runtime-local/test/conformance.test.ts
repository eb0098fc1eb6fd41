/**
 * Every service conformance suite against the local runtime, each test on a fresh workdir.
 */
import { blobStoreConformance } from "../../core/test/conformance/BlobStore.js"
import { catalogConformance } from "../../core/test/conformance/Catalog.js"
import { journalConformance } from "../../core/test/conformance/Journal.js"
import { runTableConformance } from "../../core/test/conformance/RunTable.js"
import { workQueueConformance } from "../../core/test/conformance/WorkQueue.js"
import { BlobStoreFs } from "../src/index.js"
import { freshRuntime, inTempDir } from "./helpers.js"

blobStoreConformance("BlobStoreFs", () => inTempDir((root) => BlobStoreFs.layer({ root })))
blobStoreConformance("RuntimeLocal", freshRuntime)
workQueueConformance("WorkQueueSqlite", freshRuntime)
runTableConformance("RunTableSqlite", freshRuntime)
journalConformance("JournalSqlite", freshRuntime)
catalogConformance("CatalogSqlite", freshRuntime)
