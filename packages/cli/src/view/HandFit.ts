/**
 * One Gaussian fitted by hand over a channel window, by the native decomposer's solver:
 * the guess is the window's highest finite channel, with a width of a sixth of the window.
 */
import * as Native from "@phs/fit-native"
import { Effect } from "effect"
import type { Component } from "./Labels.js"
import { BadRequest } from "./ViewErrors.js"

/** Fewest channels a window must hold to fit 3 parameters with some noise to spare. */
export const MIN_WINDOW = 4

/** Fits one Gaussian to `spectrum[lo..hi]` (inclusive); mean and stddev in channels of the whole spectrum. */
export const fitWindow = (spectrum: Float32Array, lo: number, hi: number, noise: number | null): Effect.Effect<Component, BadRequest> =>
  Effect.gen(function* () {
    if (hi >= spectrum.length || lo < 0 || hi - lo + 1 < MIN_WINDOW) {
      return yield* Effect.fail(
        new BadRequest({ message: `the window must be ${MIN_WINDOW} or more channels within 0..${spectrum.length - 1}, got ${lo}..${hi}` })
      )
    }
    const window = spectrum.subarray(lo, hi + 1)
    let peak = -1
    for (let i = 0; i < window.length; i++) if (Number.isFinite(window[i]) && (peak < 0 || window[i] > window[peak])) peak = i
    if (peak < 0 || !(window[peak] > 0)) {
      return yield* Effect.fail(new BadRequest({ message: `channels ${lo}..${hi} have no positive data to fit` }))
    }
    const guess = { amplitude: window[peak], mean: peak, stddev: Math.max(1, window.length / 6) }
    const r = Native.__internal.fit(window, [guess], 2000, noise !== null && noise > 0 ? noise : 1)
    const c = r.components[0]
    if (c === undefined || r.status === "numerical_failure" || !(c.stddev > 0) || !Number.isFinite(c.amplitude)) {
      return yield* Effect.fail(new BadRequest({ message: `no Gaussian fits channels ${lo}..${hi} (${r.status})` }))
    }
    return { amplitude: c.amplitude, mean: c.mean + lo, stddev: c.stddev }
  })
