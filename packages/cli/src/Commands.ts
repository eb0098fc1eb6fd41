/**
 * The `phs` command tree: every command, and the examples its help ends with.
 */
import { Command } from "@effect/cli"
import { cost } from "./commands/cost.js"
import { exportCommand } from "./commands/export.js"
import { pipeline } from "./commands/pipeline.js"
import { map, plot, spectrum, summary } from "./commands/plot.js"
import { query } from "./commands/query.js"
import { redrive, replay, resume, rm, runs, status } from "./commands/runs.js"
import { sweep } from "./commands/sweep.js"
import { tune } from "./commands/tune.js"
import { verify } from "./commands/verify.js"
import { view } from "./commands/view.js"
import * as Help from "./Help.js"

export const VERSION = "0.1.0"

export const phs = Command.make("phs").pipe(
  Command.withDescription("Gaussian decomposition of radio survey cubes, with durable, replayable runs"),
  Command.withSubcommands([pipeline, runs, status, resume, replay, redrive, verify, rm, query, plot, view, exportCommand, cost, sweep, tune])
)

/** The command tree as help shows it, each command with its examples. */
export const tree: Help.Entry = Help.entry("phs", phs, ["phs pipeline examples/grs-5x5.fits", 'phs query "SELECT count(*) FROM decompositions"'], [
  Help.entry("pipeline", pipeline, ["phs pipeline examples/grs-5x5.fits", "phs pipeline field.fits --survey grs --param beta=4 --chunk-size 250", "phs pipeline tiles/ --survey grs"]),
  Help.entry("runs", runs, ["phs runs", "phs runs --survey grs --json"]),
  Help.entry("status", status, ["phs status grs-3f2a", "phs status grs-3f2a --json", "phs status --survey grs"]),
  Help.entry("resume", resume, ["phs resume grs-3f2a", "phs resume grs-3f2a --target aws"]),
  Help.entry("replay", replay, ["phs replay grs-3f2a"]),
  Help.entry("redrive", redrive, ["phs redrive grs-3f2a && phs resume grs-3f2a"]),
  Help.entry("verify", verify, ["phs verify grs-3f2a", "phs verify --survey grs"]),
  Help.entry("rm", rm, ["phs rm grs-3f2a", "phs rm grs-3f2a --yes"]),
  Help.entry("query", query, ['phs query "SELECT survey, count(*) FROM decompositions GROUP BY 1"', "phs query --named beta-comparison --format csv"]),
  Help.entry("plot", plot, ["phs plot map grs-3f2a --value rms --out rms.png"], [
    Help.entry("spectrum", spectrum, ["phs plot spectrum grs-3f2a 2 3", "phs plot spectrum grs-3f2a 2 3 --out s.png"]),
    Help.entry("map", map, ["phs plot map grs-3f2a", "phs plot map grs-3f2a --value integrated --out integrated.png"]),
    Help.entry("summary", summary, ["phs plot summary grs-3f2a"])
  ]),
  Help.entry("view", view, ["phs view", "phs view grs-3f2a --port 0 --labels labels.json"]),
  Help.entry("export", exportCommand, ["phs export grs-3f2a --fits maps/", "phs export grs-3f2a --fits maps/ --value rms --value snr_max"]),
  Help.entry("cost", cost, ["phs cost examples/grs-5x5.fits", "phs cost mosaic.fits --hdu 2", "phs cost --spectra 2300000 --arch arm64"]),
  Help.entry("sweep", sweep, ["phs sweep cube.fits --param beta=2:5:0.25", "phs sweep mosaic.fits --hdu 2 --param beta=3,3.5,4"]),
  Help.entry("tune", tune, ["phs tune cube.fits --truth labels.json", "phs tune cube.fits --synthetic", "phs tune mosaic.fits --hdu 2 --synthetic"])
])

