// The one config (hdl.json) that drives the Verilog generator, the golden model and the
// testbench. `parseHdlConfig` validates it (InputError naming the field and the limit) and
// `derive` computes every width and integer constant the three consumers share.
import { InputError } from "../host/input/errors.ts";
import { bool, choice, finite, intIn, obj, readJsonFile, type Json } from "../host/input/fields.ts";
import { bitLen, clog2 } from "./fixed.ts";

export type HdlMode = "filtered" | "online";
export type HdlMemory = "bram" | "spram";
export type HdlUpdate = "trial" | "step";

export interface HdlConfig {
  nIn: number;
  nRec: number;
  /** Recurrent synapses wRec (nRec x nRec, diagonal forced to 0) next to wIn. */
  recurrent: boolean;
  /** `filtered`: per-synapse kappa-filtered eligibility ebar (exact e-prop);
   *  `online`: no ebar memory, acc += L*psi*pre every step (exact only for kappa = 0). */
  mode: HdlMode;
  /** Where the per-synapse memories live: inferred block RAM, or SB_SPRAM256KA (iCE40 UP). */
  memory: HdlMemory;
  /** `trial`: LEARN accumulates into acc, COMMIT applies it (weights fixed within a trial, MODEL.md);
   *  `step`: LEARN updates the weights directly every step (no acc memory; w -= rshr(inc, accShift)). */
  update: HdlUpdate;
  /** Membrane / presynaptic-trace decay exp(-dt/tauMem), readout decay exp(-dt/tauOut). */
  alpha: number;
  kappa: number;
  vTh: number;
  /** Fractional bits of the decay constants alpha and kappa. */
  decayFrac: number;
  /** Weights: signed weightBits, value = int / 2^weightFrac. Membranes share weightFrac. */
  weightBits: number;
  weightFrac: number;
  membraneBits: number;
  /** Presynaptic traces xbar / zbar: unsigned traceBits, value = int / 2^traceFrac. */
  traceBits: number;
  traceFrac: number;
  /** Eligibility e = rshr(psi*pre, eligShift), ebar unsigned eligBits. */
  eligBits: number;
  eligShift: number;
  /** Learning signal input: signed learnBits integer (its scale is the host's choice). */
  learnBits: number;
  /** Online mode: g_j = sat(rshr(L_j*psi_j, gainShift), learnBits). */
  gainShift: number;
  /** Accumulator (the gradient): signed accBits, acc += rshr(L*ebar, accShift) (online: g*pre). */
  accBits: number;
  accShift: number;
  /** COMMIT: w = sat(w - rshr(acc, commitShift)), acc = 0. */
  commitShift: number;
  /** Optional initial weights [nRec][nPre] (real values) for the $readmemh init file. */
  weights?: number[][];
}

export const DEFAULTS: Omit<HdlConfig, "weights"> = {
  nIn: 16,
  nRec: 16,
  recurrent: false,
  mode: "filtered",
  memory: "bram",
  update: "trial",
  alpha: Math.exp(-1 / 20),
  kappa: Math.exp(-1 / 20),
  vTh: 1,
  decayFrac: 16,
  weightBits: 16,
  weightFrac: 12,
  membraneBits: 20,
  traceBits: 16,
  traceFrac: 11,
  eligBits: 16,
  eligShift: 17,
  learnBits: 16,
  gainShift: 13,
  accBits: 16,
  accShift: 16,
  commitShift: 4,
};

const INT_FIELDS: Record<string, [number, number]> = {
  nIn: [1, 4096],
  nRec: [1, 4096],
  decayFrac: [4, 20],
  weightBits: [4, 24],
  weightFrac: [0, 23],
  membraneBits: [4, 32],
  traceBits: [2, 20],
  traceFrac: [0, 19],
  eligBits: [2, 20],
  eligShift: [0, 40],
  learnBits: [2, 20],
  gainShift: [0, 40],
  accBits: [2, 32],
  accShift: [0, 40],
  commitShift: [0, 40],
};

export function parseHdlConfig(x: Json, source = "hdl config"): HdlConfig {
  const o = obj(x, source);
  const known = new Set([...Object.keys(DEFAULTS), "weights", "$comment"]);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new InputError(k, `unknown field; expected one of ${[...known].join(", ")}`);
  const c: HdlConfig = { ...DEFAULTS };
  for (const [k, [lo, hi]] of Object.entries(INT_FIELDS)) {
    if (o[k] !== undefined) (c as unknown as Record<string, number>)[k] = intIn(o[k], k, lo, hi);
  }
  if (o.recurrent !== undefined) c.recurrent = bool(o.recurrent, "recurrent");
  if (o.mode !== undefined) c.mode = choice(o.mode, "mode", ["filtered", "online"] as const);
  if (o.memory !== undefined) c.memory = choice(o.memory, "memory", ["bram", "spram"] as const);
  if (o.update !== undefined) c.update = choice(o.update, "update", ["trial", "step"] as const);
  for (const k of ["alpha", "kappa"] as const) {
    if (o[k] !== undefined) {
      const v = finite(o[k], k);
      if (!(v >= 0 && v < 1)) throw new InputError(k, `expected a decay in [0, 1), got ${v}`);
      c[k] = v;
    }
  }
  if (o.vTh !== undefined) {
    const v = finite(o.vTh, "vTh");
    if (!(v > 0)) throw new InputError("vTh", `expected a number > 0, got ${v}`);
    c.vTh = v;
  }
  if (o.weights !== undefined) {
    const nPre = c.nIn + (c.recurrent ? c.nRec : 0);
    if (!Array.isArray(o.weights) || o.weights.length !== c.nRec) throw new InputError("weights", `expected ${c.nRec} rows (nRec) of ${nPre} (nPre)`);
    c.weights = o.weights.map((row, j) => {
      if (!Array.isArray(row) || row.length !== nPre) throw new InputError(`weights[${j}]`, `expected ${nPre} numbers (nIn${c.recurrent ? " + nRec" : ""})`);
      return row.map((v, i) => finite(v, `weights[${j}][${i}]`));
    });
  }
  derive(c); // cross-field checks
  return c;
}

/** Every width and integer constant of a config, shared by generator, golden model and testbench. */
export interface Derived {
  cfg: HdlConfig;
  nPre: number;
  nSyn: number;
  vThInt: number;
  psiBits: number;
  alphaInt: number;
  kappaInt: number;
  /** 32-bit words of input spikes / output spikes on the bus. */
  xWords: number;
  zWords: number;
  /** Offset bits within a bus region; bus address = {region[2:0], offset}. */
  offBits: number;
  addrBits: number;
  /** Sum of nPre weights: width of the forward accumulator. */
  sumBits: number;
}

export function derive(c: HdlConfig): Derived {
  const nPre = c.nIn + (c.recurrent ? c.nRec : 0);
  const nSyn = c.nRec * nPre;
  if (c.weightFrac >= c.weightBits) throw new InputError("weightFrac", `expected < weightBits (${c.weightBits}), got ${c.weightFrac}`);
  if (c.traceFrac >= c.traceBits) throw new InputError("traceFrac", `expected < traceBits (${c.traceBits}), got ${c.traceFrac}`);
  const vThInt = Math.round(c.vTh * 2 ** c.weightFrac);
  if (vThInt < 1) throw new InputError("vTh", `is 0 at weightFrac ${c.weightFrac}; expected vTh >= 2^-${c.weightFrac}`);
  if (4 * vThInt > 2 ** (c.membraneBits - 1) - 1) {
    throw new InputError("membraneBits", `expected >= ${bitLen(4 * vThInt) + 1} so that 4*vTh (${4 * vThInt} at weightFrac ${c.weightFrac}) fits, got ${c.membraneBits}`);
  }
  if (c.membraneBits < c.weightBits) throw new InputError("membraneBits", `expected >= weightBits (${c.weightBits}), got ${c.membraneBits}`);
  const psiBits = bitLen(vThInt);
  if (psiBits > 20) throw new InputError("vTh", `vTh*2^weightFrac = ${vThInt} needs ${psiBits} bits for psi; expected <= 20`);
  for (const [field, max] of shiftLimits(c, psiBits)) {
    const v = (c as unknown as Record<string, number>)[field]!;
    if (v > max) throw new InputError(field, `expected <= ${max} (the width of the product it shifts), got ${v}`);
  }
  const alphaInt = Math.min(Math.round(c.alpha * 2 ** c.decayFrac), 2 ** c.decayFrac - 1);
  const kappaInt = Math.min(Math.round(c.kappa * 2 ** c.decayFrac), 2 ** c.decayFrac - 1);
  const offBits = Math.max(clog2(Math.max(nSyn, nPre, 2)), 1);
  if (offBits + 3 > 31) throw new InputError("nIn*nRec", `too many synapses (${nSyn}) for the 32-bit host bus`);
  return {
    cfg: c,
    nPre,
    nSyn,
    vThInt,
    psiBits,
    alphaInt,
    kappaInt,
    xWords: Math.ceil(c.nIn / 32),
    zWords: Math.ceil(c.nRec / 32),
    offBits,
    addrBits: offBits + 3,
    sumBits: c.weightBits + bitLen(nPre),
  };
}

/** Each shift the mode uses may not exceed the width of the value it shifts. */
export function shiftLimits(c: HdlConfig, psiBits: number): [keyof HdlConfig, number][] {
  const common: [keyof HdlConfig, number][] = c.update === "trial" ? [["commitShift", c.accBits]] : [];
  return c.mode === "filtered"
    ? [["eligShift", psiBits + c.traceBits], ["accShift", c.learnBits + c.eligBits + 1], ...common]
    : [["gainShift", c.learnBits + psiBits + 1], ["accShift", c.learnBits + c.traceBits + 1], ...common];
}

/** Quantise a real weight to the config's weight format (round half up, saturate). */
export function quantWeight(c: HdlConfig, w: number): number {
  const x = Math.floor(w * 2 ** c.weightFrac + 0.5);
  const max = 2 ** (c.weightBits - 1) - 1;
  return Math.max(-max - 1, Math.min(max, x));
}

/** Bus regions (address bits [offBits+2:offBits]). */
export const REGION = { ctrl: 0, x: 1, z: 2, l: 3, w: 4, acc: 5, elig: 6, v: 7 } as const;
/** CTRL write bits. */
export const CTRL = { step: 1, learn: 2, commit: 4, clear: 8 } as const;

/** Reads and validates an hdl.json file. */
export function readHdlConfig(path: string): HdlConfig {
  return parseHdlConfig(readJsonFile(path), path);
}
