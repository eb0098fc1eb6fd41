/**
 * Writes a result to an output stream as it is read: one batch of text per chunk of rows,
 * each written only after the previous one was taken by the stream, so the memory held is
 * one chunk whatever the result's size. When the output closes (a reader that went away:
 * `phs query … | head -1`), writing stops with `OutputClosed` and no more rows are read.
 */
import type { Errors } from "@phs/core"
import { Chunk, Effect, Option, Schema, Stream } from "effect"
import * as Format from "./Format.js"
import type { RowStream, Rows } from "./SqlEngine.js"

/**
 * The output could not take the rest of the result: `code` EPIPE when its reader went away,
 * else the failed write's code (ENOSPC, EIO, …).
 */
export class OutputClosed extends Schema.TaggedError<OutputClosed>()("OutputClosed", {
  code: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot write to the output: ${this.reason} (${this.code})`
  }
}

const closed = (e: unknown) =>
  new OutputClosed({
    code: typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : "EPIPE",
    reason: e instanceof Error ? e.message : String(e)
  })

/**
 * A writer of text to `out` that waits for each write to be taken. While it lives it owns
 * `out`'s errors (an EPIPE becomes `OutputClosed`, not an uncaught exception); after a failed
 * write it leaves a listener behind, since Node may report the same failure again.
 */
const textWriter = (out: NodeJS.WritableStream) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      let failure: unknown = undefined
      const onError = (e: unknown) => {
        failure ??= e
      }
      out.on("error", onError)
      const write = (text: string): Effect.Effect<void, OutputClosed> =>
        text === ""
          ? Effect.void
          : Effect.async<void, OutputClosed>((resume) => {
              const destroyed = (out as { destroyed?: boolean }).destroyed === true
              if (failure !== undefined || destroyed) {
                resume(Effect.fail(closed(failure ?? "output closed")))
                return
              }
              out.write(text, (e) => {
                if (e !== undefined && e !== null) failure ??= e
                resume(failure === undefined ? Effect.void : Effect.fail(closed(failure)))
              })
            })
      return { write, onError, failed: () => failure !== undefined }
    }),
    (w) =>
      Effect.sync(() => {
        if (!w.failed()) out.removeListener("error", w.onError)
      })
  )

/**
 * Writes `result` to `out` in `format`, reading it as it goes (the table reads its first
 * `Format.TABLE_SAMPLE_ROWS` rows before its header, to size the columns); the row count.
 */
export const write = (
  result: RowStream,
  format: Format.Format,
  out: NodeJS.WritableStream
): Effect.Effect<number, Errors.InvalidInput | OutputClosed> =>
  Effect.scoped(
    Effect.gen(function* () {
      const writer = yield* textWriter(out)
      const pull = yield* Stream.toPull(result.chunks)
      const next: Effect.Effect<Rows | undefined, Errors.InvalidInput> = pull.pipe(
        Effect.map((chunks) => Chunk.toReadonlyArray(chunks).flat()),
        Effect.catchAll((e) => (Option.isNone(e) ? Effect.succeed(undefined) : Effect.fail(e.value)))
      )
      const sample: Array<Rows[number]> = []
      let rest: Rows = []
      let batch: Rows | undefined = []
      if (format === "table") {
        while (sample.length < Format.TABLE_SAMPLE_ROWS && (batch = yield* next) !== undefined) {
          const room = Format.TABLE_SAMPLE_ROWS - sample.length
          for (const row of batch.slice(0, room)) sample.push(row)
          rest = batch.slice(room)
        }
      }
      const f = Format.formatter(format, result.columns, sample)
      yield* writer.write(f.head + f.rows(sample) + f.rows(rest))
      let count = sample.length + rest.length
      while (batch !== undefined && (batch = yield* next) !== undefined) {
        count += batch.length
        yield* writer.write(f.rows(batch))
      }
      yield* writer.write(f.end(count))
      return count
    })
  )
