/**
 * `phs query`: Athena SQL over the local result table with DuckDB. Every expected value is
 * computed independently, from the rows core's `ResultParquet.decodeRows` reads out of the
 * workdir's Parquet files.
 */
import { Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NAMED_QUERIES } from "../packages/core/src/NamedQueries.js"
import { decodeRows } from "../packages/core/src/ResultParquet.js"
import type { DecompositionRow } from "../packages/core/src/ResultSchema.js"
import { rewrite, tokenize } from "../packages/cli/src/query/PrestoDialectMacros.js"
import * as Format from "../packages/cli/src/query/Format.js"
import * as LocalSql from "../packages/cli/src/query/LocalSql.js"
import type { QueryResult, SqlEngine, SqlValue } from "../packages/cli/src/query/SqlEngine.js"
import { cubeFits } from "./support/cubes.js"
import { phs, tempDir } from "./support/cli.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")

type Row = DecompositionRow & { readonly survey: string }

let dir: string
let work: string
let rows: Row[]
let engine: SqlEngine
let scope: Scope.CloseableScope

/** Every row of the table, decoded with core's reader; the survey from the path. */
const readTable = async (workdir: string): Promise<Row[]> => {
  const root = path.join(workdir, "blobs", "decompositions")
  const out: Row[] = []
  for (const part of fs.readdirSync(root)) {
    const survey = part.replace(/^survey=/, "")
    for (const f of fs.readdirSync(path.join(root, part)).filter((f) => f.endsWith(".parquet"))) {
      const decoded = await Effect.runPromise(decodeRows(new Uint8Array(fs.readFileSync(path.join(root, part, f)))))
      out.push(...decoded.map((r) => ({ ...r, survey })))
    }
  }
  return out
}

const run = (sql: string): Promise<QueryResult> => Effect.runPromise(engine.run(sql))

/** Result rows as objects, BIGINT as number. */
const objects = async (sql: string): Promise<Array<Record<string, unknown>>> => {
  const r = await run(sql)
  const plain = (v: SqlValue): unknown => (typeof v === "bigint" ? Number(v) : Array.isArray(v) ? v.map(plain) : v)
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, plain(row[i])])))
}

/** Digits after the decimal point of a number as printed. */
const decimals = (v: number) => (String(v).split(".")[1] ?? "").length
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
const stddevSamp = (xs: ReadonlyArray<number>) => {
  const m = mean(xs)
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))
}
/** Inverted-CDF quantile: the smallest value with at least a fraction p of the values ≤ it. */
const quantile = (xs: ReadonlyArray<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.max(0, Math.ceil(s.length * p - 1e-9) - 1)]
}
const groupBy = <K, T>(xs: ReadonlyArray<T>, key: (t: T) => K) => {
  const m = new Map<K, T[]>()
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x])
  return m
}
const byPixel = (a: { survey?: unknown; run_id?: unknown; x?: unknown; y?: unknown }, b: typeof a) =>
  String(a.survey).localeCompare(String(b.survey)) || String(a.run_id).localeCompare(String(b.run_id)) || Number(a.y) - Number(b.y) || Number(a.x) - Number(b.x)

beforeAll(async () => {
  dir = tempDir("phs-query-")
  work = path.join(dir, "w")
  const synthetic = path.join(dir, "synthetic.fits")
  fs.writeFileSync(synthetic, cubeFits({ nx: 4, ny: 3, nchan: 96, seed: 7, blankPixels: [5] }))
  for (const args of [
    ["pipeline", SAMPLE],
    ["pipeline", SAMPLE, "--param", "beta=2.5"],
    // A survey whose name looks like a number: the partition column must stay VARCHAR.
    ["pipeline", synthetic, "--survey", "0042"]
  ]) {
    const r = (await phs([...args, "--workdir", work, "--json"]))
    expect(r.code, r.stderr).toBe(0)
  }
  rows = await readTable(work)
  scope = Effect.runSync(Scope.make())
  engine = (await Effect.runPromise(LocalSql.make(work).pipe(Scope.extend(scope)))).engine
}, 120_000)

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
})

describe("the local table", () => {
  it("has the fixture's rows: two β of the sample and a survey with a blank spectrum", async () => {
    expect(rows.filter((r) => r.survey === "grs-5x5").length).toBe(50)
    expect(new Set(rows.filter((r) => r.survey === "grs-5x5").map((r) => r.beta))).toEqual(new Set([2.5, 3.5]))
    expect(rows.filter((r) => r.survey === "0042").length).toBe(12)
    expect(rows.filter((r) => r.rms === null).length).toBe(1)
  })

  it("is phspectra.decompositions, unqualified decompositions and awsdatacatalog.phspectra.decompositions", async () => {
    for (const name of ["phspectra.decompositions", "decompositions", "awsdatacatalog.phspectra.decompositions", '"phspectra"."decompositions"']) {
      expect(await objects(`SELECT COUNT(*) AS n FROM ${name}`)).toEqual([{ n: rows.length }])
    }
  })

  it("has the result columns in file order, then the partition column survey as VARCHAR", async () => {
    const r = await objects("DESCRIBE phspectra.decompositions")
    expect(r.map((c) => [c.column_name, c.column_type])).toEqual([
      ["x", "INTEGER"], ["y", "INTEGER"], ["beta", "DOUBLE"], ["rms", "DOUBLE"], ["min_persistence", "DOUBLE"],
      ["n_components", "INTEGER"], ["component_amplitudes", "DOUBLE[]"], ["component_means", "DOUBLE[]"],
      ["component_stddevs", "DOUBLE[]"], ["nan_channels", "INTEGER"],
      ["residual_rms", "DOUBLE"], ["chi2_reduced", "DOUBLE"], ["aicc", "DOUBLE"], ["component_amplitude_errors", "DOUBLE[]"],
      ["component_mean_errors", "DOUBLE[]"], ["component_stddev_errors", "DOUBLE[]"], ["run_id", "VARCHAR"],
      ["cube", "VARCHAR"], ["lon", "DOUBLE"], ["lat", "DOUBLE"], ["component_velocities", "DOUBLE[]"],
      ["component_velocity_dispersions", "DOUBLE[]"], ["component_integrated_intensities", "DOUBLE[]"], ["refit", "VARCHAR"], ["survey", "VARCHAR"]
    ])
    expect(await objects("SELECT DISTINCT survey FROM decompositions WHERE survey = '0042'")).toEqual([{ survey: "0042" }])
  })

  it("returns every row's values as decoded from the files", async () => {
    const got = await objects("SELECT survey, run_id, x, y, beta, rms, n_components, component_amplitudes, component_means, component_stddevs, nan_channels FROM decompositions")
    const want = rows.map((r) => ({
      survey: r.survey, run_id: r.run_id, x: r.x, y: r.y, beta: r.beta, rms: r.rms, n_components: r.n_components,
      component_amplitudes: [...r.component_amplitudes], component_means: [...r.component_means], component_stddevs: [...r.component_stddevs],
      nan_channels: r.nan_channels
    }))
    expect(got.sort(byPixel)).toEqual(want.sort(byPixel))
  })

  it("groups by cube and filters on lon across cubes; world columns are null where the cube has no WCS", async () => {
    const got = await objects("SELECT cube, count(*) AS n, count(lon) AS located FROM decompositions GROUP BY cube ORDER BY cube")
    const cubes = [...groupBy(rows, (r) => r.cube).entries()].sort(([a], [b]) => a.localeCompare(b))
    expect(got).toEqual(cubes.map(([cube, rs]) => ({ cube, n: rs.length, located: rs.filter((r) => r.lon !== null).length })))
    expect(rows.filter((r) => r.survey === "grs-5x5").every((r) => r.lon !== null && r.component_velocities?.length === r.n_components)).toBe(true)
    expect(rows.filter((r) => r.survey === "0042").every((r) => r.lon === null && r.component_velocities === null)).toBe(true)
    const lons = rows.flatMap((r) => (r.lon === null ? [] : [r.lon])).sort((a, b) => a - b)
    const [lo, hi] = [lons[10], lons[30]]
    const [{ n }] = await objects(`SELECT count(*) AS n FROM decompositions WHERE lon BETWEEN ${lo} AND ${hi}`)
    expect(n).toBe(rows.filter((r) => r.lon !== null && r.lon >= lo && r.lon <= hi).length)
  })

  it("is empty, with the same columns, in a workdir without results", async () => {
    const empty = path.join(tempDir("phs-query-empty-"), "w")
    fs.mkdirSync(empty)
    const result = await Effect.runPromise(Effect.scoped(Effect.flatMap(LocalSql.make(empty), (l) => l.engine.run("SELECT * FROM decompositions"))))
    expect(result.columns).toEqual(LocalSql.TABLE_COLUMNS.map((c) => c.name))
    expect(result.rows).toEqual([])
    const named = await Effect.runPromise(Effect.scoped(Effect.flatMap(LocalSql.make(empty), (l) => l.engine.run(NAMED_QUERIES[0].sql))))
    expect(named.rows).toEqual([])
  })
})

describe("the named queries run unchanged", () => {
  it("beta-comparison: per survey and β, count, mean, approximate median and stddev of n_components", async () => {
    const got = await objects(NAMED_QUERIES.find((q) => q.name === "beta-comparison")!.sql)
    const groups = groupBy(rows.filter((r) => r.n_components >= 0), (r) => `${r.survey}\u0000${r.beta}`)
    const want = [...groups.values()]
      .map((g) => {
        const n = g.map((r) => r.n_components)
        return { survey: g[0].survey, beta: g[0].beta, spectra: n.length, mean_components: mean(n), median_components: quantile(n, 0.5), stddev_components: stddevSamp(n) }
      })
      .sort((a, b) => a.survey.localeCompare(b.survey) || a.beta - b.beta)
    expect(got.length).toBe(3)
    expect(got.map((r) => [r.survey, r.beta, r.spectra, r.median_components])).toEqual(want.map((r) => [r.survey, r.beta, r.spectra, r.median_components]))
    got.forEach((r, i) => {
      expect(r.mean_components).toBeCloseTo(want[i].mean_components, 6)
      expect(r.stddev_components).toBeCloseTo(want[i].stddev_components, 6)
      expect(decimals(r.mean_components as number)).toBeLessThanOrEqual(6)
      expect(decimals(r.stddev_components as number)).toBeLessThanOrEqual(6)
    })
  })

  it("rms-distribution: per survey, each spectrum (cube, x, y) once (the greatest run id), count, mean, approximate median, min and max of rms", async () => {
    const got = await objects(NAMED_QUERIES.find((q) => q.name === "rms-distribution")!.sql)
    const latest = new Map<string, Row>()
    for (const r of rows) {
      const key = `${r.survey}\u0000${r.cube}\u0000${r.x}\u0000${r.y}`
      const seen = latest.get(key)
      if (seen === undefined || r.run_id > seen.run_id) latest.set(key, r)
    }
    const groups = groupBy([...latest.values()].filter((r) => r.rms !== null), (r) => r.survey)
    const want = [...groups.entries()]
      .map(([survey, g]) => {
        const v = g.map((r) => r.rms!)
        return { survey, spectra: v.length, mean_rms: mean(v), median_rms: quantile(v, 0.5), min_rms: Math.min(...v), max_rms: Math.max(...v) }
      })
      .sort((a, b) => a.survey.localeCompare(b.survey))
    // The sample's two runs (β 2.5 and 3.5) are of one cube: its 25 spectra count once.
    expect(want.map((r) => [r.survey, r.spectra])).toEqual([["0042", 11], ["grs-5x5", 25]])
    expect(got.map((r) => [r.survey, r.spectra, r.median_rms, r.min_rms, r.max_rms])).toEqual(want.map((r) => [r.survey, r.spectra, r.median_rms, r.min_rms, r.max_rms]))
    got.forEach((r, i) => {
      expect(r.mean_rms).toBeCloseTo(want[i].mean_rms, 9)
      expect(decimals(r.mean_rms as number)).toBeLessThanOrEqual(9)
    })
  })

  it("every run of one cube gives a spectrum the same rms (so which run counts does not change the figures)", () => {
    const bySpectrum = groupBy(rows.filter((r) => r.survey === "grs-5x5"), (r) => `${r.cube}\u0000${r.x}\u0000${r.y}`)
    expect(bySpectrum.size).toBe(25)
    for (const g of bySpectrum.values()) expect(new Set(g.map((r) => r.rms)).size).toBe(1)
  })

  it("name every grouping column in ORDER BY", () => {
    for (const q of NAMED_QUERIES) {
      const clause = (name: string) => q.sql.split(new RegExp(`${name} BY`, "g")).at(-1)!.split("\n")[0].split(",").map((c) => c.trim())
      expect(clause("ORDER")).toEqual(clause("GROUP"))
    }
  })
})

describe("Athena constructs", () => {
  it("cardinality(array) (a macro shadowing DuckDB's MAP-only cardinality)", async () => {
    const got = await objects("SELECT run_id, x, y, cardinality(component_amplitudes) AS n FROM decompositions")
    const want = rows.map((r) => ({ run_id: r.run_id, x: r.x, y: r.y, n: r.component_amplitudes.length }))
    expect(got.sort(byPixel)).toEqual(want.sort(byPixel))
    expect(await objects("SELECT SUM(cardinality(component_means)) AS n FROM decompositions WHERE cardinality(component_means) > 3")).toEqual([
      { n: rows.filter((r) => r.component_means.length > 3).reduce((a, r) => a + r.component_means.length, 0) }
    ])
  })

  it("CROSS JOIN UNNEST(array) AS t(a)", async () => {
    const got = await objects(
      "SELECT survey, COUNT(*) AS n, SUM(a) AS total, MAX(a) AS top FROM decompositions CROSS JOIN UNNEST(component_amplitudes) AS t(a) GROUP BY survey ORDER BY survey"
    )
    const want = [...groupBy(rows, (r) => r.survey).entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([survey, g]) => {
        const a = g.flatMap((r) => r.component_amplitudes)
        return { survey, n: a.length, total: a.reduce((s, x) => s + x, 0), top: Math.max(...a) }
      })
    expect(got.map((r) => [r.survey, r.n, r.top])).toEqual(want.map((r) => [r.survey, r.n, r.top]))
    got.forEach((r, i) => expect(r.total).toBeCloseTo(want[i].total, 10))
  })

  it("CROSS JOIN UNNEST(array) WITH ORDINALITY AS t(a, i)", async () => {
    const got = await objects(
      "SELECT run_id, x, y, i, a FROM decompositions CROSS JOIN UNNEST(component_amplitudes) WITH ORDINALITY AS t(a, i) WHERE survey = 'grs-5x5' AND i = cardinality(component_amplitudes)"
    )
    const want = rows
      .filter((r) => r.survey === "grs-5x5" && r.component_amplitudes.length > 0)
      .map((r) => ({ run_id: r.run_id, x: r.x, y: r.y, i: r.component_amplitudes.length, a: r.component_amplitudes[r.component_amplitudes.length - 1] }))
    expect(got.sort(byPixel)).toEqual(want.sort(byPixel))
  })

  it("CROSS JOIN UNNEST(a, m, s) AS t(a, m, s) zips the arrays (a rewrite to a LATERAL select)", async () => {
    const got = await objects(`SELECT run_id, x, y, SUM(a * s * sqrt(2 * pi())) AS integrated, COUNT(*) AS n, MIN(m) AS m0
      FROM phspectra.decompositions CROSS JOIN UNNEST(component_amplitudes, component_means, component_stddevs) AS t(a, m, s)
      GROUP BY run_id, x, y`)
    const want = rows
      .filter((r) => r.component_amplitudes.length > 0)
      .map((r) => ({
        run_id: r.run_id, x: r.x, y: r.y,
        integrated: r.component_amplitudes.reduce((acc, a, k) => acc + a * r.component_stddevs[k] * Math.sqrt(2 * Math.PI), 0),
        n: r.component_amplitudes.length, m0: Math.min(...r.component_means)
      }))
    expect(got.length).toBe(want.length)
    got.sort(byPixel)
    want.sort(byPixel)
    got.forEach((r, i) => {
      expect([r.run_id, r.x, r.y, r.n, r.m0]).toEqual([want[i].run_id, want[i].x, want[i].y, want[i].n, want[i].m0])
      expect(r.integrated).toBeCloseTo(want[i].integrated, 10)
    })
  })

  it("UNNEST of several arrays WITH ORDINALITY, and padding of the shorter array with NULL", async () => {
    const got = await objects(`SELECT run_id, x, y, k, m, s FROM decompositions
      CROSS JOIN UNNEST(component_means, component_stddevs) WITH ORDINALITY AS c (m, s, k) WHERE k = 2`)
    const want = rows
      .filter((r) => r.component_means.length >= 2)
      .map((r) => ({ run_id: r.run_id, x: r.x, y: r.y, k: 2, m: r.component_means[1], s: r.component_stddevs[1] }))
    expect(got.sort(byPixel)).toEqual(want.sort(byPixel))
    expect(await objects("SELECT a, b, n FROM (SELECT ARRAY[1, 2] AS p, ARRAY['x'] AS q) CROSS JOIN UNNEST(p, q) WITH ORDINALITY AS t(a, b, n) ORDER BY n")).toEqual([
      { a: 1, b: "x", n: 1 },
      { a: 2, b: null, n: 2 }
    ])
  })

  it("approx_percentile(x, p) and approx_percentile(x, ARRAY[p1, p2])", async () => {
    const got = await objects(`SELECT approx_percentile(rms, 0.5) AS med, approx_percentile(rms, ARRAY[0.25, 0.75]) AS q,
      approx_percentile(n_components, 0.9) AS n90 FROM decompositions WHERE survey = 'grs-5x5' AND beta = 3.5`)
    const sample = rows.filter((r) => r.survey === "grs-5x5" && r.beta === 3.5)
    const rms = sample.map((r) => r.rms!)
    expect(got).toEqual([{ med: quantile(rms, 0.5), q: [quantile(rms, 0.25), quantile(rms, 0.75)], n90: quantile(sample.map((r) => r.n_components), 0.9) }])
  })

  it("stddev, stddev_pop, variance, avg, min, max, count_if, arbitrary", async () => {
    const [got] = await objects(`SELECT stddev(rms) AS sd, stddev_pop(rms) AS sdp, variance(rms) AS var, avg(n_components) AS mean,
      min(n_components) AS lo, max(n_components) AS hi, count_if(n_components > 3) AS many, arbitrary(survey) AS any_survey
      FROM decompositions WHERE survey = 'grs-5x5'`)
    const sample = rows.filter((r) => r.survey === "grs-5x5")
    const rms = sample.map((r) => r.rms!)
    const n = sample.map((r) => r.n_components)
    expect(got.sd).toBeCloseTo(stddevSamp(rms), 14)
    expect(got.sdp).toBeCloseTo(stddevSamp(rms) * Math.sqrt((rms.length - 1) / rms.length), 14)
    expect(got.var).toBeCloseTo(stddevSamp(rms) ** 2, 14)
    expect(got.mean).toBeCloseTo(mean(n), 14)
    expect([got.lo, got.hi, got.many, got.any_survey]).toEqual([Math.min(...n), Math.max(...n), n.filter((k) => k > 3).length, "grs-5x5"])
  })

  it("element_at(array, i): 1-based, negative from the end, NULL out of range", async () => {
    const got = await objects(
      "SELECT run_id, x, y, element_at(component_means, 1) AS first, element_at(component_means, -1) AS last, element_at(component_means, 100) AS none FROM decompositions"
    )
    const want = rows.map((r) => ({
      run_id: r.run_id, x: r.x, y: r.y,
      first: r.component_means[0] ?? null, last: r.component_means[r.component_means.length - 1] ?? null, none: null
    }))
    expect(got.sort(byPixel)).toEqual(want.sort(byPixel))
  })

  it("integer division, as in Athena: 7 / 2 = 3", async () => {
    expect(await objects("SELECT 7 / 2 AS i, 7.0 / 2 AS d, CAST(7 AS DOUBLE) / 2 AS f")).toEqual([{ i: 3, d: 3.5, f: 3.5 }])
    const [got] = await objects("SELECT SUM(n_components) / COUNT(*) AS q FROM decompositions WHERE survey = 'grs-5x5'")
    const n = rows.filter((r) => r.survey === "grs-5x5").map((r) => r.n_components)
    expect(got.q).toBe(Math.trunc(n.reduce((a, b) => a + b, 0) / n.length))
  })

  it("lambda functions: transform, filter, reduce, any_match, all_match, none_match", async () => {
    const got = await objects(`SELECT run_id, x, y,
        transform(component_stddevs, s -> s * 2.3548) AS fwhm,
        filter(component_amplitudes, a -> a > 0.3) AS strong,
        reduce(component_amplitudes, 0.0, (acc, a) -> acc + a, acc -> acc * 10) AS total10,
        any_match(component_amplitudes, a -> a > 0.5) AS some_big,
        all_match(component_amplitudes, a -> a > 0.2) AS all_big,
        none_match(component_amplitudes, a -> a > 0.5) AS no_big,
        COUNT(*) FILTER (WHERE n_components > 2) AS many
      FROM decompositions GROUP BY ALL`)
    const want = rows.map((r) => {
      const a = r.component_amplitudes
      return {
        run_id: r.run_id, x: r.x, y: r.y,
        fwhm: r.component_stddevs.map((s) => s * 2.3548),
        strong: a.filter((v) => v > 0.3),
        total10: a.reduce((s, v) => s + v, 0) * 10,
        some_big: a.some((v) => v > 0.5),
        all_big: a.every((v) => v > 0.2),
        no_big: !a.some((v) => v > 0.5),
        many: r.n_components > 2 ? 1 : 0
      }
    })
    got.sort(byPixel)
    want.sort(byPixel)
    expect(got.length).toBe(want.length)
    got.forEach((g, i) => {
      const w = want[i]
      expect([g.run_id, g.x, g.y, g.strong, g.some_big, g.all_big, g.no_big, g.many]).toEqual([w.run_id, w.x, w.y, w.strong, w.some_big, w.all_big, w.no_big, w.many])
      ;(g.fwhm as number[]).forEach((v, k) => expect(v).toBeCloseTo(w.fwhm[k], 12))
      expect(g.total10).toBeCloseTo(w.total10, 10)
    })
  })

  it("array and scalar functions provided as macros", async () => {
    const [got] = await objects(`SELECT array_max(ARRAY[1, 5, 3]) AS amax, array_min(ARRAY[1, 5, 3]) AS amin,
      array_join(ARRAY['a', 'b'], '-') AS joined, array_join(ARRAY[1, NULL, 3], ',', 'n') AS joined_null,
      sequence(1, 4) AS seq, sequence(0, 10, 5) AS seq_step, slice(ARRAY[1, 2, 3, 4, 5], 2, 3) AS sl, slice(ARRAY[1, 2, 3, 4, 5], -2, 2) AS sl_end,
      arrays_overlap(ARRAY[1, 2], ARRAY[2, 3]) AS overlap, is_nan(nan()) AS isnan, is_finite(infinity()) AS finite, is_infinite(infinity()) AS inf,
      width_bucket(5.5, 0, 10, 4) AS bucket, width_bucket(-1, 0, 10, 4) AS below, width_bucket(10, 0, 10, 4) AS above,
      regexp_like('grs-5x5', '^grs') AS re, regexp_replace('a1b22c', '[0-9]') AS stripped, regexp_replace('a1b22', '[0-9]+', '#') AS replaced,
      truncate(-2.7) AS tr, approx_distinct(x) AS ax, every(x >= 0) AS ev,
      to_unixtime(from_unixtime(86400)) AS unix, day_of_week(DATE '2024-01-07') AS dow, day_of_year(DATE '2024-02-01') AS doy,
      CAST(date_add('day', 1, DATE '2024-01-31') AS DATE) = DATE '2024-02-01' AS next_day,
      date_diff('day', DATE '2024-01-01', DATE '2024-03-01') AS days, json_extract_scalar('{"a": {"b": 7}}', '$.a.b') AS js,
      zip(ARRAY[1, 2], ARRAY['a']) AS zipped, array_union(ARRAY[3, 1], ARRAY[1, 2, 2]) AS un,
      levenshtein_distance('abc', 'abd') AS lev, element_at(map(ARRAY['k'], ARRAY[5]), 'k') AS em
      FROM decompositions WHERE survey = 'grs-5x5'`)
    expect(got).toEqual({
      amax: 5, amin: 1, joined: "a-b", joined_null: "1,n,3", seq: [1, 2, 3, 4], seq_step: [0, 5, 10], sl: [2, 3, 4], sl_end: [4, 5],
      overlap: true, isnan: true, finite: false, inf: true, bucket: 3, below: 0, above: 5,
      re: true, stripped: "abc", replaced: "a#b#", tr: -2, ax: 5, ev: true,
      unix: 86400, dow: 7, doy: 32, next_day: true, days: 60, js: "7",
      zipped: [{ field0: 1, field1: "a" }, { field0: 2, field1: null }], un: [3, 1, 2], lev: 1, em: 5
    })
    const [agg] = await objects("SELECT map_agg(x, n_components) AS m FROM decompositions WHERE run_id = (SELECT min(run_id) FROM decompositions) AND y = 0")
    const first = rows.filter((r) => r.run_id === rows.map((x) => x.run_id).sort()[0] && r.y === 0)
    expect(agg.m).toEqual(new Map(first.map((r) => [r.x, r.n_components])))
  })

  it("a SQL error is InvalidInput with the engine's first line", async () => {
    const exit = await Effect.runPromiseExit(engine.run("SELECT nope FROM decompositions"))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const e = (exit.cause as unknown as { error: { _tag: string; reason: string } }).error
      expect(e._tag).toBe("InvalidInput")
      expect(e.reason).toMatch(/^Binder Error: .*nope/)
      expect(e.reason).not.toContain("\n")
    }
  })
})

describe("the rewrite", () => {
  it("leaves strings, quoted identifiers, comments and FILTER clauses alone", async () => {
    const sql = `SELECT 'UNNEST(a, b) AS t(x, y)' AS s, "transform" -- transform(a, x -> x)
      /* filter(a, x -> x) */ , COUNT(*) FILTER (WHERE x > 1) FROM t`
    expect(rewrite(sql)).toBe(sql)
    expect(tokenize(sql).map((t) => t.text).join("")).toBe(sql)
  })

  it("rewrites nested uses", async () => {
    expect(rewrite("SELECT transform(filter(a, x -> x > 0), y -> y * 2) FROM t")).toBe("SELECT list_transform(list_filter(a, x -> x > 0), y -> y * 2) FROM t")
    expect(rewrite("SELECT * FROM t CROSS JOIN UNNEST(a, b) AS u(x, y)")).toBe("SELECT * FROM t CROSS JOIN LATERAL (SELECT UNNEST(a) AS x, UNNEST(b) AS y) AS u(x, y)")
    expect(rewrite("SELECT * FROM t CROSS JOIN UNNEST(a) AS u(x)")).toBe("SELECT * FROM t CROSS JOIN UNNEST(a) AS u(x)")
  })
})

describe("output formats", () => {
  const result: QueryResult = {
    columns: ["name", "n", "x", "list", "big", "missing"],
    rows: [
      ["a, \"quoted\"", 3n, 1.5, [1.25, 3.5], 2n ** 60n, null],
      ["b", 12345n, -0.25, [], 7n, null]
    ]
  }

  it("table: aligned, numbers right-aligned, NULL shown, lists in brackets", async () => {
    expect(Format.table(result)).toBe(
      [
        "name             n      x  list                         big  missing",
        "-----------  -----  -----  -----------  -------------------  -------",
        'a, "quoted"      3    1.5  [1.25, 3.5]  1152921504606846976  NULL',
        "b            12345  -0.25  []                             7  NULL",
        "(2 rows)"
      ].join("\n")
    )
  })

  it("csv: RFC 4180 (CRLF, quotes doubled, fields with commas quoted, NULL empty)", async () => {
    expect(Format.csv(result)).toBe(
      'name,n,x,list,big,missing\r\n"a, ""quoted""",3,1.5,"[1.25, 3.5]",1152921504606846976,\r\nb,12345,-0.25,[],7,\r\n'
    )
  })

  it("json: an array of objects, BIGINT as a number when safe, else as a string", async () => {
    expect(JSON.parse(Format.json(result))).toEqual([
      { name: 'a, "quoted"', n: 3, x: 1.5, list: [1.25, 3.5], big: "1152921504606846976", missing: null },
      { name: "b", n: 12345, x: -0.25, list: [], big: 7, missing: null }
    ])
    expect(Format.json({ columns: ["a"], rows: [] })).toBe("[]")
    expect(JSON.parse(Format.json({ columns: ["v", "v"], rows: [[Number.NaN, new Map([["k", 1]])]] }))).toEqual([{ v: "NaN", v_2: { k: 1 } }])
  })
})

describe("phs query (the executable)", () => {
  it("runs a named query and prints a table", async () => {
    const r = (await phs(["query", "--named", "beta-comparison", "--workdir", work]))
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^survey\s+beta\s+spectra\s+mean_components\s+median_components\s+stddev_components$/)
    expect(lines.at(-1)).toBe("(3 rows)")
    expect(lines.slice(2, 5).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([["0042", "3.5", "12"], ["grs-5x5", "2.5", "25"], ["grs-5x5", "3.5", "25"]])
  })

  it("prints CSV and JSON", async () => {
    const csv = (await phs(["query", "SELECT survey, count(*) AS n FROM decompositions GROUP BY survey ORDER BY survey", "--format", "csv", "--workdir", work]))
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stdout).toBe("survey,n\r\n0042,12\r\ngrs-5x5,50\r\n")
    const json = (await phs(["query", "--named", "rms-distribution", "--format", "json", "--workdir", work]))
    expect(json.code, json.stderr).toBe(0)
    const got = JSON.parse(json.stdout) as Array<Record<string, unknown>>
    expect(got.map((r) => [r.survey, r.spectra])).toEqual([["0042", 11], ["grs-5x5", 25]])
  })

  it("lists the named queries", async () => {
    const r = (await phs(["query", "--list", "--format", "json"]))
    expect(r.code, r.stderr).toBe(0)
    expect((JSON.parse(r.stdout) as Array<{ name: string; sql: string }>).map((q) => [q.name, q.sql])).toEqual(NAMED_QUERIES.map((q) => [q.name, q.sql]))
  })

  for (const [name, args, message] of [
    ["a SQL syntax error", ["SELEC 1"], /^phs: Parser Error: syntax error at or near "SELEC"$/],
    ["an unknown column", ["SELECT nope FROM decompositions"], /^phs: Binder Error: Referenced column "nope" not found/],
    ["an unknown named query", ["--named", "nope"], /^phs: no named query nope; the named queries are beta-comparison, rms-distribution$/],
    ["two statements", ["SELECT 1; SELECT 2"], /^phs: refused: phs query runs one statement at a time; this SQL holds 2 \(separated by ;\)$/],
    ["no SQL at all", [], /^phs: nothing to run/],
    ["SQL and --named", ["SELECT 1", "--named", "beta-comparison"], /^phs: give either SQL or --named/]
  ] as const) {
    it(`${name}: one line on stderr, exit 2`, async () => {
      const r = (await phs(["query", ...args, "--workdir", work]))
      expect(r.code).toBe(2)
      const lines = r.stderr.trimEnd().split("\n")
      expect(lines.length).toBe(1)
      expect(lines[0]).toMatch(message)
      expect(r.stdout).toBe("")
    })
  }

  it("a workdir that does not exist: one line, exit 2", async () => {
    const r = (await phs(["query", "SELECT 1", "--workdir", path.join(dir, "nowhere")]))
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^phs: no workdir .*nowhere/)
  })
})
