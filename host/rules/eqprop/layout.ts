// The EqProp kernel's arena layout in TypeScript, the twin of device/rules/eqprop/layout.ts (the
// two languages force the copy; tests/eqprop-wasm.test.ts ties them field by field). The host
// sizes a model for a board with it before anything is sent, and a firmware handler's host side
// finds W, b and the gradients in a checkpoint with it.

/** Field names in arena order (the device's EQ_* ids are their indices). */
export const FIELDS = ["W", "B", "GW", "GB", "LR", "X", "Y", "D", "S0", "SB", "SM", "H", "DS"] as const;
export type Field = (typeof FIELDS)[number];

/** Every vector of a layer is padded to this many floats in both builds. */
export const PAD = 4;

/** The configure flag of symmetric nudging (EQF_SYMMETRIC). */
export const FLAG_SYMMETRIC = 1;

const pad = (n: number): number => Math.ceil(n / PAD) * PAD;

export interface EqpropArena {
  bytes: number;
  /** P(k): n_k padded, the row stride of W[k] (pre layer k). */
  stride(k: number): number;
  /** Byte offset from the arena base of field f for pair l (W, B, GW, GB) or state layer k (S0, SB, SM, H). */
  offset(f: Field, layer?: number): number;
}

export function eqpropArena(layers: readonly number[], symmetric: boolean): EqpropArena {
  const L = layers.length - 1;
  const P = layers.map(pad);
  const sum = (from: number, to: number, term: (k: number) => number) => {
    let s = 0;
    for (let k = from; k < to; k++) s += term(k);
    return s;
  };
  const wElems = (upTo: number) => sum(0, upTo, (l) => layers[l + 1]! * P[l]!);
  const bElems = (upTo: number) => sum(0, upTo, (l) => P[l + 1]!);
  const stateElems = (upTo: number) => sum(1, upTo, (k) => P[k]!);
  const elems: Record<Field, number> = {
    W: wElems(L),
    B: bElems(L),
    GW: wElems(L),
    GB: bElems(L),
    LR: pad(L),
    X: P[0]!,
    Y: P[L]!,
    D: P[1]!,
    S0: stateElems(L + 1),
    SB: stateElems(L + 1),
    SM: symmetric ? stateElems(L + 1) : 0,
    H: stateElems(L + 1),
    DS: Math.max(0, ...P.slice(1, L)),
  };
  const start = new Map<Field, number>();
  let off = 0;
  for (const f of FIELDS) {
    start.set(f, off);
    off += 4 * elems[f];
  }
  return {
    bytes: off,
    stride: (k) => P[k]!,
    offset(f, layer = 0) {
      const within = f === "W" || f === "GW" ? wElems(layer) : f === "B" || f === "GB" ? bElems(layer) : ["S0", "SB", "SM", "H"].includes(f) ? stateElems(layer) : 0;
      return start.get(f)! + 4 * within;
    },
  };
}
