// Arena layout of the EqProp kernel (EQPROP.md; see kernel.ts). One arena at a caller-chosen
// base holds the parameters, gradients, learning rates, the sample and the phase states; it is
// laid out from the layer sizes at configure time and nothing is allocated afterwards.
// host/rules/eqprop/layout.ts computes the same layout in TypeScript (tests/eqprop-wasm.test.ts
// ties the two copies field by field).
//
// Every vector of a layer is padded to PAD (4) floats in both builds, so the scalar and the SIMD
// build share one layout (a checkpoint of one restores on the other) and every sum is taken in
// the same order by both.

export const EQ_MAX_LAYERS: i32 = 16; // entries n0..nL, so L <= 15
export const EQ_PAD: i32 = 4;

// Configure flags.
export const EQF_SYMMETRIC: i32 = 1; // a -beta phase (field SM) and the 1/(2 beta) estimator

// Field ids, in arena order (the TypeScript twin lists the same names in the same order).
export const EQ_W: i32 = 0; //   per pair l = 0..L-1: [n(l+1)][P(l)], row i = W[l][i][*] ([post][pre]), padding 0
export const EQ_B: i32 = 1; //   per l: [P(l+1)]
export const EQ_GW: i32 = 2; //  per l: as EQ_W, accumulated over samples
export const EQ_GB: i32 = 3; //  per l: as EQ_B
export const EQ_LR: i32 = 4; //  [pad(L)] step size of layer pair l, used by eqApply (written by the host)
export const EQ_X: i32 = 5; //   [P(0)] the sample's input (written by the host)
export const EQ_Y: i32 = 6; //   [P(L)] its target (written by the host)
export const EQ_D: i32 = 7; //   [P(1)] cached input drive W[0] x + b[0]
export const EQ_S0: i32 = 8; //  per state layer k = 1..L: [P(k)], end of the free phase
export const EQ_SB: i32 = 9; //  as S0, end of the nudged phase
export const EQ_SM: i32 = 10; // as S0, end of the -beta phase (EQF_SYMMETRIC only)
export const EQ_H: i32 = 11; //  as S0, the drives of the current step
export const EQ_DS: i32 = 12; // [max P(k), k = 1..L-1] scratch: s^a_l - s^b_l
export const EQ_NFIELDS: i32 = 13;

// Sizes are set into `pending` (eqSetSize) and become `live` only when eqLayout succeeds, so
// planning another model never disturbs the arena in use.
const pending: usize = memory.data(EQ_MAX_LAYERS * 4, 4);
const live: usize = memory.data(EQ_MAX_LAYERS * 4, 4);
const offsets: usize = memory.data(EQ_NFIELDS * 4, 4);

/** Sets n_k, the size of layer k (0 = input), for the next eqPlanBytes / eqLayout. */
export function eqSetSize(k: i32, n: i32): void {
  if (k >= 0 && k < EQ_MAX_LAYERS) store<i32>(pending + (<usize>k << 2), n);
}

@inline function sizeIn(t: usize, k: i32): i32 {
  return load<i32>(t + (<usize>k << 2));
}

@inline function paddedIn(t: usize, k: i32): i32 {
  return (sizeIn(t, k) + EQ_PAD - 1) & ~(EQ_PAD - 1);
}

/** n_k of the laid-out arena. */
export function eqSize(k: i32): i32 {
  return sizeIn(live, k);
}

/** P(k): n_k of the laid-out arena rounded up to EQ_PAD. */
export function eqPadded(k: i32): i32 {
  return paddedIn(live, k);
}

/** Floats of field f in total (0 = absent). */
function fieldElems(t: usize, f: i32, L: i32, flags: i32): i32 {
  let n = 0;
  switch (f) {
    case EQ_W:
    case EQ_GW:
      for (let l = 0; l < L; l++) n += sizeIn(t, l + 1) * paddedIn(t, l);
      return n;
    case EQ_B:
    case EQ_GB:
    case EQ_S0:
    case EQ_SB:
    case EQ_H:
      for (let k = 1; k <= L; k++) n += paddedIn(t, k);
      return n;
    case EQ_SM:
      if ((flags & EQF_SYMMETRIC) == 0) return 0;
      for (let k = 1; k <= L; k++) n += paddedIn(t, k);
      return n;
    case EQ_LR: return (L + EQ_PAD - 1) & ~(EQ_PAD - 1);
    case EQ_X: return paddedIn(t, 0);
    case EQ_Y: return paddedIn(t, L);
    case EQ_D: return paddedIn(t, 1);
    case EQ_DS:
      for (let k = 1; k < L; k++) n = max<i32>(n, paddedIn(t, k));
      return n;
  }
  return 0;
}

/**
 * Arena bytes for the pending sizes and L state layers, or 0 when L or a size is out of range
 * (1 <= L < EQ_MAX_LAYERS, 1 <= n_k <= 65536) or the arena would not fit 32-bit addresses.
 * Every field is a multiple of 4 floats, so every field is 16-byte aligned.
 */
export function eqPlanBytes(L: i32, flags: i32): u32 {
  if (L < 1 || L >= EQ_MAX_LAYERS) return 0;
  for (let k = 0; k <= L; k++) if (sizeIn(pending, k) < 1 || sizeIn(pending, k) > 65536) return 0;
  let off: u64 = 0;
  for (let f = 0; f < EQ_NFIELDS; f++) off += <u64>fieldElems(pending, f, L, flags) << 2;
  return off > 0xffff0000 ? 0 : <u32>off;
}

/** Makes the pending sizes live and lays the arena out for them; returns its bytes (0: invalid, nothing changed). */
export function eqLayout(L: i32, flags: i32): u32 {
  const bytes = eqPlanBytes(L, flags);
  if (bytes == 0) return 0;
  memory.copy(live, pending, EQ_MAX_LAYERS * 4);
  let off: u32 = 0;
  for (let f = 0; f < EQ_NFIELDS; f++) {
    store<u32>(offsets + (<usize>f << 2), off);
    off += <u32>fieldElems(live, f, L, flags) << 2;
  }
  return bytes;
}

/**
 * Byte offset from the arena base of field f for layer `layer` (as of the last eqLayout):
 * W/GW and B/GB take the pair l = 0..L-1, the states S0/SB/SM/H the state layer k = 1..L,
 * the other fields ignore it.
 */
export function eqOffset(f: i32, layer: i32): u32 {
  let off = load<u32>(offsets + (<usize>f << 2));
  let n = 0;
  if (f == EQ_W || f == EQ_GW) {
    for (let l = 0; l < layer; l++) n += eqSize(l + 1) * eqPadded(l);
  } else if (f == EQ_B || f == EQ_GB) {
    for (let l = 0; l < layer; l++) n += eqPadded(l + 1);
  } else if (f == EQ_S0 || f == EQ_SB || f == EQ_SM || f == EQ_H) {
    for (let k = 1; k < layer; k++) n += eqPadded(k);
  }
  return off + (<u32>n << 2);
}
