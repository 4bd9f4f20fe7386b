// Arena layout of the OSTL kernel (see device/rules/ostl/kernel.ts and device/README.md).
// The arena is self-describing: a header (sizes, flags, constants, trial counters) followed by
// every field, so a checkpoint is the arena's bytes and osAttach() adopts one. The host twin is
// host/rules/ostl/layout.ts (tests/ostl.test.ts ties the two field by field).
//
// Per layer l (n_l neurons, P_l = n_{l-1} + 1 presynaptic rows: the inputs, then the bias row
// with pre = 1; S_l = n_l rounded up to the lane count), pre-major: X[p][j] at p*S_l + j.

import { F_ALIF, F_ADAM } from "../../kernels/layout";

export const MAXL: i32 = 16;
export const OSTL_MAGIC: u32 = 0x4c54534f; // "OSTL", little-endian
export const OSTL_VERSION: u32 = 1;

// Model flags (one i32; the e-prop kernels' F_* values where the meaning is the same).
export const OF_RESETGRAD: i32 = 512; // the reset term carries derivative (OSTL.md resetGrad)
// Layer flags: F_ALIF (1) = the layer has per-synapse adaptation eligibility.

// Header, byte offsets from the arena base.
export const H_MAGIC: u32 = 0;
export const H_VERSION: u32 = 4;
export const H_BYTES: u32 = 8; //    arena bytes, header included
export const H_NLAYERS: u32 = 12;
export const H_NIN: u32 = 16;
export const H_NOUT: u32 = 20;
export const H_FLAGS: u32 = 24;
export const H_LANES: u32 = 28;
export const H_STEPS: u32 = 32; //   steps of the current trial
export const H_MASKED: u32 = 36; //  steps with mask 1
export const H_UPDATES: u32 = 40; // gd/Adam updates applied
export const H_OK: u32 = 44; //      f32 kappa-filtered 1 (bOut gradient)
export const H_LOSS: u32 = 48; //    f64 task loss of the trial (before lossReduction)
export const H_KAPPA: u32 = 56; //   f32
export const H_N: u32 = 64; //       i32[MAXL] neurons per layer
export const H_LFLAGS: u32 = 128; // i32[MAXL] layer flags
export const H_ALPHA: u32 = 192; //  f32[MAXL]
export const H_RHO: u32 = 256; //    f32[MAXL]
export const H_VTH: u32 = 320; //    f32[MAXL]
export const H_GAMMA: u32 = 384; //  f32[MAXL]
export const HEADER_BYTES: u32 = 448;

// Per-layer fields, in arena order within a layer block (ids 0..NLF-1, with a layer index).
export const O_W: i32 = 0; //      [P][S]  W^l rows, then b^l as the last row
export const O_BETA: i32 = 1; //   [S]     (ALIF layer)
export const O_MW: i32 = 2; //     [P][S]  Adam moments (F_ADAM)
export const O_VW: i32 = 3; //     [P][S]
export const O_V: i32 = 4; //      [S]     ---- trial state from here (zeroed by osReset) ----
export const O_A: i32 = 5; //      [S]     (ALIF layer)
export const O_Z: i32 = 6; //      [S]
export const O_PSI: i32 = 7; //    [S]
export const O_PSIP: i32 = 8; //   [S]     psi^{t-1} (ALIF layer or resetGrad: e^{t-1} is recomputed from it)
export const O_CUR: i32 = 9; //    [S]     synaptic input, then psi*delta (scratch)
export const O_DELTA: i32 = 10; // [S]     spatial learning signal
export const O_ACT: i32 = 11; //   [P]     pre^t: x^t (layer 0, written by the host) or z^{l-1,t}, then 1
export const O_EPSV: i32 = 12; //  [P][S]; without resetGrad it does not depend on j: [P] (the presynaptic trace)
export const O_EPSA: i32 = 13; //  [P][S]  (ALIF layer)
export const O_EBAR: i32 = 14; //  [P][S]  (top layer: kappa-filtered)
export const O_G: i32 = 15; //     [P][S]  gradient of [W | b]
export const NLF: i32 = 16;
// Readout fields (ids NLF.., no layer index), after the last layer block.
export const O_WOUT: i32 = 16; //  [nOut][S_L]
export const O_BOUT: i32 = 17; //  [nOut]
export const O_MOUT: i32 = 18; //  [nOut][S_L] (F_ADAM)
export const O_VOUT: i32 = 19;
export const O_MB: i32 = 20; //    [nOut] (F_ADAM)
export const O_VB: i32 = 21;
export const O_Y: i32 = 22; //     [nOut]  ---- trial state from here ----
export const O_ERR: i32 = 23; //   [nOut]
export const O_TARGET: i32 = 24; //[nOut]  (written by the host)
export const O_ZK: i32 = 25; //    [S_L]
export const O_GOUT: i32 = 26; //  [nOut][S_L]
export const O_GB: i32 = 27; //    [nOut]
export const O_SPK: i32 = 28; //   [S_L] i32 indices of the top layer's spikes this step
export const NFIELDS: i32 = 29;

export const ALIGN: u32 = 16;

// ---- the configuration being laid out (osBegin/osLayer, or a header by osAttach) ----
let cfgL: i32 = 0;
let cfgIn: i32 = 0;
let cfgOut: i32 = 0;
let cfgFlags: i32 = 0;
const cfgN: usize = memory.data(MAXL * 4, 4);
const cfgLFlags: usize = memory.data(MAXL * 4, 4);
/** Field offsets from the arena base: [f][l] for layer fields, then the readout fields. */
const offsets: usize = memory.data((NLF * MAXL + NFIELDS - NLF) * 4, 4);

export function setConfig(nLayers: i32, nIn: i32, nOut: i32, flags: i32): void {
  cfgL = nLayers;
  cfgIn = nIn;
  cfgOut = nOut;
  cfgFlags = flags;
  memory.fill(cfgN, 0, MAXL * 4);
  memory.fill(cfgLFlags, 0, MAXL * 4);
}

export function setLayerConfig(l: i32, n: i32, layerFlags: i32): void {
  store<i32>(cfgN + (<usize>l << 2), n);
  store<i32>(cfgLFlags + (<usize>l << 2), layerFlags);
}

export function cfgLayers(): i32 { return cfgL; }
export function cfgNIn(): i32 { return cfgIn; }
export function cfgNOut(): i32 { return cfgOut; }
export function cfgModelFlags(): i32 { return cfgFlags; }
export function layerN(l: i32): i32 { return load<i32>(cfgN + (<usize>l << 2)); }
export function layerFlags(l: i32): i32 { return load<i32>(cfgLFlags + (<usize>l << 2)); }
export function layerPre(l: i32): i32 { return (l == 0 ? cfgIn : layerN(l - 1)) + 1; }
export function padded(n: i32, lanes: i32): i32 { return ((n + lanes - 1) / lanes) * lanes; }

/** Elements (f32/i32) of field f of layer l (l ignored for readout fields); 0 = absent. */
export function fieldElems(f: i32, l: i32, lanes: i32): i32 {
  const top = cfgL - 1;
  if (f >= NLF) {
    const S = padded(layerN(top), lanes);
    const adam = (cfgFlags & F_ADAM) != 0;
    switch (f) {
      case O_WOUT: case O_GOUT: return cfgOut * S;
      case O_MOUT: case O_VOUT: return adam ? cfgOut * S : 0;
      case O_BOUT: case O_Y: case O_ERR: case O_TARGET: case O_GB: return cfgOut;
      case O_MB: case O_VB: return adam ? cfgOut : 0;
      case O_ZK: case O_SPK: return S;
    }
    return 0;
  }
  const S = padded(layerN(l), lanes);
  const P = layerPre(l);
  const alif = (layerFlags(l) & F_ALIF) != 0;
  const reset = (cfgFlags & OF_RESETGRAD) != 0;
  switch (f) {
    case O_W: case O_G: return P * S;
    case O_MW: case O_VW: return (cfgFlags & F_ADAM) != 0 ? P * S : 0;
    case O_BETA: case O_A: return alif ? S : 0;
    case O_V: case O_Z: case O_PSI: case O_CUR: case O_DELTA: return S;
    case O_PSIP: return alif || reset ? S : 0;
    case O_ACT: return P;
    case O_EPSV: return reset ? P * S : P;
    case O_EPSA: return alif ? P * S : 0;
    case O_EBAR: return l == top ? P * S : 0;
  }
  return 0;
}

function slot(f: i32, l: i32): usize {
  return offsets + ((f < NLF ? <usize>(f * MAXL + l) : <usize>(NLF * MAXL + f - NLF)) << 2);
}

/** Offset of field f (of layer l) from the arena base, as laid out by the last layoutArena. */
export function fieldOffset(f: i32, l: i32): u32 {
  return load<u32>(slot(f, l));
}

function place(off: u32, f: i32, l: i32, lanes: i32): u32 {
  store<u32>(slot(f, l), off);
  const bytes = <u32>fieldElems(f, l, lanes) << 2;
  return off + ((bytes + ALIGN - 1) & ~(ALIGN - 1));
}

/** Lays the arena out for the current configuration; returns its bytes (header included). */
export function layoutArena(lanes: i32): u32 {
  let off: u32 = HEADER_BYTES;
  for (let l = 0; l < cfgL; l++) for (let f = 0; f < NLF; f++) off = place(off, f, l, lanes);
  for (let f = NLF; f < NFIELDS; f++) off = place(off, f, 0, lanes);
  return off;
}
