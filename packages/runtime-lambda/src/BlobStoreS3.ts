/**
 * The blob store on S3: one bucket, the blob layout's keys as object keys. PutObject is
 * atomic on S3 (a reader sees the old object or the new one), ranged reads are ranged GETs,
 * listings are paginated and sorted. Keys failing `BlobStore.isSafeKey` are refused before
 * any request.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand
} from "@aws-sdk/client-s3"
import { BlobStore, Errors, Keys } from "@phs/core"
import { Effect, Layer, Option, Stream } from "effect"
import { clientOptions, type AwsConfig } from "./AwsConfig.js"
import { call, callStorage, errorName, httpStatus, toStorageError, type AwsCallError } from "./internal/aws.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly aws: AwsConfig
  readonly bucket: string
}

/**
 * An S3 client for `aws`: path-style addressing when an endpoint override is given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClient = (aws: AwsConfig): S3Client =>
  new S3Client({ ...clientOptions(aws), ...(aws.endpoint === undefined ? {} : { forcePathStyle: true }) })

const isNotFound = (cause: unknown): boolean => {
  const name = errorName(cause)
  return name === "NoSuchKey" || name === "NotFound" || httpStatus(cause) === 404
}

const unsafe = (operation: string, key: string) =>
  Effect.fail(new Errors.StorageError({ operation, key, reason: "unsafe key", retryable: false }))

const notFoundOr = (key: string) => (e: AwsCallError) =>
  isNotFound(e.cause) ? new Errors.BlobNotFound({ key }) : toStorageError(e)

/** Part size of a multipart upload (`Keys.MULTIPART_PART_BYTES`). */
const PART_BYTES = Keys.MULTIPART_PART_BYTES

/**
 * Uploads a file in parts of `PART_BYTES` (multipart above one part), so memory stays flat
 * in the file's size; an upload that fails is aborted, leaving no object.
 */
const putFile = (client: S3Client, bucket: string, key: string, file: string): Effect.Effect<void, Errors.StorageError> =>
  Effect.gen(function* () {
    const fail = (e: unknown) => Errors.storageError("s3 putFile", e, { key })
    const size = yield* Effect.try({ try: () => fs.statSync(file).size, catch: fail })
    const readPart = (offset: number, length: number) =>
      Effect.try({
        try: () => {
          const fd = fs.openSync(file, "r")
          try {
            const buf = Buffer.alloc(length)
            fs.readSync(fd, buf, 0, length, offset)
            return buf
          } finally {
            fs.closeSync(fd)
          }
        },
        catch: fail
      })
    const send = <A>(f: (signal: AbortSignal) => Promise<A>) => callStorage("s3 putFile", f, key)
    if (size <= PART_BYTES) {
      const body = yield* readPart(0, size)
      yield* send((abortSignal) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: size }), { abortSignal }))
      return
    }
    const { UploadId } = yield* send((abortSignal) => client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), { abortSignal }))
    const upload = Effect.gen(function* () {
      const parts: Array<{ ETag: string | undefined; PartNumber: number }> = []
      for (let offset = 0, n = 1; offset < size; offset += PART_BYTES, n++) {
        const body = yield* readPart(offset, Math.min(PART_BYTES, size - offset))
        const PartNumber = n
        const { ETag } = yield* send((abortSignal) =>
          client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber, Body: body, ContentLength: body.length }), { abortSignal })
        )
        parts.push({ ETag, PartNumber })
      }
      yield* send((abortSignal) =>
        client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal })
      )
    })
    yield* upload.pipe(
      Effect.onError(() => Effect.ignore(send((abortSignal) => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }), { abortSignal }))))
    )
  })

/**
 * Uploads a stream's bytes as they come: buffered to `PART_BYTES`, each full buffer one part
 * of a multipart upload (begun with the first full part), so memory stays at about one part
 * whatever the blob's size. A blob of one part or less is a single PutObject. A failed or
 * interrupted stream aborts the upload, leaving no object (or the old one).
 */
const putStream = <E>(client: S3Client, bucket: string, key: string, body: Stream.Stream<Uint8Array, E>): Effect.Effect<void, Errors.StorageError | E> =>
  Effect.gen(function* () {
    const send = <A>(f: (signal: AbortSignal) => Promise<A>) => callStorage("s3 putStream", f, key)
    const pending: Uint8Array[] = []
    let pendingBytes = 0
    const take = (): Buffer => {
      const part = Buffer.concat(pending, pendingBytes)
      pending.length = 0
      pendingBytes = 0
      return part
    }
    let uploadId: string | undefined
    const parts: Array<{ ETag: string | undefined; PartNumber: number }> = []
    const uploadPart = (part: Buffer) =>
      Effect.gen(function* () {
        if (uploadId === undefined) {
          const created = yield* send((abortSignal) => client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), { abortSignal }))
          uploadId = created.UploadId ?? ""
        }
        const UploadId = uploadId
        const PartNumber = parts.length + 1
        const { ETag } = yield* send((abortSignal) =>
          client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber, Body: part, ContentLength: part.length }), { abortSignal })
        )
        parts.push({ ETag, PartNumber })
      })
    const write = Effect.gen(function* () {
      yield* Stream.runForEach(body, (bytes) =>
        Effect.suspend(() => {
          pending.push(bytes)
          pendingBytes += bytes.length
          return pendingBytes >= PART_BYTES ? uploadPart(take()) : Effect.void
        })
      )
      const UploadId = uploadId
      if (UploadId === undefined) {
        const whole = take()
        yield* send((abortSignal) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: whole, ContentLength: whole.length }), { abortSignal }))
        return
      }
      if (pendingBytes > 0) yield* uploadPart(take())
      yield* send((abortSignal) =>
        client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal })
      )
    })
    yield* write.pipe(
      Effect.onExit((exit) =>
        exit._tag === "Success"
          ? Effect.void
          : Effect.suspend(() => {
              const UploadId = uploadId
              return UploadId === undefined
                ? Effect.void
                : Effect.ignore(send((abortSignal) => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }), { abortSignal })))
            })
      )
    )
  })

/**
 * A blob store over an existing client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (client: S3Client, bucket: string): BlobStore.BlobStore => {
  // HeadObject: the size and the ETag (an MD5, an MD5 of the parts' MD5s, or opaque; its quotes dropped)
  const stat = (key: string) =>
    call("s3 head", (abortSignal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }), key).pipe(
      Effect.map((out): Option.Option<BlobStore.BlobStat> => Option.some({ size: out.ContentLength ?? 0, etag: (out.ETag ?? "").replace(/^"|"$/g, "") })),
      Effect.catchIf((e) => isNotFound(e.cause), () => Effect.succeed(Option.none<BlobStore.BlobStat>())),
      Effect.mapError(toStorageError)
    )
  const size = (key: string) => Effect.map(stat(key), Option.map((s) => s.size))
  const read = (operation: string, key: string, range?: string) =>
    call(
      operation,
      async (abortSignal) => {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }), { abortSignal })
        const bytes = out.Body === undefined ? new Uint8Array(0) : await out.Body.transformToByteArray()
        return { bytes, ranged: out.ContentRange !== undefined }
      },
      key
    )
  return {
    get: (key) =>
      isSafeKey(key) ? read("s3 get", key).pipe(Effect.map((r) => r.bytes), Effect.mapError(notFoundOr(key))) : unsafe("get", key),
    getRange: (key, offset, length) => {
      if (!isSafeKey(key)) return unsafe("getRange", key)
      if (length <= 0)
        return Effect.flatMap(size(key), (s) => (Option.isNone(s) ? Effect.fail(new Errors.BlobNotFound({ key })) : Effect.succeed(new Uint8Array(0))))
      return read("s3 getRange", key, `bytes=${offset}-${offset + length - 1}`).pipe(
        // A server that ignores Range sends the whole object: cut it here.
        Effect.map((r) => (r.ranged ? r.bytes : r.bytes.slice(offset, offset + length))),
        // 416: the range starts at or past the end of an existing object.
        Effect.catchIf(
          (e) => errorName(e.cause) === "InvalidRange" || httpStatus(e.cause) === 416,
          () => Effect.succeed(new Uint8Array(0))
        ),
        Effect.mapError(notFoundOr(key))
      )
    },
    size: (key) => (isSafeKey(key) ? size(key) : unsafe("size", key)),
    stat: (key) => (isSafeKey(key) ? stat(key) : unsafe("stat", key)),
    put: (key, bytes) =>
      isSafeKey(key)
        ? callStorage(
            "s3 put",
            (abortSignal) =>
              client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.length }), { abortSignal }),
            key
          ).pipe(Effect.asVoid)
        : unsafe("put", key),
    putFile: (key, file) => (isSafeKey(key) ? putFile(client, bucket, key, file) : unsafe("putFile", key)),
    putStream: (key, body) => (isSafeKey(key) ? putStream(client, bucket, key, body) : unsafe("putStream", key)),
    list: (prefix) =>
      Effect.gen(function* () {
        const keys: string[] = []
        let token: string | undefined
        do {
          const page = yield* callStorage(
            "s3 list",
            (abortSignal) =>
              client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal }),
            prefix
          )
          for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key)
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined
        } while (token !== undefined)
        return keys.sort()
      }),
    remove: (key) =>
      isSafeKey(key)
        ? callStorage("s3 delete", (abortSignal) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }), key).pipe(
            Effect.asVoid
          )
        : unsafe("remove", key)
  }
}

const isSafeKey = BlobStore.isSafeKey

/**
 * The blob store on `bucket`; the client is created with the layer and destroyed with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<BlobStore.BlobStore> =>
  Layer.scoped(
    BlobStore.BlobStore,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => makeClient(options.aws)), (client) => Effect.sync(() => client.destroy())),
      (client) => make(client, options.bucket)
    )
  )
