#!/usr/bin/env node
// V8's compiled code of phs's ~1,100 modules is kept on disk (Node 22.1+; the default cache
// directory under the OS's temp dir, NODE_DISABLE_COMPILE_CACHE=1 turns it off): every
// command starts faster after the first.
import * as nodeModule from "node:module"

nodeModule.enableCompileCache?.()
// Loading phs loads the native addon: one that is missing or out of date is one line, not a
// stack trace (--verbose adds it).
import("../dist/main.js").catch((e) => {
  process.stderr.write(`phs: ${e instanceof Error ? e.message : String(e)}\n`)
  if (process.argv.includes("--verbose") && e instanceof Error) process.stderr.write(`${e.stack}\n`)
  process.exitCode = 1
})
