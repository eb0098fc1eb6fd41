/**
 * One driver per workdir: a lease in the workdir's SQLite state (`driver_lease`, one row),
 * taken in one immediate transaction and renewed by a heartbeat on a `Schedule`. It dies
 * with its holder: a holder that stops renewing (killed, frozen, its pid reused by another
 * program) loses the lease when it runs out, and a holder on this host whose pid is gone is
 * known dead at once. Each holder is named by a random token, never by its pid alone, so a
 * reused pid cannot pass for a live driver.
 *
 * Whoever holds the lease owns all in-flight work of the workdir: taking it makes work
 * abandoned by a dead driver claimable now, and giving it up (a clean end, Ctrl-C) puts this
 * process's in-flight chunks and messages back, not left IN_PROGRESS until a lease runs out.
 *
 * @since 0.1.0
 */
import { Errors } from "@phs/core"
import { Clock, Context, Deferred, Duration, Effect, Layer, Option, Schedule, Schema, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import * as Sqlite from "./Sqlite.js"

/**
 * How long a lease lasts without renewal, and how often it is renewed.
 *
 * @since 0.1.0
 * @category constants
 */
export const LEASE_MS = 30_000
export const HEARTBEAT_MS = 5_000

/**
 * Who holds (or held) a workdir's lease.
 *
 * @since 0.1.0
 * @category models
 */
export interface Holder {
  readonly token: string
  readonly pid: number
  readonly host: string
  /** The run it is driving, once it said. */
  readonly runId: string | null
  readonly leaseUntil: number
}

/**
 * Another live process holds the workdir's lease.
 *
 * @since 0.1.0
 * @category errors
 */
export class DriverBusy extends Schema.TaggedError<DriverBusy>()("DriverBusy", {
  workdir: Schema.String,
  pid: Schema.Number,
  host: Schema.String,
  runId: Schema.NullOr(Schema.String)
}) {
  override get message(): string {
    const where = this.host === os.hostname() ? `pid ${this.pid}` : `pid ${this.pid} on ${this.host}`
    return `another phs process (${where}) is driving ${this.runId === null ? "runs" : `run ${this.runId}`} in ${this.workdir}; wait for it or stop it`
  }
}

/**
 * This process lost its lease (it could not renew it in time and another driver took it).
 *
 * @since 0.1.0
 * @category errors
 */
export class DriverLost extends Schema.TaggedError<DriverLost>()("DriverLost", { workdir: Schema.String }) {
  override get message(): string {
    return `lost the driver lease of ${this.workdir} to another process; stopped driving`
  }
}

/**
 * The held lease.
 *
 * @since 0.1.0
 * @category models
 */
export interface DriverLock {
  readonly workdir: string
  readonly token: string
  /** The dead holder whose lease was taken over, if there was one. */
  readonly tookOver: Option.Option<Holder>
  /** Records the run being driven (for `phs status` and for the message of a refused driver). */
  readonly driving: (runId: string) => Effect.Effect<void, Errors.StorageError>
  /** Runs `effect`, failing with `DriverLost` if the lease is lost meanwhile. */
  readonly guard: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | DriverLost, R>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const DriverLock = Context.GenericTag<DriverLock>("@phs/runtime-local/DriverLock")

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Sqlite.Options {
  readonly leaseMs?: number
  readonly heartbeatMs?: number
}

const TABLE = `CREATE TABLE IF NOT EXISTS driver_lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  token TEXT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  run_id TEXT,
  lease_until INTEGER NOT NULL
)`

interface Row {
  readonly token: string
  readonly pid: number
  readonly host: string
  readonly run_id: string | null
  readonly lease_until: number
}

const toHolder = (r: Row): Holder => ({ token: r.token, pid: r.pid, host: r.host, runId: r.run_id, leaseUntil: r.lease_until })

/** Whether a process of this host with this pid exists (EPERM: it does, someone else's). */
const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** A holder is live while its lease runs and, on this host, its process exists. */
export const isLive = (h: Holder, now: number): boolean => h.leaseUntil > now && (h.host !== os.hostname() || pidAlive(h.pid))

/** The lease row; none when there is none (or no table yet: nothing is written to find out). */
const readRow = (db: Sqlite.Sqlite["db"]): Row | undefined =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'driver_lease'").get() === undefined
    ? undefined
    : (db.prepare("SELECT token, pid, host, run_id, lease_until FROM driver_lease WHERE id = 1").get() as Row | undefined)

/**
 * Makes in-flight work claimable again: chunks IN_PROGRESS back to PENDING, in-flight
 * messages visible. `returned`: this holder gives back its own deliveries, which then do not
 * count as deliveries; work recovered from a dead driver keeps its count.
 */
const releaseInFlight = (db: Sqlite.Sqlite["db"], returned: boolean) => ({
  messages: db
    .prepare(
      `UPDATE queue_messages SET visible_at = 0, receipt = NULL${returned ? ", receive_count = max(receive_count - 1, 0)" : ""} WHERE receipt IS NOT NULL`
    )
    .run().changes,
  chunks: db
    .prepare("UPDATE chunks SET status = 'PENDING', lease_until = NULL WHERE status = 'IN_PROGRESS'")
    .run().changes
})

/**
 * The workdir's live holder, if any (nothing is written).
 *
 * @since 0.1.0
 * @category queries
 */
export const holder = (options: Sqlite.Options): Effect.Effect<Option.Option<Holder>, Errors.StorageError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const sql = yield* Sqlite.make(options)
      const now = yield* Clock.currentTimeMillis
      const row = yield* sql.use("read driver lease", readRow)
      return Option.filter(Option.map(Option.fromNullable(row), toHolder), (h) => isLive(h, now))
    })
  )

/**
 * Takes the lease for the scope: fails with `DriverBusy` when a live holder has it; renews
 * it on a heartbeat; gives it back (with this process's in-flight work) when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const acquire = (options: Options): Effect.Effect<DriverLock, DriverBusy | Errors.StorageError, Scope.Scope> =>
  Effect.gen(function* () {
    const leaseMs = options.leaseMs ?? LEASE_MS
    const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS
    const sql = yield* Sqlite.make(options)
    const token = randomUUID()
    const me = { pid: process.pid, host: os.hostname() }
    const taken = yield* Effect.acquireRelease(
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.transaction("take driver lease", (db) => {
          db.exec(TABLE)
          const row = readRow(db)
          const previous = row === undefined ? undefined : toHolder(row)
          if (previous !== undefined && isLive(previous, now)) return { _tag: "Busy" as const, holder: previous }
          db.prepare(
            `INSERT INTO driver_lease (id, token, pid, host, run_id, lease_until) VALUES (1, ?, ?, ?, NULL, ?)
             ON CONFLICT (id) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host, run_id = NULL, lease_until = excluded.lease_until`
          ).run(token, me.pid, me.host, now + leaseMs)
          // Nobody else drives: whatever is in flight was abandoned by a dead driver.
          releaseInFlight(db, false)
          return { _tag: "Taken" as const, previous: Option.fromNullable(previous) }
        })
      ),
      (t) =>
        t._tag === "Busy"
          ? Effect.void
          : sql
              .transaction("give back driver lease", (db) => {
                const row = readRow(db)
                if (row?.token !== token) return
                releaseInFlight(db, true)
                db.prepare("DELETE FROM driver_lease WHERE id = 1 AND token = ?").run(token)
              })
              .pipe(Effect.ignore)
    )
    if (taken._tag === "Busy")
      return yield* Effect.fail(new DriverBusy({ workdir: options.workdir, pid: taken.holder.pid, host: taken.holder.host, runId: taken.holder.runId }))

    const lost = yield* Deferred.make<never, DriverLost>()
    const renew = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      sql.use("renew driver lease", (db) => db.prepare("UPDATE driver_lease SET lease_until = ? WHERE id = 1 AND token = ?").run(now + leaseMs, token).changes)
    ).pipe(
      Effect.flatMap((changes) => (changes === 1 ? Effect.void : Deferred.fail(lost, new DriverLost({ workdir: options.workdir })))),
      // A busy database skips a beat; the lease outlasts several.
      Effect.catchAll(() => Effect.void)
    )
    yield* renew.pipe(Effect.repeat(Schedule.spaced(Duration.millis(heartbeatMs))), Effect.delay(Duration.millis(heartbeatMs)), Effect.forkScoped)
    return DriverLock.of({
      workdir: options.workdir,
      token,
      tookOver: taken.previous,
      driving: (runId) =>
        sql.use("note driven run", (db) => void db.prepare("UPDATE driver_lease SET run_id = ? WHERE id = 1 AND token = ?").run(runId, token)),
      guard: (effect) => Effect.raceFirst(effect, Deferred.await(lost))
    })
  })

/**
 * The lease as a scoped layer: held while the layer is.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<DriverLock, DriverBusy | Errors.StorageError> => Layer.scoped(DriverLock, acquire(options))
