// Random DECOLLE margin cases (DECOLLE.md "Equivalence statements" 2): every step of every layer
// keeps |U| > margin, with "box" also |U -+ 0.5| > margin, with reg > 0 also |U + 0.01| > margin
// and |m| > margin, so a float32 backend agrees with float64 on every spike and every 0/1 factor.
// Drawn with the project's PCG32; a draw that misses a margin (or leaves a layer silent) is
// redrawn on the next PCG32 stream of the same seed.
import { InputError } from "../../input/errors.ts";
import { Pcg32 } from "../../rng/pcg32.ts";
import type { LossReduction } from "../../model/types.ts";
import { DecolleStream } from "./reference.ts";
import { MAX_LAYERS, parseDecolleCase, traceGains, type DecolleCase, type DecolleLoss, type Surrogate, type TraceScale } from "./schema.ts";

export interface DecolleRandomOptions {
  seed?: number;
  /** Neurons per layer, bottom first. */
  layers?: number[];
  nIn?: number;
  nOut?: number;
  T?: number;
  loss?: DecolleLoss;
  surrogate?: Surrogate;
  traceScale?: TraceScale;
  /** Regulariser strength lambda of every layer (0 = none). */
  reg?: number;
  lossReduction?: LossReduction;
  /** Leading steps with mask 0 (decolle-public's burn-in). */
  burnin?: number;
  /** Smallest distance of U (and the regulariser's kinks) from every threshold. */
  margin?: number;
  /** Bernoulli probability of an input spike per step. */
  inputRate?: number;
}

const MAX_ATTEMPTS = 400;
/** Layer constants of the random cases: decolle-public's defaults, except a faster refractory decay on even layers. */
const CONSTANTS = [
  { alpha: 0.9, beta: 0.85, alpharp: 0.65, wrp: 1.0 },
  { alpha: 0.8, beta: 0.7, alpharp: 0.5, wrp: 0.8 },
];

export function decolleRandomCase(opts: DecolleRandomOptions = {}): DecolleCase {
  const o = {
    seed: 1, layers: [12, 10], nIn: 6, nOut: 3, T: 60, loss: "mse" as DecolleLoss, surrogate: "box" as Surrogate,
    traceScale: "one" as TraceScale, reg: 0, lossReduction: "sum" as LossReduction, burnin: 5, margin: 5e-4, inputRate: 0.25,
    ...opts,
  };
  if (o.layers.length < 1 || o.layers.length > MAX_LAYERS) throw new InputError("--layers", `expected 1 to ${MAX_LAYERS} layer sizes`);
  if (o.burnin >= o.T) throw new InputError("--burnin", `expected fewer burn-in steps than T=${o.T}, got ${o.burnin}`);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const c = draw(o, new Pcg32(o.seed, attempt));
    if (keepsMargins(c, o.margin)) return c;
  }
  throw new InputError("--margin", `no case with every margin above ${o.margin} found in ${MAX_ATTEMPTS} draws; use a smaller --margin, fewer steps or smaller layers`);
}

/** Whether every step of every layer keeps the spec's margins, and every layer spikes at least once. */
export function keepsMargins(c: DecolleCase, margin: number): boolean {
  const s = new DecolleStream(c.model, c.params, c.readouts);
  const spiked = c.model.layers.map(() => false);
  const box = c.model.surrogate === "box";
  for (let t = 0; t < c.inputs.length; t++) {
    s.step(c.inputs[t]!, c.targets[t]!, c.mask[t]!);
    for (let l = 0; l < s.layers.length; l++) {
      const L = s.layers[l]!;
      const reg = L.cfg.reg > 0;
      if (reg && !(Math.abs(L.m) > margin)) return false;
      for (let j = 0; j < L.n; j++) {
        const u = L.U[j]!;
        if (!(Math.abs(u) > margin)) return false;
        if (box && !(Math.abs(u - 0.5) > margin && Math.abs(u + 0.5) > margin)) return false;
        if (reg && !(Math.abs(u + 0.01) > margin)) return false;
        if (L.S[j] === 1) spiked[l] = true;
      }
    }
  }
  return spiked.every(Boolean);
}

type Resolved = Required<DecolleRandomOptions>;

function draw(o: Resolved, rng: Pcg32): DecolleCase {
  const { nIn, nOut, T } = o;
  const sizes = [nIn, ...o.layers];
  const normal = (scale: number, mean = 0) => mean + scale * rng.normal();
  const mat = (r: number, c: number, scale: number, mean = 0) => Array.from({ length: r }, () => Array.from({ length: c }, () => normal(scale, mean)));
  const layers = o.layers.map((n, l) => ({ neuron: "decolle", n, ...CONSTANTS[l % 2]!, reg: o.reg }));
  let rate = o.inputRate; // expected spike rate of the layer's input
  const params = layers.map((cfg, l) => {
    const nPre = sizes[l]!;
    // The steady membrane trace of an input firing at rate r is r cQ cP / ((1 - beta)(1 - alpha)):
    // scale W so that W P has a spread of about 1 whatever the traceScale.
    const { cQ, cP } = traceGains(o.traceScale, cfg);
    const pBar = (rate * cQ * cP) / ((1 - cfg.beta) * (1 - cfg.alpha));
    const wScale = 1 / (pBar * Math.sqrt(nPre));
    // A quiet layer (40 %): all but two neurons far below threshold, so mean_i sigma(U_i) is
    // about 0.1 and the regulariser's second term switches on and off; else a busy layer.
    const quiet = cfg.n > 4 && rng.uniform() < 0.4;
    rate = quiet ? 0.6 / cfg.n : 0.3;
    const b = Array.from({ length: cfg.n }, (_, j) => normal(0.5, quiet && j >= 2 ? -4 : -0.2));
    return { w: mat(cfg.n, nPre, wScale), b };
  });
  const readouts = o.layers.map((n) => ({ G: mat(nOut, n, 1 / Math.sqrt(n)), bG: Array.from({ length: nOut }, () => normal(0.1)) }));
  const inputs = Array.from({ length: T }, () => Array.from({ length: nIn }, () => (rng.uniform() < o.inputRate ? 1 : 0)));
  let targets: number[][];
  if (o.loss === "ce") {
    const cls = Math.floor(rng.uniform() * nOut);
    targets = Array.from({ length: T }, () => Array.from({ length: nOut }, (_, k) => (k === cls ? 1 : 0)));
  } else {
    // amplitude 1.5: smoothL1 sees both its quadratic and its linear branch
    targets = Array.from({ length: T }, (_, t) => Array.from({ length: nOut }, (_, k) => 1.5 * Math.sin((2 * Math.PI * (t + 7 * k)) / 40)));
  }
  const mask = Array.from({ length: T }, (_, t) => (t < o.burnin ? 0 : 1));
  return parseDecolleCase({
    format: "hil-case/1",
    name: `random-decolle-${o.layers.join("x")}-${o.loss}-${o.surrogate}-${o.traceScale}${o.reg > 0 ? `-reg${o.reg}` : ""}-seed${o.seed}`,
    model: { nIn, nOut, loss: o.loss, lossReduction: o.lossReduction, traceScale: o.traceScale, surrogate: o.surrogate, layers },
    params: { layers: params },
    readouts,
    inputs,
    targets,
    mask,
  });
}
