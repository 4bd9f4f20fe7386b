// The records of MODEL.md (../shared/spec/MODEL.md): a parameter record, a state record and
// a case that binds them to data. Every backend consumes these same shapes.

export type NeuronKind = "lif" | "alif";
export type LossKind = "mse" | "ce";
export type InputScale = "one" | "oneMinusAlpha";
export type ReadoutScale = "one" | "oneMinusKappa";
export type LossReduction = "sum" | "mean";
/**
 * `sal`: B is learned on the device by SAL alignment phases between trials (MODEL.md "SAL");
 * in a case it is carried like `adaptive` (its B is the current feedback matrix).
 */
export type FeedbackKind = "symmetric" | "random" | "adaptive" | "sal";
export type Rule = "bptt" | "eprop";

export interface RateReg {
  cReg: number;
  fTargetHz: number;
}

/** The `model` object of a hil-case/1 file, with every default filled in. */
export interface ModelConfig {
  neuron: NeuronKind;
  nIn: number;
  nRec: number;
  nOut: number;
  dt: number;
  tauMem: number;
  tauOut: number;
  tauAdapt: number;
  /** Per-neuron adaptation strength (length nRec); all 0 for LIF. */
  beta: number[];
  vTh: number;
  gamma: number;
  refractory: number;
  loss: LossKind;
  inputScale: InputScale;
  readoutScale: ReadoutScale;
  trainBias: boolean;
  rateReg: RateReg | null;
  lossReduction: LossReduction;
}

export type Matrix = number[][];

export interface Params {
  wIn: Matrix; // [nRec][nIn]
  wRec: Matrix; // [nRec][nRec], diagonal treated as 0
  wOut: Matrix; // [nOut][nRec]
  bOut: number[]; // [nOut]
}

export interface Feedback {
  kind: FeedbackKind;
  /** [nRec][nOut]; for `symmetric` it is wOut transposed and need not be given. */
  B: Matrix;
}

export interface Case {
  format: "hil-case/1";
  name: string;
  model: ModelConfig;
  params: Params;
  feedback: Feedback;
  inputs: Matrix; // [T][nIn]
  targets: Matrix; // [T][nOut]
  mask: number[]; // [T], each 0 or 1
}

export interface Grads {
  wIn: Matrix;
  wRec: Matrix;
  wOut: Matrix;
  bOut: number[];
}

/** What `edgeprop grad` prints. */
export interface GradResult {
  loss: number;
  grads: Grads;
}

/** A forward run's trajectory (host reference only; devices never store it). */
export interface Trajectory {
  v: Matrix; // [T][nRec]
  a: Matrix; // [T][nRec]
  z: Matrix; // [T][nRec]
  y: Matrix; // [T][nOut]
  loss: number;
}
