// Arena layout of the DECOLLE kernel (DECOLLE.md; see device/rules/decolle/README.md).
// The whole model lives in one arena at a caller-chosen, 16-byte aligned base: a header (sizes,
// counters, the per-step update settings), a layer table (each layer's sizes, constants and
// field offsets), the step's input and target, the per-layer losses, then every layer's fields.
// Everything a trial or a training run needs is inside it, so a checkpoint is the arena's bytes
// and a restore is those bytes put back plus dcAttach(base).
// host/rules/decolle/plan.ts computes the same layout in TypeScript (tests/decolle.test.ts ties
// the two field by field against the compiled kernel).

/** Layers a stack may have (the staging table below; host/rules/decolle/schema.ts MAX_LAYERS). */
export const DC_MAX_LAYERS: i32 = 16;

// Feature flags (configure time, one i32).
export const DC_F_SMOOTHL1: i32 = 1; // loss "smoothL1" (neither flag: "mse")
export const DC_F_CE: i32 = 2; //       loss "ce"
export const DC_F_SIGMOID: i32 = 4; //  surrogate "sigmoid" (else "box")
export const DC_F_MEAN: i32 = 8; //     lossReduction "mean"
export const DC_F_ADAM: i32 = 16; //    Adam moments for W and b

// ---- header (byte offsets from the arena base) ----
export const H_MAGIC: i32 = 0; //     u32 'DCLL'
export const H_VERSION: i32 = 4; //   u32
export const H_BYTES: i32 = 8; //     u32 arena bytes
export const H_L: i32 = 12; //        u32 layers
export const H_NIN: i32 = 16; //      u32
export const H_NOUT: i32 = 20; //     u32
export const H_FLAGS: i32 = 24; //    u32 DC_F_*
export const H_LANES: i32 = 28; //    u32 row padding of the build that laid the arena out
export const H_STEPS: i32 = 32; //    u32 steps of the current trial
export const H_MASKED: i32 = 36; //   u32 steps with mask 1 of the current trial
export const H_ADAMN: i32 = 40; //    u32 n of the last Adam update
export const H_UPDATES: i32 = 44; //  u32 updates applied since configure
export const H_UPD_OPT: i32 = 48; //  i32 per-step update: -1 off ("trial"), 0 gd, 1 adam ("step")
export const H_UPD_LR: i32 = 52; //   f32
export const H_UPD_B1: i32 = 56; //   f32
export const H_UPD_B2: i32 = 60; //   f32
export const H_UPD_EPS: i32 = 64; //  f32
export const H_UPD_CLIP: i32 = 68; // u32 0/1
export const H_UPD_WMIN: i32 = 72; // f32
export const H_UPD_WMAX: i32 = 76; // f32
export const H_UPD_DIV: i32 = 80; //  f32 divisor of each step's gradient (M for lossReduction "mean", else 1)
export const H_X: i32 = 84; //        u32 offset of X
export const H_TARGET: i32 = 88; //   u32 offset of TARGET
export const H_LOSS: i32 = 92; //     u32 offset of LOSS
export const HEADER_BYTES: i32 = 128;
export const DC_MAGIC: u32 = 0x4c4c4344; // "DCLL" little-endian
export const DC_VERSION: u32 = 1;

// ---- layer table entry (byte offsets within one entry) ----
export const T_N: i32 = 0; //       u32 n_l
export const T_NPRE: i32 = 4; //    u32 n_{l-1}
export const T_STRIDE: i32 = 8; //  u32 S_l = n_l rounded up to the lanes
export const T_ALPHA: i32 = 16; //  f32 constants (dcLayerConstants)
export const T_BETA: i32 = 20;
export const T_ALPHARP: i32 = 24;
export const T_WRP: i32 = 28;
export const T_CQ: i32 = 32;
export const T_CP: i32 = 36;
export const T_REG: i32 = 40;
export const T_FIELDS: i32 = 48; // u32 offsets of the NLF layer fields
export const ENTRY_BYTES: i32 = 144;

// ---- layer fields, in arena order (host/rules/decolle/plan.ts LAYER_FIELDS: same names, same order) ----
export const LF_W: i32 = 0; //      [nPre][S] W^l pre-major: W[j][p] at p*S + j
export const LF_B: i32 = 1; //      [S]
export const LF_G: i32 = 2; //      [nOut][S] readout G^l (fixed)
export const LF_BG: i32 = 3; //     [nOut]
export const LF_MW: i32 = 4; //     [nPre][S] Adam (DC_F_ADAM)
export const LF_VW: i32 = 5; //     [nPre][S]
export const LF_MB: i32 = 6; //     [S]
export const LF_VB: i32 = 7; //     [S]
export const LF_GW: i32 = 8; //     [nPre][S] W gradient   -- from here to LF_ERR: zeroed by dcReset
export const LF_GB: i32 = 9; //     [S]
export const LF_Q: i32 = 10; //     [nPre] synaptic trace
export const LF_P: i32 = 11; //     [nPre] membrane trace
export const LF_R: i32 = 12; //     [S] refractory trace
export const LF_U: i32 = 13; //     [S] membrane (W P accumulated first)
export const LF_S: i32 = 14; //     [S] spikes 0/1
export const LF_PSI: i32 = 15; //   [S] surrogate derivative
export const LF_SIG: i32 = 16; //   [S] sigma(U) (sigmoid surrogate or reg > 0)
export const LF_BACK: i32 = 17; //  [S] (G^T err)_j
export const LF_DELTA: i32 = 18; // [S]
export const LF_IDX: i32 = 19; //   [S] i32 indices of this step's spiking neurons, ascending
export const LF_Y: i32 = 20; //     [nOut] readout
export const LF_ERR: i32 = 21; //   [nOut] dl/dy
export const NLF: i32 = 22;

// ---- global fields (dcPtr) ----
export const DC_X: i32 = 0; //      [nIn] x^t, written by the caller before dcStep
export const DC_TARGET: i32 = 1; // [nOut] target^t, written by the caller before dcStep
export const DC_LOSS: i32 = 2; //   [L] f64 sums of the masked per-step losses
export const DC_HEADER: i32 = 3; // the header itself (base)

export const ALIGN: u32 = 16;

@inline export function align16(x: u32): u32 {
  return (x + ALIGN - 1) & ~(ALIGN - 1);
}

/** Elements (f32/i32) of layer field `f` (0 = absent). */
export function layerFieldElems(f: i32, nPre: i32, n: i32, nOut: i32, flags: i32, lanes: i32): i32 {
  const S = ((n + lanes - 1) / lanes) * lanes;
  const adam = (flags & DC_F_ADAM) != 0;
  switch (f) {
    case LF_W: case LF_GW: return nPre * S;
    case LF_MW: case LF_VW: return adam ? nPre * S : 0;
    case LF_MB: case LF_VB: return adam ? S : 0;
    case LF_G: return nOut * S;
    case LF_BG: case LF_Y: case LF_ERR: return nOut;
    case LF_Q: case LF_P: return nPre;
  }
  return S; // B, GB, R, U, S, PSI, SIG, BACK, DELTA, IDX
}

/** Layout mode 1 writes `v` at `at`; mode 2 checks it is there. */
function put(at: usize, v: u32, mode: i32): bool {
  if (mode == 1) store<u32>(at, v);
  return mode != 2 || load<u32>(at) == v;
}

// Staged sizes (dcShape / dcShapeLayer), read by the layout: L, nIn, nOut, flags, then n_l.
const staged: usize = memory.data(4 * (4 + DC_MAX_LAYERS), 4);

@inline export function stagedGet(i: i32): i32 { return load<i32>(staged + (<usize>i << 2)); }
@inline export function stagedSet(i: i32, v: i32): void { store<i32>(staged + (<usize>i << 2), v); }

/**
 * Lays out the staged model. mode 0: bytes only; 1: writes the header sizes and the layer
 * table at `base`; 2: checks that the header and table at `base` hold exactly this layout.
 * Returns the arena bytes (mode 2: 0 on any mismatch).
 */
export function layoutStack(base: usize, lanes: i32, mode: i32): u32 {
  const L = stagedGet(0), nIn = stagedGet(1), nOut = stagedGet(2), flags = stagedGet(3);
  let off: u32 = <u32>HEADER_BYTES + <u32>(L * ENTRY_BYTES);
  const xOff = off;
  off += align16(<u32>nIn << 2);
  const tOff = off;
  off += align16(<u32>nOut << 2);
  const lossOff = off;
  off += align16(<u32>L << 3);
  let ok = true;
  if (mode != 0) {
    ok = put(base + H_L, <u32>L, mode) && put(base + H_NIN, <u32>nIn, mode) && put(base + H_NOUT, <u32>nOut, mode) &&
      put(base + H_FLAGS, <u32>flags, mode) && put(base + H_LANES, <u32>lanes, mode) &&
      put(base + H_X, xOff, mode) && put(base + H_TARGET, tOff, mode) && put(base + H_LOSS, lossOff, mode);
  }
  let nPre = nIn;
  for (let l = 0; l < L; l++) {
    const n = stagedGet(4 + l);
    const e = base + <usize>HEADER_BYTES + <usize>(l * ENTRY_BYTES);
    if (mode != 0) {
      ok = ok && put(e + T_N, <u32>n, mode) && put(e + T_NPRE, <u32>nPre, mode) &&
        put(e + T_STRIDE, <u32>(((n + lanes - 1) / lanes) * lanes), mode);
    }
    for (let f = 0; f < NLF; f++) {
      if (mode != 0) ok = ok && put(e + T_FIELDS + (<usize>f << 2), off, mode);
      off += align16(<u32>layerFieldElems(f, nPre, n, nOut, flags, lanes) << 2);
    }
    nPre = n;
  }
  if (mode != 0) ok = ok && put(base + H_BYTES, off, mode);
  return ok ? off : 0;
}
