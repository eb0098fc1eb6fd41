/**
 * Shared fixtures of the stack tests: the app as `cdk synth` builds it (same feature flags as
 * cdk.json), and readers for the IAM statements of a role.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { App, type CfnElement, type Stack } from "aws-cdk-lib"
import type { Template } from "aws-cdk-lib/assertions"
import type * as iam from "aws-cdk-lib/aws-iam"
import { afterAll } from "vitest"
import { addPhsStacks, type PhsProps, type PhsStacks } from "../src/app.js"

const cdkJson = JSON.parse(readFileSync(new URL("../cdk.json", import.meta.url), "utf8")) as {
  readonly context: Record<string, unknown>
}

const outdirs: string[] = []
afterAll(() => {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A fresh app with cdk.json's context (feature flags), synthesized into a directory removed after the file's tests. */
export const testApp = (context: Record<string, unknown> = {}): App => {
  const outdir = mkdtempSync(join(tmpdir(), "phs-infra-"))
  outdirs.push(outdir)
  return new App({ outdir, context: { ...cdkJson.context, ...context } })
}

/** The six stacks in a fresh app. */
export const phsStacks = (props: PhsProps = {}): PhsStacks => addPhsStacks(testApp(), props)

export const logicalId = (element: { readonly node: { readonly defaultChild?: unknown } }): string => {
  const child = element.node.defaultChild as CfnElement | undefined
  if (child === undefined) throw new Error("no default child")
  return child.stack.getLogicalId(child)
}

export interface Statement {
  readonly Effect: string
  readonly Action: string | ReadonlyArray<string>
  readonly Resource: unknown
  readonly Condition?: unknown
}

export const actions = (s: Statement): ReadonlyArray<string> => (typeof s.Action === "string" ? [s.Action] : s.Action)

export const resources = (s: Statement): ReadonlyArray<unknown> => (Array.isArray(s.Resource) ? s.Resource : [s.Resource])

/** Whether a (possibly cross-stack) CloudFormation value refers to the resource with this logical id. */
export const refersTo = (value: unknown, id: string): boolean => JSON.stringify(value).includes(id)

/** Every statement of the policies attached to a role. */
export const roleStatements = (template: Template, stack: Stack, role: iam.IRole): ReadonlyArray<Statement> => {
  const roleId = stack.getLogicalId(role.node.defaultChild as CfnElement)
  const policies = template.findResources("AWS::IAM::Policy")
  return Object.values(policies)
    .filter((p) => refersTo(p.Properties.Roles, roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as ReadonlyArray<Statement>)
}

/** The resources a role may perform an action on. */
export const resourcesFor = (statements: ReadonlyArray<Statement>, action: string): ReadonlyArray<unknown> =>
  statements.filter((s) => s.Effect === "Allow" && actions(s).includes(action)).flatMap(resources)
