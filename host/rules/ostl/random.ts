// Random margin cases for layer stacks (OSTL.md statement 5): every layer keeps |v - A| above a
// margin at every step (default 5e-4, so a float32 backend that disagrees on a spike has a real
// bug) and fires at a rate in [2 %, 40 %] of its neuron-steps. Layers are drawn bottom-up: a
// layer is redrawn (its gain nudged toward the rate window) until it passes on the spikes of the
// accepted layers below, so deep stacks need no luck. Seeded with the project's PCG32.
import { InputError } from "../../input/errors.ts";
import type { LossKind, LossReduction, NeuronKind } from "../../model/types.ts";
import { Pcg32 } from "../../rng/pcg32.ts";
import { parseOstlCase, type LayerParams, type OstlCase, type StackLayer } from "./schema.ts";
import { layerStep, runStack, zeroLayerState, type LayerConsts } from "./stack.ts";

export interface OstlRandomOptions {
  /** Neurons per layer, bottom to top. */
  layers?: number[];
  /** One kind for every layer, or one per layer. */
  neuron?: NeuronKind | NeuronKind[];
  loss?: LossKind;
  lossReduction?: LossReduction;
  resetGrad?: boolean;
  trainBias?: boolean;
  seed?: number;
  nIn?: number;
  nOut?: number;
  T?: number;
  /** Smallest |v - A| allowed at any step of any neuron. */
  margin?: number;
  /** Bernoulli probability of an input spike per step. */
  inputRate?: number;
}

export const RATE_WINDOW = { min: 0.02, max: 0.4 } as const;
const MAX_ATTEMPTS = 400;

type DrawnLayer = StackLayer & LayerParams;

/** Smallest |v - A| over a run and the fraction of neuron-steps with a spike. */
function marginAndRate(runs: { u: number[]; z: number[] }[]): { margin: number; rate: number } {
  let margin = Infinity;
  let spikes = 0;
  let count = 0;
  for (const r of runs) {
    for (const u of r.u) margin = Math.min(margin, Math.abs(u));
    for (const z of r.z) spikes += z;
    count += r.z.length;
  }
  return { margin, rate: spikes / count };
}

export function randomOstlCase(opts: OstlRandomOptions = {}): OstlCase {
  const o = {
    layers: [12, 10],
    neuron: "lif" as NeuronKind | NeuronKind[],
    loss: "mse" as LossKind,
    lossReduction: "sum" as LossReduction,
    resetGrad: true,
    trainBias: true,
    seed: 1,
    nIn: 8,
    nOut: 3,
    T: 120,
    margin: 5e-4,
    inputRate: 0.2,
    ...opts,
  };
  const kinds = Array.isArray(o.neuron) ? o.neuron : o.layers.map(() => o.neuron as NeuronKind);
  if (kinds.length !== o.layers.length) throw new InputError("--neuron", `expected one kind or ${o.layers.length} (one per layer), got ${kinds.length}`);
  const rng = new Pcg32(o.seed, 0x05714);
  const inputs = Array.from({ length: o.T }, () => Array.from({ length: o.nIn }, () => (rng.uniform() < o.inputRate ? 1 : 0)));
  const drawn: DrawnLayer[] = [];
  let pre: number[][] = inputs;
  let preRate = o.inputRate;
  o.layers.forEach((n, l) => {
    const nPre = pre[0]!.length;
    const neuron = kinds[l]!;
    // distinct per layer, so a mix-up of layers' constants shows
    const vTh = Math.round(60 + 80 * rng.uniform()) / 100;
    const tauMem = 15 + Math.floor(16 * rng.uniform());
    let gain = 1;
    for (let attempt = 0; ; attempt++) {
      if (attempt === MAX_ATTEMPTS) {
        throw new InputError("margin", `no layer ${l} with |v - A| > ${o.margin} at every step and a rate in [${RATE_WINDOW.min}, ${RATE_WINDOW.max}] found in ${MAX_ATTEMPTS} attempts; use a smaller --margin or fewer steps`);
      }
      const drive = Math.max(nPre * preRate, 0.5);
      const layer: DrawnLayer = {
        n, neuron, tauMem, tauAdapt: 100, vTh, gamma: 0.3,
        beta: Array.from({ length: n }, () => (neuron === "alif" ? 0.2 + 0.6 * rng.uniform() : 0)),
        w: Array.from({ length: n }, () => Array.from({ length: nPre }, () => vTh * gain * (0.15 / drive + (1.2 / Math.sqrt(drive)) * rng.normal()))),
        b: Array.from({ length: n }, () => 0.02 * vTh * rng.normal()),
      };
      const k: LayerConsts = { alpha: Math.exp(-1 / tauMem), rho: Math.exp(-1 / layer.tauAdapt), vTh, gamma: layer.gamma, beta: layer.beta };
      let s = zeroLayerState(n);
      const runs = pre.map((x) => (s = layerStep(k, layer, s, x)));
      const { margin, rate } = marginAndRate(runs);
      if (margin > o.margin && rate >= RATE_WINDOW.min && rate <= RATE_WINDOW.max) {
        drawn.push(layer);
        pre = runs.map((r) => r.z);
        preRate = rate;
        break;
      }
      if (rate < RATE_WINDOW.min) gain *= 1.15;
      else if (rate > RATE_WINDOW.max) gain /= 1.15;
    }
  });
  const nTop = o.layers[o.layers.length - 1]!;
  const wOut = Array.from({ length: o.nOut }, () => Array.from({ length: nTop }, () => rng.normal() / Math.sqrt(nTop * preRate * 10)));
  const bOut = Array.from({ length: o.nOut }, () => 0.1 * rng.normal());
  let targets: number[][];
  let mask: number[];
  if (o.loss === "mse") {
    const phase = Array.from({ length: o.nOut }, () => 2 * Math.PI * rng.uniform());
    targets = Array.from({ length: o.T }, (_, t) => phase.map((ph) => 0.5 * Math.sin((2 * Math.PI * t) / 40 + ph)));
    mask = new Array<number>(o.T).fill(1);
  } else {
    const cls = Math.floor(rng.uniform() * o.nOut);
    targets = Array.from({ length: o.T }, () => Array.from({ length: o.nOut }, (_, k) => (k === cls ? 1 : 0)));
    mask = Array.from({ length: o.T }, (_, t) => (t >= Math.floor((2 * o.T) / 3) ? 1 : 0));
  }
  const c = parseOstlCase({
    format: "hil-case/1",
    name: `random-ostl-${o.layers.join("x")}-${kinds.join("-")}-${o.loss}-seed${o.seed}`,
    model: {
      nIn: o.nIn, nOut: o.nOut, dt: 1, tauOut: 15, loss: o.loss, lossReduction: o.lossReduction,
      trainBias: o.trainBias, resetGrad: o.resetGrad,
      layers: drawn.map(({ n, neuron, tauMem, tauAdapt, beta, vTh, gamma }) => ({ n, neuron, tauMem, tauAdapt, beta, vTh, gamma })),
    },
    params: { layers: drawn.map(({ w, b }) => ({ w, b })), wOut, bOut },
    inputs,
    targets,
    mask,
  });
  // The layers were accepted one by one; the assembled stack must agree.
  const check = runStack(c).layers.map((runs) => marginAndRate(runs));
  if (check.some((r) => r.margin <= o.margin)) throw new Error("random OSTL case lost its margin when assembled");
  return c;
}
