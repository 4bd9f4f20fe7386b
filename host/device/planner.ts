// Host-side memory planner: the device arena of a model, byte for byte, before anything is sent
// to a board. It is the TypeScript twin of device/kernels/layout.ts (tests/planner.test.ts ties
// the two field by field against the compiled kernels).
import { InputError } from "../input/errors.ts";
import type { FeedbackKind, ModelConfig } from "../model/types.ts";
import type { DeviceSize } from "../rules/rule.ts";

export type Build = "scalar" | "simd";
export type Optimizer = "gd" | "adam";

/** Feature flags of epConfigure (device/kernels/layout.ts F_*). */
export const FLAG = {
  ALIF: 1,
  CE: 2,
  RATEREG: 4,
  ADAM: 8,
  SEPB: 16,
  REFRACTORY: 32,
  TRAINBIAS: 64,
  MEAN: 128,
  SAL: 256,
  STEP: 512,
} as const;

/** Arena fields in arena order; the index is the device's FLD_* id. */
export const FIELDS = [
  "w", "wOut", "bOut", "fb", "beta", "v", "a", "z", "psi", "cur", "L", "zk", "hold", "nSpk", "act", "pre",
  "y", "err", "target", "gB", "epsA", "ebar", "g", "gOut", "eSum", "mW", "vW", "mOut", "vOut", "mB", "vB",
  "salV", "salZ", "salQ", "salBL", "salThL", "salDraw", "salU", "salY", "salR", "salBU", "salThU", "spk",
] as const;
export type FieldName = (typeof FIELDS)[number];
export const FIELD_ID: Record<FieldName, number> = Object.fromEntries(FIELDS.map((f, i) => [f, i])) as Record<FieldName, number>;

/** Fields with one entry per synapse (pre x post or out x post): what "bytes per synapse" counts. */
const PER_SYNAPSE: ReadonlySet<FieldName> = new Set(["w", "wOut", "fb", "epsA", "ebar", "g", "gOut", "eSum", "mW", "vW", "mOut", "vOut"]);

export const ALIGN = 16;

export function lanesOf(build: Build): number {
  return build === "simd" ? 4 : 1;
}

export interface Dims {
  nIn: number;
  nRec: number;
  nOut: number;
}

function fieldElems(f: FieldName, d: Dims, flags: number, lanes: number): number {
  const S = Math.ceil(d.nRec / lanes) * lanes;
  const nPre = d.nIn + d.nRec;
  const has = (b: number) => (flags & b) !== 0;
  const alif = has(FLAG.ALIF), adam = has(FLAG.ADAM), reg = has(FLAG.RATEREG), sal = has(FLAG.SAL);
  switch (f) {
    case "w": return nPre * S;
    case "wOut": return d.nOut * S;
    case "bOut": return d.nOut;
    case "fb": return has(FLAG.SEPB) ? d.nOut * S : 0;
    case "beta": return alif ? S : 0;
    case "a": return alif ? S : 0;
    case "v": case "z": case "psi": case "cur": case "L": case "zk": return S;
    case "hold": return has(FLAG.REFRACTORY) ? S : 0;
    case "nSpk": return reg ? S : 0;
    case "act": case "pre": return nPre;
    case "y": case "err": case "target": case "gB": return d.nOut;
    case "epsA": return alif ? nPre * S : 0;
    case "ebar": return nPre * S;
    case "g": return has(FLAG.STEP) ? 0 : nPre * S;
    case "gOut": return has(FLAG.STEP) ? 0 : d.nOut * S;
    case "eSum": return reg ? nPre * S : 0;
    case "mW": case "vW": return adam ? nPre * S : 0;
    case "mOut": case "vOut": return adam ? d.nOut * S : 0;
    case "mB": case "vB": return adam ? d.nOut : 0;
    case "salV": case "salZ": case "salQ": case "salBL": case "salThL": return sal ? S : 0;
    case "salDraw": return sal ? S + d.nOut : 0;
    case "salU": case "salY": case "salR": case "salBU": case "salThU": return sal ? d.nOut : 0;
    case "spk": return S;
  }
}

export interface FieldPlan {
  name: FieldName;
  /** Byte offset from the arena base (16-byte aligned). */
  offset: number;
  /** Bytes of data (the field occupies this rounded up to 16). */
  bytes: number;
}

export interface ArenaPlan {
  dims: Dims;
  flags: number;
  lanes: number;
  /** Row stride of the synaptic matrices, in elements (nRec rounded up to lanes). */
  stride: number;
  fields: FieldPlan[];
  /** Total arena bytes (the device state of the model). */
  bytes: number;
  /** Synapses of the model: nIn*nRec + nRec*(nRec-1) + nOut*nRec. */
  synapses: number;
  /** bytes / synapses. */
  bytesPerSynapse: number;
  /** Bytes of the per-synapse arrays per stored matrix entry (weight, traces, gradient, optimizer). */
  perSynapseStateBytes: number;
}

export function planArena(d: Dims, flags: number, lanes: number): ArenaPlan {
  let off = 0;
  let synBytes = 0;
  const fields: FieldPlan[] = FIELDS.map((name) => {
    const bytes = fieldElems(name, d, flags, lanes) * 4;
    const f = { name, offset: off, bytes };
    off += Math.ceil(bytes / ALIGN) * ALIGN;
    if (PER_SYNAPSE.has(name)) synBytes += bytes;
    return f;
  });
  const stride = Math.ceil(d.nRec / lanes) * lanes;
  const synapses = d.nIn * d.nRec + d.nRec * (d.nRec - 1) + d.nOut * d.nRec;
  const entries = (d.nIn + d.nRec + d.nOut * (flags & FLAG.SEPB ? 2 : 1)) * stride;
  return {
    dims: { nIn: d.nIn, nRec: d.nRec, nOut: d.nOut },
    flags,
    lanes,
    stride,
    fields,
    bytes: off,
    synapses,
    bytesPerSynapse: off / synapses,
    perSynapseStateBytes: synBytes / entries,
  };
}

export interface DeviceOptions {
  build?: Build;
  optimizer?: Optimizer;
  /** Reserve the SAL alignment state (forces a separately stored B). */
  sal?: boolean;
}

/** The F_* flags of a model with the given feedback kind. */
export function modelFlags(m: ModelConfig, feedback: FeedbackKind, opts: DeviceOptions = {}): number {
  let f = 0;
  if (m.beta.some((b) => b !== 0)) f |= FLAG.ALIF;
  if (m.loss === "ce") f |= FLAG.CE;
  if (m.rateReg) f |= FLAG.RATEREG;
  if (opts.optimizer === "adam") f |= FLAG.ADAM;
  if (feedback !== "symmetric" || opts.sal) f |= FLAG.SEPB;
  if (m.refractory > 0) f |= FLAG.REFRACTORY;
  if (m.trainBias) f |= FLAG.TRAINBIAS;
  if (m.lossReduction === "mean") f |= FLAG.MEAN;
  if (opts.sal) f |= FLAG.SAL;
  return f;
}

export function planModel(m: ModelConfig, feedback: FeedbackKind, opts: DeviceOptions = {}): ArenaPlan {
  return planArena(m, modelFlags(m, feedback, opts), lanesOf(opts.build ?? "scalar"));
}

/** How a refusal names a plan: the dominant field (nRec when the recurrent layer dominates the synapse count, else nIn), the sizes, the synapses. */
export function planSize(plan: ArenaPlan): DeviceSize {
  const { nIn, nRec, nOut } = plan.dims;
  return {
    field: nIn > nRec + nOut ? "model.nIn" : "model.nRec",
    shape: `nIn ${nIn} x nRec ${nRec} x nOut ${nOut}`,
    detail: `${plan.synapses} synapses, ${plan.bytesPerSynapse.toFixed(2)} bytes/synapse`,
  };
}

/** Refuses `bytes` of a model's device state over `budgetBytes` (any rule): InputError naming the field, the bytes needed and the limit. */
export function checkFits(bytes: number, size: DeviceSize, budgetBytes: number, what = "RAM budget"): void {
  if (bytes <= budgetBytes) return;
  throw new InputError(
    size.field,
    `a model whose device state fits the ${what} of ${budgetBytes} bytes; ${size.shape} needs ${bytes} bytes${size.detail ? ` (${size.detail})` : ""}`,
  );
}

/** Refuses an e-prop plan that does not fit `budgetBytes` of RAM (checkFits with planSize). */
export function checkBudget(plan: ArenaPlan, budgetBytes: number, what = "RAM budget"): void {
  checkFits(plan.bytes, planSize(plan), budgetBytes, what);
}

/** Plans a model and refuses it if it exceeds the budget. */
export function planWithin(m: ModelConfig, feedback: FeedbackKind, budgetBytes: number, opts: DeviceOptions = {}): ArenaPlan {
  const plan = planModel(m, feedback, opts);
  checkBudget(plan, budgetBytes);
  return plan;
}

/** Human-readable breakdown of a plan (largest fields first). */
export function describePlan(plan: ArenaPlan): string {
  const rows = plan.fields.filter((f) => f.bytes > 0).sort((a, b) => b.bytes - a.bytes);
  return [
    `arena ${plan.bytes} bytes, ${plan.synapses} synapses, ${plan.bytesPerSynapse.toFixed(2)} bytes/synapse ` +
      `(${plan.perSynapseStateBytes.toFixed(1)} bytes per stored matrix entry)`,
    ...rows.map((f) => `  ${f.name.padEnd(8)} ${String(f.bytes).padStart(10)} @ ${f.offset}`),
  ].join("\n");
}
