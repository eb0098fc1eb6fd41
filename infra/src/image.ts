/**
 * The one container image every phs Lambda runs: `infra/lambda/Dockerfile`, built from the
 * repository root at deploy time (synth only stages the allow-listed files into cdk.out).
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { IgnoreMode } from "aws-cdk-lib"
import * as ecrAssets from "aws-cdk-lib/aws-ecr-assets"
import type { Construct } from "constructs"

const DOCKERFILE = "infra/lambda/Dockerfile"

/**
 * The repository root: the nearest ancestor of this module holding `infra/lambda/Dockerfile`
 * (this file runs as TypeScript under vitest and compiled from `infra/dist/infra/src`).
 *
 * @since 0.1.0
 * @category paths
 */
export const repoRoot = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, DOCKERFILE))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`phs infra: no ancestor of ${import.meta.url} holds ${DOCKERFILE}`)
    dir = parent
  }
  return dir
}

/**
 * The build context's ignore patterns, from `infra/lambda/Dockerfile.dockerignore` (Docker's
 * per-Dockerfile ignore file): an allow-list, so that staging copies only what the image
 * build needs and never node_modules, .git or .phs.
 *
 * @since 0.1.0
 * @category paths
 */
export const contextExcludes = (root: string): string[] =>
  readFileSync(join(root, `${DOCKERFILE}.dockerignore`), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith("#"))

/**
 * The handlers the image holds, one per pipeline function.
 *
 * @since 0.1.0
 * @category models
 */
export type HandlerName = "splitter" | "worker" | "slowWorker" | "stageWorker" | "catalog"

/**
 * The image command that selects a handler (relative to the image's `LAMBDA_TASK_ROOT`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const handlerCommand = (name: HandlerName): string => `packages/runtime-lambda/dist/handlers/${name}.handler`

/**
 * The ARM64 image asset. Staged at synth (no Docker needed), built and pushed at deploy.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pipelineImage = (scope: Construct, id: string): ecrAssets.DockerImageAsset => {
  const root = repoRoot()
  return new ecrAssets.DockerImageAsset(scope, id, {
    directory: root,
    file: DOCKERFILE,
    platform: ecrAssets.Platform.LINUX_ARM64,
    ignoreMode: IgnoreMode.DOCKER,
    exclude: contextExcludes(root)
  })
}
