/**
 * `phs --help` and every command's help as a person reads it, and usage errors in phs's
 * words: no ANSI codes, lines within the terminal, no framework filler, every option with
 * what it does (and its default), the whole command in the usage line, examples at the end;
 * a mistyped command gets the nearest name, a malformed option names itself.
 */
import { describe, expect, it } from "vitest"
import { tree } from "../packages/cli/src/Commands.js"
import * as Help from "../packages/cli/src/Help.js"
import * as path from "node:path"
import { phs, tempDir } from "./support/cli.js"

/** Every command's path in the tree, groups included. */
const paths = (e: Help.Entry, prefix: ReadonlyArray<string> = []): ReadonlyArray<ReadonlyArray<string>> => [
  prefix,
  ...e.children.flatMap((c) => paths(c, [...prefix, c.name]))
]

const FILLER = ["A user-defined piece of text", "This setting is optional", "A true or false value", "An integer.", "One of the following", "An existing file", "May be specified"]

describe("help", () => {
  for (const width of [80, 120]) {
    it(`every command's help at ${width} columns: plain text, within the width, no filler, examples last`, () => {
      const all = paths(tree)
      expect(all.length).toBeGreaterThan(12)
      for (const p of all) {
        const text = Help.render(tree, p, width)
        const where = `phs ${p.join(" ")}`
        // eslint-disable-next-line no-control-regex
        expect(text, where).not.toMatch(/\u001b/)
        for (const l of text.split("\n")) expect(l.length, `${where}: ${l}`).toBeLessThanOrEqual(width)
        for (const f of FILLER) expect(text, where).not.toContain(f)
        expect(text, where).toMatch(new RegExp(`^(.*\\n)*Usage: phs${p.map((n) => ` ${n}`).join("")} `))
        expect(text, where).toContain("--verbose")
        expect(text, where).not.toMatch(/--wizard|--completions/)
        // The last section is the examples, each a command of this one.
        const examples = text.trimEnd().split("\n\n").pop() ?? ""
        expect(examples, where).toMatch(/^Examples?:\n/)
        for (const x of examples.split("\n").slice(1)) expect(x.trim(), where).toMatch(new RegExp(`^phs${p.length > 0 ? ` ${p[0]}` : ""}`))
      }
    })
  }

  it("options say what they do and their default; defaults are not shown as required", () => {
    const pipeline = Help.render(tree, ["pipeline"], 100)
    expect(pipeline).toMatch(/--chunk-size N +spectra per chunk \(default: 500\)/)
    expect(pipeline).toMatch(/--target local\|aws +local: .*\(default:\s+local\)/s)
    const exp = Help.render(tree, ["export"], 100)
    expect(exp).toMatch(/^Usage: phs export --fits DIR \[options\] \[<run>\]$/m)
    const map = Help.render(tree, ["plot", "map"], 100)
    expect(map).toMatch(/--value VALUE .*\(default: n_components\)/s)
    // Every option has a description.
    for (const p of paths(tree)) {
      const text = Help.render(tree, p, 200)
      const options = text.split("Options:\n")[1]?.split("\n\n")[0] ?? ""
      const lines = options.split("\n")
      lines.forEach((l, i) => {
        // Its text beside it, or on the next line when the option is long.
        if (/^ {2}-/.test(l)) expect(`${l}\n${lines[i + 1] ?? ""}`, `phs ${p.join(" ")}: ${l}`).toMatch(/^ {2}\S.*\S {2,}\S|^ {2}\S+( \S+)?\n {6,}\S/)
      })
    }
  })

  it("phs --help and a subcommand's --help through a pipe: plain, 80 columns, exit 0", async () => {
    for (const args of [["--help"], ["plot", "spectrum", "--help"], ["plot"]]) {
      const r = await phs(args, { env: { FORCE_COLOR: "1" } })
      expect(r.code).toBe(0)
      // eslint-disable-next-line no-control-regex
      expect(r.stdout).not.toMatch(/\u001b/)
      expect(Math.max(...r.stdout.split("\n").map((l) => l.length))).toBeLessThanOrEqual(80)
    }
    expect((await phs(["plot", "spectrum", "--help"])).stdout).toMatch(/^Usage: phs plot spectrum \[options\] <run> <x> <y>$/m)
  })
})

describe("usage errors", () => {
  it("a mistyped command suggests the nearest; --param without = and a bad choice name the option", async () => {
    const typo = await phs(["pipline", "x.fits"])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toBe("phs: unknown command pipline; did you mean pipeline? (phs --help lists the commands)\n")
    const nested = await phs(["plot", "spectrm"])
    expect(nested.stderr).toContain("did you mean spectrum?")
    const param = await phs(["pipeline", "examples/grs-3x3.fits", "--param", "beta"])
    expect(param.code).toBe(2)
    expect(param.stderr).toBe("phs: --param expects NAME=VALUE (e.g. --param beta=4), got beta\n")
    const choice = await phs(["plot", "map", "r", "--value", "width"])
    expect(choice.code).toBe(2)
    expect(choice.stderr).toMatch(/^phs: --value width: expected one of n_components, rms, .*snr_max\n$/)
    const wizard = await phs(["runs", "--wizard"])
    expect(wizard.code).toBe(2)
    expect(wizard.stderr).toMatch(/^phs: unknown option --wizard/)
  })

  it("the nearest name is near enough or none", () => {
    const names = ["pipeline", "runs", "status", "resume", "replay", "redrive", "rm", "query", "plot", "export", "cost"]
    expect(Help.nearest("pipline", names)).toBe("pipeline")
    expect(Help.nearest("stauts", names)).toBe("status")
    expect(Help.nearest("qeury", names)).toBe("query")
    expect(Help.nearest("xyzzy", names)).toBeUndefined()
  })
})

describe("phs --version", () => {
  it("is the version every run records: one source of truth", async () => {
    const v = await phs(["--version"])
    expect(v.code).toBe(0)
    const version = v.stdout.trim()
    expect(version).toMatch(/^\d+\.\d+\.\d+$/)
    const work = path.join(tempDir(), "w")
    const run = await phs(["pipeline", path.resolve("examples/grs-3x3.fits"), "--workdir", work, "--json"])
    expect(run.code, run.stderr).toBe(0)
    const { codeVersion } = JSON.parse(run.stdout) as { codeVersion: string }
    expect(codeVersion.startsWith(`phs-${version}+fit-`), codeVersion).toBe(true)
  }, 60_000)
})
