import { it } from "vitest"
import { decompose } from "@phs/fit-native"
import { spectrum } from "./helpers.js"
it("p", () => {
const show = (name: string, d: any) => console.log(name, d.status, d.rms, d.components.map((c: any) => [c.amplitude.toFixed(3), c.mean.toFixed(2), c.stddev.toFixed(2)].join("/")).join("  "), d.evaluations)
const f = spectrum(424, [{ amplitude: 0.6, mean: 200, stddev: 3 }], 0.1, 5)
show("mf", decompose(f)); show("mf0", decompose(f, {max_refine_iter:0}))
})
