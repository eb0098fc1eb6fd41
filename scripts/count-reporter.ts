// Ends a test run with a plain "N passed, N failed" line, so a CI log shows at a glance
// whether anything ran at all.
import type { Reporter, TestModule } from "vitest/node"

export default class CountReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state
        if (state === "passed") passed++
        else if (state === "failed") failed++
        else skipped++
      }
    }
    const moduleErrors = modules.filter((m) => m.state() === "failed" && [...m.children.allTests()].length === 0).length
    process.stdout.write(`\n${passed} passed, ${failed + moduleErrors} failed, ${skipped} skipped\n`)
  }
}
