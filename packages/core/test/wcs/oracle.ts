/**
 * Runs scripts/astropy-wcs.py under Debian's /usr/bin/python3 (astropy with WCSLIB), the
 * independent oracle of the WCS tests. Not the pyenv python3 on PATH: that one has no
 * astropy, and a test must not depend on which interpreter a shell happens to find.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

export const PYTHON = "/usr/bin/python3"
export const SCRIPT = fileURLToPath(new URL("../../../../scripts/astropy-wcs.py", import.meta.url))

export type HeaderValue = string | number | boolean

export interface OracleCase {
  readonly header?: Readonly<Record<string, HeaderValue>>
  readonly file?: string
  readonly pixels: ReadonlyArray<ReadonlyArray<number>>
  readonly sptr?: string
}

export type OracleResult =
  | { readonly world: ReadonlyArray<ReadonlyArray<number | null>>; readonly ctype: ReadonlyArray<string>; readonly cunit: ReadonlyArray<string>; readonly radesys: string | null; readonly equinox: number | null; readonly error?: undefined }
  | { readonly error: string }

/** Why the oracle cannot run here, or undefined when it can. */
export const unavailableReason = (): string | undefined => {
  if (!existsSync(PYTHON)) return `${PYTHON} does not exist`
  const probe = spawnSync(PYTHON, ["-c", "import astropy.wcs"], { encoding: "utf8" })
  if (probe.status !== 0) return `${PYTHON} has no astropy (apt-get install -y python3-astropy): ${probe.stderr.trim().split("\n").at(-1) ?? ""}`
  return undefined
}

export const runOracle = (cases: ReadonlyArray<OracleCase>): ReadonlyArray<OracleResult> => {
  const out = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(cases), encoding: "utf8", maxBuffer: 256 * 1024 * 1024 })
  if (out.status !== 0) throw new Error(`${SCRIPT} exited ${out.status}: ${out.stderr}`)
  const results = JSON.parse(out.stdout) as ReadonlyArray<OracleResult>
  if (results.length !== cases.length) throw new Error(`oracle returned ${results.length} results for ${cases.length} cases`)
  return results
}
