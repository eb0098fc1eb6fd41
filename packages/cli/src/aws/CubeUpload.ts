/**
 * Putting a local cube in the deployment's bucket: hashed once (its key is
 * `cubes/{survey}-{sha16}.fits`, as the local runtime names it), skipped when an object of
 * the same size is already there, else one PutObject up to `threshold` bytes and a
 * multipart upload above it (parts read one at a time: memory stays at a few parts
 * whatever the cube's size). Bodies are buffers, never streams, so that the SDK signs and
 * checksums them as it does every other request.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand
} from "@aws-sdk/client-s3"
import { Errors } from "@phs/core"
import { Effect, Option } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"

const MiB = 1024 * 1024

/** Above this size a cube goes up in parts. */
export const MULTIPART_THRESHOLD = 64 * MiB

/** Part size (S3: at least 5 MiB except the last, at most 10,000 parts). */
export const PART_SIZE = 16 * MiB

/** Parts in flight at once. */
export const PART_CONCURRENCY = 4

const field = (cause: unknown, name: string): unknown =>
  typeof cause === "object" && cause !== null && name in cause ? (cause as Record<string, unknown>)[name] : undefined

/** An SDK error as a phs `StorageError` (retryable when the SDK says so, or on 5xx/429). */
export const storageError = (operation: string, key: string) => (cause: unknown): Errors.StorageError => {
  const status = field(field(cause, "$metadata"), "httpStatusCode")
  const name = String(field(cause, "name") ?? field(cause, "Code") ?? "Error")
  const message = cause instanceof Error ? cause.message : String(cause)
  return new Errors.StorageError({
    operation,
    key,
    reason: message === "" || message === name ? name : `${name}: ${message}`,
    retryable:
      field(cause, "$retryable") !== undefined ||
      (typeof status === "number" && (status >= 500 || status === 429)) ||
      /Throttl|SlowDown|Timeout|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT/.test(name)
  })
}

/** One S3 call; interruption aborts the request. */
export const s3Call = <A>(operation: string, key: string, f: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, Errors.StorageError> =>
  Effect.tryPromise({ try: f, catch: storageError(operation, key) })

/** SHA-256 (hex) of a file, streamed. */
export const sha256File = (file: string): Effect.Effect<string, Errors.InvalidInput> =>
  Effect.async<string, Errors.InvalidInput>((resume) => {
    const h = crypto.createHash("sha256")
    const stream = fs
      .createReadStream(file)
      .on("data", (d) => h.update(d))
      .on("end", () => resume(Effect.succeed(h.digest("hex"))))
      .on("error", (e) => resume(Effect.fail(new Errors.InvalidInput({ reason: `cannot read ${file}: ${e.message}` }))))
    return Effect.sync(() => stream.destroy())
  })

/** `length` bytes of a file from `offset`. */
const readPart = (file: string, offset: number, length: number) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.openSync(file, "r")),
    (fd) =>
      Effect.sync(() => {
        const buf = Buffer.alloc(length)
        let got = 0
        while (got < length) {
          const n = fs.readSync(fd, buf, got, length - got, offset + got)
          if (n === 0) break
          got += n
        }
        return got === length ? buf : buf.subarray(0, got)
      }),
    (fd) => Effect.sync(() => fs.closeSync(fd))
  )

/** The size of an object, none when there is none. */
export const objectSize = (client: S3Client, bucket: string, key: string): Effect.Effect<Option.Option<number>, Errors.StorageError> =>
  Effect.tryPromise({
    try: (abortSignal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }),
    catch: (cause) => cause
  }).pipe(
    Effect.map((out) => Option.some(out.ContentLength ?? 0)),
    Effect.catchAll((cause) => {
      const status = field(field(cause, "$metadata"), "httpStatusCode")
      const name = field(cause, "name")
      return status === 404 || name === "NotFound" || name === "NoSuchKey" ? Effect.succeed(Option.none<number>()) : Effect.fail(storageError("s3 head", key)(cause))
    })
  )

export interface UploadOptions {
  readonly threshold?: number
  readonly partSize?: number
  readonly concurrency?: number
}

export type Uploaded = { readonly _tag: "Present" } | { readonly _tag: "Put" } | { readonly _tag: "Multipart"; readonly parts: number }

/** Uploads `file` to `key` unless an object of the same size is there already. */
export const uploadFile = (client: S3Client, bucket: string, key: string, file: string, options: UploadOptions = {}): Effect.Effect<Uploaded, Errors.StorageError | Errors.InvalidInput> =>
  Effect.gen(function* () {
    const size = yield* Effect.try({
      try: () => fs.statSync(file).size,
      catch: (e) => new Errors.InvalidInput({ reason: `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}` })
    })
    const existing = yield* objectSize(client, bucket, key)
    if (Option.isSome(existing) && existing.value === size) return { _tag: "Present" } as const
    if (size <= (options.threshold ?? MULTIPART_THRESHOLD)) {
      const body = yield* readPart(file, 0, size)
      yield* s3Call("s3 put", key, (abortSignal) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }), { abortSignal }))
      return { _tag: "Put" } as const
    }
    const partSize = Math.max(options.partSize ?? PART_SIZE, Math.ceil(size / 10_000))
    const parts = Math.ceil(size / partSize)
    const created = yield* s3Call("s3 create multipart upload", key, (abortSignal) =>
      client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), { abortSignal })
    )
    const uploadId = created.UploadId ?? ""
    const upload = Effect.forEach(
      Array.from({ length: parts }, (_, i) => i),
      (i) =>
        Effect.flatMap(readPart(file, i * partSize, Math.min(partSize, size - i * partSize)), (body) =>
          s3Call("s3 upload part", key, (abortSignal) =>
            client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ContentLength: body.length }), { abortSignal })
          ).pipe(
            Effect.retry({ times: 3, while: (e) => e.retryable }),
            Effect.map((out) => ({ PartNumber: i + 1, ETag: out.ETag ?? "" }))
          )
        ),
      { concurrency: options.concurrency ?? PART_CONCURRENCY }
    )
    const complete = Effect.flatMap(upload, (etags) =>
      s3Call("s3 complete multipart upload", key, (abortSignal) =>
        client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: etags } }), { abortSignal })
      )
    )
    // An upload that did not complete is aborted (the bucket's lifecycle rule also aborts
    // incomplete uploads after a day).
    yield* complete.pipe(
      Effect.onExit((exit) =>
        exit._tag === "Success"
          ? Effect.void
          : Effect.ignore(s3Call("s3 abort multipart upload", key, (abortSignal) => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal })))
      )
    )
    return { _tag: "Multipart", parts } as const
  })
