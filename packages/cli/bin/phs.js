#!/usr/bin/env node
// Loading phs loads the native addon: one that is missing or out of date is one line, not a
// stack trace (--verbose adds it).
import("../dist/main.js").catch((e) => {
  process.stderr.write(`phs: ${e instanceof Error ? e.message : String(e)}\n`)
  if (process.argv.includes("--verbose") && e instanceof Error) process.stderr.write(`${e.stack}\n`)
  process.exitCode = 1
})
