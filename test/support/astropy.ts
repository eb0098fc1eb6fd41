/**
 * Checking FITS files with astropy (Debian's python3-astropy): `fits.open(p).verify("exception")`
 * on each. Where astropy is missing the check is unavailable — a failure under CI=true,
 * where .ci installs it, and a skip locally.
 */
import { spawnSync } from "node:child_process"

const PYTHON = "/usr/bin/python3"

/** Whether astropy can be imported by the system Python. */
export const astropyAvailable = (): boolean => spawnSync(PYTHON, ["-c", "import astropy.io.fits"], { encoding: "utf8" }).status === 0

/** Whether tests needing astropy must run (CI) rather than skip. */
export const astropyRequired = (): boolean => process.env.CI === "true"

/** Each file that astropy's verify("exception") rejects, with its one-line complaint. */
export const astropyProblems = (files: ReadonlyArray<string>): ReadonlyArray<{ file: string; problem: string }> => {
  const script = [
    "import sys, warnings",
    "from astropy.io import fits",
    "warnings.simplefilter('error')",
    "for p in sys.argv[1:]:",
    "    try:",
    "        with fits.open(p) as h:",
    "            h.verify('exception')",
    "            h[0].data",
    "    except Exception as e:",
    "        print(p + '\\t' + ' '.join(str(e).split()))"
  ].join("\n")
  const r = spawnSync(PYTHON, ["-c", script, ...files], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(`astropy check failed to run: ${r.stderr}`)
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => {
    const [file, problem] = l.split("\t")
    return { file, problem }
  })
}
