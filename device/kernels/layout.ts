// Arena layout of the e-prop / SAL kernels (see device/README.md).
// Every piece of state lives in one arena that starts at a caller-chosen base and is laid out
// from the model's sizes at configure time; the step path never allocates.
// host/device/planner.ts computes the same layout in TypeScript (tests/planner.test.ts ties
// the two copies field by field).

// Feature flags (configure time). The host passes them as one i32.
export const F_ALIF: i32 = 1; //        some beta != 0: per-synapse adaptation eligibility epsA
export const F_CE: i32 = 2; //          cross-entropy loss (else mse)
export const F_RATEREG: i32 = 4; //     firing-rate regulariser: spike counts + sum_t e per synapse
export const F_ADAM: i32 = 8; //        Adam moments for every trained parameter
export const F_SEPB: i32 = 16; //       B stored separately (random/adaptive feedback); else B aliases wOut
export const F_REFRACTORY: i32 = 32; // refractory counters
export const F_TRAINBIAS: i32 = 64; //  bOut is trained
export const F_MEAN: i32 = 128; //      lossReduction "mean"
export const F_SAL: i32 = 256; //       SAL alignment state
export const F_STEP: i32 = 512; //      per-step weight updates (update "step"): no gradient accumulators

// Field ids, in arena order. host/device/planner.ts FIELDS lists the same names in the same order.
export const FLD_W: i32 = 0; //      [nPre][S]  wIn rows (pre i < nIn) then wRec rows (pre nIn + i), post j contiguous
export const FLD_WOUT: i32 = 1; //   [nOut][S]
export const FLD_BOUT: i32 = 2; //   [nOut]
export const FLD_FB: i32 = 3; //     [nOut][S]  B transposed (B[j][k] at k*S + j); aliases wOut without F_SEPB
export const FLD_BETA: i32 = 4; //   [S]
export const FLD_V: i32 = 5; //      [S]
export const FLD_A: i32 = 6; //      [S] (ALIF)
export const FLD_Z: i32 = 7; //      [S]
export const FLD_PSI: i32 = 8; //    [S]
export const FLD_CUR: i32 = 9; //    [S]  synaptic input of the step
export const FLD_L: i32 = 10; //     [S]  learning signal (computed, or written by the host in inject mode)
export const FLD_ZK: i32 = 11; //    [S]  kappa-filtered spikes (wOut gradient)
export const FLD_HOLD: i32 = 12; //  [S] i32 refractory steps left (F_REFRACTORY)
export const FLD_NSPK: i32 = 13; //  [S]  spike counts (F_RATEREG)
export const FLD_ACT: i32 = 14; //   [nPre] x^t (written by the host) then z^{t-1}
export const FLD_PRE: i32 = 15; //   [nPre] xbar then zbar
export const FLD_Y: i32 = 16; //     [nOut]
export const FLD_ERR: i32 = 17; //   [nOut]
export const FLD_TARGET: i32 = 18; //[nOut] (written by the host)
export const FLD_GB: i32 = 19; //    [nOut] bOut gradient
export const FLD_EPSA: i32 = 20; //  [nPre][S] (ALIF)
export const FLD_EBAR: i32 = 21; //  [nPre][S]
export const FLD_G: i32 = 22; //     [nPre][S] wIn/wRec gradient
export const FLD_GOUT: i32 = 23; //  [nOut][S]
export const FLD_ESUM: i32 = 24; //  [nPre][S] (F_RATEREG)
export const FLD_MW: i32 = 25; //    [nPre][S] (F_ADAM)
export const FLD_VW: i32 = 26;
export const FLD_MOUT: i32 = 27; //  [nOut][S] (F_ADAM)
export const FLD_VOUT: i32 = 28;
export const FLD_MB: i32 = 29; //    [nOut] (F_ADAM)
export const FLD_VB: i32 = 30;
export const FLD_SV: i32 = 31; //    SAL lower membranes [S] (F_SAL)
export const FLD_SZ: i32 = 32; //    SAL lower spikes [S]
export const FLD_SQ: i32 = 33; //    SAL lower traces q [S]
export const FLD_SBL: i32 = 34; //   SAL lower biases [S]
export const FLD_STHL: i32 = 35; //  SAL lower thresholds [S] (written by the host)
export const FLD_SDRAW: i32 = 36; // SAL this step's draws, lower then upper [S + nOut]
export const FLD_SU: i32 = 37; //    SAL upper membranes [nOut]
export const FLD_SY: i32 = 38; //    SAL upper spikes [nOut]
export const FLD_SR: i32 = 39; //    SAL upper traces r [nOut]
export const FLD_SBU: i32 = 40; //   SAL upper biases [nOut]
export const FLD_STHU: i32 = 41; //  SAL upper thresholds [nOut] (written by the host)
export const FLD_SPK: i32 = 42; //   [S] i32 indices of this step's spiking neurons (ascending), then unused
export const NFIELDS: i32 = 43;

/** Arena field alignment in bytes (one v128). */
export const ALIGN: usize = 16;

/** Number of f32/i32 elements of field `f` for the given sizes and flags (0 = absent). */
export function fieldElems(f: i32, nIn: i32, nRec: i32, nOut: i32, flags: i32, lanes: i32): i32 {
  const S = ((nRec + lanes - 1) / lanes) * lanes;
  const nPre = nIn + nRec;
  const alif = (flags & F_ALIF) != 0;
  const adam = (flags & F_ADAM) != 0;
  const reg = (flags & F_RATEREG) != 0;
  const sal = (flags & F_SAL) != 0;
  switch (f) {
    case FLD_W: return nPre * S;
    case FLD_WOUT: return nOut * S;
    case FLD_BOUT: return nOut;
    case FLD_FB: return (flags & F_SEPB) != 0 ? nOut * S : 0;
    case FLD_BETA: return alif ? S : 0;
    case FLD_V: return S;
    case FLD_A: return alif ? S : 0;
    case FLD_Z: return S;
    case FLD_PSI: return S;
    case FLD_CUR: return S;
    case FLD_L: return S;
    case FLD_ZK: return S;
    case FLD_HOLD: return (flags & F_REFRACTORY) != 0 ? S : 0;
    case FLD_NSPK: return reg ? S : 0;
    case FLD_ACT: return nPre;
    case FLD_PRE: return nPre;
    case FLD_Y: return nOut;
    case FLD_ERR: return nOut;
    case FLD_TARGET: return nOut;
    case FLD_GB: return nOut;
    case FLD_EPSA: return alif ? nPre * S : 0;
    case FLD_EBAR: return nPre * S;
    case FLD_G: return (flags & F_STEP) != 0 ? 0 : nPre * S;
    case FLD_GOUT: return (flags & F_STEP) != 0 ? 0 : nOut * S;
    case FLD_ESUM: return reg ? nPre * S : 0;
    case FLD_MW: return adam ? nPre * S : 0;
    case FLD_VW: return adam ? nPre * S : 0;
    case FLD_MOUT: return adam ? nOut * S : 0;
    case FLD_VOUT: return adam ? nOut * S : 0;
    case FLD_MB: return adam ? nOut : 0;
    case FLD_VB: return adam ? nOut : 0;
    case FLD_SV: return sal ? S : 0;
    case FLD_SZ: return sal ? S : 0;
    case FLD_SQ: return sal ? S : 0;
    case FLD_SBL: return sal ? S : 0;
    case FLD_STHL: return sal ? S : 0;
    case FLD_SDRAW: return sal ? S + nOut : 0;
    case FLD_SU: return sal ? nOut : 0;
    case FLD_SY: return sal ? nOut : 0;
    case FLD_SR: return sal ? nOut : 0;
    case FLD_SBU: return sal ? nOut : 0;
    case FLD_STHU: return sal ? nOut : 0;
    case FLD_SPK: return S;
  }
  return 0;
}

/** Field offsets relative to the arena base, filled by layoutArena. */
const offsets: usize = memory.data(NFIELDS * 4, 4);

/** Offset of field `f` from the arena base, as computed by the last layoutArena. */
export function fieldOffset(f: i32): u32 {
  return load<u32>(offsets + (<usize>f << 2));
}

/** Lays the arena out; returns its size in bytes. Offsets are 16-byte aligned. */
export function layoutArena(nIn: i32, nRec: i32, nOut: i32, flags: i32, lanes: i32): u32 {
  let off: u32 = 0;
  for (let f = 0; f < NFIELDS; f++) {
    store<u32>(offsets + (<usize>f << 2), off);
    const bytes = <u32>fieldElems(f, nIn, nRec, nOut, flags, lanes) << 2;
    off += (bytes + <u32>ALIGN - 1) & ~(<u32>ALIGN - 1);
  }
  return off;
}
