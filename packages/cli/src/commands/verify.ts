/**
 * `phs verify RUN | --survey S`: reads the published parts back and checks each against the
 * size and SHA-256 catalog recorded in `_validation.json`; exit 1 naming what is damaged.
 * Also the integrity hooks of `phs status` (a line), `phs replay` (fails on damage) and
 * `phs resume` (rebuilds damaged parts from the chunk results).
 */
import { Args, Command, Options } from "@effect/cli"
import { BlobStore, Errors, PartIntegrity, repairParts, RunTable } from "@phs/core"
import { Effect, Option } from "effect"
import { line } from "../Output.js"
import { findRun, json, onTarget, targetOptions } from "./shared.js"

/** What the hooks below need and how they fail. */
type Hook = Effect.Effect<void, Errors.StorageError | Errors.RunNotFound | Errors.RunFailed, BlobStore.BlobStore | RunTable.RunTable>

const damageLines = (damaged: ReadonlyArray<PartIntegrity.Damage>) => damaged.map((d) => `  ${d.key}: ${d.reason}`)

const runText = (c: PartIntegrity.RunCheck): Array<string> => {
  switch (c.state) {
    case "ok":
      return [`run ${c.runId}: ${c.parts.length} part(s) intact (${c.parts.reduce((n, p) => n + p.rows, 0).toLocaleString("en-US")} rows; size and SHA-256 as recorded)`]
    case "unrecorded":
      return [`run ${c.runId}: parts present, but cataloged before sizes and SHA-256 were recorded: not checked`]
    case "unpublished":
      return [`run ${c.runId}: not completed, nothing published to check`]
    case "damaged":
      return [`run ${c.runId}: DAMAGED`, ...damageLines(c.damaged)]
  }
}

/** One line for `RunFailed`: the first damaged key, and how many more. */
const summary = (damaged: ReadonlyArray<PartIntegrity.Damage>) =>
  `${damaged[0].key} ${damaged[0].reason}${damaged.length > 1 ? ` (and ${damaged.length - 1} more)` : ""}`

const runId = Args.text({ name: "run" }).pipe(Args.withDescription("run id (a unique prefix will do)"), Args.optional)
const survey = Options.text("survey").pipe(Options.withDescription("check every completed run of this survey, and files no run published"), Options.optional)

export const verify = Command.make("verify", { runId, survey, json, ...targetOptions }, (o) =>
  onTarget(o, "read")(Effect.gen(function* () {
    if (Option.isSome(o.runId) === Option.isSome(o.survey))
      return yield* new Errors.InvalidInput({ reason: "verify takes a run id or --survey S (one of them)" })
    if (Option.isSome(o.runId)) {
      const run = yield* findRun(o.runId.value)
      const check = yield* PartIntegrity.verifyParts(run.runId)
      if (o.json) line(JSON.stringify(check))
      else for (const l of runText(check)) line(l)
      if (!PartIntegrity.isIntact(check))
        return yield* new PartIntegrity.PartsDamaged({ reason: `run ${run.runId}: published parts damaged: ${summary(check.damaged)}; phs resume ${run.runId} rebuilds them` })
      return
    }
    const name = Option.getOrThrow(o.survey)
    const check = yield* PartIntegrity.verifySurvey(name)
    if (o.json) line(JSON.stringify(check))
    else {
      if (check.runs.length === 0) line(`survey ${name}: no runs`)
      for (const r of check.runs) for (const l of runText(r)) line(l)
      if (check.strays.length > 0) line(`survey ${name}: files in the partition that no completed run published`)
      for (const l of damageLines(check.strays)) line(l)
    }
    if (!PartIntegrity.isIntact(check)) {
      const damaged = [...check.runs.flatMap((r) => r.damaged), ...check.strays]
      return yield* new PartIntegrity.PartsDamaged({ reason: `survey ${name}: published results damaged: ${summary(damaged)}` })
    }
  }))
).pipe(Command.withDescription("check published Parquet parts against the size and SHA-256 recorded at catalog; exit 1 naming what is damaged"))

/** `phs status`: one line on the run's published parts (text mode), a note on stderr when damaged. */
export const statusParts = (runId: string, asJson: boolean): Hook =>
  Effect.gen(function* () {
    const check = yield* PartIntegrity.verifyParts(runId)
    if (check.state === "unpublished") return
    if (!asJson) line(`  parts   ${check.state === "damaged" ? "DAMAGED" : check.state === "ok" ? `${check.parts.length} intact` : "not recorded"}`)
    if (check.state === "damaged") {
      if (!asJson) for (const l of damageLines(check.damaged)) line(l)
      process.stderr.write(`phs: note: published parts damaged: ${summary(check.damaged)}; phs resume ${runId} rebuilds them\n`)
    }
  })

/** `phs replay`: an identical journal still fails when what it published is damaged or gone. */
export const replayParts = (runId: string): Hook =>
  Effect.gen(function* () {
    const check = yield* PartIntegrity.verifyParts(runId)
    if (!PartIntegrity.isIntact(check))
      return yield* new Errors.RunFailed({ runId, reason: `the journal replays, but its published parts are damaged: ${summary(check.damaged)}` })
  })

/** `phs resume` of a completed run: rebuild damaged parts, or say what must be recomputed. */
export const resumeParts = (runId: string, asJson: boolean): Hook =>
  Effect.gen(function* () {
    const outcome = yield* repairParts(runId)
    if (!asJson) {
      if (outcome.rebuilt.length > 0) line(`run ${runId}: rebuilt ${outcome.rebuilt.length} part(s) from the chunk results: ${outcome.rebuilt.join(", ")}`)
      if (outcome.removed.length > 0) line(`run ${runId}: removed ${outcome.removed.length} file(s) it never published: ${outcome.removed.join(", ")}`)
    }
    if (outcome.mustRecompute.length > 0)
      return yield* new Errors.RunFailed({
        runId,
        reason: `published parts damaged and not rebuildable: ${summary(outcome.mustRecompute)}; recompute the run (phs pipeline CUBE)`
      })
    if (!PartIntegrity.isIntact(outcome.after))
      return yield* new Errors.RunFailed({ runId, reason: `published parts still damaged: ${summary(outcome.after.damaged)}` })
  })
