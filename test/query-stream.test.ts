/**
 * `phs query` writes a result as it reads it: the streamed text of every format is the text of
 * the whole result, whatever the chunking; the aligned table sizes its columns on a bounded
 * sample and formats any number of rows; a closed output stops the reading. (Peak memory is
 * measured by `npm run bench:query`.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Scope, Stream } from "effect"
import * as path from "node:path"
import { Writable } from "node:stream"
import * as Format from "../packages/cli/src/query/Format.js"
import * as LocalSql from "../packages/cli/src/query/LocalSql.js"
import * as ResultWriter from "../packages/cli/src/query/ResultWriter.js"
import type { QueryResult, RowStream, Rows, SqlValue } from "../packages/cli/src/query/SqlEngine.js"
import { phsAsync, tempDir } from "./support/cli.js"

/** A writable that keeps what it is given. */
const collector = () => {
  let text = ""
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString("utf8")
      done()
    }
  })
  return { out, text: () => text }
}

/** The rows cut into chunks of the given sizes (the rest in one last chunk). */
const chunked = (result: QueryResult, sizes: ReadonlyArray<number>): RowStream => {
  const chunks: Rows[] = []
  let at = 0
  for (const n of sizes) {
    chunks.push(result.rows.slice(at, at + n))
    at += n
  }
  if (at < result.rows.length) chunks.push(result.rows.slice(at))
  return { columns: result.columns, chunks: Stream.fromIterable(chunks) }
}

const sample: QueryResult = {
  columns: ["name", "n", "x", "list", "big", "missing", "n"],
  rows: Array.from({ length: 37 }, (_, i): ReadonlyArray<SqlValue> => [
    i % 5 === 0 ? `a, "q${i}"` : `b${i}`,
    BigInt(i * 997),
    i / 8 - 2,
    Array.from({ length: i % 4 }, (_, k) => k + 0.5),
    i === 3 ? 2n ** 60n : BigInt(i),
    null,
    i
  ])
}

const whole = (result: QueryResult, format: Format.Format) => {
  const text = Format.render(result, format)
  return format === "table" || format === "json" ? `${text}\n` : text
}

describe("the streamed text is the whole result's text", () => {
  for (const format of Format.FORMATS) {
    for (const [name, sizes] of [
      ["one chunk", []],
      ["chunks of one row", Array.from({ length: 37 }, () => 1)],
      ["uneven chunks and empty ones", [0, 5, 0, 13, 2]]
    ] as const) {
      it.effect(`${format}, ${name}`, () =>
        Effect.gen(function* () {
          const c = collector()
          const n = yield* ResultWriter.write(chunked(sample, sizes), format, c.out)
          expect(n).toBe(37)
          expect(c.text()).toBe(whole(sample, format))
        })
      )
    }
    it.effect(`${format}, no rows`, () =>
      Effect.gen(function* () {
        const empty: QueryResult = { columns: ["a", "b"], rows: [] }
        const c = collector()
        yield* ResultWriter.write({ columns: empty.columns, chunks: Stream.empty }, format, c.out)
        expect(c.text()).toBe(whole(empty, format))
      })
    )
  }

  it("ndjson: one object per line, repeated names made unique", () => {
    expect(Format.render({ columns: ["a", "a"], rows: [[1, "x"], [null, [2n ** 60n]]] }, "ndjson")).toBe(
      '{"a":1,"a_2":"x"}\n{"a":null,"a_2":["1152921504606846976"]}\n'
    )
  })
})

describe("the aligned table", () => {
  it("formats 200,000 rows (the widths are not a spread into Math.max)", () => {
    const rows = Array.from({ length: 200_000 }, (_, i): ReadonlyArray<SqlValue> => [i, `r${i}`])
    const lines = Format.table({ columns: ["i", "s"], rows }).split("\n")
    expect(lines.length).toBe(200_003)
    expect(lines[2]).toBe("     0  r0")
    expect(lines.at(-2)).toBe("199999  r199999")
    expect(lines.at(-1)).toBe("(200000 rows)")
  })

  it.effect(`sizes its columns on the first ${Format.TABLE_SAMPLE_ROWS} rows; a longer value later widens only its line`, () =>
    Effect.gen(function* () {
      const n = Format.TABLE_SAMPLE_ROWS + 500
      const long = "a value longer than any in the sample"
      const rows = Array.from({ length: n }, (_, i): ReadonlyArray<SqlValue> => [i === n - 1 ? long : "short", i])
      const c = collector()
      yield* ResultWriter.write(chunked({ columns: ["s", "i"], rows }, [300, 300, 300, 300]), "table", c.out)
      const lines = c.text().split("\n")
      // Widths from rows 0–999: i takes 3 characters, so 1000 and after stick out by one.
      expect(lines[0]).toBe(`s${" ".repeat(4)}  ${" ".repeat(2)}i`)
      expect(lines[2]).toBe("short    0")
      expect(lines[1001]).toBe("short  999")
      expect(lines[1002]).toBe("short  1000")
      expect(lines[n + 1]).toBe(`${long}  ${n - 1}`)
      expect(lines[n + 2]).toBe(`(${n} rows)`)
    })
  )
})

describe("a closed output", () => {
  it.effect("stops the reading: OutputClosed, and no chunk pulled after the failed write", () =>
    Effect.gen(function* () {
      let pulled = 0
      const chunks = Stream.repeatEffect(
        Effect.sync((): Rows => {
          pulled++
          return [[pulled, "row"]]
        })
      ).pipe(Stream.take(10_000))
      // The reader goes away at the third write, as a pipe's reader does.
      const pipe = () => {
        let writes = 0
        return new Writable({
          write(_chunk, _enc, done) {
            writes++
            done(writes >= 3 ? Object.assign(new Error("write EPIPE"), { code: "EPIPE" }) : undefined)
          }
        })
      }
      for (const format of Format.FORMATS) {
        pulled = 0
        const out = pipe()
        const exit = yield* Effect.exit(ResultWriter.write({ columns: ["n", "s"], chunks }, format, out))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) expect(JSON.stringify(exit.cause)).toContain("OutputClosed")
        // The table reads its sample first; the others one chunk per write.
        expect(pulled).toBeLessThanOrEqual(format === "table" ? Format.TABLE_SAMPLE_ROWS + 2 : 3)
      }
    })
  )

  it("phs query … | head -1: the first line, then exit 0 with nothing on stderr", async () => {
    const work = path.join(tempDir("phs-query-stream-"), "w")
    const { mkdirSync } = await import("node:fs")
    mkdirSync(work, { recursive: true })
    for (const format of ["table", "csv", "ndjson"]) {
      const { child, done } = phsAsync(["query", "SELECT range AS i, repeat('x', 100) AS s FROM range(5000000)", "--format", format, "--workdir", work])
      let first = ""
      child.stdout.on("data", (d: Buffer) => {
        first += d.toString("utf8")
        if (first.includes("\n")) child.stdout.destroy()
      })
      const r = await done
      expect(first.split("\n")[0]).toMatch(/^ *i\b|^\{"i":0,/)
      // An empty workdir: the only line on stderr is the note that the table is empty.
      expect(r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("phs: note: no results"))).toEqual([])
      expect(r.code).toBe(0)
    }
  }, 120_000)
})

describe("the local engine streams", () => {
  it.effect("in DuckDB's chunks, in order, and ends the query with the scope", () =>
    Effect.gen(function* () {
      const work = path.join(tempDir("phs-query-stream-"), "w")
      const { mkdirSync } = yield* Effect.promise(() => import("node:fs"))
      mkdirSync(work, { recursive: true })
      const scope = yield* Scope.make()
      const local = yield* LocalSql.make(work).pipe(Scope.extend(scope))
      const rows = yield* local.engine.stream("SELECT range AS i FROM range(10000)").pipe(Scope.extend(scope))
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(rows.chunks))
      expect(rows.columns).toEqual(["i"])
      expect(chunks.length).toBeGreaterThan(1)
      expect(chunks.every((c) => c.length <= 2048)).toBe(true)
      expect(chunks.flat().map((r) => r[0])).toEqual(Array.from({ length: 10000 }, (_, i) => BigInt(i)))
      yield* Scope.close(scope, Exit.void)
    })
  )
})
