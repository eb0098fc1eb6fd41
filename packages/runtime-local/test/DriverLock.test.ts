/**
 * The workdir's driver lease: one holder at a time, taken atomically; a holder that stops
 * renewing (or whose pid was reused by another program) loses it; giving it back returns
 * the holder's in-flight work to the queue.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option, Scope, TestClock } from "effect"
import * as os from "node:os"
import { DriverLock, Sqlite } from "../src/index.js"
import { tempDir } from "./helpers.js"

/** Writes the lease row by hand, as another process would have left it. */
const plant = (workdir: string, row: { token: string; pid: number; host?: string; leaseUntil: number }) =>
  Effect.scoped(
    Effect.flatMap(Sqlite.make({ workdir }), (sql) =>
      sql.use("plant", (db) => {
        db.exec(
          "CREATE TABLE IF NOT EXISTS driver_lease (id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, run_id TEXT, lease_until INTEGER NOT NULL)"
        )
        db.prepare("INSERT OR REPLACE INTO driver_lease (id, token, pid, host, run_id, lease_until) VALUES (1, ?, ?, ?, 'old-run', ?)").run(
          row.token,
          row.pid,
          row.host ?? os.hostname(),
          row.leaseUntil
        )
      })
    )
  )

describe("DriverLock", () => {
  it.live("of two drivers taking the lease at once, exactly one gets it; the other is told who holds it", () =>
    Effect.scoped(Effect.gen(function* () {
      const workdir = yield* tempDir
      const gate = yield* Deferred.make<void>()
      const driver = Effect.scoped(Effect.zipRight(DriverLock.acquire({ workdir }), Deferred.await(gate)))
      const fibers = yield* Effect.all([Effect.fork(Effect.exit(driver)), Effect.fork(Effect.exit(driver))])
      // The loser fails while the winner still holds the lease.
      const first = yield* Fiber.join(fibers[0]).pipe(Effect.raceFirst(Fiber.join(fibers[1])))
      expect(Exit.isFailure(first)).toBe(true)
      const message = Exit.isFailure(first) ? String(Option.getOrUndefined(Exit.causeOption(first).pipe(Option.map((c) => c.toString())))) : ""
      expect(message).toContain(`another phs process (pid ${process.pid})`)
      yield* Deferred.succeed(gate, undefined)
      const both = yield* Effect.all(fibers.map(Fiber.join))
      expect(both.filter(Exit.isSuccess)).toHaveLength(1)
      // Given back: the next driver takes it.
      yield* Effect.scoped(DriverLock.acquire({ workdir }))
    })))

  it.live("a lease naming a live pid that stopped renewing (a reused pid) is taken over once it ran out", () =>
    Effect.scoped(Effect.gen(function* () {
      const workdir = yield* tempDir
      // Our parent is alive: as good as a reused pid. The lease still runs: busy.
      yield* plant(workdir, { token: "old", pid: process.ppid, leaseUntil: Date.now() + 60_000 })
      const busy = yield* Effect.flip(Effect.scoped(DriverLock.acquire({ workdir })))
      expect(busy).toBeInstanceOf(DriverLock.DriverBusy)
      expect(busy.message).toContain(`pid ${process.ppid}`)
      expect(busy.message).toContain("run old-run")
      // The lease ran out: taken over, though the pid lives.
      yield* plant(workdir, { token: "old", pid: process.ppid, leaseUntil: Date.now() - 1 })
      const lock = yield* DriverLock.acquire({ workdir })
      expect(Option.map(lock.tookOver, (h) => h.pid)).toEqual(Option.some(process.ppid))
      expect(Option.map(yield* DriverLock.holder({ workdir }), (h) => h.token)).toEqual(Option.some(lock.token))
    })))

  it.live("a lease of a dead process on this host is taken over at once", () =>
    Effect.scoped(Effect.gen(function* () {
      const workdir = yield* tempDir
      yield* plant(workdir, { token: "old", pid: deadPid(), leaseUntil: Date.now() + 60_000 })
      expect(yield* DriverLock.holder({ workdir })).toEqual(Option.none())
      const lock = yield* DriverLock.acquire({ workdir })
      expect(Option.isSome(lock.tookOver)).toBe(true)
    })))

  it.scoped("the heartbeat keeps the lease; a holder whose lease was taken stops with DriverLost", () =>
    Effect.gen(function* () {
      const workdir = yield* tempDir
      const scope = yield* Scope.make()
      const lock = yield* DriverLock.acquire({ workdir, leaseMs: 1_000, heartbeatMs: 200 }).pipe(Scope.extend(scope))
      const guarded = yield* Effect.fork(lock.guard(Effect.never))
      for (let i = 0; i < 20; i++) yield* TestClock.adjust(Duration.millis(200))
      // 4 s later the 1 s lease still stands: renewed.
      const busy = yield* Effect.flip(Effect.scoped(DriverLock.acquire({ workdir, leaseMs: 1_000 })))
      expect(busy).toBeInstanceOf(DriverLock.DriverBusy)
      // Another process took it (this one stalled past its lease): the next beat notices.
      yield* plant(workdir, { token: "thief", pid: process.pid, leaseUntil: Number.MAX_SAFE_INTEGER })
      yield* TestClock.adjust(Duration.millis(200))
      const exit = yield* Fiber.await(guarded)
      expect(Exit.isFailure(exit) && String(Exit.causeOption(exit).pipe(Option.getOrUndefined))).toContain("DriverLost")
      yield* Scope.close(scope, Exit.void)
      // Giving back a lease that is not ours leaves it alone.
      expect(Option.map(yield* DriverLock.holder({ workdir }), (h) => h.token)).toEqual(Option.some("thief"))
    }))

  it.live("giving the lease back returns in-flight chunks and messages; they do not count as deliveries", () =>
    Effect.scoped(Effect.gen(function* () {
      const workdir = yield* tempDir
      const sql = yield* Sqlite.make({ workdir })
      const rows = () =>
        Effect.runSync(
          sql.use("read", (db) => ({
            chunk: db.prepare("SELECT status, lease_until FROM chunks").get() as { status: string; lease_until: number | null },
            message: db.prepare("SELECT visible_at, receive_count, receipt FROM queue_messages").get() as { visible_at: number; receive_count: number; receipt: string | null }
          }))
        )
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* DriverLock.acquire({ workdir })
          // What a driver has in flight when it is interrupted.
          yield* sql.use("in flight", (db) => {
            db.prepare(
              "INSERT INTO chunks (run_id, start, count, status, lease_until, attempts, deferred) VALUES ('r', 0, 10, 'IN_PROGRESS', ?, 1, 0)"
            ).run(Date.now() + 60_000)
            db.prepare("INSERT INTO queue_messages (queue, id, body, visible_at, receive_count, receipt) VALUES ('fit', 'm', '{}', ?, 1, 'rcpt')").run(
              Date.now() + 60_000
            )
          })
        })
      )
      expect(rows()).toEqual({ chunk: { status: "PENDING", lease_until: null }, message: { visible_at: 0, receive_count: 0, receipt: null } })
      expect(yield* DriverLock.holder({ workdir })).toEqual(Option.none())
    })))
})

/** A pid no process has (pids are below 2^22 on Linux). */
const deadPid = () => 4_194_000 + Math.floor(Math.random() * 300)
