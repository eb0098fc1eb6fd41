/**
 * Stages: a named Effect program over durable steps, with schemas for what goes in and
 * comes out. The pipeline's split, fit, slow-fit and catalog are stages; so is anything a
 * user plugs in (see examples/). A runtime executes a stage by giving it a `StepScope`.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import { InvalidInput } from "./Errors.js"
import { makeScope, StepScope } from "./Step.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Stage<I, IE, O, OE, E, R> {
  readonly name: string
  readonly input: Schema.Schema<I, IE>
  readonly output: Schema.Schema<O, OE>
  readonly run: (input: I) => Effect.Effect<O, E, R>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = <I, IE, O, OE, E, R>(stage: Stage<I, IE, O, OE, E, R>): Stage<I, IE, O, OE, E, R> => stage

/**
 * Runs a stage over one scope (a chunk, a run) of a run. Its steps are journaled under
 * (run, stage name, scope).
 *
 * @since 0.1.0
 * @category combinators
 */
export const execute = <I, IE, O, OE, E, R>(
  stage: Stage<I, IE, O, OE, E, R>,
  where: { readonly runId: string; readonly scope: string },
  input: I
): Effect.Effect<O, E, Exclude<R, StepScope>> =>
  Effect.provideService(stage.run(input), StepScope, makeScope(where.runId, stage.name, where.scope)).pipe(
    Effect.withSpan(`stage ${stage.name}`, { attributes: { runId: where.runId, scope: where.scope } })
  )

/**
 * Decodes an encoded input (a queue message, a JSON manifest) with the stage's input schema;
 * a value that does not fit is `InvalidInput`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const decodeInput = <I, IE, O, OE, E, R>(stage: Stage<I, IE, O, OE, E, R>, encoded: unknown): Effect.Effect<I, InvalidInput> =>
  Schema.decodeUnknown(stage.input)(encoded).pipe(
    Effect.mapError(
      (e) => new InvalidInput({ reason: `bad input for stage ${stage.name}: ${ParseResult.TreeFormatter.formatErrorSync(e)}` })
    )
  )
