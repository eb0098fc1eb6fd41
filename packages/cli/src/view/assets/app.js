// phs view: the page. Plain JavaScript, canvas for the map, SVG for the spectra; it talks
// only to the API of the server that sent it (docs/viewer.md).
"use strict"
;(() => {
  const $ = (id) => document.getElementById(id)
  const SVG = "http://www.w3.org/2000/svg"
  const COMPONENT_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#eeca3b", "#9d755d", "#72b7b2", "#ff9da6", "#79706e", "#bab0ac"]
  const MODEL_COLOR = "#e45756"
  const MAP_PX = 520

  const state = {
    runs: [],
    quantities: [],
    run: null,
    mosaic: null, // survey of the mosaic `phs view --survey` serves
    inMosaic: false, // the map is that mosaic (pixels are the grid's; spectra are the owning tile's)
    other: null,
    value: "n_components",
    diff: false,
    map: null,
    pixel: null, // {x, y}
    main: null, // pixel answer of the run
    second: null, // pixel answer of the other run
    comps: [] // label state: {amplitude, mean, stddev, accepted, source}
  }
  // Timings for the browser test and the benchmark.
  const timings = (window.__phs = { mapMs: null, pixelMs: null, pixelsShown: 0 })

  const fmt = (v, d = 4) => (v === null || v === undefined ? "—" : Number(Number(v).toPrecision(d)).toString())
  const status = (text, isError = false) => {
    $("status").textContent = text
    $("status").className = isError ? "error" : ""
  }
  const api = async (url, init) => {
    const r = await fetch(url, init)
    const body = await r.json()
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`)
    return body
  }
  const el = (name, attrs = {}, parent) => {
    const e = document.createElementNS(SVG, name)
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
    if (parent) parent.appendChild(e)
    return e
  }
  const text = (parent, x, y, s, attrs = {}) => {
    const t = el("text", { x, y, "font-size": 11, ...attrs }, parent)
    t.textContent = s
    return t
  }

  // ---- colours ----
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]
  const DIVERGING = [[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]]
  const ramp = (stops, t) => {
    const u = Math.min(1, Math.max(0, t)) * (stops.length - 1)
    const i = Math.min(stops.length - 2, Math.floor(u))
    const f = u - i
    return stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f))
  }
  const CATEGORY = [[76, 120, 168], [245, 133, 24], [84, 162, 75], [178, 121, 162], [238, 202, 59], [157, 117, 93], [114, 183, 178], [255, 157, 166], [121, 112, 110], [186, 176, 172]]

  /** The colour scale of a map: a function value → [r, g, b] and the colour bar's description. */
  const scaleOf = (m) => {
    const diverging = m.minus !== null
    let lo = m.min ?? 0
    let hi = m.max ?? 1
    if (diverging) {
      const a = Math.max(Math.abs(lo), Math.abs(hi), m.discrete ? 1 : 1e-12)
      lo = -a
      hi = a
    }
    if (m.discrete && hi - lo <= 20) {
      const lo0 = Math.round(lo)
      const classes = []
      for (let v = lo0; v <= Math.round(hi); v++) {
        const c = diverging ? ramp(DIVERGING, (v - lo) / (hi - lo || 1)) : CATEGORY[(v - lo0) % CATEGORY.length]
        classes.push({ v, c })
      }
      return { discrete: true, classes, color: (v) => classes[Math.round(v) - lo0]?.c ?? [0, 0, 0] }
    }
    const span = hi - lo || 1
    return { discrete: false, lo, hi, color: (v) => ramp(diverging ? DIVERGING : VIRIDIS, (v - lo) / span) }
  }

  // ---- map ----
  const layout = { scale: 1, left: 56, top: 28, w: 0, h: 0 }

  const niceTicks = (lo, hi, count) => {
    if (!(hi > lo)) return [lo]
    const raw = (hi - lo) / Math.max(1, count)
    const mag = 10 ** Math.floor(Math.log10(raw))
    const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) || 10 * mag
    const out = []
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number((Math.round(v / step) * step).toPrecision(12)))
    return out
  }

  const drawMap = (m) => {
    const t0 = performance.now()
    const canvas = $("map")
    canvas.width = m.nx
    canvas.height = m.ny
    const ctx = canvas.getContext("2d")
    const img = ctx.createImageData(m.nx, m.ny)
    const scale = scaleOf(m)
    const d = img.data
    for (let y = 0; y < m.ny; y++) {
      const row = (m.ny - 1 - y) * m.nx // FITS y grows upwards
      for (let x = 0; x < m.nx; x++) {
        const v = m.values[y * m.nx + x]
        const o = (row + x) * 4
        if (v === null) {
          d[o] = d[o + 1] = d[o + 2] = 220
        } else {
          const c = scale.color(v)
          d[o] = c[0]
          d[o + 1] = c[1]
          d[o + 2] = c[2]
        }
        d[o + 3] = 255
      }
    }
    ctx.putImageData(img, 0, 0)
    const s = Math.min(MAP_PX / m.nx, MAP_PX / m.ny)
    layout.scale = s >= 2 ? Math.floor(s) : s // whole screen pixels per cell once there is room
    layout.w = m.nx * layout.scale
    layout.h = m.ny * layout.scale
    canvas.style.width = `${layout.w}px`
    canvas.style.height = `${layout.h}px`
    canvas.style.left = `${layout.left + 4}px`
    canvas.style.top = `${layout.top + 4}px`
    drawAxes(m, scale)
    timings.mapMs = performance.now() - t0
  }

  const drawAxes = (m, scale) => {
    const svg = $("map-axes")
    svg.innerHTML = ""
    const { left, top, w, h } = layout
    const barX = left + w + 60
    const W = barX + 110
    const H = top + h + 44
    svg.setAttribute("width", W)
    svg.setAttribute("height", H)
    el("rect", { x: left, y: top, width: w, height: h, fill: "none", stroke: "#999" }, svg)
    const px = (x) => left + (x + 0.5) * layout.scale
    const py = (y) => top + h - (y + 0.5) * layout.scale
    for (const x of niceTicks(0, m.nx - 1, 6).filter(Number.isInteger)) {
      el("line", { x1: px(x), x2: px(x), y1: top + h, y2: top + h + 4, stroke: "#555" }, svg)
      text(svg, px(x), top + h + 15, x, { "text-anchor": "middle" })
    }
    for (const y of niceTicks(0, m.ny - 1, 6).filter(Number.isInteger)) {
      el("line", { x1: left - 4, x2: left, y1: py(y), y2: py(y), stroke: "#555" }, svg)
      text(svg, left - 6, py(y) + 4, y, { "text-anchor": "end" })
    }
    text(svg, left + w / 2, top + h + 32, "x (pixel)", { "text-anchor": "middle" })
    text(svg, 12, top + h / 2, "y (pixel)", { transform: `rotate(-90 12 ${top + h / 2})`, "text-anchor": "middle" })
    if (m.world) {
      // Galactic longitude on the top axis, latitude on the right one.
      const wx = m.world
      const lonAt = (x) => wx.lon0 + x * wx.dlon
      const latAt = (y) => wx.lat0 + y * wx.dlat
      const lons = niceTicks(Math.min(lonAt(-0.5), lonAt(m.nx - 0.5)), Math.max(lonAt(-0.5), lonAt(m.nx - 0.5)), 4)
      for (const l of lons) {
        const x = (l - wx.lon0) / wx.dlon
        if (x < -0.5 || x > m.nx - 0.5) continue
        el("line", { x1: px(x), x2: px(x), y1: top - 4, y2: top, stroke: "#555" }, svg)
        text(svg, px(x), top - 7, `${l}°`, { "text-anchor": "middle" })
      }
      const lats = niceTicks(Math.min(latAt(-0.5), latAt(m.ny - 0.5)), Math.max(latAt(-0.5), latAt(m.ny - 0.5)), 4)
      for (const b of lats) {
        const y = (b - wx.lat0) / wx.dlat
        if (y < -0.5 || y > m.ny - 0.5) continue
        el("line", { x1: left + w, x2: left + w + 4, y1: py(y), y2: py(y), stroke: "#555" }, svg)
        text(svg, left + w + 6, py(y) + 4, `${b}°`)
      }
      text(svg, left + w, 10, "l (deg) ↑   b (deg) →", { "text-anchor": "end", fill: "#555" })
    }
    // Colour bar.
    const title = `${m.minus ? "Δ " : ""}${m.value}${m.unit ? ` (${m.unit})` : ""}`
    text(svg, barX - 8, top - 10, title)
    const barH = Math.max(120, Math.min(h, 260))
    if (scale.discrete) {
      const n = scale.classes.length
      const cell = Math.min(22, barH / n)
      scale.classes.forEach((k, i) => {
        const y = top + (n - 1 - i) * cell
        el("rect", { x: barX, y, width: 16, height: cell - 2, fill: `rgb(${k.c.join(",")})`, stroke: "#999", "data-class": k.v }, svg)
        text(svg, barX + 22, y + cell / 2 + 3, k.v)
      })
    } else {
      const steps = 64
      for (let i = 0; i < steps; i++) {
        const c = scale.color(scale.lo + ((i + 0.5) / steps) * (scale.hi - scale.lo))
        el("rect", { x: barX, y: top + barH - ((i + 1) * barH) / steps, width: 16, height: barH / steps + 0.5, fill: `rgb(${c.join(",")})` }, svg)
      }
      el("rect", { x: barX, y: top, width: 16, height: barH, fill: "none", stroke: "#999" }, svg)
      for (const v of niceTicks(scale.lo, scale.hi, 5)) {
        const y = top + barH - ((v - scale.lo) / (scale.hi - scale.lo || 1)) * barH
        el("line", { x1: barX + 16, x2: barX + 20, y1: y, y2: y, stroke: "#555" }, svg)
        text(svg, barX + 22, y + 4, fmt(v, 3))
      }
    }
    if (state.pixel) {
      const s = layout.scale
      el("rect", { id: "cursor", x: left + state.pixel.x * s - 1, y: top + h - (state.pixel.y + 1) * s - 1, width: s + 2, height: s + 2, fill: "none", stroke: "#e00", "stroke-width": 2 }, svg)
    }
  }

  const pixelAt = (ev) => {
    const r = $("map").getBoundingClientRect()
    const x = Math.floor(((ev.clientX - r.left) / r.width) * state.map.nx)
    const y = state.map.ny - 1 - Math.floor(((ev.clientY - r.top) / r.height) * state.map.ny)
    return x >= 0 && y >= 0 && x < state.map.nx && y < state.map.ny ? { x, y } : null
  }

  const showHover = (p) => {
    if (!p || !state.map) return
    const m = state.map
    const v = m.values[p.y * m.nx + p.x]
    const where = m.world ? ` (l, b) = (${(m.world.lon0 + p.x * m.world.dlon).toFixed(4)}°, ${(m.world.lat0 + p.y * m.world.dlat).toFixed(4)}°)` : ""
    $("hover").textContent = `x ${p.x}, y ${p.y}${where}: ${m.minus ? "Δ " : ""}${m.value} = ${fmt(v)}${m.unit && v !== null ? ` ${m.unit}` : ""}`
  }

  const loadMap = async () => {
    if (!state.run && !state.inMosaic) return
    const q = state.inMosaic ? new URLSearchParams({ survey: state.mosaic, value: state.value }) : new URLSearchParams({ run: state.run, value: state.value })
    if (!state.inMosaic && state.diff && state.other) q.set("minus", state.other)
    status("loading map…")
    try {
      const t0 = performance.now()
      state.map = await api(`/api/map?${q}`)
      drawMap(state.map)
      timings.mapTotalMs = performance.now() - t0
      status(`${state.map.nx}×${state.map.ny} pixels${state.map.tiles ? ` (${state.map.tiles.length} tiles)` : ""}`)
    } catch (e) {
      status(e.message, true)
    }
  }

  // ---- spectra ----
  const gauss = (c, x) => c.amplitude * Math.exp((-0.5 * (x - c.mean) ** 2) / (c.stddev * c.stddev))

  /** One spectrum panel: data steps, components, model, residual with ±rms band. */
  const drawSpectrum = (host, p, comps, title, interactive) => {
    host.innerHTML = ""
    const head = document.createElement("div")
    head.className = "title"
    const where = p.lon === null ? "" : ` (l, b) = (${p.lon.toFixed(4)}°, ${p.lat.toFixed(4)}°)`
    head.textContent = `${title}: pixel (${p.x}, ${p.y})${where}, β = ${p.beta}, ${p.n_components} components, rms ${fmt(p.rms)}, χ²ᵣ ${fmt(p.chi2_reduced)}`
    host.appendChild(head)
    const W = 640
    const H = 380
    const m = { l: 54, r: 12, t: 10, b: 36 }
    const mainH = 240
    const resTop = m.t + mainH + 12
    const resH = H - m.b - resTop
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, "data-pixel": `${p.x},${p.y}` }, host)
    const n = p.spectrum.length
    const useV = p.velocities !== null
    const xw = (c) => (useV ? p.velocities[0] + (p.velocities[n - 1] - p.velocities[0]) * (c / (n - 1 || 1)) : c)
    const lo = Math.min(xw(-0.5), xw(n - 0.5))
    const hi = Math.max(xw(-0.5), xw(n - 0.5))
    const X = (c) => m.l + ((xw(c) - lo) / (hi - lo)) * (W - m.l - m.r)
    const channelOfX = (sx) => {
      const w = lo + ((sx - m.l) / (W - m.l - m.r)) * (hi - lo)
      const c = useV ? ((w - p.velocities[0]) / (p.velocities[n - 1] - p.velocities[0])) * (n - 1) : w
      return Math.max(0, Math.min(n - 1, Math.round(c)))
    }
    const finite = p.spectrum.filter((v) => v !== null)
    let ylo = Math.min(0, ...finite, ...p.model)
    let yhi = Math.max(...finite, ...p.model, 1e-9)
    const pad = (yhi - ylo) * 0.05
    ylo -= pad
    yhi += pad
    const Y = (v) => m.t + mainH - ((v - ylo) / (yhi - ylo)) * mainH
    const residual = p.spectrum.map((v, c) => (v === null ? null : v - p.model[c]))
    const rms = p.rms ?? 0
    const rr = Math.max(3 * rms, ...residual.filter((v) => v !== null).map(Math.abs), 1e-9)
    const R = (v) => resTop + resH / 2 - (v / rr) * (resH / 2)
    // frames, ticks
    el("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: mainH, fill: "none", stroke: "#ccc" }, svg)
    el("rect", { x: m.l, y: resTop, width: W - m.l - m.r, height: resH, fill: "none", stroke: "#ccc" }, svg)
    for (const v of niceTicks(lo, hi, 8)) {
      const sx = m.l + ((v - lo) / (hi - lo)) * (W - m.l - m.r)
      el("line", { x1: sx, x2: sx, y1: m.t, y2: resTop + resH, stroke: "#eee" }, svg)
      text(svg, sx, H - m.b + 14, fmt(v, 4), { "text-anchor": "middle" })
    }
    text(svg, (W + m.l) / 2, H - 6, useV ? "velocity (km/s)" : "channel", { "text-anchor": "middle" })
    for (const v of niceTicks(ylo, yhi, 5)) {
      el("line", { x1: m.l - 4, x2: m.l, y1: Y(v), y2: Y(v), stroke: "#555" }, svg)
      text(svg, m.l - 6, Y(v) + 4, fmt(v, 3), { "text-anchor": "end" })
    }
    text(svg, m.l - 6, R(0) + 4, "res", { "text-anchor": "end", fill: "#555" })
    // ±rms band and residual
    el("rect", { class: "rms-band", x: m.l, y: R(rms), width: W - m.l - m.r, height: Math.max(0, R(-rms) - R(rms)), fill: "#ddd" }, svg)
    el("line", { x1: m.l, x2: W - m.r, y1: R(0), y2: R(0), stroke: "#999" }, svg)
    const steps = (vals, f) => {
      let d = ""
      let pen = false
      vals.forEach((v, c) => {
        if (v === null) {
          pen = false
          return
        }
        d += `${pen ? "L" : "M"}${X(c - 0.5).toFixed(1)},${f(v).toFixed(1)}L${X(c + 0.5).toFixed(1)},${f(v).toFixed(1)}`
        pen = true
      })
      return d
    }
    el("path", { class: "residual", d: steps(residual, R), fill: "none", stroke: "#54a24b", "stroke-width": 1 }, svg)
    el("path", { class: "data", d: steps(p.spectrum, Y), fill: "none", stroke: "#333", "stroke-width": 1 }, svg)
    const curve = (f) => {
      let d = ""
      for (let i = 0; i <= (n - 1) * 4; i++) {
        const c = i / 4
        d += `${i ? "L" : "M"}${X(c).toFixed(1)},${Y(f(c)).toFixed(1)}`
      }
      return d
    }
    el("path", { class: "model", d: curve((x) => p.components.reduce((s, c) => s + gauss(c, x), 0)), fill: "none", stroke: MODEL_COLOR, "stroke-width": 2.5, opacity: 0.45 }, svg)
    comps.forEach((c, k) => {
      if (c.accepted === false) return
      el("path", {
        class: "component",
        "data-k": k,
        d: curve((x) => gauss(c, x)),
        fill: "none",
        stroke: COMPONENT_COLORS[k % COMPONENT_COLORS.length],
        "stroke-width": 1.5,
        "stroke-dasharray": c.source === "fitted" ? "" : "5 3"
      }, svg)
    })
    if (interactive) {
      const sel = el("rect", { class: "selection", x: 0, y: m.t, width: 0, height: mainH, fill: "#4c78a8", opacity: 0.15 }, svg)
      const toSvgX = (ev) => {
        const r = svg.getBoundingClientRect()
        return ((ev.clientX - r.left) / r.width) * W
      }
      let from = null
      svg.addEventListener("pointerdown", (ev) => {
        from = toSvgX(ev)
        svg.setPointerCapture(ev.pointerId)
        ev.preventDefault()
      })
      svg.addEventListener("pointermove", (ev) => {
        if (from === null) return
        const to = toSvgX(ev)
        sel.setAttribute("x", Math.min(from, to))
        sel.setAttribute("width", Math.abs(to - from))
      })
      svg.addEventListener("pointerup", (ev) => {
        if (from === null) return
        const a = channelOfX(from)
        const b = channelOfX(toSvgX(ev))
        from = null
        sel.setAttribute("width", 0)
        if (Math.abs(a - b) >= 3) void handFit(Math.min(a, b), Math.max(a, b))
      })
    }
  }

  const renderSpectra = () => {
    const p = state.main
    if (!p) return
    if (p.mosaic) {
      // a tile's spectrum, read-only: labels and hand fits belong to one run (open the tile's run to label)
      drawSpectrum($("panel-main"), p, state.comps, `mosaic (${p.mosaic.x}, ${p.mosaic.y}) → tile ${p.run}`, false)
      $("panel-other").hidden = true
      $("label-panel").hidden = true
      return
    }
    drawSpectrum($("panel-main"), p, state.comps, state.run, true)
    const other = $("panel-other")
    if (state.second) {
      other.hidden = false
      drawSpectrum(other, state.second, state.second.components.map((c) => ({ ...c, source: "fitted" })), state.other, false)
    } else {
      other.hidden = true
      other.innerHTML = ""
    }
    renderLabelTable()
  }

  const renderLabelTable = () => {
    const p = state.main
    $("label-panel").hidden = false
    $("label-pixel").textContent = `(${p.x}, ${p.y})`
    $("label-state").textContent = p.label ? `— labelled, ${p.label.components.length} components` : "— not labelled"
    const body = $("components").querySelector("tbody")
    body.innerHTML = ""
    state.comps.forEach((c, k) => {
      const tr = document.createElement("tr")
      tr.dataset.k = String(k)
      tr.className = c.accepted ? "accepted" : "rejected"
      const color = COMPONENT_COLORS[k % COMPONENT_COLORS.length]
      const v = c.velocity ?? (p.velocities ? p.velocities[0] + (p.velocities[1] - p.velocities[0]) * c.mean : null)
      tr.innerHTML = `<td><span class="swatch"></span></td><td><input type="checkbox" class="accept"></td><td class="amplitude">${fmt(c.amplitude)}</td><td class="mean">${fmt(c.mean)}</td><td class="stddev">${fmt(c.stddev)}</td><td>${fmt(v)}</td><td>${c.source}</td>`
      tr.querySelector(".swatch").style.background = color
      const box = tr.querySelector(".accept")
      box.checked = c.accepted
      box.addEventListener("change", () => {
        c.accepted = box.checked
        renderSpectra()
      })
      body.appendChild(tr)
    })
    $("category").value = p.label?.category ?? ""
  }

  const same = (a, b) => Math.abs(a.amplitude - b.amplitude) <= 1e-9 * Math.abs(a.amplitude) + 1e-12 && Math.abs(a.mean - b.mean) <= 1e-9 * Math.abs(a.mean) + 1e-12 && Math.abs(a.stddev - b.stddev) <= 1e-9 * a.stddev + 1e-12

  /** Label state of a pixel: the fit's components (accepted unless a label left them out) and the label's own. */
  const labelState = (p) => {
    const fitted = p.components.map((c) => ({ ...c, source: "fitted", accepted: p.label ? p.label.components.some((l) => same(l, c)) : true }))
    const extra = p.label ? p.label.components.filter((l) => !p.components.some((c) => same(l, c))).map((l) => ({ ...l, source: "label", accepted: true })) : []
    return [...fitted, ...extra]
  }

  const select = async (x, y) => {
    if (!state.map || x < 0 || y < 0 || x >= state.map.nx || y >= state.map.ny) return
    state.pixel = { x, y }
    const t0 = performance.now()
    try {
      const [main, second] = await Promise.all([
        api(`/api/pixel/${x}/${y}?${state.inMosaic ? `survey=${encodeURIComponent(state.mosaic)}` : `run=${encodeURIComponent(state.run)}`}`),
        state.other && !state.inMosaic ? api(`/api/pixel/${x}/${y}?run=${encodeURIComponent(state.other)}`) : Promise.resolve(null)
      ])
      if (state.pixel.x !== x || state.pixel.y !== y) return // a newer selection won
      state.main = main
      state.second = second
      state.comps = labelState(main)
      renderSpectra()
      drawAxes(state.map, scaleOf(state.map))
      showHover({ x, y })
      timings.pixelMs = performance.now() - t0
      timings.pixelsShown++
      document.body.dataset.pixel = `${x},${y}`
      status(`pixel (${x}, ${y}) in ${timings.pixelMs.toFixed(0)} ms`)
    } catch (e) {
      status(e.message, true)
    }
  }

  const handFit = async (lo, hi) => {
    const p = state.main
    try {
      const r = await api(`/api/fit/${p.x}/${p.y}?run=${encodeURIComponent(state.run)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ lo, hi })
      })
      state.comps.push({ ...r.component, source: "hand", accepted: true })
      renderSpectra()
      status(`fitted channels ${lo}..${hi}: A ${fmt(r.component.amplitude)}, μ ${fmt(r.component.mean)}, σ ${fmt(r.component.stddev)}`)
    } catch (e) {
      status(e.message, true)
    }
  }

  const saveLabel = async () => {
    const p = state.main
    if (!p) return
    const components = state.comps.filter((c) => c.accepted).map((c) => ({ amplitude: c.amplitude, mean: c.mean, stddev: c.stddev }))
    const category = $("category").value.trim()
    try {
      const r = await api(`/api/labels/${p.x}/${p.y}?run=${encodeURIComponent(p.run)}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(category ? { category, components } : { components })
      })
      p.label = category ? { x: p.x, y: p.y, category, components } : { x: p.x, y: p.y, components }
      renderLabelTable()
      status(`saved to ${r.saved} (${r.spectra} labelled spectra)`)
      document.body.dataset.saved = `${p.x},${p.y}`
    } catch (e) {
      status(e.message, true)
    }
  }

  const removeLabel = async () => {
    const p = state.main
    if (!p) return
    try {
      await api(`/api/labels/${p.x}/${p.y}?run=${encodeURIComponent(p.run)}`, { method: "DELETE", headers: { "content-type": "application/json" } })
      p.label = null
      state.comps = labelState(p)
      renderSpectra()
      status(`label of (${p.x}, ${p.y}) removed`)
    } catch (e) {
      status(e.message, true)
    }
  }

  // ---- wiring ----
  const fillRuns = () => {
    const label = (r) => `${r.runId} (β ${r.beta ?? "?"}, ${r.status})`
    $("run").innerHTML = ""
    if (state.mosaic) $("run").add(new Option(`mosaic of survey ${state.mosaic}`, "", false, state.inMosaic))
    for (const r of state.runs) $("run").add(new Option(label(r), r.runId, false, !state.inMosaic && r.runId === state.run))
    const run = state.runs.find((r) => r.runId === state.run)
    $("other").innerHTML = ""
    $("other").add(new Option("—", ""))
    if (!state.inMosaic) for (const r of state.runs) if (r.runId !== state.run && run && r.cubeKey === run.cubeKey) $("other").add(new Option(label(r), r.runId, false, r.runId === state.other))
    $("diff").disabled = !state.other
  }

  const start = async () => {
    try {
      const r = await api("/api/runs")
      state.runs = r.runs
      state.quantities = r.quantities
      state.run = r.initial
      state.mosaic = r.mosaic ? r.mosaic.survey : null
      state.inMosaic = Boolean(r.mosaic && r.mosaic.open)
      for (const q of r.quantities) $("value").add(new Option(q.name, q.name, false, q.name === state.value))
      $("value").title = r.quantities.map((q) => `${q.name}: ${q.doc}`).join("\n")
      fillRuns()
      if (!state.run && !state.inMosaic) return status("no runs in this workdir: run phs pipeline first", true)
      await loadMap()
    } catch (e) {
      status(e.message, true)
    }
  }

  $("run").addEventListener("change", async () => {
    const wasMosaic = state.inMosaic
    state.inMosaic = $("run").value === ""
    if (!state.inMosaic) state.run = $("run").value
    if (wasMosaic !== state.inMosaic) state.pixel = null // mosaic and tile pixels differ
    state.other = null
    state.diff = false
    $("diff").checked = false
    fillRuns()
    await loadMap()
    if (state.pixel) await select(state.pixel.x, state.pixel.y)
  })
  $("value").addEventListener("change", () => {
    state.value = $("value").value
    void loadMap()
  })
  $("other").addEventListener("change", async () => {
    state.other = $("other").value || null
    $("diff").disabled = !state.other
    if (!state.other) {
      state.diff = false
      $("diff").checked = false
    }
    await loadMap()
    if (state.pixel) await select(state.pixel.x, state.pixel.y)
  })
  $("diff").addEventListener("change", () => {
    state.diff = $("diff").checked
    void loadMap()
  })
  $("map").addEventListener("mousemove", (ev) => showHover(pixelAt(ev)))
  $("map").addEventListener("click", (ev) => {
    const p = pixelAt(ev)
    if (p) void select(p.x, p.y)
  })
  $("save").addEventListener("click", () => void saveLabel())
  $("unlabel").addEventListener("click", () => void removeLabel())
  document.addEventListener("keydown", (ev) => {
    if (!state.pixel || ev.target instanceof HTMLInputElement) return
    const d = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[ev.key]
    if (!d) return
    ev.preventDefault()
    void select(state.pixel.x + d[0], state.pixel.y + d[1])
  })
  void start()
})()
