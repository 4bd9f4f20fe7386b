// TypeScript twin of the OSTL kernel's arena layout (device/rules/ostl/layout.ts): the bytes a
// stack needs on a device, field by field, before anything is sent (tests/ostl.test.ts ties the
// two copies against the compiled kernels, both builds).
import type { Build } from "../rule.ts";
import { stackSynapses, type OstlModel } from "./schema.ts";

export const MAXL = 16;
export const HEADER_BYTES = 448;
const ALIGN = 16;

/** Model flags of osBegin (the e-prop kernels' F_* values where the meaning is the same) and the layer flag ALIF. */
export const OSTL_FLAG = { ALIF: 1, CE: 2, ADAM: 8, TRAINBIAS: 64, MEAN: 128, RESETGRAD: 512 } as const;

/** Per-layer fields in arena order (the index is the device's O_* id). */
export const LAYER_FIELDS = ["w", "beta", "mW", "vW", "v", "a", "z", "psi", "psiP", "cur", "delta", "act", "epsV", "epsA", "ebar", "g"] as const;
/** Readout fields in arena order (device id = LAYER_FIELDS.length + index). */
export const READOUT_FIELDS = ["wOut", "bOut", "mOut", "vOut", "mB", "vB", "y", "err", "target", "zk", "gOut", "gB", "spk"] as const;
export type LayerField = (typeof LAYER_FIELDS)[number];
export type ReadoutField = (typeof READOUT_FIELDS)[number];
export type OstlField = LayerField | ReadoutField;

export function fieldId(f: OstlField): number {
  const i = (LAYER_FIELDS as readonly string[]).indexOf(f);
  return i >= 0 ? i : LAYER_FIELDS.length + (READOUT_FIELDS as readonly string[]).indexOf(f);
}

/** Fields with one entry per synapse: what bytes per synapse counts. */
const PER_SYNAPSE: ReadonlySet<OstlField> = new Set<OstlField>(["w", "mW", "vW", "epsV", "epsA", "ebar", "g", "wOut", "mOut", "vOut", "gOut"]);

export interface StackDims {
  nIn: number;
  nOut: number;
  /** n per layer, and whether it adapts (some beta != 0) */
  layers: { n: number; alif: boolean }[];
}

export interface FieldPlan {
  name: OstlField;
  /** Byte offset from the arena base (16-byte aligned). */
  offset: number;
  /** Bytes of data (0 = the model has no such field). */
  bytes: number;
}

export interface OstlPlan {
  dims: StackDims;
  flags: number;
  lanes: number;
  /** Row stride (elements) of each layer's matrices. */
  strides: number[];
  layers: FieldPlan[][];
  readout: FieldPlan[];
  bytes: number;
  /** Weights and biases of the stack and the readout. */
  synapses: number;
  bytesPerSynapse: number;
  /** Per-synapse arrays' bytes per stored matrix entry, per layer and for the readout. */
  stateBytesPerEntry: { layers: number[]; readout: number };
}

const padded = (n: number, lanes: number) => Math.ceil(n / lanes) * lanes;

function layerElems(f: LayerField, d: StackDims, l: number, flags: number, lanes: number): number {
  const S = padded(d.layers[l]!.n, lanes);
  const P = (l === 0 ? d.nIn : d.layers[l - 1]!.n) + 1;
  const alif = d.layers[l]!.alif;
  const reset = (flags & OSTL_FLAG.RESETGRAD) !== 0;
  const adam = (flags & OSTL_FLAG.ADAM) !== 0;
  switch (f) {
    case "w": case "g": return P * S;
    case "mW": case "vW": return adam ? P * S : 0;
    case "beta": case "a": return alif ? S : 0;
    case "v": case "z": case "psi": case "cur": case "delta": return S;
    case "psiP": return alif || reset ? S : 0;
    case "act": return P;
    case "epsV": return reset ? P * S : P;
    case "epsA": return alif ? P * S : 0;
    case "ebar": return l === d.layers.length - 1 ? P * S : 0;
  }
}

function readoutElems(f: ReadoutField, d: StackDims, flags: number, lanes: number): number {
  const S = padded(d.layers[d.layers.length - 1]!.n, lanes);
  const adam = (flags & OSTL_FLAG.ADAM) !== 0;
  switch (f) {
    case "wOut": case "gOut": return d.nOut * S;
    case "mOut": case "vOut": return adam ? d.nOut * S : 0;
    case "bOut": case "y": case "err": case "target": case "gB": return d.nOut;
    case "mB": case "vB": return adam ? d.nOut : 0;
    case "zk": case "spk": return S;
  }
}

export function planOstl(d: StackDims, flags: number, lanes: number): OstlPlan {
  let off = HEADER_BYTES;
  const place = (name: OstlField, elems: number): FieldPlan => {
    const f = { name, offset: off, bytes: elems * 4 };
    off += Math.ceil(f.bytes / ALIGN) * ALIGN;
    return f;
  };
  const layers = d.layers.map((_, l) => LAYER_FIELDS.map((f) => place(f, layerElems(f, d, l, flags, lanes))));
  const readout = READOUT_FIELDS.map((f) => place(f, readoutElems(f, d, flags, lanes)));
  const strides = d.layers.map((l) => padded(l.n, lanes));
  const perEntry = (fields: FieldPlan[], entries: number) => fields.filter((f) => PER_SYNAPSE.has(f.name)).reduce((s, f) => s + f.bytes, 0) / entries;
  const synapses = stackSynapses(d.nIn, d.layers.map((l) => l.n), d.nOut);
  return {
    dims: d,
    flags,
    lanes,
    strides,
    layers,
    readout,
    bytes: off,
    synapses,
    bytesPerSynapse: off / synapses,
    stateBytesPerEntry: {
      layers: layers.map((fields, l) => perEntry(fields, ((l === 0 ? d.nIn : d.layers[l - 1]!.n) + 1) * strides[l]!)),
      readout: perEntry(readout, d.nOut * strides[strides.length - 1]!),
    },
  };
}

export interface OstlDeviceOptions {
  build?: Build;
  optimizer?: "gd" | "adam";
}

export function stackDims(m: OstlModel): StackDims {
  return { nIn: m.nIn, nOut: m.nOut, layers: m.layers.map((l) => ({ n: l.n, alif: l.beta.some((b) => b !== 0) })) };
}

/** osBegin's flags for a model. */
export function ostlFlags(m: OstlModel, opts: OstlDeviceOptions = {}): number {
  let f = 0;
  if (m.loss === "ce") f |= OSTL_FLAG.CE;
  if (opts.optimizer === "adam") f |= OSTL_FLAG.ADAM;
  if (m.trainBias) f |= OSTL_FLAG.TRAINBIAS;
  if (m.lossReduction === "mean") f |= OSTL_FLAG.MEAN;
  if (m.resetGrad) f |= OSTL_FLAG.RESETGRAD;
  return f;
}

export function planOstlModel(m: OstlModel, opts: OstlDeviceOptions = {}): OstlPlan {
  return planOstl(stackDims(m), ostlFlags(m, opts), opts.build === "simd" ? 4 : 1);
}
