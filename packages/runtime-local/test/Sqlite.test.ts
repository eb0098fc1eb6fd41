/**
 * One database file, several connections: what the CLI and a running pipeline (or a run
 * resumed after a crash) rely on when they open the same workdir.
 */
import { describe, expect, it } from "@effect/vitest"
import { Journal, RunTable, WorkQueue } from "@phs/core"
import Database from "better-sqlite3"
import { Context, Effect, Option, TestClock } from "effect"
import { createRequire } from "node:module"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { makeChunks, makeRun } from "../../core/test/conformance/RunTable.js"
import { Sqlite } from "../src/index.js"
import { connect, tempDir } from "./helpers.js"

const driver = createRequire(import.meta.url).resolve("better-sqlite3")

/**
 * Another thread takes the write lock, leases chunk 0 to itself, holds the lock for
 * `holdMs`, then commits: a writer that is not this event loop.
 */
const holdWriteLock = (file: string, holdMs: number, leaseUntil: number) =>
  Effect.async<Worker>((resume) => {
    const worker = new Worker(
      `
      const { workerData, parentPort } = require("node:worker_threads")
      const Database = require(workerData.driver)
      const db = new Database(workerData.file)
      db.exec("BEGIN IMMEDIATE")
      db.prepare("UPDATE chunks SET status = 'IN_PROGRESS', lease_until = ?, attempts = attempts + 1 WHERE start = 0")
        .run(workerData.leaseUntil)
      parentPort.postMessage("locked")
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs)
      db.exec("COMMIT")
      db.close()
      `,
      { eval: true, workerData: { driver, file, holdMs, leaseUntil } }
    )
    worker.once("message", () => resume(Effect.succeed(worker)))
    worker.once("error", (error) => resume(Effect.die(error)))
  }).pipe(Effect.tap((worker) => Effect.addFinalizer(() => Effect.promise(() => worker.terminate()))))

describe("Sqlite", () => {
  it.scoped("opens phs.sqlite in WAL mode with the current schema version", () =>
    Effect.gen(function* () {
      const workdir = path.join(yield* tempDir, "nested", "workdir")
      const sqlite = yield* Sqlite.make({ workdir })
      expect(sqlite.file).toBe(path.join(workdir, "phs.sqlite"))
      expect(sqlite.db.pragma("journal_mode", { simple: true })).toBe("wal")
      expect(sqlite.db.pragma("user_version", { simple: true })).toBe(Sqlite.migrations.length)
    }))

  it.scoped("opening the same file again and again migrates once and keeps the data", () =>
    Effect.gen(function* () {
      const workdir = yield* tempDir
      const first = yield* connect(workdir)
      const run = makeRun()
      yield* Context.get(first, RunTable.RunTable).createRun(run, makeChunks(run))
      for (let i = 0; i < 3; i++) {
        const again = yield* connect(workdir)
        expect(yield* Context.get(again, RunTable.RunTable).getRun(run.runId)).toEqual(Option.some(run))
      }
    }))

  it.scoped("a database written by a newer phs is refused", () =>
    Effect.gen(function* () {
      const workdir = yield* tempDir
      yield* Effect.scoped(Sqlite.make({ workdir }))
      const raw = new Database(path.join(workdir, Sqlite.FILE_NAME))
      raw.pragma(`user_version = ${Sqlite.migrations.length + 1}`)
      raw.close()
      const error = yield* Effect.flip(Sqlite.make({ workdir }))
      expect(error).toMatchObject({ _tag: "StorageError", retryable: false })
      expect(error.reason).toMatch(/schema version/)
    }))

  it.scoped("two connections to one file see each other's writes", () =>
    Effect.gen(function* () {
      const workdir = yield* tempDir
      const [a, b] = [yield* connect(workdir), yield* connect(workdir)]
      const run = makeRun()
      yield* Context.get(a, RunTable.RunTable).createRun(run, makeChunks(run))
      const done = yield* Context.get(b, RunTable.RunTable).completeChunk(run.runId, 0, { outputKey: "k", spectra: 25, deferred: 0 })
      expect(done.applied).toBe(true)
      expect(Option.getOrThrow(yield* Context.get(a, RunTable.RunTable).getRun(run.runId)).jobsCompleted).toBe(1)

      yield* Context.get(a, WorkQueue.WorkQueue).send("fit", ["chunk-0"])
      expect((yield* Context.get(b, WorkQueue.WorkQueue).receive("fit", { max: 10, visibilityMs: 1000 })).map((m) => m.body)).toEqual(["chunk-0"])
      expect(yield* Context.get(a, WorkQueue.WorkQueue).receive("fit", { max: 10, visibilityMs: 1000 })).toEqual([])

      const call = { runId: run.runId, stage: "fit", scope: "chunk-0000000", step: "write", inputHash: "h", seq: 0 }
      const first = yield* Context.get(a, Journal.Journal).record({ ...call, output: `"a"`, recordedAt: 1 })
      expect(yield* Context.get(b, Journal.Journal).record({ ...call, output: `"b"`, recordedAt: 2 })).toEqual(first)
    }))

  it.scoped("a claim race between two connections gives exactly one Claimed per chunk", () =>
    Effect.gen(function* () {
      const workdir = yield* tempDir
      const tables = [yield* connect(workdir), yield* connect(workdir)].map((c) => Context.get(c, RunTable.RunTable))
      const run = makeRun({ jobsTotal: 40, chunkSize: 5, nSpectra: 200 })
      yield* tables[0].createRun(run, makeChunks(run))
      const outcomes = yield* Effect.all(
        makeChunks(run).flatMap((c) => tables.map((table) => table.claimChunk(run.runId, c.start, 60_000))),
        { concurrency: "unbounded" }
      )
      for (let i = 0; i < outcomes.length; i += 2) {
        const tags = [outcomes[i]._tag, outcomes[i + 1]._tag].sort()
        expect(tags).toEqual(["Busy", "Claimed"])
      }
      expect((yield* tables[1].listChunks(run.runId)).every((c) => c.attempts === 1)).toBe(true)
    }))

  it.scoped("a claim waits for another thread's write lock, then sees that thread's lease", () =>
    Effect.gen(function* () {
      const workdir = yield* tempDir
      const table = Context.get(yield* connect(workdir), RunTable.RunTable)
      const run = makeRun()
      yield* table.createRun(run, makeChunks(run))
      yield* holdWriteLock(path.join(workdir, Sqlite.FILE_NAME), 300, 90_000)
      expect(yield* table.claimChunk(run.runId, 0, 60_000)).toEqual({ _tag: "Busy", leaseUntil: 90_000 })
    }))

  it.scoped("a write lock held past the busy timeout fails the claim as a retryable StorageError", () =>
    Effect.gen(function* () {
      const workdir = yield* tempDir
      const table = Context.get(yield* connect(workdir, { busyTimeoutMs: 50 }), RunTable.RunTable)
      const run = makeRun()
      yield* table.createRun(run, makeChunks(run))
      yield* holdWriteLock(path.join(workdir, Sqlite.FILE_NAME), 1000, 90_000)
      const error = yield* Effect.flip(table.claimChunk(run.runId, 0, 60_000))
      expect(error).toMatchObject({ _tag: "StorageError", retryable: true })
    }))

  it.scoped("queued messages survive closing and reopening the database", () =>
    Effect.gen(function* () {
      const workdir = yield* tempDir
      const inFlight = yield* Effect.scoped(
        Effect.gen(function* () {
          const queue = Context.get(yield* connect(workdir), WorkQueue.WorkQueue)
          yield* queue.send("fit", ["a", "b", "c"])
          const [m] = yield* queue.receive("fit", { max: 1, visibilityMs: 30_000 })
          const [dead] = yield* queue.receive("fit", { max: 1, visibilityMs: 30_000 })
          yield* queue.deadLetter("fit", dead.receipt, "refused")
          return m
        })
      )
      const queue = Context.get(yield* connect(workdir), WorkQueue.WorkQueue)
      expect(yield* queue.depth("fit")).toEqual({ visible: 1, inFlight: 1, deadLetters: 1 })
      expect((yield* queue.deadLetters("fit")).map((d) => d.reason)).toEqual(["refused"])
      yield* TestClock.adjust("30 seconds")
      const again = yield* queue.receive("fit", { max: 10, visibilityMs: 30_000 })
      expect(again.find((m) => m.id === inFlight.id)?.receiveCount).toBe(2)
      expect(again.length).toBe(2)
    }))
})
