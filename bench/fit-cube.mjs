#!/usr/bin/env node
// decomposeBatch alone over every spectrum of a FITS cube, on all cores, with the pipeline's
// default parameters and budget: the fitter's throughput, for bench/pipeline.mjs to compare
// the pipeline's against. Prints one JSON line { spectra, seconds, perS, threads }.
//   node bench/fit-cube.mjs CUBE.fits
import { Fits } from "@phs/core"
import { decomposeBatch, poolThreads } from "@phs/fit-native"
import { Effect } from "effect"
import * as fs from "node:fs"

const file = process.argv[2]
const bytes = new Uint8Array(fs.readFileSync(file))
const src = Fits.fromBytes(bytes)
const header = await Effect.runPromise(Fits.readHeader(src))
const n = Fits.pixelCount(header)
const spectra = await Effect.runPromise(Fits.readSpectra(src, header, 0, n))
const t0 = process.hrtime.bigint()
const out = await decomposeBatch(spectra, header.nchan)
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
if (out.length !== n) throw new Error(`decomposeBatch returned ${out.length} results for ${n} spectra`)
console.log(JSON.stringify({ spectra: n, seconds, perS: Math.round(n / seconds), threads: poolThreads() }))
