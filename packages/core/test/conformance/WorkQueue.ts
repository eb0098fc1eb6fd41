/**
 * What every WorkQueue does, stated as tests (SQS semantics). Time moves with `TestClock`,
 * so an implementation must read time from Effect's `Clock`. Assertions do not depend on
 * delivery order among visible messages, which SQS does not promise.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { WorkQueue } from "../../src/index.js"

const visibility = { max: 10, visibilityMs: 30_000 }

const bodiesOf = (messages: ReadonlyArray<WorkQueue.Message>): Array<string> => messages.map((m) => m.body).sort()

export const workQueueConformance = (name: string, layer: () => Layer.Layer<WorkQueue.WorkQueue, unknown>) =>
  describe(`WorkQueue conformance: ${name}`, () => {
    const withQueue = <A, E>(f: (queue: WorkQueue.WorkQueue) => Effect.Effect<A, E>) => () =>
      Effect.flatMap(WorkQueue.WorkQueue, f).pipe(Effect.provide(layer()))

    it.effect("a sent message is received once, with receiveCount 1", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["a", "b", "c"])
        const got = yield* q.receive("fit", visibility)
        expect(bodiesOf(got)).toEqual(["a", "b", "c"])
        expect(got.map((m) => m.receiveCount)).toEqual([1, 1, 1])
        expect(new Set(got.map((m) => m.id)).size).toBe(3)
        expect(yield* q.receive("fit", visibility)).toEqual([])
      })))

    it.effect("receive returns at most max messages", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["a", "b", "c", "d", "e"])
        const first = yield* q.receive("fit", { max: 2, visibilityMs: 30_000 })
        const rest = yield* q.receive("fit", { max: 10, visibilityMs: 30_000 })
        expect(first.length).toBe(2)
        expect(bodiesOf([...first, ...rest])).toEqual(["a", "b", "c", "d", "e"])
      })))

    it.effect("sending nothing is allowed", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", [])
        expect(yield* q.depth("fit")).toEqual({ visible: 0, inFlight: 0, deadLetters: 0 })
      })))

    it.effect("queues are independent", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["f"])
        yield* q.send("slow", ["s"])
        expect(bodiesOf(yield* q.receive("slow", visibility))).toEqual(["s"])
        expect(bodiesOf(yield* q.receive("fit", visibility))).toEqual(["f"])
      })))

    it.effect("a received message stays hidden for its visibility timeout, then comes back", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["a"])
        const [first] = yield* q.receive("fit", { max: 1, visibilityMs: 10_000 })
        yield* TestClock.adjust("9999 millis")
        expect(yield* q.receive("fit", visibility)).toEqual([])
        yield* TestClock.adjust("1 millis")
        const [again] = yield* q.receive("fit", visibility)
        expect(again.id).toBe(first.id)
        expect(again.body).toBe("a")
        expect(again.receiveCount).toBe(2)
        expect(again.receipt).not.toBe(first.receipt)
      })))

    it.effect("an acknowledged message is gone for good", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["a", "b"])
        const got = yield* q.receive("fit", { max: 10, visibilityMs: 1000 })
        const a = got.find((m) => m.body === "a")!
        yield* q.ack("fit", a.receipt)
        yield* TestClock.adjust("1 hour")
        expect(bodiesOf(yield* q.receive("fit", visibility))).toEqual(["b"])
      })))

    it.effect("acking a stale receipt is not an error and leaves the current delivery alone", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["a"])
        const [first] = yield* q.receive("fit", { max: 1, visibilityMs: 1000 })
        yield* TestClock.adjust("2 seconds")
        const [second] = yield* q.receive("fit", { max: 1, visibilityMs: 60_000 })
        yield* q.ack("fit", first.receipt)
        yield* q.ack("fit", "no-such-receipt")
        expect(yield* q.depth("fit")).toEqual({ visible: 0, inFlight: 1, deadLetters: 0 })
        yield* q.ack("fit", second.receipt)
        expect(yield* q.depth("fit")).toEqual({ visible: 0, inFlight: 0, deadLetters: 0 })
      })))

    it.effect("release makes a delivered message visible again after the delay", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["a"])
        const [m] = yield* q.receive("fit", { max: 1, visibilityMs: 60_000 })
        yield* q.release("fit", m.receipt, 5000)
        yield* TestClock.adjust("4999 millis")
        expect(yield* q.receive("fit", visibility)).toEqual([])
        yield* TestClock.adjust("1 millis")
        const [again] = yield* q.receive("fit", visibility)
        expect(again.body).toBe("a")
        expect(again.receiveCount).toBe(2)
      })))

    it.effect("release with no delay makes the message visible at once", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("slow", ["a"])
        const [m] = yield* q.receive("slow", { max: 1, visibilityMs: 60_000 })
        yield* q.release("slow", m.receipt, 0)
        expect(bodiesOf(yield* q.receive("slow", visibility))).toEqual(["a"])
      })))

    it.effect("receiveCount counts every delivery", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["a"])
        const counts: Array<number> = []
        for (let i = 0; i < WorkQueue.maxReceives.fit; i++) {
          const [m] = yield* q.receive("fit", { max: 1, visibilityMs: 1000 })
          counts.push(m.receiveCount)
          yield* TestClock.adjust("1 second")
        }
        expect(counts).toEqual(Array.from({ length: WorkQueue.maxReceives.fit }, (_, i) => i + 1))
      })))

    for (const queue of ["fit", "slow"] as const) {
      it.effect(`on the ${queue} queue, a message delivered maxReceives (${WorkQueue.maxReceives[queue]}) times goes to the dead letters with a reason`, withQueue((q) =>
        Effect.gen(function* () {
          yield* q.send(queue, ["poison", "fine"])
          for (let i = 0; i < WorkQueue.maxReceives[queue]; i++) {
            const got = yield* q.receive(queue, { max: 10, visibilityMs: 1000 })
            const fine = got.find((m) => m.body === "fine")
            if (fine !== undefined) yield* q.ack(queue, fine.receipt)
            expect(got.find((m) => m.body === "poison")?.receiveCount).toBe(i + 1)
            yield* TestClock.adjust("1 second")
          }
          expect(yield* q.receive(queue, visibility)).toEqual([])
          const dead = yield* q.deadLetters(queue)
          expect(dead.length).toBe(1)
          expect(dead[0]).toMatchObject({ body: "poison", receiveCount: WorkQueue.maxReceives[queue] })
          expect(dead[0].reason.length).toBeGreaterThan(0)
          expect(yield* q.depth(queue)).toEqual({ visible: 0, inFlight: 0, deadLetters: 1 })
        })))
    }

    it.effect("deadLetter moves a delivered message to the dead letters now, with the reason given", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["bad"])
        const [m] = yield* q.receive("fit", visibility)
        yield* q.deadLetter("fit", m.receipt, "manifest refused")
        expect(yield* q.deadLetters("fit")).toEqual([{ id: m.id, body: "bad", receiveCount: 1, reason: "manifest refused" }])
        yield* TestClock.adjust("1 hour")
        expect(yield* q.receive("fit", visibility)).toEqual([])
      })))

    it.effect("redrive moves the matching dead letters back and counts them", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["keep-1", "move-1", "move-2"])
        for (const m of yield* q.receive("fit", visibility)) yield* q.deadLetter("fit", m.receipt, "test")
        const moved = yield* q.redrive("fit", (body) => body.startsWith("move"))
        expect(moved).toBe(2)
        expect((yield* q.deadLetters("fit")).map((d) => d.body)).toEqual(["keep-1"])
        const got = yield* q.receive("fit", visibility)
        expect(bodiesOf(got)).toEqual(["move-1", "move-2"])
        expect(got.map((m) => m.receiveCount)).toEqual([1, 1])
        expect(yield* q.redrive("fit", () => false)).toBe(0)
      })))

    it.effect("a receipt from before a redrive does not touch the redriven message", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["a"])
        const [old] = yield* q.receive("fit", visibility)
        yield* q.deadLetter("fit", old.receipt, "test")
        yield* q.redrive("fit", () => true)
        const [fresh] = yield* q.receive("fit", visibility)
        expect(fresh.receipt).not.toBe(old.receipt)
        yield* q.ack("fit", old.receipt)
        expect(yield* q.depth("fit")).toEqual({ visible: 0, inFlight: 1, deadLetters: 0 })
      })))

    it.effect("depth counts visible, in-flight and dead messages", withQueue((q) =>
      Effect.gen(function* () {
        yield* q.send("fit", ["a", "b", "c", "d"])
        const got = yield* q.receive("fit", { max: 2, visibilityMs: 10_000 })
        yield* q.deadLetter("fit", got[0].receipt, "test")
        expect(yield* q.depth("fit")).toEqual({ visible: 2, inFlight: 1, deadLetters: 1 })
        yield* TestClock.adjust("10 seconds")
        expect(yield* q.depth("fit")).toEqual({ visible: 3, inFlight: 0, deadLetters: 1 })
        expect(yield* q.depth("slow")).toEqual({ visible: 0, inFlight: 0, deadLetters: 0 })
      })))
  })
