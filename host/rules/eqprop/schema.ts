// The EqProp case (EQPROP.md "Case format"): `hil-case/1` with `model.kind: "eqprop"`.
// Validation names the field and the limit of every bad value (InputError, exit 2). Layer sizes
// and step counts are checked against LIMITS before any parameter, gradient or state array is
// built from them.
import { InputError } from "../../input/errors.ts";
import { choice, finite, intIn, matrix, numberIn, obj, vector, type Json } from "../../input/fields.ts";

export type Nudge = "one-sided" | "symmetric";
export type LossReduction = "sum" | "mean";

export interface EqpropModel {
  /** [n0, n1, ..., nL]: input layer, then the state layers; layer L is the output. */
  layers: number[];
  beta: number;
  epsilon: number;
  freeSteps: number;
  nudgedSteps: number;
  nudge: Nudge;
  lossReduction: LossReduction;
}

/** W[l] is n(l+1) x n(l) ([post][pre]); b[l] has n(l+1) entries (the bias of layer l+1). A type, not an interface: it is a GradOutput's `grads` record. */
export type EqpropParams = {
  W: number[][][];
  b: number[][];
};

export interface EqpropCase {
  name: string;
  model: EqpropModel;
  params: EqpropParams;
  /** [N][n0], every entry in [0, 1]. */
  inputs: number[][];
  /** [N][nL]. */
  targets: number[][];
}

/**
 * What a case may ask for. Beyond these no board of ours could hold the model, and the float64
 * reference would need more than ~300 MiB for parameters and gradients.
 */
export const LIMITS = {
  /** Entries of `layers` (input layer included), so at most 15 state layers. */
  maxLayers: 16,
  maxUnits: 65536,
  /** Weights plus biases: 2^24, i.e. 128 MiB per float64 copy (parameters, gradients). */
  maxParams: 1 << 24,
  maxSteps: 1_000_000,
  maxSamples: 1_000_000,
} as const;

const DEFAULTS = { epsilon: 0.5, nudge: "one-sided", lossReduction: "sum" } as const;

/** Weights plus biases of a network with these layers. */
export function paramCount(layers: readonly number[]): number {
  let n = 0;
  for (let l = 0; l + 1 < layers.length; l++) n += layers[l + 1]! * (layers[l]! + 1);
  return n;
}

function parseLayers(x: Json): number[] {
  const what = `a list of 2..${LIMITS.maxLayers} positive integers (layer sizes, input first, each <= ${LIMITS.maxUnits})`;
  if (!Array.isArray(x) || x.length < 2 || x.length > LIMITS.maxLayers) {
    throw new InputError("model.layers", `expected ${what}, got ${Array.isArray(x) ? `a list of length ${x.length}` : JSON.stringify(x) ?? "nothing"}`);
  }
  const layers = x.map((n, k) => intIn(n, `model.layers[${k}]`, 1, LIMITS.maxUnits));
  const count = paramCount(layers);
  if (count > LIMITS.maxParams) {
    throw new InputError("model.layers", `at most ${LIMITS.maxParams} weights and biases, got ${count} for [${layers.join(", ")}]`);
  }
  return layers;
}

export function parseModel(x: Json): EqpropModel {
  const m = obj(x, "model");
  if (m.kind !== "eqprop") throw new InputError("model.kind", `expected 'eqprop' for an EqProp case, got ${JSON.stringify(m.kind) ?? "nothing"}`);
  const opt = <T>(k: string, read: (v: Json, f: string) => T, dflt: T): T => (m[k] === undefined ? dflt : read(m[k], `model.${k}`));
  const layers = parseLayers(m.layers);
  const beta = finite(m.beta, "model.beta");
  if (beta === 0) throw new InputError("model.beta", "expected a finite number other than 0 (the estimate divides by beta), got 0");
  const epsilon = opt("epsilon", finite, DEFAULTS.epsilon);
  if (!(epsilon > 0 && epsilon <= 1)) throw new InputError("model.epsilon", `expected a number in (0, 1], got ${epsilon}`);
  return {
    layers,
    beta,
    epsilon,
    freeSteps: intIn(m.freeSteps, "model.freeSteps", 1, LIMITS.maxSteps),
    nudgedSteps: intIn(m.nudgedSteps, "model.nudgedSteps", 1, LIMITS.maxSteps),
    nudge: opt("nudge", (v, f) => choice(v, f, ["one-sided", "symmetric"] as const), DEFAULTS.nudge),
    lossReduction: opt("lossReduction", (v, f) => choice(v, f, ["sum", "mean"] as const), DEFAULTS.lossReduction),
  };
}

export function parseParams(x: Json, layers: readonly number[]): EqpropParams {
  const p = obj(x, "params");
  const L = layers.length - 1;
  const list = (v: Json, field: string, what: string): Json[] => {
    if (!Array.isArray(v) || v.length !== L) {
      throw new InputError(field, `expected ${L} ${what} (one per pair of layers of model.layers [${layers.join(", ")}]), got ${Array.isArray(v) ? `a list of length ${v.length}` : "no list"}`);
    }
    return v;
  };
  const W = list(p.W, "params.W", L === 1 ? "matrix" : "matrices").map((w, l) =>
    matrix(w, `params.W[${l}]`, layers[l + 1]!, layers[l]!, `layers[${l + 1}]=${layers[l + 1]}`, `layers[${l}]=${layers[l]}`),
  );
  const b = list(p.b, "params.b", L === 1 ? "vector" : "vectors").map((v, l) => vector(v, `params.b[${l}]`, layers[l + 1]!));
  return { W, b };
}

function samples(x: Json, field: string, n: number | undefined, width: number, widthName: string): number[][] {
  if (!Array.isArray(x) || x.length < 1 || x.length > LIMITS.maxSamples || (n !== undefined && x.length !== n)) {
    const count = n === undefined ? `1 <= N <= ${LIMITS.maxSamples}` : `N = ${n} (as inputs)`;
    throw new InputError(field, `expected [N][${widthName}=${width}] (one row per sample) with ${count}, got ${Array.isArray(x) ? `${x.length} rows` : "no list"}`);
  }
  return matrix(x, field, x.length, width, "N", widthName);
}

export function parseEqpropCase(x: Json, source = "case"): EqpropCase {
  const c = obj(x, source);
  if (c.format !== "hil-case/1") throw new InputError("format", `expected 'hil-case/1', got ${JSON.stringify(c.format)}`);
  const model = parseModel(c.model);
  const { layers } = model;
  const params = parseParams(c.params, layers);
  const inputs = samples(c.inputs, "inputs", undefined, layers[0]!, "layers[0]");
  inputs.forEach((row, n) => row.forEach((v, i) => numberIn(v, `inputs[${n}][${i}]`, 0, 1)));
  const targets = samples(c.targets, "targets", inputs.length, layers[layers.length - 1]!, `layers[${layers.length - 1}]`);
  const name = c.name === undefined ? "unnamed" : typeof c.name === "string" ? c.name : String(c.name);
  return { name, model, params, inputs, targets };
}
