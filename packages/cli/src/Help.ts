/**
 * `phs --help` and every command's help, as plain text wrapped to the terminal: built from
 * the commands' own descriptions (`Command.getHelp`), without the framework's filler ("A
 * user-defined piece of text.", "This setting is optional."), each option with what it does
 * and its default, the usage line naming the whole command, and examples at the end. Never
 * any ANSI codes. The framework's `--wizard` and `--completions` are not offered.
 *
 * Also: the nearest command name for a mistyped one.
 */
import { CliConfig, Command, type HelpDoc } from "@effect/cli"
import { Option } from "effect"

type Span = HelpDoc.Paragraph["value"]

/** A command in the tree, with the examples its help ends with. */
export interface Entry {
  readonly name: string
  /** The default of each option that has one ("--chunk-size" → "500"). */
  readonly defaults: ReadonlyMap<string, string>
  /** The command's own options, as typed ("--survey"). */
  readonly options: ReadonlyArray<string>
  readonly description: string
  readonly help: () => HelpDoc.HelpDoc
  readonly examples: ReadonlyArray<string>
  readonly children: ReadonlyArray<Entry>
}

const config = CliConfig.make({ showBuiltIns: false })

/** An entry of the tree for a command. */
export const entry = <Name extends string, R, E, A>(
  name: Name,
  command: Command.Command<Name, R, E, A>,
  examples: ReadonlyArray<string>,
  children: ReadonlyArray<Entry> = []
): Entry => {
  const help = () => Command.getHelp(command, config)
  return {
    name,
    defaults: defaultsOf(command.descriptor),
    options: optionsOf(command.descriptor),
    get description() {
      return (sections(help()).get("DESCRIPTION") ?? []).flatMap(paragraphs).join(" ")
    },
    help,
    examples,
    children
  }
}


/**
 * The defaults of a command's options, read from its descriptor: the framework's help
 * names a default only for optional values, so phs finds the `WithDefault` nodes itself.
 */
const defaultsOf = (descriptor: unknown): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  const seen = new Set<unknown>()
  const names = (node: unknown, acc: string[]): string[] => {
    if (typeof node !== "object" || node === null || seen.has(node)) return acc
    seen.add(node)
    const o = node as Record<string, unknown>
    if (o._tag === "Single" && typeof o.name === "string") acc.push(`--${o.name}`)
    for (const v of Object.values(o)) if (typeof v === "object") names(v, acc)
    return acc
  }
  const walk = (node: unknown, depth: number): void => {
    if (typeof node !== "object" || node === null || depth > 40) return
    const o = node as Record<string, unknown>
    if (o._tag === "WithDefault" && !Option.isOption(o.fallback) && typeof o.fallback !== "boolean") {
      seen.clear()
      for (const n of names(o.options, [])) out.set(n, Array.isArray(o.fallback) ? o.fallback.join(", ") : String(o.fallback))
    }
    if (o._tag === "Subcommands") return walk(o.parent, depth + 1)
    for (const [k, v] of Object.entries(o)) if (k !== "fallback" && typeof v === "object") walk(v, depth + 1)
  }
  walk(descriptor, 0)
  return out
}

/** The `--name` of every option of a command, read from its descriptor (its arguments left out). */
const optionsOf = (descriptor: unknown): ReadonlyArray<string> => {
  let d = descriptor as Record<string, unknown> | undefined
  while (d !== undefined && d._tag === "Map") d = d.command as Record<string, unknown> | undefined
  const out = new Set<string>()
  const seen = new Set<unknown>()
  const walk = (node: unknown): void => {
    if (typeof node !== "object" || node === null || seen.has(node)) return
    seen.add(node)
    const o = node as Record<string, unknown>
    if (o._tag === "Single" && typeof o.name === "string") out.add(`--${o.name}`)
    for (const v of Object.values(o)) walk(v)
  }
  if (d?._tag === "Standard") walk(d.options)
  return [...out]
}

const spanText = (s: Span): string => {
  switch (s._tag) {
    case "Text":
    case "URI":
      return s.value
    case "Sequence":
      return spanText(s.left) + spanText(s.right)
    default:
      return spanText(s.value)
  }
}

/** The framework's paragraphs that say nothing the option's own line does not. */
const FILLER = [
  /^A user-defined piece of text\.$/,
  /^An integer\.$/,
  /^A floating point number\.$/,
  /^A true or false value\.$/,
  /^A (file|directory|path|file or directory)\.$/,
  /^A date\.$/,
  /^One of the following: .*$/,
  /^An existing (file|directory)\.$/,
  /^This setting is optional\.$/,
  /^This setting is a property argument which:/,
  /^May be specified /,
  /^This option may be repeated/,
  /^This argument must be repeated/,
  /^This option can be set from environment variables\.$/
]

interface Item {
  readonly spec: string
  readonly text: string
  readonly optional: boolean
}

/** Paragraphs of a block: the description and the framework's notes. */
const paragraphs = (doc: HelpDoc.HelpDoc): string[] => {
  switch (doc._tag) {
    case "Paragraph":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    case "Enumeration":
      return doc.elements.flatMap(paragraphs)
    default:
      return []
  }
}

/** "--chunk-size integer" → "--chunk-size N"; a long choice list → its name in capitals; "<cube> 1+" → "<cube>…". */
const placeholder = (spec: string): string => {
  if (/^<[\w-]+> \d+\+$/.test(spec)) return spec.replace(/ \d+\+$/, "…")
  const m = /^((?:-\w, )?--?[\w-]+)(?: (.*))?$/.exec(spec.replace(/^\((.*)\)$/, "$1"))
  if (m === null || m[2] === undefined) return spec.replace(/^\((.*)\)$/, "$1")
  const [, flag, value] = m
  const name = flag.replace(/^.*--/, "")
  const types: Record<string, string> = { text: "TEXT", integer: "N", float: "X", file: "FILE", directory: "DIR", path: "PATH" }
  if (types[value] !== undefined) return `${flag} ${name === "param" ? "NAME=VALUE" : types[value]}`
  const choices = value.split(" | ")
  return choices.length > 4 ? `${flag} ${name.toUpperCase()}` : `${flag} ${choices.join("|")}`
}

/** The items (arguments or options) of a section's description list. */
const items = (doc: HelpDoc.HelpDoc, defaults: ReadonlyMap<string, string>): Item[] => {
  switch (doc._tag) {
    case "DescriptionList":
      return doc.definitions.map(([span, block]) => {
        const raw = paragraphs(block)
        const optional = raw.some((p) => p.startsWith("This setting is optional") || p.startsWith("This option may be repeated zero"))
        const spec = placeholder(spanText(span))
        const fallback =
          defaults.get(spec.split(" ")[0].replace(/^-\w, /, "")) ??
          raw.map((p) => /^This setting is optional\. Defaults to: (.*)$/.exec(p)?.[1]).find((d) => d !== undefined)
        const own = raw.filter((p) => !FILLER.some((f) => f.test(p)) && !p.startsWith("This setting is optional"))
        const isFlag = !spec.includes(" ") || spec.startsWith("<")
        const withDefault =
          fallback !== undefined && !isFlag && !own.some((p) => /default/i.test(p)) ? [...own, `(default: ${fallback})`] : own
        return { spec, text: withDefault.join(" "), optional }
      })
    case "Sequence":
      return [...items(doc.left, defaults), ...items(doc.right, defaults)]
    default:
      return []
  }
}

/** A leaf command's sections: description, arguments, options. */
const sections = (doc: HelpDoc.HelpDoc): Map<string, HelpDoc.HelpDoc[]> => {
  const out = new Map<string, HelpDoc.HelpDoc[]>()
  let current = ""
  const walk = (d: HelpDoc.HelpDoc) => {
    if (d._tag === "Sequence") {
      walk(d.left)
      walk(d.right)
    } else if (d._tag === "Header") current = spanText(d.value)
    else if (d._tag !== "Empty") out.set(current, [...(out.get(current) ?? []), d])
  }
  walk(doc)
  return out
}

/** Words of `text` in lines of at most `width`, each after `indent` spaces (the first after `first`). */
export const wrap = (text: string, width: number, indent = 0, first = indent): string[] => {
  const lines: string[] = []
  let current = " ".repeat(first)
  let empty = true
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (!empty && current.length + 1 + word.length > width) {
      lines.push(current)
      current = " ".repeat(indent) + word
    } else current += (empty ? "" : " ") + word
    empty = false
  }
  lines.push(current)
  return lines.map((l) => l.trimEnd())
}

/** Two columns: the spec, then its text wrapped beside it (or below it when the spec is long). */
const twoColumns = (rows: ReadonlyArray<{ readonly spec: string; readonly text: string }>, width: number): string[] => {
  const column = Math.min(26, Math.max(...rows.map((r) => r.spec.length)) + 4)
  return rows.flatMap((r) => {
    if (r.text === "") return [`  ${r.spec}`]
    if (r.spec.length + 4 > column) return [`  ${r.spec}`, ...wrap(r.text, width, column)]
    const [head, ...rest] = wrap(r.text, width, column, column)
    return [`  ${r.spec}${head.slice(r.spec.length + 2)}`, ...rest]
  })
}

/** Options every command takes, handled before the command runs. */
const GLOBAL = [
  { spec: "--verbose", text: "on failure, print the whole cause (a stack trace) after the one-line error" },
  { spec: "-h, --help", text: "show this help" },
  { spec: "--version", text: "print phs's version" }
]

/** The help of the command at `path` (the top-level entry's children are the commands). */
export const render = (root: Entry, path: ReadonlyArray<string>, width: number): string => {
  let e = root
  for (const name of path) e = e.children.find((c) => c.name === name) ?? e
  const title = ["phs", ...path].join(" ")
  const out: string[] = []
  if (e.children.length > 0) {
    out.push(...wrap(e.description, width), "", `Usage: ${title} COMMAND [options]`, "", "Commands:")
    out.push(...twoColumns(e.children.map((c) => ({ spec: c.name, text: c.description })), width))
    out.push("", "Options:", ...twoColumns(GLOBAL, width))
    out.push("", ...wrap(`Run ${title} COMMAND --help for a command's options.`, width))
  } else {
    const s = sections(e.help())
    const args = (s.get("ARGUMENTS") ?? []).flatMap((d) => items(d, e.defaults))
    const options = (s.get("OPTIONS") ?? []).flatMap((d) => items(d, e.defaults))
    const required = options.filter((o) => !o.optional).map((o) => o.spec)
    const argSpecs = args.map((a) => (a.optional ? `[${a.spec}]` : a.spec))
    out.push(...wrap(`Usage: ${[title, ...required, options.length > required.length ? "[options]" : "", ...argSpecs].filter((w) => w !== "").join(" ")}`, width, 4, 0))
    out.push("", ...wrap(e.description, width))
    if (args.length > 0) out.push("", "Arguments:", ...twoColumns(args, width))
    out.push("", "Options:", ...twoColumns([...options, ...GLOBAL], width))
  }
  if (e.examples.length > 0) out.push("", e.examples.length > 1 ? "Examples:" : "Example:", ...e.examples.flatMap((x) => wrap(x, width, 6, 2)))
  return `${out.join("\n")}\n`
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
export const distance = (a: string, b: string): number => {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  return d[a.length][b.length]
}

/** The nearest of `names` to a mistyped one, when it is near enough to be what was meant. */
export const nearest = (word: string, names: ReadonlyArray<string>): string | undefined => {
  const ranked = names.map((n) => ({ n, d: n.startsWith(word) && word.length >= 2 ? 0 : distance(word, n) })).sort((x, y) => x.d - y.d)
  const best = ranked[0]
  return best !== undefined && best.d <= Math.max(1, Math.floor(best.n.length / 3)) ? best.n : undefined
}

/** Options every command takes, as typed ("-h", "--help", …). */
const GLOBAL_FLAGS = GLOBAL.flatMap((g) => g.spec.split(", "))

/**
 * The first option of `args` that the command `entry` (at `path`) does not have, as one
 * line naming the nearest it has; undefined when every option is known. Only words shaped
 * like an option count (`--name` or `--name=value`), up to a bare `--`: a value such as
 * `-5` or an SQL text is not one.
 */
export const unknownOption = (entry: Entry, path: ReadonlyArray<string>, args: ReadonlyArray<string>): string | undefined => {
  for (const a of args) {
    if (a === "--") return undefined
    const m = /^(--[A-Za-z][\w-]*)(=.*)?$/s.exec(a)
    if (m === null || entry.options.includes(m[1]) || GLOBAL_FLAGS.includes(m[1])) continue
    const near = nearest(m[1].slice(2), entry.options.map((o) => o.slice(2)))
    return `unknown option ${m[1]}${near === undefined ? "" : `; did you mean --${near}?`} (${["phs", ...path].join(" ")} --help lists the options)`
  }
  return undefined
}
