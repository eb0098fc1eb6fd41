// decomposeBatch(): the native thread pool, its determinism, its budget, and the event loop.
import { describe, expect, it } from "vitest"
import { decompose, decomposeBatch, poolThreads } from "@phs/fit-native"
import { readdirSync } from "node:fs"
import { stat } from "node:fs/promises"
import { availableParallelism } from "node:os"
import { bits, spectrum, uniform } from "./helpers.js"

const N = 424

/** A cube of `count` spectra with 1–5 random lines each (seeded). */
const cube = (count: number, seed = 1): Float32Array => {
  const u = uniform(seed)
  const out = new Float32Array(count * N)
  for (let s = 0; s < count; s++) {
    const k = 1 + Math.floor(u() * 5)
    const comps = Array.from({ length: k }, () => ({ amplitude: 0.3 + 3 * u(), mean: 20 + 380 * u(), stddev: 1 + 9 * u() }))
    out.set(spectrum(N, comps, 0.25, seed * 100003 + s), s * N)
  }
  return out
}

/** A spectrum that needs many fits: dozens of lines of every width. */
const hard = (): Float32Array => {
  const u = uniform(77)
  const comps = Array.from({ length: 60 }, () => ({ amplitude: 0.5 + 3 * u(), mean: 424 * u(), stddev: 1 + 6 * u() }))
  return Float32Array.from(spectrum(N, comps, 0.25, 77))
}

describe("decomposeBatch", () => {
  const data = cube(60)

  it("returns one result per spectrum, in input order, equal to decompose() bit for bit", async () => {
    const results = await decomposeBatch(data, N, {}, { threads: 2 })
    expect(results).toHaveLength(60)
    results.forEach((r, s) => expect(bits(r)).toBe(bits(decompose(data.subarray(s * N, (s + 1) * N)))))
    expect(results.some((r) => r.components.length >= 3)).toBe(true)
  })

  it("gives the same bits whatever the thread count or batch composition", async () => {
    const one = (await decomposeBatch(data, N, {}, { threads: 1 })).map(bits)
    const two = (await decomposeBatch(data, N, {}, { threads: 2 })).map(bits)
    const eight = (await decomposeBatch(data, N, {}, { threads: 8 })).map(bits)
    expect(two).toEqual(one)
    expect(eight).toEqual(one)
    // reversed order, and a subset mixed with other spectra
    const reversed = new Float32Array(data.length)
    for (let s = 0; s < 60; s++) reversed.set(data.subarray(s * N, (s + 1) * N), (59 - s) * N)
    expect((await decomposeBatch(reversed, N, {}, { threads: 2 })).map(bits).reverse()).toEqual(one)
    const mixed = new Float32Array(20 * N)
    mixed.set(cube(10, 9), 0)
    mixed.set(data.subarray(30 * N, 40 * N), 10 * N)
    expect((await decomposeBatch(mixed, N, {}, { threads: 2 })).slice(10).map(bits)).toEqual(one.slice(30, 40))
  })

  it("runs concurrent batches independently", async () => {
    const other = cube(40, 5)
    const [a, b] = await Promise.all([
      decomposeBatch(data, N, {}, { threads: 2 }),
      decomposeBatch(other, N, { beta: 4 }, { threads: 2 })
    ])
    expect(a.map(bits)).toEqual((await decomposeBatch(data, N, {}, { threads: 1 })).map(bits))
    expect(b.map(bits)).toEqual((await decomposeBatch(other, N, { beta: 4 }, { threads: 1 })).map(bits))
  })

  it("finishes concurrent batches each capped below the pool size, with the same bits", async () => {
    // More capped batches than pool threads: a thread that finds every queued batch at its cap
    // waits and is woken when a slot frees, so every batch completes.
    const parts = [cube(15, 21), cube(15, 22), cube(15, 23), cube(15, 24)]
    const alone = []
    for (const p of parts) alone.push((await decomposeBatch(p, N, {}, { threads: 2 })).map(bits))
    const capped = await Promise.all(parts.map((p) => decomposeBatch(p, N, {}, { threads: 1 })))
    expect(capped.map((r) => r.map(bits))).toEqual(alone)
  })

  it("shares one pool, sized to the cores, among every batch in flight: no threads per call", async () => {
    expect(poolThreads()).toBe(availableParallelism())
    const threadsNow = () => readdirSync("/proc/self/task").length
    await stat(".") // libuv's own threads are started by then
    const before = threadsNow()
    const sequential = []
    for (let j = 0; j < 6; j++) sequential.push((await decomposeBatch(cube(12, 40 + j), N, {}, { threads: 4 })).map(bits))
    let most = 0
    const watch = setInterval(() => (most = Math.max(most, threadsNow())), 1)
    const concurrent = await Promise.all(Array.from({ length: 6 }, (_, j) => decomposeBatch(cube(12, 40 + j), N, {}, { threads: 4 })))
    clearInterval(watch)
    expect(concurrent.map((r) => r.map(bits))).toEqual(sequential)
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThanOrEqual(before)
    expect(poolThreads()).toBe(availableParallelism())
  })

  it("passes the parameters through", async () => {
    const [a] = await decomposeBatch(data.subarray(0, N), N, { beta: 8, max_refine_iter: 0 }, { threads: 1 })
    expect(bits(a)).toBe(bits(decompose(data.subarray(0, N), { beta: 8, max_refine_iter: 0 })))
  })

  it("returns an over-budget spectrum quickly with status timeout and no components", async () => {
    const h = hard()
    const full = decompose(h)
    expect(full.status).toBe("ok")
    const t0 = performance.now()
    const [r, ok] = await decomposeBatch(Float32Array.of(...h, ...data.subarray(0, N)), N, {}, { threads: 1, timeoutMs: 0.05 })
    expect(performance.now() - t0).toBeLessThan(200)
    expect(r).toMatchObject({ status: "timeout", components: [] })
    expect(["ok", "timeout"]).toContain(ok.status)
    expect(decompose(h, {}, { timeoutMs: 0.05 }).status).toBe("timeout")
  })

  it("applies no budget with timeoutMs 0 or Infinity", async () => {
    const h = hard()
    for (const timeoutMs of [0, Infinity]) {
      const [r] = await decomposeBatch(h, N, {}, { threads: 1, timeoutMs })
      expect(r.status).toBe("ok")
    }
  })

  it("handles blank spectra in a batch", async () => {
    const c = new Float32Array(3 * N)
    c.set(data.subarray(0, N), 0)
    c.fill(Number.NaN, N, 2 * N)
    c.set(data.subarray(N, 2 * N), 2 * N)
    c[2 * N + 5] = Number.NaN
    const r = await decomposeBatch(c, N)
    expect(r.map((d) => d.status)).toEqual(["ok", "blank", "ok"])
    expect(r[1]).toMatchObject({ rms: null, components: [], nanChannels: N })
    expect(r[2].nanChannels).toBe(1)
    expect(await decomposeBatch(new Float32Array(0), N)).toEqual([])
  })

  it("copies its input: the caller may overwrite the cube at once", async () => {
    const c = data.slice(0, 10 * N)
    const pending = decomposeBatch(c, N, {}, { threads: 2 })
    c.fill(0)
    const r = await pending
    expect(r.map(bits)).toEqual((await decomposeBatch(data.subarray(0, 10 * N), N, {}, { threads: 2 })).map(bits))
  })

  it("does not block the event loop while a large batch runs", async () => {
    const big = cube(600, 3)
    let ticks = 0
    const timer = setInterval(() => ticks++, 5)
    const t0 = performance.now()
    const r = await decomposeBatch(big, N, {}, { threads: 1 })
    const elapsed = performance.now() - t0
    clearInterval(timer)
    expect(r).toHaveLength(600)
    expect(elapsed).toBeGreaterThan(50)
    expect(ticks).toBeGreaterThan(elapsed / 5 / 4)
  })

  it("rejects a bad shape, thread count or budget", async () => {
    await expect(decomposeBatch(new Float32Array(10), 3)).rejects.toThrow(RangeError)
    await expect(decomposeBatch(new Float32Array(10), 0)).rejects.toThrow(RangeError)
    await expect(decomposeBatch(new Float32Array(10), 10, {}, { threads: 0 })).rejects.toThrow(RangeError)
    await expect(decomposeBatch(new Float32Array(10), 10, {}, { threads: 1.5 })).rejects.toThrow(RangeError)
    await expect(decomposeBatch(new Float32Array(10), 10, {}, { timeoutMs: -1 })).rejects.toThrow(RangeError)
    await expect(decomposeBatch(new Float64Array(10) as never, 10)).rejects.toThrow(TypeError)
  })
})
