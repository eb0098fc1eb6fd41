/**
 * The cubes `phs pipeline` is given: files, directories (their *.fits / *.fit / *.fits.gz
 * files) and globs of file names (`*` and `?` in the last path part, for a quoted pattern the
 * shell did not expand), in the order given, each directory's and glob's sorted by name,
 * duplicates dropped.
 */
import { Errors } from "@phs/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const FITS = /\.fits?(\.gz)?$/i

const globToRegExp = (pattern: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`)

const listDir = (dir: string, keep: (name: string) => boolean) =>
  fs.readdirSync(dir).filter((n) => keep(n) && fs.statSync(path.join(dir, n)).isFile()).sort().map((n) => path.join(dir, n))

/** The cube files of `args`, or a one-line error naming the argument that gives none. */
export const expand = (args: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, Errors.InvalidInput> =>
  Effect.try({
    try: () => {
      const out: string[] = []
      for (const arg of args) {
        let found: string[]
        if (fs.existsSync(arg)) found = fs.statSync(arg).isDirectory() ? listDir(arg, (n) => FITS.test(n)) : [arg]
        else if (/[*?]/.test(path.basename(arg)) && fs.existsSync(path.dirname(arg))) found = listDir(path.dirname(arg), (n) => globToRegExp(path.basename(arg)).test(n))
        else throw new Errors.InvalidInput({ reason: `${arg}: no such file or directory` })
        if (found.length === 0) throw new Errors.InvalidInput({ reason: `${arg}: no FITS cubes there` })
        for (const f of found) if (!out.includes(f)) out.push(f)
      }
      return out
    },
    catch: (e) => (e instanceof Errors.InvalidInput ? e : new Errors.InvalidInput({ reason: `cannot read the cubes: ${e instanceof Error ? e.message : String(e)}` }))
  })
