// A refit worker that dies (exit code 3) on the first chunk it is sent.
import { parentPort } from "node:worker_threads"
parentPort.on("message", () => process.exit(3))
