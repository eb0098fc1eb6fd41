/**
 * The emulated AWS suite: `test/aws/run.sh` runs it in a private network namespace. It
 * shares the root config's aliases; the root config leaves `test/aws/**` out.
 */
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"
import root from "../../vitest.config.js"

export default defineConfig({
  ...root,
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    ...root.test,
    include: ["test/aws/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    globalSetup: ["test/aws/globalSetup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
