/**
 * What a user types that phs must understand or refuse in one line: every example of the
 * help and every `phs …` command of README.md and docs/*.md uses only options its command
 * has (and only shipped named queries); a mistyped option is refused before anything runs,
 * naming the nearest option, wherever it stands; the framework's usage errors (a missing
 * option, a value that is not a number, a path that does not exist) are said in phs's words.
 */
import { Error as PlatformError } from "@effect/platform"
import { NamedQueries } from "@phs/core"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { tree } from "../packages/cli/src/Commands.js"
import { pathDefect, usageMessage } from "../packages/cli/src/Failure.js"
import * as Help from "../packages/cli/src/Help.js"
import { phs, tempDir } from "./support/cli.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const SAMPLE = path.join(root, "examples/grs-3x3.fits")

/** Words of a shell command line: quotes grouped, not expanded. */
const words = (line: string): string[] => [...line.matchAll(/"[^"]*"|'[^']*'|\S+/g)].map((m) => m[0])

/** The leaf command a command line runs, its path and the words after it; undefined for none. */
const leafOf = (line: string): { entry: Help.Entry; path: string[]; rest: string[] } | undefined => {
  const ws = words(line)
  if (ws[0] !== "phs") return undefined
  let entry = tree
  const p: string[] = []
  let i = 1
  for (; i < ws.length; i++) {
    const child = entry.children.find((c) => c.name === ws[i])
    if (child === undefined) break
    entry = child
    p.push(ws[i])
  }
  return entry.children.length === 0 && p.length > 0 ? { entry, path: p, rest: ws.slice(i) } : undefined
}

/** What is wrong with a documented command line: an unknown option or named query. */
const problems = (line: string): string[] => {
  const leaf = leafOf(line)
  if (leaf === undefined) return []
  const out: string[] = []
  const unknown = Help.unknownOption(leaf.entry, leaf.path, leaf.rest)
  if (unknown !== undefined) out.push(unknown)
  const named = leaf.rest.indexOf("--named")
  const name = leaf.rest[named + 1]
  if (named >= 0 && name !== undefined && /^[a-z][\w-]*$/.test(name) && NamedQueries.find(name) === undefined) out.push(`no named query ${name}`)
  return out
}

/** Every example of every command's help. */
const examples = (e: Help.Entry): string[] => [...e.examples, ...e.children.flatMap(examples)]

/** `phs …` command lines of a Markdown file: shell lines of its code blocks and inline code spans. */
const documented = (file: string): string[] => {
  const text = fs.readFileSync(file, "utf8")
  const blocks = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n"))
  const spans = [...text.replace(/```[\s\S]*?```/g, "").matchAll(/`(phs [^`]+)`/g)].map((m) => m[1])
  return [...blocks, ...spans]
    .map((l) => l.replace(/^\$ /, "").replace(/\s+#.*$/, "").trim())
    .filter((l) => l.startsWith("phs "))
    .flatMap((l) => l.split(/\s*(?:&&|\|)\s*/).filter((c) => c.startsWith("phs ")))
}

describe("documented commands", () => {
  it("every help example uses only its command's options and shipped named queries", () => {
    const all = examples(tree)
    expect(all.length).toBeGreaterThan(20)
    for (const x of all) expect(problems(x), x).toEqual([])
  })

  it("every phs command of README.md and docs/*.md uses only its command's options", () => {
    const files = [path.join(root, "README.md"), ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => path.join(root, "docs", f))]
    const lines = files.flatMap((f) => documented(f).map((l) => ({ file: path.relative(root, f), l })))
    expect(lines.length).toBeGreaterThan(50)
    for (const { file, l } of lines) expect(problems(l), `${file}: ${l}`).toEqual([])
  })
})

describe("a repeated argument", () => {
  it("reads <cube>… in the usage line and the arguments, without the framework's note", () => {
    const text = Help.render(tree, ["pipeline"], 100)
    expect(text).toMatch(/^Usage: phs pipeline \[options\] <cube>…$/m)
    expect(text).toMatch(/^ {2}<cube>… +FITS cube/m)
    expect(text).not.toMatch(/must be repeated|1\+/)
  })
})

describe("a mistyped option", () => {
  it("is named with the nearest option in the command's help, whatever its place", () => {
    const pipeline = tree.children.find((c) => c.name === "pipeline")!
    expect(Help.unknownOption(pipeline, ["pipeline"], ["cube.fits", "--sruvey", "grs"])).toBe(
      "unknown option --sruvey; did you mean --survey? (phs pipeline --help lists the options)"
    )
    expect(Help.unknownOption(pipeline, ["pipeline"], ["--chunk-siz=5", "cube.fits"])).toMatch(/^unknown option --chunk-siz; did you mean --chunk-size\?/)
    expect(Help.unknownOption(pipeline, ["pipeline"], ["cube.fits", "--xyzzy"])).toBe("unknown option --xyzzy (phs pipeline --help lists the options)")
    // Known options, values that start with a dash and words after `--` are not options.
    expect(Help.unknownOption(pipeline, ["pipeline"], ["cube.fits", "--survey", "grs", "--param", "beta=4", "--chunk-size", "-5", "--verbose", "-h"])).toBeUndefined()
    expect(Help.unknownOption(pipeline, ["pipeline"], ["--", "--not-an-option.fits"])).toBeUndefined()
    const query = tree.children.find((c) => c.name === "query")!
    expect(Help.unknownOption(query, ["query"], ["-- a comment\nSELECT 1", "--format", "csv"])).toBeUndefined()
  })

  it("of phs itself or of a group is refused too (not answered with the help); --help still shows it", async () => {
    for (const [args, where] of [[["--bogus"], "phs"], [["plot", "--bogus"], "phs plot"]] as const) {
      const r = await phs(args)
      expect(r.code, args.join(" ")).toBe(2)
      expect(r.stderr).toBe(`phs: unknown option --bogus (${where} --help lists the options)\n`)
    }
    const help = await phs(["pipeline", "--sruvey", "--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^Usage: phs pipeline /)
  })

  it("after a cube is refused in one line (exit 2), not read as a cube; nothing is created", async () => {
    const dir = tempDir()
    const work = path.join(dir, "w")
    for (const args of [
      [SAMPLE, "--sruvey", "grs"],
      ["--sruvey", "grs", SAMPLE]
    ]) {
      const r = await phs(["pipeline", ...args, "--workdir", work])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toBe("phs: unknown option --sruvey; did you mean --survey? (phs pipeline --help lists the options)\n")
      expect(r.stdout).toBe("")
    }
    expect(fs.existsSync(work)).toBe(false)
    const status = await phs(["status", "--survy", "grs", "--workdir", work])
    expect(status.code).toBe(2)
    expect(status.stderr).toBe("phs: unknown option --survy; did you mean --survey? (phs status --help lists the options)\n")
  })
})

describe("the framework's usage errors in phs's words", () => {
  it("a missing option or argument, a value that is not a number, a path that does not exist", () => {
    expect(usageMessage("Expected to find option: '--fits'", ["export", "r"])).toBe("missing option --fits")
    expect(usageMessage("Missing argument <cube>", ["pipeline"])).toBe("missing argument <cube>")
    expect(usageMessage("'abc' is not a integer", ["pipeline", "c.fits", "--chunk-size", "abc"])).toBe("--chunk-size abc: expected an integer")
    expect(usageMessage("'abc' is not a integer", ["pipeline", "c.fits", "--chunk-size=abc"])).toBe("--chunk-size abc: expected an integer")
    expect(usageMessage("'a' is not a integer", ["plot", "spectrum", "r", "a", "1"])).toBe("a: expected an integer")
    expect(usageMessage("Path 'x.json' must exist", ["runs", "--aws-config", "x.json"])).toBe("--aws-config x.json: no such file or directory")
    expect(usageMessage("Path 'nope' must exist", ["sweep", "nope"])).toBe("nope: no such file or directory")
  })

  it("through the CLI: one line, exit 2", async () => {
    const dir = tempDir()
    const cases: Array<[ReadonlyArray<string>, string]> = [
      [["export", "r"], "phs: missing option --fits\n"],
      [["pipeline"], "phs: missing argument <cube>\n"],
      [["pipeline", SAMPLE, "--chunk-size", "abc"], "phs: --chunk-size abc: expected an integer\n"],
      [["sweep", path.join(dir, "nope.fits")], `phs: ${path.join(dir, "nope.fits")}: no such file or directory\n`]
    ]
    for (const [args, stderr] of cases) {
      const r = await phs([...args, "--workdir", path.join(dir, "w")])
      expect(r.code, args.join(" ")).toBe(2)
      expect(r.stderr, args.join(" ")).toBe(stderr)
    }
  })
})

describe("an output path phs cannot create", () => {
  it("a file-system defect of a path option is its path and why; other defects are not", () => {
    const enotdir = new PlatformError.SystemError({
      reason: "BadResource",
      module: "FileSystem",
      method: "access",
      pathOrDescriptor: "/tmp/f/x.svg",
      description: "ENOTDIR: not a directory, access '/tmp/f/x.svg'"
    })
    expect(pathDefect(enotdir)).toBe("/tmp/f/x.svg: not a directory")
    expect(pathDefect(new Error("boom"))).toBeUndefined()
  })

  it("is refused in one line, exit 2: under /proc (no endless mkdir), below a file", async () => {
    const dir = tempDir()
    const work = path.join(dir, "w")
    const run = await phs(["pipeline", SAMPLE, "--workdir", work, "--json"])
    expect(run.code, run.stderr).toBe(0)
    const runId = (JSON.parse(run.stdout) as { runId: string }).runId
    const file = path.join(dir, "f")
    fs.writeFileSync(file, "")
    const cases: Array<[ReadonlyArray<string>, RegExp]> = [
      [["export", runId, "--fits", "/proc/phs-no-such/maps"], /^phs: cannot create \/proc\/phs-no-such\/maps: mkdir \/proc\/phs-no-such: no such file or directory \(ENOENT\)\n$/],
      [["plot", "map", runId, "--out", "/proc/phs-no-such/m.svg"], /^phs: cannot create \/proc\/phs-no-such: mkdir \/proc\/phs-no-such: no such file or directory \(ENOENT\)\n$/],
      [["plot", "map", runId, "--out", path.join(file, "m.svg")], /^phs: .*\/f\/m\.svg: not a directory\n$/],
      [["export", runId, "--fits", path.join(file, "maps")], /^phs: .*\/f\/maps: not a directory\n$/]
    ]
    for (const [args, stderr] of cases) {
      const r = await phs([...args, "--workdir", work])
      expect(r.code, args.join(" ")).toBe(2)
      expect(r.stderr, args.join(" ")).toMatch(stderr)
    }
  }, 60_000)
})
