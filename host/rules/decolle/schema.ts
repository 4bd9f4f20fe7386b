// The DECOLLE layer-stack case (../shared/spec/DECOLLE.md "Case format"): reads and validates a
// `hil-case/1` document with `model.layers`, `params.layers` and `readouts`, filling the spec's
// defaults. Every bad input is an InputError naming the field and what was expected; sizes are
// checked against stated limits before anything is allocated.
import { InputError } from "../../input/errors.ts";
import { choice, finite, intIn, matrix, obj, vector, type Json } from "../../input/fields.ts";
import { checkCeTargets, LIMITS } from "../../case/parse.ts";
import type { LossReduction, Matrix } from "../../model/types.ts";

export type DecolleLoss = "mse" | "smoothL1" | "ce";
export type TraceScale = "one" | "oneMinus" | "tau";
export type Surrogate = "box" | "sigmoid";

/** Layers a stack may have: the device arena's staging table holds this many (device/rules/decolle/layout.ts DC_MAX_LAYERS, tied by a test). */
export const MAX_LAYERS = 16;

export interface DecolleLayer {
  neuron: "decolle";
  n: number;
  alpha: number;
  beta: number;
  alpharp: number;
  wrp: number;
  /** Regulariser strength lambda_l >= 0. */
  reg: number;
}

export interface DecolleModel {
  nIn: number;
  nOut: number;
  loss: DecolleLoss;
  lossReduction: LossReduction;
  traceScale: TraceScale;
  surrogate: Surrogate;
  layers: DecolleLayer[];
}

export interface LayerParams {
  /** n_l x n_{l-1} */
  w: Matrix;
  /** n_l */
  b: number[];
}

export interface Readout {
  /** nOut x n_l, fixed */
  G: Matrix;
  /** nOut, fixed */
  bG: number[];
}

export interface DecolleCase {
  format: "hil-case/1";
  name: string;
  model: DecolleModel;
  params: { layers: LayerParams[] };
  readouts: Readout[];
  inputs: Matrix;
  targets: Matrix;
  mask: number[];
}

/** decolle-public `LIFLayer` defaults. */
const LAYER_DEFAULTS = { alpha: 0.9, beta: 0.85, alpharp: 0.65, wrp: 1.0, reg: 0 } as const;

const MODEL_FIELDS = ["nIn", "nOut", "loss", "lossReduction", "traceScale", "surrogate", "layers"];
const LAYER_FIELDS = ["n", "neuron", "alpha", "beta", "alpharp", "wrp", "reg"];
/** Fields of the recurrent (MODEL.md) case that a layer stack does not have. */
const RECURRENT_ONLY = ["nRec", "wIn", "wRec", "wOut", "bOut", "feedback"];

/** Input gains (cQ, cP) of a layer for the model's `traceScale` (the spec's table). */
export function traceGains(scale: TraceScale, layer: Pick<DecolleLayer, "alpha" | "beta">): { cQ: number; cP: number } {
  if (scale === "oneMinus") return { cQ: 1 - layer.beta, cP: 1 - layer.alpha };
  if (scale === "tau") return { cQ: 1 / (1 - layer.beta), cP: 1 / (1 - layer.alpha) };
  return { cQ: 1, cP: 1 };
}

/** A decay factor in [0, 1) (also for traceScale "tau", whose gains 1/(1 - x) need x < 1). */
function decay(x: Json, field: string): number {
  const v = finite(x, field);
  if (v < 0 || v >= 1) throw new InputError(field, `expected a decay factor in [0, 1), got ${v}`);
  return v;
}

function nonNegative(x: Json, field: string): number {
  const v = finite(x, field);
  if (v < 0) throw new InputError(field, `expected a number >= 0, got ${v}`);
  return v;
}

function parseLayer(x: Json, l: number): DecolleLayer {
  const f = `model.layers[${l}]`;
  const o = obj(x, f);
  if (o.neuron !== undefined && o.neuron !== "decolle") {
    throw new InputError(`${f}.neuron`, `expected 'decolle' under --rule decolle, got ${JSON.stringify(o.neuron)}`);
  }
  const opt = (k: keyof typeof LAYER_DEFAULTS, read: (v: Json, f: string) => number) => (o[k] === undefined ? LAYER_DEFAULTS[k] : read(o[k], `${f}.${k}`));
  return {
    neuron: "decolle",
    n: intIn(o.n, `${f}.n`, 1, LIMITS.maxUnits),
    alpha: opt("alpha", decay),
    beta: opt("beta", decay),
    alpharp: opt("alpharp", decay),
    wrp: opt("wrp", finite),
    reg: opt("reg", nonNegative),
  };
}

export function parseDecolleModel(x: Json): DecolleModel {
  const m = obj(x, "model");
  const opt = <T extends string>(k: string, choices: readonly T[], dflt: T): T => (m[k] === undefined ? dflt : choice(m[k], `model.${k}`, choices));
  if (!Array.isArray(m.layers) || m.layers.length < 1 || m.layers.length > MAX_LAYERS) {
    throw new InputError("model.layers", `expected an array of 1 to ${MAX_LAYERS} layers, got ${Array.isArray(m.layers) ? `${m.layers.length} layers` : JSON.stringify(m.layers)}`);
  }
  return {
    nIn: intIn(m.nIn, "model.nIn", 1, LIMITS.maxUnits),
    nOut: intIn(m.nOut, "model.nOut", 1, LIMITS.maxUnits),
    loss: opt("loss", ["mse", "smoothL1", "ce"] as const, "mse"),
    lossReduction: opt("lossReduction", ["sum", "mean"] as const, "sum"),
    traceScale: opt("traceScale", ["one", "oneMinus", "tau"] as const, "one"),
    surrogate: opt("surrogate", ["box", "sigmoid"] as const, "box"),
    layers: m.layers.map(parseLayer),
  };
}

/** Name of the field that sets n_l (l = -1 is the input layer). */
function sizeField(l: number): string {
  return l < 0 ? "model.nIn" : `model.layers[${l}].n`;
}

export function parseDecolleCase(x: Json, source = "case"): DecolleCase {
  const c = obj(x, source);
  if (c.format !== "hil-case/1") throw new InputError("format", `expected 'hil-case/1', got ${JSON.stringify(c.format)}`);
  const model = parseDecolleModel(c.model);
  warnIgnored(c, source);
  const { nIn, nOut, layers } = model;
  const sizes = [nIn, ...layers.map((l) => l.n)];
  const p = obj(c.params, "params");
  if (!Array.isArray(p.layers) || p.layers.length !== layers.length) {
    throw new InputError("params.layers", `expected ${layers.length} layers (one per model.layers entry), got ${Array.isArray(p.layers) ? p.layers.length : JSON.stringify(p.layers)}`);
  }
  const params = {
    layers: p.layers.map((lx: Json, l: number): LayerParams => {
      const f = `params.layers[${l}]`;
      const o = obj(lx, f);
      const n = sizes[l + 1]!;
      return {
        w: matrix(o.w, `${f}.w`, n, sizes[l]!, sizeField(l), sizeField(l - 1)),
        b: o.b === undefined ? new Array<number>(n).fill(0) : vector(o.b, `${f}.b`, n),
      };
    }),
  };
  if (!Array.isArray(c.readouts) || c.readouts.length !== layers.length) {
    throw new InputError("readouts", `expected ${layers.length} readouts (one per model.layers entry), got ${Array.isArray(c.readouts) ? c.readouts.length : JSON.stringify(c.readouts)}`);
  }
  const readouts = c.readouts.map((rx: Json, l: number): Readout => {
    const f = `readouts[${l}]`;
    const o = obj(rx, f);
    return {
      G: matrix(o.G, `${f}.G`, nOut, sizes[l + 1]!, "model.nOut", sizeField(l)),
      bG: o.bG === undefined ? new Array<number>(nOut).fill(0) : vector(o.bG, `${f}.bG`, nOut),
    };
  });
  if (!Array.isArray(c.inputs) || c.inputs.length < 1 || c.inputs.length > LIMITS.maxSteps) {
    throw new InputError("inputs", `expected [T][nIn=${nIn}] with 1 <= T <= ${LIMITS.maxSteps}, got ${Array.isArray(c.inputs) ? `${c.inputs.length} rows` : JSON.stringify(c.inputs)}`);
  }
  const T = c.inputs.length;
  const inputs = matrix(c.inputs, "inputs", T, nIn, "T", "model.nIn");
  const targets = matrix(c.targets, "targets", T, nOut, `T=${T}`, "model.nOut");
  const mask = c.mask === undefined ? new Array<number>(T).fill(1) : vector(c.mask, "mask", T);
  mask.forEach((v, t) => {
    if (v !== 0 && v !== 1) throw new InputError(`mask[${t}]`, `expected 0 or 1, got ${v}`);
  });
  if (model.loss === "ce") checkCeTargets(targets, mask);
  const name = c.name === undefined ? "unnamed" : String(c.name);
  return { format: "hil-case/1", name, model, params, readouts, inputs, targets, mask };
}

/** Fields this rule does not read: most likely typos that would leave an option at its default. */
export function ignoredFields(c: Record<string, Json>): string[] {
  const out: string[] = [];
  const m = c.model as Record<string, Json>;
  for (const k of Object.keys(m)) if (!MODEL_FIELDS.includes(k)) out.push(`model.${k}`);
  (m.layers as Json[]).forEach((l, i) => {
    for (const k of Object.keys(l as object)) if (!LAYER_FIELDS.includes(k)) out.push(`model.layers[${i}].${k}`);
  });
  const p = c.params;
  if (typeof p === "object" && p !== null && !Array.isArray(p)) for (const k of Object.keys(p)) if (RECURRENT_ONLY.includes(k)) out.push(`params.${k}`);
  if (c.feedback !== undefined) out.push("feedback");
  return out;
}

function warnIgnored(c: Record<string, Json>, source: string): void {
  for (const f of ignoredFields(c)) process.stderr.write(`edgeprop: warning: ${source}: ${f} is not a field of a DECOLLE layer stack (ignored)\n`);
}
