/**
 * Whether this test process belongs to the emulated suite: `test/aws/run.sh` runs it with
 * `globalSetup.ts`, which starts the emulators and provides their endpoints. Anywhere else
 * (the root config, say) its suites are skipped rather than failing.
 */
import { describe, inject } from "vitest"

const provided: { readonly s3: string; readonly dynamodb: string } | undefined = inject("endpoints")

/** Whether the emulators run (hooks outside `describeEmulated` check it). */
export const emulated = provided !== undefined

/** A suite that runs only when the emulators do. */
export const describeEmulated = describe.runIf(emulated)

/** The endpoints of the emulators (placeholders when they do not run: the suites are skipped then). */
export const endpoints = (): { readonly s3: string; readonly dynamodb: string } => provided ?? { s3: "http://127.0.0.1:1", dynamodb: "http://127.0.0.1:1" }
