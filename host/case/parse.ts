// Reads and validates a `hil-case/1` document (see host/case/README.md), filling MODEL.md's
// defaults. Everything downstream may assume a Case is well-formed: shapes match, numbers
// are finite, time constants are positive.
import { InputError } from "../input/errors.ts";
import { transpose, zeros } from "../model/matrix.ts";
import { checkMemory } from "../model/memory.ts";
import type { Case, Feedback, FeedbackKind, ModelConfig, Params, RateReg } from "../model/types.ts";
import { bool, choice, finite, intIn, matrix, obj, positive, readJsonFile, vector, type Json } from "../input/fields.ts";

/** Largest layer sizes a case may declare: beyond these no board of ours could hold it. */
export const LIMITS = { maxUnits: 65536, maxSteps: 10_000_000 } as const;

const DEFAULTS = {
  dt: 1,
  tauMem: 20,
  tauOut: 20,
  tauAdapt: 200,
  alifBeta: 1.0, // NEST eprop_iaf_adapt_bsshslm_2020's adapt_beta
  vTh: 1,
  gamma: 0.3,
  refractory: 0,
} as const;

function parseRateReg(x: Json): RateReg | null {
  if (x === undefined || x === null) return null;
  const r = obj(x, "model.rateReg");
  const cReg = finite(r.cReg, "model.rateReg.cReg");
  if (cReg < 0) throw new InputError("model.rateReg.cReg", `expected a number >= 0, got ${cReg}`);
  const fTargetHz = finite(r.fTargetHz, "model.rateReg.fTargetHz");
  if (fTargetHz < 0) throw new InputError("model.rateReg.fTargetHz", `expected a number >= 0, got ${fTargetHz}`);
  return { cReg, fTargetHz };
}

/** The fields of `model` this version reads (MODEL.md's records and options). */
const MODEL_FIELDS = [
  "neuron", "nIn", "nRec", "nOut", "dt", "tauMem", "tauOut", "tauAdapt", "beta", "vTh", "gamma", "refractory",
  "loss", "inputScale", "readoutScale", "trainBias", "rateReg", "lossReduction",
];

/**
 * Fields of `model` that this version does not read: most likely typos (`inputscale`) that
 * would otherwise silently leave an option at its default. Callers warn about them.
 */
export function unknownModelFields(x: Json): string[] {
  const m = typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, Json>).model : undefined;
  if (typeof m !== "object" || m === null || Array.isArray(m)) return [];
  return Object.keys(m).filter((k) => !MODEL_FIELDS.includes(k));
}

export function parseModel(x: Json): ModelConfig {
  const m = obj(x, "model");
  const size = (k: string) => intIn(m[k], `model.${k}`, 1, LIMITS.maxUnits);
  const opt = <T>(k: string, read: (v: Json, f: string) => T, dflt: T): T => (m[k] === undefined ? dflt : read(m[k], `model.${k}`));
  const neuron = choice(m.neuron, "model.neuron", ["lif", "alif"] as const);
  const nRec = size("nRec");
  const model: ModelConfig = {
    neuron,
    nIn: size("nIn"),
    nRec,
    nOut: size("nOut"),
    dt: opt("dt", positive, DEFAULTS.dt),
    tauMem: opt("tauMem", positive, DEFAULTS.tauMem),
    tauOut: opt("tauOut", positive, DEFAULTS.tauOut),
    tauAdapt: opt("tauAdapt", positive, DEFAULTS.tauAdapt),
    beta: [],
    vTh: opt("vTh", positive, DEFAULTS.vTh),
    gamma: opt("gamma", (v, f) => {
      const g = finite(v, f);
      if (g < 0) throw new InputError(f, `expected a number >= 0, got ${g}`);
      return g;
    }, DEFAULTS.gamma),
    refractory: opt("refractory", (v, f) => intIn(v, f, 0, 1_000_000), DEFAULTS.refractory),
    loss: choice(m.loss ?? "mse", "model.loss", ["mse", "ce"] as const),
    inputScale: opt("inputScale", (v, f) => choice(v, f, ["one", "oneMinusAlpha"] as const), "one"),
    readoutScale: opt("readoutScale", (v, f) => choice(v, f, ["one", "oneMinusKappa"] as const), "one"),
    trainBias: opt("trainBias", bool, true),
    rateReg: parseRateReg(m.rateReg),
    lossReduction: opt("lossReduction", (v, f) => choice(v, f, ["sum", "mean"] as const), "sum"),
  };
  const beta = m.beta ?? (neuron === "alif" ? DEFAULTS.alifBeta : 0);
  model.beta = Array.isArray(beta) ? vector(beta, "model.beta", nRec) : new Array<number>(nRec).fill(finite(beta, "model.beta"));
  model.beta.forEach((b, j) => {
    if (b < 0) throw new InputError(`model.beta${Array.isArray(beta) ? `[${j}]` : ""}`, `expected a number >= 0, got ${b}`);
    if (neuron === "lif" && b !== 0) throw new InputError("model.beta", `must be 0 for neuron 'lif' (use neuron 'alif' for adaptation), got ${b}`);
  });
  return model;
}

export function parseParams(x: Json, m: ModelConfig): Params {
  const p = obj(x, "params");
  const wRec = p.wRec === undefined ? zeros(m.nRec, m.nRec) : matrix(p.wRec, "params.wRec", m.nRec, m.nRec, "nRec", "nRec");
  // MODEL.md: no self-connections. The diagonal is treated as 0 whatever the file says.
  wRec.forEach((row, j) => (row[j] = 0));
  return {
    wIn: matrix(p.wIn, "params.wIn", m.nRec, m.nIn, "nRec", "nIn"),
    wRec,
    wOut: matrix(p.wOut, "params.wOut", m.nOut, m.nRec, "nOut", "nRec"),
    bOut: p.bOut === undefined ? new Array<number>(m.nOut).fill(0) : vector(p.bOut, "params.bOut", m.nOut),
  };
}

export function parseFeedback(x: Json, m: ModelConfig, params: Params): Feedback {
  const f = x === undefined ? {} : obj(x, "feedback");
  const kind: FeedbackKind = f.kind === undefined ? "symmetric" : choice(f.kind, "feedback.kind", ["symmetric", "random", "adaptive"] as const);
  if (kind === "symmetric") return { kind, B: transpose(params.wOut) };
  if (f.B === undefined) throw new InputError("feedback.B", `required for feedback kind '${kind}': a [nRec=${m.nRec}][nOut=${m.nOut}] matrix`);
  return { kind, B: matrix(f.B, "feedback.B", m.nRec, m.nOut, "nRec", "nOut") };
}

export function parseCase(x: Json, source = "case"): Case {
  const c = obj(x, source);
  if (c.format !== "hil-case/1") throw new InputError("format", `expected 'hil-case/1', got ${JSON.stringify(c.format)}`);
  const model = parseModel(c.model);
  // Before any matrix is built (a missing wRec is nRec x nRec zeros): the sizes against the limit.
  checkMemory({ ...model, T: Array.isArray(c.inputs) ? c.inputs.length : 1 }, { nIn: "model.nIn", nRec: "model.nRec", nOut: "model.nOut", T: "inputs" });
  const params = parseParams(c.params, model);
  const feedback = parseFeedback(c.feedback, model, params);
  const { inputs, targets, mask } = parseTrialData(c, model);
  const name = c.name === undefined ? "unnamed" : typeof c.name === "string" ? c.name : String(c.name);
  return { format: "hil-case/1", name, model, params, feedback, inputs, targets, mask };
}

/**
 * A case's trial: `inputs` [T][nIn], `targets` [T][nOut], `mask` [T] of 0/1 (default all 1),
 * checked for the loss (MODEL.md: ce needs distributions where the mask is 1, and "mean" a step
 * with mask 1). Shared by every case kind that follows MODEL.md's loss and mask rules.
 */
export function parseTrialData(
  c: Record<string, Json>,
  m: Pick<ModelConfig, "nIn" | "nOut" | "loss" | "lossReduction">,
): { inputs: number[][]; targets: number[][]; mask: number[] } {
  if (!Array.isArray(c.inputs) || c.inputs.length < 1 || c.inputs.length > LIMITS.maxSteps) {
    throw new InputError("inputs", `expected [T][nIn=${m.nIn}] with 1 <= T <= ${LIMITS.maxSteps}`);
  }
  const T = c.inputs.length;
  const inputs = matrix(c.inputs, "inputs", T, m.nIn, "T", "nIn");
  const targets = matrix(c.targets, "targets", T, m.nOut, `T=${T}`, "nOut");
  const mask = c.mask === undefined ? new Array<number>(T).fill(1) : vector(c.mask, "mask", T);
  mask.forEach((v, t) => {
    if (v !== 0 && v !== 1) throw new InputError(`mask[${t}]`, `expected 0 or 1, got ${v}`);
  });
  if (m.loss === "ce") checkCeTargets(targets, mask);
  if (m.lossReduction === "mean" && m.loss === "ce" && !mask.includes(1)) {
    throw new InputError("mask", "lossReduction 'mean' needs at least one step with mask 1");
  }
  return { inputs, targets, mask };
}

/** ce's error p - target is the exact gradient only when each target row is a distribution. */
export function checkCeTargets(targets: number[][], mask: number[]): void {
  targets.forEach((row, t) => {
    if (mask[t] === 0) return;
    const sum = row.reduce((a, b) => a + b, 0);
    if (row.some((v) => v < 0) || Math.abs(sum - 1) > 1e-6) {
      throw new InputError(`targets[${t}]`, `loss 'ce' needs non-negative targets summing to 1 at steps with mask 1 (one-hot), got sum ${sum}`);
    }
  });
}

export function readCaseFile(path: string): Case {
  const json = readJsonFile(path);
  warnUnknownFields(json, path);
  return parseCase(json, path);
}

export function warnUnknownFields(json: Json, path: string): void {
  for (const k of unknownModelFields(json)) {
    process.stderr.write(`edgeprop: warning: ${path}: model.${k} is not a field edgeprop reads (ignored); known: ${MODEL_FIELDS.join(", ")}\n`);
  }
}
