// The DECOLLE device arena, byte for byte, before anything is sent to a device: the TypeScript
// twin of device/rules/decolle/layout.ts (tests/decolle.test.ts ties the two field by field
// against the compiled kernel).
import type { DecolleModel } from "./schema.ts";

/** dcShape flags (device/rules/decolle/layout.ts DC_F_*). */
export const DC_FLAG = { SMOOTHL1: 1, CE: 2, SIGMOID: 4, MEAN: 8, ADAM: 16 } as const;

/** Layer fields in arena order; the index is the device's LF_* id. */
export const LAYER_FIELDS = [
  "w", "b", "G", "bG", "mW", "vW", "mB", "vB", "gW", "gB", "Q", "P", "R", "U", "S", "psi", "sig", "back", "delta", "idx", "y", "err",
] as const;
export type LayerField = (typeof LAYER_FIELDS)[number];
export const LF: Record<LayerField, number> = Object.fromEntries(LAYER_FIELDS.map((f, i) => [f, i])) as Record<LayerField, number>;

/** Global fields (dcPtr ids). */
export const DC_GLOBAL = { x: 0, target: 1, loss: 2, header: 3 } as const;

export const HEADER_BYTES = 128;
export const ENTRY_BYTES = 144;
const ALIGN = 16;

/** Per-synapse fields: the weights, their gradient and Adam moments (pre x post), and the fixed readout G. */
const PER_SYNAPSE: ReadonlySet<LayerField> = new Set(["w", "gW", "mW", "vW", "G"]);

export interface DecolleDeviceOptions {
  optimizer?: "gd" | "adam";
}

export function decolleFlags(m: DecolleModel, opts: DecolleDeviceOptions = {}): number {
  let f = 0;
  if (m.loss === "smoothL1") f |= DC_FLAG.SMOOTHL1;
  if (m.loss === "ce") f |= DC_FLAG.CE;
  if (m.surrogate === "sigmoid") f |= DC_FLAG.SIGMOID;
  if (m.lossReduction === "mean") f |= DC_FLAG.MEAN;
  if (opts.optimizer === "adam") f |= DC_FLAG.ADAM;
  return f;
}

function elems(f: LayerField, nPre: number, n: number, nOut: number, flags: number, lanes: number): number {
  const S = Math.ceil(n / lanes) * lanes;
  const adam = (flags & DC_FLAG.ADAM) !== 0;
  switch (f) {
    case "w": case "gW": return nPre * S;
    case "mW": case "vW": return adam ? nPre * S : 0;
    case "mB": case "vB": return adam ? S : 0;
    case "G": return nOut * S;
    case "bG": case "y": case "err": return nOut;
    case "Q": case "P": return nPre;
    default: return S;
  }
}

export interface LayerPlan {
  n: number;
  nPre: number;
  /** Row stride of the layer's matrices in elements (n rounded up to the lanes). */
  stride: number;
  /** Byte offset from the arena base and bytes of data of each field, in LAYER_FIELDS order. */
  fields: Array<{ name: LayerField; offset: number; bytes: number }>;
}

export interface DecollePlan {
  flags: number;
  lanes: number;
  x: number;
  target: number;
  loss: number;
  layers: LayerPlan[];
  /** Total arena bytes. */
  bytes: number;
  /** Synapses: sum_l n_l n_{l-1} trained, plus nOut n_l readout entries. */
  synapses: number;
  bytesPerSynapse: number;
  /** Bytes of the per-synapse arrays per synapse (weight, gradient, Adam moments; 4 per readout entry). */
  perSynapseStateBytes: number;
}

const up = (b: number) => Math.ceil(b / ALIGN) * ALIGN;

export function planDecolle(m: DecolleModel, lanes: number, opts: DecolleDeviceOptions = {}): DecollePlan {
  const flags = decolleFlags(m, opts);
  const L = m.layers.length;
  let off = HEADER_BYTES + L * ENTRY_BYTES;
  const x = off;
  off += up(4 * m.nIn);
  const target = off;
  off += up(4 * m.nOut);
  const loss = off;
  off += up(8 * L);
  let nPre = m.nIn;
  let synapses = 0;
  let synBytes = 0;
  const layers = m.layers.map(({ n }): LayerPlan => {
    const fields = LAYER_FIELDS.map((name) => {
      const bytes = 4 * elems(name, nPre, n, m.nOut, flags, lanes);
      const f = { name, offset: off, bytes };
      off += up(bytes);
      if (PER_SYNAPSE.has(name)) synBytes += 4 * elems(name, nPre, n, m.nOut, flags, 1);
      return f;
    });
    synapses += n * nPre + m.nOut * n;
    const lp = { n, nPre, stride: Math.ceil(n / lanes) * lanes, fields };
    nPre = n;
    return lp;
  });
  return { flags, lanes, x, target, loss, layers, bytes: off, synapses, bytesPerSynapse: off / synapses, perSynapseStateBytes: synBytes / synapses };
}
