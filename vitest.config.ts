import { fileURLToPath } from "node:url"
import { configDefaults, defineConfig } from "vitest/config"

const src = (pkg: string, file = "index") => fileURLToPath(new URL(`./packages/${pkg}/src/${file}.ts`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: {
      "@phs/fit-native": src("fit-native"),
      // Subpath exports first: an alias also matches the paths below it.
      "@phs/core/kernel": src("core", "kernel"),
      "@phs/core/keys": src("core", "Keys"),
      "@phs/core/delivery": src("core", "Delivery"),
      "@phs/core/schema": src("core", "ResultSchema"),
      "@phs/core/queries": src("core", "NamedQueries"),
      "@phs/core/refit": src("core", "refit/index"),
      "@phs/core": src("core"),
      "@phs/runtime-local": src("runtime-local"),
      "@phs/runtime-lambda": src("runtime-lambda"),
      "@phs/cli": src("cli")
    }
  },
  test: {
    exclude: [...configDefaults.exclude, "test/aws/**"],
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/**/*.test.ts", "infra/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default", "./scripts/count-reporter.ts"]
  }
})
