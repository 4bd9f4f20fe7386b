// The layer-stack case of OSTL.md ("Case format"): `model.layers` of LIF/ALIF layers with a
// per-layer bias, a leaky readout on the top layer, `resetGrad` (default true). Validates a
// parsed hil-case/1 document and fills MODEL.md's defaults; everything downstream may assume
// shapes chain, numbers are finite and sizes are within LIMITS.
import { InputError } from "../../input/errors.ts";
import { bool, choice, finite, intIn, matrix, obj, positive, vector, type Json } from "../../input/fields.ts";
import { LIMITS as CASE_LIMITS, parseTrialData } from "../../case/parse.ts";
import type { LossKind, LossReduction, Matrix, NeuronKind } from "../../model/types.ts";

/**
 * Stated limits, checked before anything is allocated. maxLayers is the device kernel's layer
 * table (device/rules/ostl/layout.ts MAXL); maxSynapses bounds the host reference, which keeps
 * about six float64 numbers per synapse (weight, epsV, epsA, ebar, gradient): 2^24 synapses is
 * ~800 MiB; maxTrajectory bounds what BPTT stores (T x every unit, two float64 arrays).
 */
export const LIMITS = {
  maxLayers: 16,
  maxUnits: CASE_LIMITS.maxUnits,
  maxSynapses: 2 ** 24,
  maxTrajectory: 2 ** 26,
} as const;

export interface StackLayer {
  n: number;
  neuron: NeuronKind;
  tauMem: number;
  tauAdapt: number;
  /** Per-neuron adaptation strength (length n); all 0 for LIF. */
  beta: number[];
  vTh: number;
  gamma: number;
}

export interface OstlModel {
  nIn: number;
  nOut: number;
  dt: number;
  tauOut: number;
  loss: LossKind;
  lossReduction: LossReduction;
  trainBias: boolean;
  /** Whether the reset term -vTh*z^{l,t-1} carries derivative (OSTL.md default true). */
  resetGrad: boolean;
  layers: StackLayer[];
}

export interface LayerParams {
  /** [n_l][n_{l-1}] */
  w: Matrix;
  /** [n_l] */
  b: number[];
}

// A type alias (not an interface) so that it is a Record<string, unknown>, as GradOutput.grads is.
export type OstlParams = {
  layers: LayerParams[];
  wOut: Matrix; // [nOut][n_L]
  bOut: number[]; // [nOut]
};

/** Gradients in the parameters' own layout (what `edgeprop grad` prints under `grads`). */
export type OstlGrads = OstlParams;

export interface OstlCase {
  format: "hil-case/1";
  name: string;
  model: OstlModel;
  params: OstlParams;
  inputs: Matrix; // [T][nIn]
  targets: Matrix; // [T][nOut]
  mask: number[]; // [T], each 0 or 1
}

const LAYER_DEFAULTS = { tauMem: 20, tauAdapt: 200, alifBeta: 1.0, vTh: 1, gamma: 0.3 } as const;
const LAYER_FIELDS = ["n", "neuron", "tauMem", "tauAdapt", "beta", "vTh", "gamma"];
/** MODEL.md fields that a stack sets per layer: at model level they would be silently ignored. */
const PER_LAYER_AT_MODEL = ["neuron", "tauMem", "tauAdapt", "beta", "vTh", "gamma"];

function nonNegative(x: Json, field: string): number {
  const g = finite(x, field);
  if (g < 0) throw new InputError(field, `expected a number >= 0, got ${g}`);
  return g;
}

function parseLayer(x: Json, l: number): StackLayer {
  const f = `model.layers[${l}]`;
  const m = obj(x, f);
  for (const k of Object.keys(m)) {
    if (!LAYER_FIELDS.includes(k)) throw new InputError(`${f}.${k}`, `not a field of an OSTL layer (known: ${LAYER_FIELDS.join(", ")})`);
  }
  const opt = <T>(k: string, read: (v: Json, fld: string) => T, dflt: T): T => (m[k] === undefined ? dflt : read(m[k], `${f}.${k}`));
  const n = intIn(m.n, `${f}.n`, 1, LIMITS.maxUnits);
  const neuron = choice(m.neuron, `${f}.neuron`, ["lif", "alif"] as const);
  const betaJson = m.beta ?? (neuron === "alif" ? LAYER_DEFAULTS.alifBeta : 0);
  const perNeuron = Array.isArray(betaJson);
  const beta = perNeuron ? vector(betaJson, `${f}.beta`, n) : new Array<number>(n).fill(finite(betaJson, `${f}.beta`));
  beta.forEach((b, j) => {
    const bf = `${f}.beta${perNeuron ? `[${j}]` : ""}`;
    if (b < 0) throw new InputError(bf, `expected a number >= 0, got ${b}`);
    if (neuron === "lif" && b !== 0) throw new InputError(bf, `must be 0 for neuron 'lif' (use neuron 'alif' for adaptation), got ${b}`);
  });
  return {
    n,
    neuron,
    tauMem: opt("tauMem", positive, LAYER_DEFAULTS.tauMem),
    tauAdapt: opt("tauAdapt", positive, LAYER_DEFAULTS.tauAdapt),
    beta,
    vTh: opt("vTh", positive, LAYER_DEFAULTS.vTh),
    gamma: opt("gamma", nonNegative, LAYER_DEFAULTS.gamma),
  };
}

/** Synapses of a stack: every layer's weights and bias, plus the readout's. */
export function stackSynapses(nIn: number, sizes: readonly number[], nOut: number): number {
  let pre = nIn;
  let total = 0;
  for (const n of sizes) {
    total += n * (pre + 1);
    pre = n;
  }
  return total + nOut * (pre + 1);
}

export function parseOstlModel(x: Json): OstlModel {
  const m = obj(x, "model");
  if (m.nRec !== undefined) throw new InputError("model.nRec", "not part of a layer stack (model.layers gives every layer's size n)");
  for (const k of PER_LAYER_AT_MODEL) {
    if (m[k] !== undefined) throw new InputError(`model.${k}`, `a layer stack sets it per layer (model.layers[l].${k})`);
  }
  if (m.refractory !== undefined && finite(m.refractory, "model.refractory") !== 0) {
    throw new InputError("model.refractory", `not supported in a layer stack (OSTL.md): expected 0, got ${m.refractory}`);
  }
  if (m.rateReg !== undefined && m.rateReg !== null) throw new InputError("model.rateReg", "not supported in a layer stack (OSTL.md)");
  for (const k of ["inputScale", "readoutScale"]) {
    if (m[k] !== undefined && m[k] !== "one") throw new InputError(`model.${k}`, `only 'one' in a layer stack (OSTL.md), got ${JSON.stringify(m[k])}`);
  }
  const opt = <T>(k: string, read: (v: Json, f: string) => T, dflt: T): T => (m[k] === undefined ? dflt : read(m[k], `model.${k}`));
  const nIn = intIn(m.nIn, "model.nIn", 1, LIMITS.maxUnits);
  const nOut = intIn(m.nOut, "model.nOut", 1, LIMITS.maxUnits);
  if (!Array.isArray(m.layers) || m.layers.length < 1 || m.layers.length > LIMITS.maxLayers) {
    throw new InputError("model.layers", `expected an array of 1 to ${LIMITS.maxLayers} layers, got ${Array.isArray(m.layers) ? `${m.layers.length}` : JSON.stringify(m.layers)}`);
  }
  const layers = m.layers.map((lx, l) => parseLayer(lx, l));
  const synapses = stackSynapses(nIn, layers.map((l) => l.n), nOut);
  if (synapses > LIMITS.maxSynapses) {
    throw new InputError("model.layers", `a stack of at most ${LIMITS.maxSynapses} synapses (host reference memory), got ${synapses}`);
  }
  return {
    nIn,
    nOut,
    dt: opt("dt", positive, 1),
    tauOut: opt("tauOut", positive, 20),
    loss: choice(m.loss ?? "mse", "model.loss", ["mse", "ce"] as const),
    lossReduction: opt("lossReduction", (v, f) => choice(v, f, ["sum", "mean"] as const), "sum"),
    trainBias: opt("trainBias", bool, true),
    resetGrad: opt("resetGrad", bool, true),
    layers,
  };
}

export function parseOstlParams(x: Json, m: OstlModel): OstlParams {
  const p = obj(x, "params");
  for (const k of ["wIn", "wRec"]) {
    if (p[k] !== undefined) throw new InputError(`params.${k}`, "not part of a layer stack (params.layers[l].w, no recurrent weights)");
  }
  const L = m.layers.length;
  if (!Array.isArray(p.layers) || p.layers.length !== L) {
    throw new InputError("params.layers", `expected ${L} layers (one per model.layers), got ${Array.isArray(p.layers) ? p.layers.length : JSON.stringify(p.layers)}`);
  }
  const layers = p.layers.map((lx, l) => {
    const f = `params.layers[${l}]`;
    const o = obj(lx, f);
    const n = m.layers[l]!.n;
    const nPrev = l === 0 ? m.nIn : m.layers[l - 1]!.n;
    const prevName = l === 0 ? "nIn" : `model.layers[${l - 1}].n`;
    return {
      w: matrix(o.w, `${f}.w`, n, nPrev, `model.layers[${l}].n=${n}`, `${prevName}=${nPrev}`),
      b: o.b === undefined ? new Array<number>(n).fill(0) : vector(o.b, `${f}.b`, n),
    };
  });
  const nTop = m.layers[L - 1]!.n;
  return {
    layers,
    wOut: matrix(p.wOut, "params.wOut", m.nOut, nTop, `nOut=${m.nOut}`, `model.layers[${L - 1}].n=${nTop}`),
    bOut: p.bOut === undefined ? new Array<number>(m.nOut).fill(0) : vector(p.bOut, "params.bOut", m.nOut),
  };
}

/** Refuses a trial of T steps whose stored trajectory (what BPTT keeps) exceeds LIMITS.maxTrajectory. */
export function checkTrajectory(T: number, model: OstlModel, field: string): void {
  const units = model.nIn + model.nOut + model.layers.reduce((s, l) => s + l.n, 0);
  if (T * units > LIMITS.maxTrajectory) {
    throw new InputError(field, `T x (nIn + every layer's n + nOut) at most ${LIMITS.maxTrajectory} (the trajectory BPTT stores), got ${T} x ${units}`);
  }
}

/** Validates a stack case for OSTL (and BPTT of stacks); InputError names the field and the limit. */
export function parseOstlCase(x: Json, source = "case"): OstlCase {
  const c = obj(x, source);
  if (c.format !== "hil-case/1") throw new InputError("format", `expected 'hil-case/1', got ${JSON.stringify(c.format)}`);
  if (c.feedback !== undefined) throw new InputError("feedback", "not part of a layer stack (OSTL passes learning signals through the forward weights)");
  const model = parseOstlModel(c.model);
  const params = parseOstlParams(c.params, model);
  const { inputs, targets, mask } = parseTrialData(c, model);
  checkTrajectory(inputs.length, model, "inputs");
  const name = c.name === undefined ? "unnamed" : typeof c.name === "string" ? c.name : String(c.name);
  return { format: "hil-case/1", name, model, params, inputs, targets, mask };
}
