/**
 * The errors of the viewer's API; each becomes a 4xx response with `{"error": message}`.
 */
import { Schema } from "effect"

/** A request the API refuses: a bad parameter, a pixel outside the cube (400). */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }) {}

/** Something that does not exist: an unknown run, a pixel without a row (404). */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }) {}

export type ViewError = BadRequest | NotFound
