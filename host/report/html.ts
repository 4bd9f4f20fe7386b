// `edgeprop report`: one self-contained HTML page per run (no network, no CDN). The data is
// embedded as JSON and drawn into inline SVG by a small inline script: loss curve, metric
// curves (accuracy / NMSE / recall error, with the chance level and the trials behind each
// point), angles in degrees (metrics named *Deg, e.g. SAL's angleDeg between B and wOut^T) on
// their own axis, spike rasters of the inputs and the recurrent layer, readout vs target traces, a
// confusion matrix and heat-maps of network states (summary.json `confusion`, `states`), and the
// run's config and board.
// Every chart is a <figure class="chart" data-chart=NAME>; once drawn it carries
// data-rendered="true" and data-marks=<number of drawn marks>, which the Chromium test reads.
import { InputError } from "../input/errors.ts";
import type { ConfusionFigure, MetricRow, RunData, RunSummary, StatesFigure, TrajectorySample } from "./rundir.ts";

/** Fields of metrics.jsonl that are not plotted as metrics (nor is `<metric>Trials`, the trials behind a metric's point). */
const NOT_METRICS = new Set(["iteration", "loss", "elapsedMs", "timeMs", "lr"]);
const isTrialCount = (k: string): boolean => k.endsWith("Trials") && k.length > "Trials".length;

/** Most points drawn per series; longer series are averaged in buckets. */
const MAX_POINTS = 2000;
/** Most spikes drawn per raster (the page stays small and fast). */
const MAX_SPIKES = 200_000;

export interface Series {
  name: string;
  x: number[];
  y: number[];
  /** Where the series ends with the run's final evaluation (its own trial count), if it does. */
  final?: { x: number; y: number; label: string };
}

export function decimate(x: readonly number[], y: readonly number[], max = MAX_POINTS): { x: number[]; y: number[] } {
  if (x.length <= max) return { x: [...x], y: [...y] };
  const per = x.length / max;
  const ox: number[] = [];
  const oy: number[] = [];
  for (let b = 0; b < max; b++) {
    const lo = Math.floor(b * per);
    const hi = Math.max(lo + 1, Math.floor((b + 1) * per));
    let sx = 0;
    let sy = 0;
    let n = 0;
    for (let i = lo; i < hi && i < x.length; i++) {
      if (!Number.isFinite(y[i]!)) continue;
      sx += x[i]!;
      sy += y[i]!;
      n++;
    }
    if (n) {
      ox.push(sx / n);
      oy.push(sy / n);
    }
  }
  return { x: ox, y: oy };
}

/** Metrics in degrees (name ending in `Deg`): drawn in the `angles` chart, not beside accuracies. */
const isAngle = (name: string): boolean => name.endsWith("Deg");

/**
 * The metric curves of metrics.jsonl; a metric whose rows carry `<name>Trials` is named with the
 * trials behind each point. The held-out `test` curve ends with the run's final evaluation
 * (summary.json), labelled with its own trial count.
 */
function metricSeries(rows: readonly MetricRow[], summary?: RunSummary): Series[] {
  const names: string[] = [];
  for (const r of rows) for (const [k, v] of Object.entries(r)) if (!NOT_METRICS.has(k) && !isTrialCount(k) && typeof v === "number" && !names.includes(k)) names.push(k);
  return names.map((name) => {
    const pts = rows.filter((r) => typeof r[name] === "number" && Number.isFinite(r[name]));
    const trials = pts.map((r) => r[`${name}Trials`]).filter((v): v is number => typeof v === "number");
    const lo = Math.min(...trials);
    const hi = Math.max(...trials);
    const label = trials.length ? ` (${lo === hi ? lo : `${lo}–${hi}`} trial${hi === 1 ? "" : "s"} per point)` : "";
    const series: Series = { name: name + label, ...decimate(pts.map((r) => r.iteration), pts.map((r) => r[name] as number)) };
    const m = summary?.metric;
    if (name === "test" && m && summary?.iterations !== undefined) {
      series.final = { x: summary.iterations, y: m.value, label: `final: ${fmt(m.value)} on ${m.nTrials ?? "?"} trials` };
    }
    return series;
  });
}

/** One curve per layer of a stack's `layerLoss` (DECOLLE's E^l); none when no row carries it. */
function layerLossSeries(rows: readonly MetricRow[]): Series[] {
  const L = Math.max(0, ...rows.map((r) => r.layerLoss?.length ?? 0));
  return Array.from({ length: L }, (_, l) => {
    const pts = rows.filter((r) => Number.isFinite(r.layerLoss?.[l]));
    return { name: `layers[${l}]`, ...decimate(pts.map((r) => r.iteration), pts.map((r) => r.layerLoss![l]!)) };
  });
}

/** The rasters of a trajectory: one per layer of a stack (`layers`), else the recurrent layer `z`. */
function rasterNames(tr: TrajectorySample): string[] {
  return tr.layers ? tr.layers.map((_, l) => `raster-layer-${l}`) : ["raster-recurrent"];
}

const count = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** summary.json `confusion`, checked (n labels, n x n counts). */
function confusionData(s: RunSummary | undefined): ConfusionFigure | undefined {
  const c = s?.confusion as Partial<ConfusionFigure> | undefined;
  if (c === undefined) return undefined;
  const n = Array.isArray(c.labels) ? c.labels.length : 0;
  const ok = n >= 1 && n <= 100 && Array.isArray(c.counts) && c.counts.length === n && c.counts.every((r) => Array.isArray(r) && r.length === n && r.every(count));
  if (!ok) throw new InputError("summary.json: confusion", "expected {labels: [n] (1 <= n <= 100), counts: [n][n] numbers >= 0 (rows: true class), split, nTrials}");
  return c as ConfusionFigure;
}

/** summary.json `states`, checked: at most 16 samples of 8 phases, each layer a [rows, cols] grid of <= 4096 values. */
function statesData(s: RunSummary | undefined): StatesFigure | undefined {
  const st = s?.states as Partial<StatesFigure> | undefined;
  if (st === undefined) return undefined;
  const layers = Array.isArray(st.layers) ? st.layers : [];
  const shapeOk = (l: StatesFigure["layers"][number]) =>
    Array.isArray(l?.shape) && l.shape.length === 2 && l.shape.every((d) => Number.isInteger(d) && d >= 1) && l.shape[0] * l.shape[1] <= 4096;
  const vecOk = (v: unknown, k: number) => v === null || (Array.isArray(v) && v.length <= layers[k]!.shape[0] * layers[k]!.shape[1] && v.every((x) => typeof x === "number" && Number.isFinite(x)));
  const ok =
    layers.length >= 1 && layers.length <= 16 && layers.every(shapeOk) && Array.isArray(st.samples) && st.samples.length <= 16 &&
    st.samples.every((smp) => Array.isArray(smp?.phases) && smp.phases.length <= 8 && smp.phases.every((ph) => Array.isArray(ph?.layers) && ph.layers.length === layers.length && ph.layers.every(vecOk)));
  if (!ok) throw new InputError("summary.json: states", "expected {title, layers: [{name, shape: [rows, cols]}] (<= 16), samples: [{label, phases: [{name, layers: [values in a layer's grid, or null]}]}] (<= 16 samples, <= 8 phases)}");
  return st as StatesFigure;
}

/** Where the states figure puts things (the page's script draws from it): one block per sample, phases as rows, layers as columns. */
function statesLayout(st: StatesFigure) {
  const cell = 10;
  const gap = 12;
  const labelW = 96;
  const x: number[] = [];
  let w = labelW;
  for (const l of st.layers) {
    x.push(w);
    w += l.shape[1] * cell + gap;
  }
  const rowH = Math.max(...st.layers.map((l) => l.shape[0])) * cell + 6;
  const phases = Math.max(1, ...st.samples.map((smp) => smp.phases.length));
  const blockW = w + gap;
  const blockH = 18 + 14 + phases * rowH + gap;
  const perRow = Math.max(1, Math.floor(900 / blockW));
  return { cell, x, rowH, blockW, blockH, perRow, height: Math.max(1, Math.ceil(st.samples.length / perRow)) * blockH + 8 };
}

const confusionHeight = (c: ConfusionFigure): number => 56 + c.labels.length * Math.min(24, Math.floor(480 / c.labels.length));

/** Spike times per neuron (column) of a [T][n] 0/1 matrix, capped at `budget` spikes in total. */
export function spikeTimes(m: readonly (readonly number[])[], budget = MAX_SPIKES): { n: number; times: number[][]; total: number; shown: number } {
  const n = m[0]?.length ?? 0;
  const times: number[][] = Array.from({ length: n }, () => []);
  let total = 0;
  let shown = 0;
  for (let t = 0; t < m.length; t++) {
    const row = m[t]!;
    for (let j = 0; j < n; j++) {
      if (row[j]) {
        total++;
        if (shown < budget) {
          times[j]!.push(t);
          shown++;
        }
      }
    }
  }
  return { n, times, total, shown };
}

function maskWindows(mask: readonly number[] | undefined): [number, number][] {
  const out: [number, number][] = [];
  if (!mask) return out;
  let start = -1;
  mask.forEach((v, t) => {
    if (v && start < 0) start = t;
    if (!v && start >= 0) {
      out.push([start, t]);
      start = -1;
    }
  });
  if (start >= 0) out.push([start, mask.length]);
  return out;
}

function softmaxRow(y: readonly number[]): number[] {
  const m = Math.max(...y);
  const e = y.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Readout vs target per output; for a ce model the readout is shown as softmax probabilities. */
function traceData(tr: TrajectorySample, ce: boolean) {
  const T = tr.y.length;
  const nOut = tr.y[0]?.length ?? 0;
  const steps = Array.from({ length: T }, (_, t) => t);
  const shown = ce ? tr.y.map(softmaxRow) : tr.y;
  const outputs = Array.from({ length: nOut }, (_, k) => ({
    y: decimate(steps, shown.map((r) => r[k]!)),
    target: decimate(steps, tr.targets.map((r) => r[k]!)),
  }));
  return { T, nOut, ce, outputs, windows: maskWindows(tr.mask) };
}

/** Replace big arrays by their shape so the config table stays readable. */
export function summariseConfig(x: unknown, depth = 0): unknown {
  if (Array.isArray(x)) {
    const flat = JSON.stringify(x);
    if (flat.length <= 120) return x;
    const dims: number[] = [];
    let cur: unknown = x;
    while (Array.isArray(cur)) {
      dims.push(cur.length);
      cur = cur[0];
    }
    return `[array ${dims.join("×")}]`;
  }
  if (typeof x === "object" && x !== null) {
    if (depth > 6) return "{…}";
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, summariseConfig(v, depth + 1)]));
  }
  return x;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Text content only (inside <pre>, <b>...): quotes stay readable. */
function escText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "–";
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return v.toExponential(3);
  return Number(v.toPrecision(4)).toString();
}

export interface ReportModel {
  title: string;
  charts: string[];
  data: unknown;
}

/** The charts a run's data yields (also what the test expects to find rendered). */
export function chartNames(run: RunData): string[] {
  const names = run.metrics.length ? ["loss"] : [];
  const series = metricSeries(run.metrics, run.summary);
  if (layerLossSeries(run.metrics).length) names.push("layer-loss");
  if (series.some((s) => !isAngle(s.name))) names.push("metrics");
  if (series.some((s) => isAngle(s.name))) names.push("angles");
  if (run.trajectory) names.push("raster-inputs", ...rasterNames(run.trajectory), "traces");
  if (confusionData(run.summary)) names.push("confusion");
  if (statesData(run.summary)?.samples.length) names.push("states");
  return names;
}

export function renderReport(run: RunData): string {
  const r = run.run;
  const title = `edgeprop run: ${r.task ?? "custom case"} · ${r.rule} · ${r.board}`;
  const rows = [...run.metrics].sort((a, b) => a.iteration - b.iteration);
  const loss = decimate(rows.map((m) => m.iteration), rows.map((m) => m.loss));
  const allSeries = metricSeries(rows, run.summary);
  const metrics = allSeries.filter((s) => !isAngle(s.name));
  const angles = allSeries.filter((s) => isAngle(s.name));
  const chance = r.metric?.chance ?? run.summary?.metric?.chance;
  const tr = run.trajectory;
  const ce = r.model?.loss === "ce";
  const dt = tr?.dt ?? (typeof r.model?.dt === "number" ? (r.model.dt as number) : 1);
  const confusion = confusionData(run.summary);
  const states = statesData(run.summary);
  const data = {
    confusion: confusion ?? null,
    states: states ? { ...states, layout: statesLayout(states) } : null,
    loss,
    layerLoss: layerLossSeries(rows),
    metrics,
    angles,
    chance,
    metricName: r.metric?.name ?? run.summary?.metric?.name,
    trajectory: tr
      ? {
          dt,
          T: tr.y.length,
          iteration: tr.iteration,
          inputs: spikeTimes(tr.inputs),
          rec: spikeTimes(tr.z),
          layers: (tr.layers ?? []).map((L) => spikeTimes(L.z)),
          traces: traceData(tr, ce),
        }
      : null,
  };

  // Headline figures.
  const last = rows[rows.length - 1];
  const tiles: [string, string][] = [];
  tiles.push(["iterations", String(rows.length ? last!.iteration : 0)]);
  tiles.push(["final loss", fmt(run.summary?.finalLoss ?? last?.loss)]);
  if (rows.length) tiles.push(["best loss", fmt(Math.min(...rows.map((m) => m.loss)))]);
  const sm = run.summary?.metric;
  if (sm) {
    const on = sm.nTrials !== undefined ? ` on ${sm.nTrials} trial${sm.nTrials === 1 ? "" : "s"}` : "";
    tiles.push([`${sm.split ?? "test"} ${sm.name}${on}`, `${fmt(sm.value)}${sm.chance !== undefined ? ` (chance ${fmt(sm.chance)})` : ""}`]);
  }
  else
    for (const s of metrics) {
      const tail = s.y.slice(-Math.max(1, Math.ceil(s.y.length / 10)));
      tiles.push([`${s.name} (last 10%)`, fmt(tail.reduce((a, b) => a + b, 0) / tail.length)]);
    }
  for (const s of angles) tiles.push([`${s.name} (last)`, `${fmt(s.y.at(-1))}°`]);
  const elapsed = run.summary?.elapsedMs ?? last?.elapsedMs;
  if (elapsed && rows.length) tiles.push(["rate", `${fmt((rows.length / elapsed) * 1000)} it/s`]);
  tiles.push(["board", r.board]);
  tiles.push(["rule", r.rule + (r.feedback ? ` (${r.feedback})` : "")]);

  const cfg = JSON.stringify(summariseConfig(r), null, 2);
  const shownSummary = run.summary && { ...run.summary, ...(confusion ? { confusion: "(drawn above)" } : {}), ...(states ? { states: "(drawn above)" } : {}) };
  const summaryJson = shownSummary ? JSON.stringify(summariseConfig(shownSummary), null, 2) : "";
  const json = JSON.stringify(data).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
  const height = (name: string): number =>
    name.startsWith("raster") ? 300 : name === "confusion" ? confusionHeight(confusion!) : name === "states" ? data.states!.layout.height : 260;
  const fig = (name: string, caption: string) =>
    `<figure class="chart" id="chart-${name}" data-chart="${name}"><figcaption>${esc(caption)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 900 ${height(name)}" role="img" aria-label="${esc(caption)}"></svg></figure>`;
  const correct = confusion ? confusion.counts.reduce((a, row, i) => a + row[i]!, 0) : 0;
  const total = confusion ? confusion.counts.flat().reduce((a, b) => a + b, 0) : 0;
  const names = chartNames(run);
  const figures = names
    .map((n) =>
      fig(
        n,
        {
          loss: "Training loss per iteration (light: raw, one value per iteration; dark: smoothed, moving mean)",
          metrics: `Metrics per iteration (light: raw; dark: smoothed)${chance !== undefined ? `; dashed: chance ${fmt(chance)}` : ""}`,
          angles: "Angles per iteration, degrees (light: raw; dark: smoothed; angleDeg: between the feedback B and wOut^T, 0 = weight transport)",
          "raster-inputs": `Input spikes (sample trial${tr?.iteration !== undefined ? `, iteration ${tr.iteration}` : ""})`,
          "raster-recurrent": "Recurrent spikes z (same trial)",
          "layer-loss": "Each layer's local loss E^l per iteration (its own fixed readout)",
          traces: `${ce ? "Readout softmax(y)" : "Readout y"} (blue) vs target (red, dashed); shaded: the mask (decision) window`,
          confusion: confusion
            ? `Confusion matrix, ${confusion.split} (${confusion.nTrials} trials): rows true class, columns predicted; shade = share of the row; ${correct} of ${total} on the diagonal, right: recall per class`
            : "",
          states: states ? `${states.title} (heat-maps, white 0 to dark blue 1)` : "",
        }[n] ?? `Spikes of ${tr?.layers?.[Number(n.slice("raster-layer-".length))]?.name} (same trial)`,
      ),
    )
    .join("\n");

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:16px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 12px}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:12px}
.tile{border:1px solid #ddd;border-radius:6px;padding:6px 10px;min-width:110px}
.tile b{display:block;font-size:18px}
.tile span{color:#666;font-size:12px}
figure.chart{margin:12px 0;border:1px solid #eee;border-radius:6px;padding:6px}
figcaption{font-weight:600;margin-bottom:4px}
figcaption .count{font-weight:400;color:#555}
svg{display:block;background:#fff}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px;border-radius:6px}
.err{color:#b00}
</style></head>
<body data-report="edgeprop" data-charts="${names.join(" ")}">
<h1>${esc(title)}</h1>
<div class="tiles">${tiles.map(([k, v]) => `<div class="tile"><span>${esc(k)}</span><b>${esc(v)}</b></div>`).join("")}</div>
${figures}
${names.includes("loss") ? "" : '<p class="note">metrics.jsonl is empty: no iteration recorded yet.</p>'}
${names.includes("raster-inputs") || names.includes("states") ? "" : '<p class="note">No trajectory.json in the run directory: no spike raster or traces.</p>'}
<h2>Run configuration (run.json)</h2>
<pre id="config">${escText(cfg)}</pre>
${summaryJson ? `<h2>Summary (summary.json)</h2><pre id="summary">${escText(summaryJson)}</pre>` : ""}
<p style="color:#888;font-size:12px">Generated by edgeprop report from ${esc(run.dir)}.</p>
<script type="application/json" id="report-data">${json}</script>
<script>${CLIENT_JS}</script>
</body></html>
`;
}

// The drawing code, run by the browser. Plain ES2017, no dependencies.
const CLIENT_JS = String.raw`
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var W = 900, PAD = { l: 60, r: 12, t: 10, b: 28 };
  function el(parent, name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  function ticks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / n)));
    var err = span / n / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }
  function logTicks(lo, hi) {
    var out = [], mults = [1, 2, 5];
    for (var e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      mults.forEach(function (m) { var v = m * Math.pow(10, e); if (v >= lo && v <= hi) out.push(+v.toPrecision(6)); });
    }
    if (out.length > 8) out = out.filter(function (v) { return Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9; });
    if (out.length < 2) out = [lo, hi];
    return out;
  }
  function label(v) {
    var a = Math.abs(v);
    return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(1) : String(+v.toPrecision(4));
  }
  function frame(svg, H, xlo, xhi, ylo, yhi, log, xlabel) {
    var X = function (x) { return PAD.l + (x - xlo) / (xhi - xlo || 1) * (W - PAD.l - PAD.r); };
    var ly = function (y) { return log ? Math.log10(y) : y; };
    var a = ly(ylo), b = ly(yhi);
    if (!(b > a)) { b = a + 1; }
    var Y = function (y) { return H - PAD.b - (ly(y) - a) / (b - a) * (H - PAD.t - PAD.b); };
    var g = el(svg, "g", { "class": "axes", fill: "none", stroke: "#999", "stroke-width": "1" });
    el(g, "rect", { x: PAD.l, y: PAD.t, width: W - PAD.l - PAD.r, height: H - PAD.t - PAD.b });
    var tg = el(svg, "g", { "class": "ticks", fill: "#555", "font-size": "11" });
    ticks(xlo, xhi, 8).forEach(function (v) { el(tg, "text", { x: X(v), y: H - PAD.b + 14, "text-anchor": "middle" }, label(v)); });
    var yt = log ? logTicks(ylo, yhi) : ticks(ylo, yhi, 5);
    yt.forEach(function (v) {
      el(tg, "text", { x: PAD.l - 4, y: Y(v) + 4, "text-anchor": "end" }, label(v));
      el(svg, "line", { x1: PAD.l, x2: W - PAD.r, y1: Y(v), y2: Y(v), stroke: "#eee" });
    });
    if (xlabel) el(tg, "text", { x: W - PAD.r, y: H - 2, "text-anchor": "end" }, xlabel);
    return { X: X, Y: Y };
  }
  function path(svg, xs, ys, f, attrs) {
    var d = "", n = 0;
    for (var i = 0; i < xs.length; i++) {
      if (!isFinite(ys[i])) continue;
      d += (n ? "L" : "M") + f.X(xs[i]).toFixed(1) + " " + f.Y(ys[i]).toFixed(1);
      n++;
    }
    if (n === 1) d += "h1";
    attrs.d = d;
    attrs.fill = "none";
    el(svg, "path", attrs);
    return n;
  }
  function smoothWidth(n) { return Math.max(1, Math.round(n / 40)); }
  function smooth(ys) {
    var w = smoothWidth(ys.length), out = [], s = 0, q = [];
    for (var i = 0; i < ys.length; i++) { q.push(ys[i]); s += ys[i]; if (q.length > w) s -= q.shift(); out.push(s / q.length); }
    return out;
  }
  function extent(arrs, extra) {
    var lo = Infinity, hi = -Infinity;
    arrs.forEach(function (a) { a.forEach(function (v) { if (isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } }); });
    (extra || []).forEach(function (v) { if (isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi === lo) { hi = lo + 1; lo = lo - 1; }
    return [lo, hi];
  }
  var COLORS = ["#1f5fbf", "#d6452f", "#2a9d4b", "#8a3fb5", "#c58a00", "#178f8f", "#b03a78", "#555555", "#6b8e23", "#a0522d"];
  var draw = {
    loss: function (svg) {
      var L = D.loss, e = extent([L.y]);
      var log = e[0] > 0 && e[1] / e[0] > 20;
      var f = frame(svg, 260, Math.min.apply(null, L.x.concat([0])), Math.max.apply(null, L.x.concat([1])), e[0], e[1], log, "iteration");
      var m = path(svg, L.x, L.y, f, { stroke: "#9bb7e0", "stroke-width": "1", "class": "series raw" });
      m += path(svg, L.x, smooth(L.y), f, { stroke: "#1f5fbf", "stroke-width": "2", "class": "series smooth" });
      el(svg, "text", { x: W - PAD.r - 8, y: PAD.t + 14, fill: "#9bb7e0", "font-size": "12", "text-anchor": "end", "class": "legend" }, "raw loss (per iteration)");
      el(svg, "text", { x: W - PAD.r - 8, y: PAD.t + 28, fill: "#1f5fbf", "font-size": "12", "text-anchor": "end", "class": "legend" }, "smoothed (moving mean of " + smoothWidth(L.y.length) + ")");
      return m;
    },
    metrics: function (svg) {
      var chance = D.chance !== undefined && D.chance !== null ? D.chance : null;
      return draw.series(svg, D.metrics, chance === null ? [] : [chance], chance);
    },
    angles: function (svg) { return draw.series(svg, D.angles, [0], null); },
    "layer-loss": function (svg) { return draw.series(svg, D.layerLoss, [], null); },
    // curves of the series S (each ending with its final evaluation, if any), the y range widened to include extra, a dashed line at chance (or none)
    series: function (svg, S, extra, chance) {
      var xs = [], ys = [];
      S.forEach(function (s) { xs = xs.concat(s.x); ys.push(s.y); if (s.final) { xs.push(s.final.x); ys.push([s.final.y]); } });
      var e = extent(ys, extra);
      var f = frame(svg, 260, Math.min.apply(null, xs.concat([0])), Math.max.apply(null, xs.concat([1])), e[0], e[1], false, "iteration");
      var m = 0;
      S.forEach(function (s, i) {
        var c = COLORS[i % COLORS.length];
        m += path(svg, s.x, s.y, f, { stroke: c, "stroke-width": "1", opacity: "0.35", "class": "series raw" });
        m += path(svg, s.x, smooth(s.y), f, { stroke: c, "stroke-width": "2", "class": "series smooth" });
        el(svg, "text", { x: PAD.l + 8, y: PAD.t + 14 + 14 * i, fill: c, "font-size": "12", "class": "legend" }, s.name + (s.final ? "; " + s.final.label : ""));
        if (s.final) {
          // the curve ends with the final evaluation: a segment to it and a marked point
          var lx = s.x.length ? s.x[s.x.length - 1] : s.final.x, ly = s.y.length ? s.y[s.y.length - 1] : s.final.y;
          m += path(svg, [lx, s.final.x], [ly, s.final.y], f, { stroke: c, "stroke-width": "2", "stroke-dasharray": "4 3", "class": "series final" });
          el(svg, "circle", { cx: f.X(s.final.x), cy: f.Y(s.final.y), r: 4, fill: c, "class": "final" });
        }
      });
      if (chance !== null) {
        el(svg, "line", { x1: PAD.l, x2: W - PAD.r, y1: f.Y(chance), y2: f.Y(chance), stroke: "#888", "stroke-dasharray": "5 4", "class": "chance" });
      }
      return m;
    },
    raster: function (svg, R, H) {
      var T = D.trajectory.T, dt = D.trajectory.dt;
      var f = frame(svg, H, 0, T * dt, 0, Math.max(1, R.n), false, "time (ms)");
      var d = "", n = 0, h = Math.max(1, (H - PAD.t - PAD.b) / Math.max(1, R.n) * 0.8);
      R.times.forEach(function (ts, j) {
        var y = f.Y(j + 1) + 0.1 * h;
        ts.forEach(function (t) { d += "M" + f.X((t + 0.5) * dt).toFixed(1) + " " + y.toFixed(1) + "v" + h.toFixed(2); n++; });
      });
      if (n) el(svg, "path", { d: d, stroke: "#222", "stroke-width": "1", "class": "spikes" });
      var cap = svg.parentNode.querySelector("figcaption");
      if (cap) {
        var span = document.createElement("span");
        span.className = "count";
        span.textContent = " — " + R.n + " neurons, " + R.total + " spikes (" +
        (R.total / Math.max(1, R.n) / (T * dt) * 1000).toFixed(1) + " Hz mean)" + (R.shown < R.total ? ", " + R.shown + " shown" : "");
        cap.appendChild(span);
      }
      return n;
    },
    traces: function (svg) {
      var Tr = D.trajectory.traces, dt = D.trajectory.dt, H = 260;
      var K = Math.max(1, Tr.nOut), bandH = (H - PAD.t - PAD.b) / K, m = 0;
      var X = function (t) { return PAD.l + t / Math.max(1, Tr.T) * (W - PAD.l - PAD.r); };
      el(svg, "rect", { x: PAD.l, y: PAD.t, width: W - PAD.l - PAD.r, height: H - PAD.t - PAD.b, fill: "none", stroke: "#999" });
      var all = Tr.windows.length === 1 && Tr.windows[0][0] === 0 && Tr.windows[0][1] === Tr.T;
      if (!all) Tr.windows.forEach(function (w) {
        el(svg, "rect", { x: X(w[0]), y: PAD.t, width: Math.max(1, X(w[1]) - X(w[0])), height: H - PAD.t - PAD.b, fill: "#f3e9c6", "class": "mask" });
      });
      var tg = el(svg, "g", { fill: "#555", "font-size": "11" });
      ticks(0, Tr.T * dt, 8).forEach(function (v) { el(tg, "text", { x: X(v / dt), y: H - PAD.b + 14, "text-anchor": "middle" }, label(v)); });
      el(tg, "text", { x: W - PAD.r, y: H - 2, "text-anchor": "end" }, "time (ms)");
      Tr.outputs.forEach(function (o, k) {
        var e = Tr.ce ? [0, 1] : extent([o.y.y, o.target.y]);
        var top = PAD.t + k * bandH + 2, bot = PAD.t + (k + 1) * bandH - 2;
        var f = { X: X, Y: function (v) { return bot - (v - e[0]) / (e[1] - e[0]) * (bot - top); } };
        if (K > 1) el(svg, "line", { x1: PAD.l, x2: W - PAD.r, y1: bot + 2, y2: bot + 2, stroke: "#eee" });
        el(tg, "text", { x: PAD.l - 4, y: (top + bot) / 2 + 4, "text-anchor": "end" }, "y" + k);
        if (K <= 4) {
          el(tg, "text", { x: PAD.l - 4, y: top + 9, "text-anchor": "end", "font-size": "9" }, label(e[1]));
          el(tg, "text", { x: PAD.l - 4, y: bot, "text-anchor": "end", "font-size": "9" }, label(e[0]));
        }
        m += path(svg, o.target.x, o.target.y, f, { stroke: "#d6452f", "stroke-width": "1.5", "stroke-dasharray": "4 2", "class": "series target" });
        m += path(svg, o.y.x, o.y.y, f, { stroke: "#1f5fbf", "stroke-width": "1.5", "class": "series output" });
      });
      return m;
    }
  };
  function shade(v) {
    v = Math.max(0, Math.min(1, v));
    return "rgb(" + Math.round(255 - 230 * v) + "," + Math.round(255 - 180 * v) + "," + Math.round(255 - 90 * v) + ")";
  }
  draw.confusion = function (svg) {
    var C = D.confusion, n = C.labels.length, cs = Math.min(24, Math.floor(480 / n)), x0 = 90, y0 = 34, m = 0;
    var t = el(svg, "g", { fill: "#333", "font-size": "11" });
    el(t, "text", { x: x0 + n * cs / 2, y: 12, "text-anchor": "middle" }, "predicted");
    el(t, "text", { x: 10, y: y0 + n * cs / 2, "text-anchor": "start" }, "true");
    C.labels.forEach(function (lab, i) {
      el(t, "text", { x: x0 + (i + 0.5) * cs, y: y0 - 6, "text-anchor": "middle" }, lab);
      el(t, "text", { x: x0 - 6, y: y0 + (i + 0.5) * cs + 4, "text-anchor": "end" }, lab);
    });
    C.counts.forEach(function (row, i) {
      var tot = row.reduce(function (a, b) { return a + b; }, 0);
      row.forEach(function (c, j) {
        var v = tot ? c / tot : 0;
        el(svg, "rect", { x: x0 + j * cs, y: y0 + i * cs, width: cs - 1, height: cs - 1, fill: shade(v), stroke: i === j ? "#1f5fbf" : "none", "class": "cell" });
        if (c && cs >= 14) el(t, "text", { x: x0 + (j + 0.5) * cs, y: y0 + (i + 0.5) * cs + 4, "text-anchor": "middle", fill: v > 0.5 ? "#fff" : "#333", "font-size": "10" }, String(c));
        m++;
      });
      el(t, "text", { x: x0 + n * cs + 8, y: y0 + (i + 0.5) * cs + 4 }, tot ? (100 * row[i] / tot).toFixed(0) + " %" : "–");
    });
    return m;
  };
  draw.states = function (svg) {
    var S = D.states, Ly = S.layout, cs = Ly.cell, m = 0;
    var t = el(svg, "g", { fill: "#333", "font-size": "11" });
    S.samples.forEach(function (smp, b) {
      var bx = (b % Ly.perRow) * Ly.blockW, by = Math.floor(b / Ly.perRow) * Ly.blockH;
      el(t, "text", { x: bx, y: by + 14, "font-weight": "600" }, smp.label);
      S.layers.forEach(function (l, k) { el(t, "text", { x: bx + Ly.x[k], y: by + 28, "font-size": "10" }, l.name); });
      smp.phases.forEach(function (ph, p) {
        var ry = by + 34 + p * Ly.rowH;
        el(t, "text", { x: bx, y: ry + 10, "font-size": "10" }, ph.name);
        ph.layers.forEach(function (v, k) {
          if (!v) return;
          var cols = S.layers[k].shape[1];
          v.forEach(function (val, u) {
            el(svg, "rect", { x: bx + Ly.x[k] + (u % cols) * cs, y: ry + Math.floor(u / cols) * cs, width: cs, height: cs, fill: shade(val), stroke: "#ddd", "stroke-width": "0.3", "class": "unit" });
            m++;
          });
        });
      });
    });
    return m;
  };
  var ok = 0;
  Array.prototype.forEach.call(document.querySelectorAll("figure.chart"), function (fig) {
    var name = fig.getAttribute("data-chart"), svg = fig.querySelector("svg");
    try {
      var marks;
      if (name === "raster-inputs") marks = draw.raster(svg, D.trajectory.inputs, 300);
      else if (name === "raster-recurrent") marks = draw.raster(svg, D.trajectory.rec, 300);
      else if (name.indexOf("raster-layer-") === 0) marks = draw.raster(svg, D.trajectory.layers[+name.slice("raster-layer-".length)], 300);
      else marks = draw[name](svg);
      fig.setAttribute("data-marks", String(marks));
      fig.setAttribute("data-rendered", "true");
      ok++;
    } catch (err) {
      fig.setAttribute("data-error", String(err && err.message || err));
      var p = document.createElement("p");
      p.className = "err";
      p.textContent = "chart failed: " + (err && err.message || err);
      fig.appendChild(p);
    }
  });
  document.body.setAttribute("data-charts-rendered", String(ok));
})();
`;
