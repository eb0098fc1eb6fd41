/**
 * Durable work queues in SQLite with SQS semantics: tables `queue_messages` and
 * `dead_letters`. A receive is one immediate transaction that picks visible messages in
 * send order, moves those already delivered `maxReceives` times to the dead letters, and
 * hides the rest for their visibility timeout under a fresh receipt. Time comes from
 * Effect's `Clock`.
 *
 * @since 0.1.0
 */
import { Errors, WorkQueue } from "@phs/core"
import { Clock, Effect, Layer } from "effect"
import { randomUUID } from "node:crypto"
import { Sqlite } from "./Sqlite.js"

interface MessageRow {
  readonly seq: number
  readonly id: string
  readonly body: string
  readonly receive_count: number
}

interface DeadRow {
  readonly seq: number
  readonly id: string
  readonly body: string
  readonly receive_count: number
  readonly reason: string
}

/** Rows examined per query while a receive looks for deliverable messages. */
const BATCH = 64

/**
 * Queues over the shared SQLite connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<WorkQueue.WorkQueue, Errors.StorageError, Sqlite> = Effect.gen(function* () {
  const sql = yield* Sqlite
  const s = yield* sql.use("prepare queue", (db) => ({
    send: db.prepare(
      `INSERT INTO queue_messages (queue, id, body, visible_at, receive_count, receipt) VALUES (?, ?, ?, ?, 0, NULL)`
    ),
    visible: db.prepare<[string, number, number, number], MessageRow>(
      `SELECT seq, id, body, receive_count FROM queue_messages
       WHERE queue = ? AND visible_at <= ? AND seq > ? ORDER BY seq LIMIT ?`
    ),
    deliver: db.prepare(`UPDATE queue_messages SET receive_count = ?, receipt = ?, visible_at = ? WHERE seq = ?`),
    byReceipt: db.prepare<[string, string], MessageRow>(
      `SELECT seq, id, body, receive_count FROM queue_messages WHERE queue = ? AND receipt = ?`
    ),
    remove: db.prepare(`DELETE FROM queue_messages WHERE seq = ?`),
    ack: db.prepare(`DELETE FROM queue_messages WHERE queue = ? AND receipt = ?`),
    release: db.prepare(`UPDATE queue_messages SET visible_at = ? WHERE queue = ? AND receipt = ?`),
    bury: db.prepare(
      `INSERT INTO dead_letters (queue, id, body, receive_count, reason, dead_at) VALUES (?, ?, ?, ?, ?, ?)`
    ),
    depth: db.prepare<[number, number, string], { visible: number | null; in_flight: number | null }>(
      `SELECT SUM(visible_at <= ?) AS visible, SUM(visible_at > ?) AS in_flight FROM queue_messages WHERE queue = ?`
    ),
    deadCount: db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM dead_letters WHERE queue = ?`),
    dead: db.prepare<[string], DeadRow>(
      `SELECT seq, id, body, receive_count, reason FROM dead_letters WHERE queue = ? ORDER BY seq`
    ),
    unbury: db.prepare(`DELETE FROM dead_letters WHERE seq = ?`)
  }))

  const bury = (queue: WorkQueue.QueueName, m: MessageRow, reason: string, now: number) => {
    s.remove.run(m.seq)
    s.bury.run(queue, m.id, m.body, m.receive_count, reason, now)
  }

  return WorkQueue.WorkQueue.of({
    send: (queue, bodies) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.transaction("queue send", () => {
          for (const body of bodies) s.send.run(queue, randomUUID(), body, now)
        })
      ),

    receive: (queue, { max, visibilityMs }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.transaction("queue receive", () => {
          const out: Array<WorkQueue.Message> = []
          let after = 0
          while (out.length < max) {
            const batch = s.visible.all(queue, now, after, BATCH)
            if (batch.length === 0) break
            for (const m of batch) {
              if (out.length >= max) break
              after = m.seq
              if (m.receive_count >= WorkQueue.maxReceives[queue]) {
                bury(queue, m, `not acknowledged after ${m.receive_count} deliveries`, now)
                continue
              }
              const receiveCount = m.receive_count + 1
              const receipt = `${m.id}:${randomUUID()}`
              s.deliver.run(receiveCount, receipt, now + visibilityMs, m.seq)
              out.push({ id: m.id, receipt, body: m.body, receiveCount })
            }
          }
          return out
        })
      ),

    ack: (queue, receipt) => sql.use("queue ack", () => void s.ack.run(queue, receipt)),

    release: (queue, receipt, delayMs) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.use("queue release", () => void s.release.run(now + delayMs, queue, receipt))
      ),

    deadLetter: (queue, receipt, reason) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.transaction("queue deadLetter", () => {
          const m = s.byReceipt.get(queue, receipt)
          if (m !== undefined) bury(queue, m, reason, now)
        })
      ),

    depth: (queue) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.transaction("queue depth", () => {
          const d = s.depth.get(now, now, queue)!
          return { visible: d.visible ?? 0, inFlight: d.in_flight ?? 0, deadLetters: s.deadCount.get(queue)!.n }
        })
      ),

    deadLetters: (queue) =>
      sql.use("queue deadLetters", () =>
        s.dead.all(queue).map((d) => ({ id: d.id, body: d.body, receiveCount: d.receive_count, reason: d.reason }))
      ),

    redrive: (queue, filter) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.transaction("queue redrive", () => {
          const moving = s.dead.all(queue).filter((d) => filter(d.body))
          for (const d of moving) {
            s.unbury.run(d.seq)
            s.send.run(queue, d.id, d.body, now)
          }
          return moving.length
        })
      )
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<WorkQueue.WorkQueue, Errors.StorageError, Sqlite> = Layer.effect(WorkQueue.WorkQueue, make)
