#!/usr/bin/env node
/**
 * `cdk synth` / `cdk deploy` entry point (cdk.json runs the compiled `dist/infra/bin/app.js`).
 * Props come from context: see `propsFromContext` in src/app.ts.
 */
import { App, Aspects } from "aws-cdk-lib"
import { AwsSolutionsChecks } from "cdk-nag"
import { addPhsStacks, propsFromContext } from "../src/app.js"

const app = new App()
addPhsStacks(app, propsFromContext(app))
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }))
