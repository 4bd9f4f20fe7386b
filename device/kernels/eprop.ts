// e-prop kernels, float32, over one arena (MODEL.md "Recurrent layer", "Readout and loss",
// "e-prop", "Options", "Training loop"). Plain functions over module state, so the Node-facing
// entry (device/node/entry.ts) and the firmware (device/firmware/) call the same code.
//
// Layout: synaptic matrices are stored pre-major, W[p][j] at p*S + j (p = presynaptic index:
// inputs 0..nIn-1 then recurrent nIn..nIn+nRec-1; j = postsynaptic neuron; S = nRec rounded up
// to the SIMD lane count). Every sum over presynaptic units is then an elementwise update over
// j, done in the same order (p ascending) by the scalar and the SIMD build, so both builds give
// bit-identical results; the SIMD build only processes 4 neurons at a time.
import {
  layoutArena, fieldOffset, F_ALIF, F_CE, F_RATEREG, F_ADAM, F_SEPB, F_REFRACTORY, F_TRAINBIAS, F_MEAN, F_STEP,
  FLD_W, FLD_WOUT, FLD_BOUT, FLD_FB, FLD_BETA, FLD_V, FLD_A, FLD_Z, FLD_PSI, FLD_CUR, FLD_L, FLD_ZK, FLD_HOLD,
  FLD_NSPK, FLD_ACT, FLD_PRE, FLD_Y, FLD_ERR, FLD_TARGET, FLD_GB, FLD_EPSA, FLD_EBAR, FLD_G, FLD_GOUT, FLD_ESUM,
  FLD_MW, FLD_VW, FLD_MOUT, FLD_VOUT, FLD_MB, FLD_VB, FLD_SPK, NFIELDS,
} from "./layout";
import { addRow, addRowScaled } from "./rows";
import { readoutForward, learningSignal, readoutGrads, readoutUpdate } from "./readout";
import { stepError } from "./loss";

/** SIMD lanes of this build: 4 with `--enable simd`, else 1. */
export const LANES: i32 = ASC_FEATURE_SIMD ? 4 : 1;

// ---- configuration (set by epConfigure / epConstants) ----
let base: usize = 0;
let nIn: i32 = 0;
let nRec: i32 = 0;
let nOut: i32 = 0;
let nPre: i32 = 0;
let S: i32 = 0; // row stride in elements
let flags: i32 = 0;
let injectL: bool = false;

let alpha: f32 = 0;
let rho: f32 = 0;
let kappa: f32 = 0;
let zeta: f32 = 1;
let sOut: f32 = 1;
let vTh: f32 = 1;
let psiScale: f32 = 0.3; // gamma / vTh
let refractory: i32 = 0;
let cReg: f32 = 0;
let fTarget: f32 = 0; // target spikes per step
let updateRate: f32 = 0; // learning rate of per-step updates (F_STEP)

// ---- absolute field addresses ----
let pW: usize = 0, pWOut: usize = 0, pBOut: usize = 0, pFb: usize = 0, pBeta: usize = 0;
let pV: usize = 0, pA: usize = 0, pZ: usize = 0, pPsi: usize = 0, pCur: usize = 0, pL: usize = 0, pZk: usize = 0;
let pHold: usize = 0, pNSpk: usize = 0, pAct: usize = 0, pPre: usize = 0;
let pY: usize = 0, pErr: usize = 0, pTarget: usize = 0, pGB: usize = 0;
let pEpsA: usize = 0, pEbar: usize = 0, pG: usize = 0, pGOut: usize = 0, pESum: usize = 0;
let pMW: usize = 0, pVW: usize = 0, pMOut: usize = 0, pVOut: usize = 0, pMB: usize = 0, pVB: usize = 0;
let pSpk: usize = 0;
let nSpikes: i32 = 0; // spikes of the current step (their indices are in FLD_SPK)
let arenaBytes: u32 = 0;

// ---- trial accumulators ----
let steps: i32 = 0;
let maskedSteps: i32 = 0;
let lossSum: f64 = 0;
let ok: f32 = 0;

@inline function f32At(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function setF32(p: usize, i: i32, x: f32): void { store<f32>(p + (<usize>i << 2), x); }

/** Row stride in elements (nRec rounded up to LANES). */
export function epStride(): i32 { return S; }
export function epArenaBytes(): u32 { return arenaBytes; }
export function epBase(): usize { return base; }

/** Absolute address of arena field `f` (FLD_* of layout.ts). */
export function epPtr(f: i32): usize {
  if (f < 0 || f >= NFIELDS) return 0;
  if (f == FLD_FB && (flags & F_SEPB) == 0) return pWOut;
  return base + <usize>fieldOffset(f);
}

/**
 * Lays the arena out at `arenaBase` (16-byte aligned, owned by the caller) for the given sizes
 * and F_* flags, and returns its size in bytes. The caller makes sure the memory exists
 * (device/node/entry.ts grows the wasm memory; firmware reserves it). Zeroes the whole arena.
 */
export function epConfigure(arenaBase: usize, nIn_: i32, nRec_: i32, nOut_: i32, flags_: i32): u32 {
  base = arenaBase;
  nIn = nIn_;
  nRec = nRec_;
  nOut = nOut_;
  nPre = nIn + nRec;
  flags = flags_;
  S = ((nRec + LANES - 1) / LANES) * LANES;
  arenaBytes = layoutArena(nIn, nRec, nOut, flags, LANES);
  pW = epPtr(FLD_W); pWOut = epPtr(FLD_WOUT); pBOut = epPtr(FLD_BOUT); pFb = epPtr(FLD_FB); pBeta = epPtr(FLD_BETA);
  pV = epPtr(FLD_V); pA = epPtr(FLD_A); pZ = epPtr(FLD_Z); pPsi = epPtr(FLD_PSI); pCur = epPtr(FLD_CUR);
  pL = epPtr(FLD_L); pZk = epPtr(FLD_ZK); pHold = epPtr(FLD_HOLD); pNSpk = epPtr(FLD_NSPK);
  pAct = epPtr(FLD_ACT); pPre = epPtr(FLD_PRE); pY = epPtr(FLD_Y); pErr = epPtr(FLD_ERR);
  pTarget = epPtr(FLD_TARGET); pGB = epPtr(FLD_GB); pEpsA = epPtr(FLD_EPSA); pEbar = epPtr(FLD_EBAR);
  pG = epPtr(FLD_G); pGOut = epPtr(FLD_GOUT); pESum = epPtr(FLD_ESUM);
  pMW = epPtr(FLD_MW); pVW = epPtr(FLD_VW); pMOut = epPtr(FLD_MOUT); pVOut = epPtr(FLD_VOUT);
  pMB = epPtr(FLD_MB); pVB = epPtr(FLD_VB); pSpk = epPtr(FLD_SPK);
  memory.fill(base, 0, arenaBytes);
  injectL = false;
  epReset();
  return arenaBytes;
}

/**
 * Model constants (float32 of MODEL.md's decays, computed by the host in float64 and rounded):
 * alpha, rho, kappa, zeta (1 or 1-alpha), s (1 or 1-kappa), vTh, gamma, refractory steps,
 * rate regulariser cReg and target rate in spikes per step (f*dt/1000).
 */
export function epConstants(alpha_: f32, rho_: f32, kappa_: f32, zeta_: f32, s_: f32, vTh_: f32, gamma_: f32,
  refractory_: i32, cReg_: f32, fTargetPerStep_: f32): void {
  alpha = alpha_; rho = rho_; kappa = kappa_; zeta = zeta_; sOut = s_;
  vTh = vTh_; psiScale = gamma_ / vTh_; refractory = refractory_;
  cReg = cReg_; fTarget = fTargetPerStep_;
}

/**
 * Learning rate of per-step updates (flag F_STEP, update "step"): every step, after the
 * eligibility traces, W -= lr L_j ebar_ji, wOut -= lr err_k zk_j, bOut -= lr err_k ok, instead of
 * accumulating the trial's gradient (device/README.md "Per-step updates": a different rule).
 */
export function epUpdateRate(lr: f32): void { updateRate = lr; }

/** Learning-signal mode: false = L = B err on device from streamed targets; true = the host writes L (FLD_L) before epLearn. */
export function epInjectL(on: bool): void { injectL = on; }

/** Starts a trial: zeroes neuron state, traces, gradients and the loss. Keeps weights, B and optimizer state. */
export function epReset(): void {
  // Fields FLD_V..FLD_GB and FLD_EPSA..FLD_ESUM are contiguous runs of the arena.
  memory.fill(pV, 0, epPtr(FLD_EPSA) - pV);
  memory.fill(pEpsA, 0, epPtr(FLD_MW) - pEpsA);
  steps = 0;
  maskedSteps = 0;
  lossSum = 0;
  ok = 0;
}

// The neuron update of epForward for 4 neurons at a time (no refractory period): the same
// float32 operations in the same order as the scalar loop, lane by lane, so bit-identical.
// Padding lanes (j >= nRec) have zero input and stay at v = 0, z = 0, psi = 0.
@inline function neuronsSimd(alif: bool, reg: bool): void {
  const bytes = <usize>S << 2;
  const av = f32x4.splat(alpha), zv = f32x4.splat(zeta), th = f32x4.splat(vTh), rv = f32x4.splat(rho);
  const ps = f32x4.splat(psiScale), one = f32x4.splat(1), zero = f32x4.splat(0);
  for (let o: usize = 0; o < bytes; o += 16) {
    const zp = v128.load(pZ + o);
    const v = f32x4.sub(f32x4.add(f32x4.mul(av, v128.load(pV + o)), f32x4.mul(zv, v128.load(pCur + o))), f32x4.mul(th, zp));
    v128.store(pV + o, v);
    let thr = th;
    if (alif) {
      const a = f32x4.add(f32x4.mul(rv, v128.load(pA + o)), zp);
      v128.store(pA + o, a);
      thr = f32x4.add(th, f32x4.mul(v128.load(pBeta + o), a));
    }
    const u = f32x4.sub(v, thr);
    const z = v128.and(f32x4.gt(u, zero), one);
    v128.store(pZ + o, z);
    v128.store(pPsi + o, f32x4.mul(ps, f32x4.max(zero, f32x4.sub(one, f32x4.div(f32x4.abs(u), th)))));
    if (reg) v128.store(pNSpk + o, f32x4.add(v128.load(pNSpk + o), z));
  }
}

// ---- scalar building blocks (the MCU build) ----
// Written for what wasm2c + gcc make of them on a Cortex-M: configuration copied into locals
// once (a wasm global is a field of the instance struct, reloaded after every store that may
// alias it), pointers bumped with the eight elements of an unrolled iteration at immediate
// offsets 0..28 (one address computation, or one masked base with `--memcheck mask`, per
// pointer and iteration). Per element the float32 operations are those of the SIMD build, in
// the same order, so the two builds stay bit-identical.

/** The neuron update of epForward, one neuron at a time (every option). */
function neuronsScalar(alif: bool, refr: bool, reg: bool): void {
  const al = alpha, ze = zeta, th = vTh, rh = rho, ps = psiScale, hold = refractory;
  const V = pV, A = pA, Z = pZ, PSI = pPsi, CUR = pCur, BETA = pBeta, HOLD = pHold, NSPK = pNSpk;
  const bytes = <usize>nRec << 2;
  for (let o: usize = 0; o < bytes; o += 4) {
    const zp = load<f32>(Z + o);
    const v = al * load<f32>(V + o) + ze * load<f32>(CUR + o) - th * zp;
    store<f32>(V + o, v);
    let thr = th;
    if (alif) {
      const a = rh * load<f32>(A + o) + zp;
      store<f32>(A + o, a);
      thr = th + load<f32>(BETA + o) * a;
    }
    const u = v - thr;
    let z: f32 = 0;
    let psi: f32 = 0;
    if (refr && load<i32>(HOLD + o) > 0) {
      store<i32>(HOLD + o, load<i32>(HOLD + o) - 1);
    } else {
      z = u > 0 ? 1 : 0;
      psi = ps * max<f32>(0, <f32>1 - abs<f32>(u) / th);
      if (refr && u > 0) store<i32>(HOLD + o, hold);
    }
    store<f32>(Z + o, z);
    store<f32>(PSI + o, psi);
    if (reg) store<f32>(NSPK + o, load<f32>(NSPK + o) + z);
  }
}

/**
 * Forward half of step t: x^t must be in FLD_ACT[0..nIn) and target^t in FLD_TARGET.
 * Updates v, a, z, psi, y, err and (device mode) L. `mask` is mask^t (0 or 1).
 */
export function epForward(mask: f32): void {
  const alif = (flags & F_ALIF) != 0;
  const refr = (flags & F_REFRACTORY) != 0;
  const reg = (flags & F_RATEREG) != 0;
  const n = nRec, act = pAct, cur = pCur;
  // act[nIn + i] = z_i^{t-1}
  memory.copy(act + (<usize>nIn << 2), pZ, <usize>n << 2);
  // cur_j = sum_p W[p][j] * act_p  (p ascending; zero activities skipped)
  const rowBytes = <usize>S << 2;
  memory.fill(cur, 0, rowBytes);
  let row = pW;
  const actEnd = act + (<usize>nPre << 2);
  for (let ap = act; ap < actEnd; ap += 4, row += rowBytes) {
    const a = load<f32>(ap);
    if (a == 0) continue;
    if (ASC_FEATURE_SIMD) {
      const av = f32x4.splat(a);
      let o: usize = 0;
      for (; o + 32 <= rowBytes; o += 32) {
        const c = cur + o, w = row + o;
        v128.store(c, f32x4.add(v128.load(c), f32x4.mul(v128.load(w), av)));
        v128.store(c, f32x4.add(v128.load(c, 16), f32x4.mul(v128.load(w, 16), av)), 16);
      }
      if (o < rowBytes) v128.store(cur + o, f32x4.add(v128.load(cur + o), f32x4.mul(v128.load(row + o), av)));
    } else if (a == 1) {
      addRow(cur, row, n);
    } else {
      addRowScaled(cur, row, n, a);
    }
  }
  // neurons
  if (ASC_FEATURE_SIMD && !refr) neuronsSimd(alif, reg);
  else neuronsScalar(alif, refr, reg);
  epReadout(mask);
}

/**
 * The readout part of step t, once z^t is in FLD_Z: the indices of the spiking neurons, y, err,
 * the loss and (device mode) L = B err (device/kernels/readout.ts).
 */
export function epReadout(mask: f32): void {
  nSpikes = readoutForward(nRec, S, nOut, pZ, pSpk, pWOut, pBOut, pY, kappa, sOut);
  steps++;
  if (mask != 0) maskedSteps++;
  lossSum += stepError(pY, pTarget, pErr, nOut, mask, (flags & F_CE) != 0);
  if (!injectL) learningSignal(nRec, S, nOut, pFb, pErr, pL);
}

// Per-synapse updates of one presynaptic row (pre value pv), four variants.
// LIF:  e = psi pv;                 ebar = kappa ebar + s e;  g += L ebar  [; esum += e]
// ALIF: e = psi (pv - beta epsA);   epsA = rho epsA + e; then as LIF
@inline function rowLif(pv: f32, eb: usize, g: usize, es: usize, bytes: usize, reg: bool): void {
  const PSI = pPsi, L = pL, kap = kappa, s = sOut;
  if (ASC_FEATURE_SIMD) {
    const pvv = f32x4.splat(pv), kv = f32x4.splat(kap), sv = f32x4.splat(s);
    for (let o: usize = 0; o < bytes; o += 16) {
      const e = f32x4.mul(v128.load(PSI + o), pvv);
      const b = f32x4.add(f32x4.mul(kv, v128.load(eb + o)), f32x4.mul(sv, e));
      v128.store(eb + o, b);
      v128.store(g + o, f32x4.add(v128.load(g + o), f32x4.mul(v128.load(L + o), b)));
      if (reg) v128.store(es + o, f32x4.add(v128.load(es + o), e));
    }
  } else {
    for (let o: usize = 0; o < bytes; o += 4) {
      const e = load<f32>(PSI + o) * pv;
      const b = kap * load<f32>(eb + o) + s * e;
      store<f32>(eb + o, b);
      store<f32>(g + o, load<f32>(g + o) + load<f32>(L + o) * b);
      if (reg) store<f32>(es + o, load<f32>(es + o) + e);
    }
  }
}

@inline function rowAlif(pv: f32, ea: usize, eb: usize, g: usize, es: usize, bytes: usize, reg: bool): void {
  const PSI = pPsi, L = pL, BETA = pBeta, kap = kappa, s = sOut, rh = rho;
  if (ASC_FEATURE_SIMD) {
    const pvv = f32x4.splat(pv), kv = f32x4.splat(kap), sv = f32x4.splat(s), rv = f32x4.splat(rh);
    for (let o: usize = 0; o < bytes; o += 16) {
      const a = v128.load(ea + o);
      const e = f32x4.mul(v128.load(PSI + o), f32x4.sub(pvv, f32x4.mul(v128.load(BETA + o), a)));
      v128.store(ea + o, f32x4.add(f32x4.mul(rv, a), e));
      const b = f32x4.add(f32x4.mul(kv, v128.load(eb + o)), f32x4.mul(sv, e));
      v128.store(eb + o, b);
      v128.store(g + o, f32x4.add(v128.load(g + o), f32x4.mul(v128.load(L + o), b)));
      if (reg) v128.store(es + o, f32x4.add(v128.load(es + o), e));
    }
  } else {
    for (let o: usize = 0; o < bytes; o += 4) {
      const a = load<f32>(ea + o);
      const e = load<f32>(PSI + o) * (pv - load<f32>(BETA + o) * a);
      store<f32>(ea + o, rh * a + e);
      const b = kap * load<f32>(eb + o) + s * e;
      store<f32>(eb + o, b);
      store<f32>(g + o, load<f32>(g + o) + load<f32>(L + o) * b);
      if (reg) store<f32>(es + o, load<f32>(es + o) + e);
    }
  }
}

// Scalar LIF learning without the rate regulariser, the MCU hot loop: every presynaptic row p
// (the scalar build has S = nRec, so the ebar and g rows are contiguous), two rows and eight
// neurons per iteration. Two functions, so that the s = 1 path keeps no multiply
// by s (s*e == e exactly when s = 1: bit-identical) and the optimizer cannot fold them together.

/** readoutScale "one": e = psi pv; ebar = kappa ebar + e; g += L ebar. */
function learnLifOne(): void {
  const kap = kappa, n = nRec, PSI = pPsi, L = pL;
  const end8 = PSI + (<usize>(n & ~7) << 2), end = PSI + (<usize>n << 2);
  const rowBytes = <usize>n << 2;
  const preEnd = pPre + (<usize>nPre << 2);
  let e0 = pEbar, g0 = pG, pre = pPre;
  // two presynaptic rows per pass share the psi and L loads
  for (; pre + 4 < preEnd; pre += 8) {
    const pv0 = load<f32>(pre), pv1 = load<f32>(pre, 4);
    let e1 = e0 + rowBytes, g1 = g0 + rowBytes;
    let ps = PSI, l = L;
    while (ps < end8) {
      const s0 = load<f32>(ps), s1 = load<f32>(ps, 4), s2 = load<f32>(ps, 8), s3 = load<f32>(ps, 12);
      const s4 = load<f32>(ps, 16), s5 = load<f32>(ps, 20), s6 = load<f32>(ps, 24), s7 = load<f32>(ps, 28);
      const l0 = load<f32>(l), l1 = load<f32>(l, 4), l2 = load<f32>(l, 8), l3 = load<f32>(l, 12);
      const l4 = load<f32>(l, 16), l5 = load<f32>(l, 20), l6 = load<f32>(l, 24), l7 = load<f32>(l, 28);
      const b00 = kap * load<f32>(e0) + s0 * pv0;
      store<f32>(e0, b00);
      store<f32>(g0, load<f32>(g0) + l0 * b00);
      const b01 = kap * load<f32>(e0, 4) + s1 * pv0;
      store<f32>(e0, b01, 4);
      store<f32>(g0, load<f32>(g0, 4) + l1 * b01, 4);
      const b02 = kap * load<f32>(e0, 8) + s2 * pv0;
      store<f32>(e0, b02, 8);
      store<f32>(g0, load<f32>(g0, 8) + l2 * b02, 8);
      const b03 = kap * load<f32>(e0, 12) + s3 * pv0;
      store<f32>(e0, b03, 12);
      store<f32>(g0, load<f32>(g0, 12) + l3 * b03, 12);
      const b04 = kap * load<f32>(e0, 16) + s4 * pv0;
      store<f32>(e0, b04, 16);
      store<f32>(g0, load<f32>(g0, 16) + l4 * b04, 16);
      const b05 = kap * load<f32>(e0, 20) + s5 * pv0;
      store<f32>(e0, b05, 20);
      store<f32>(g0, load<f32>(g0, 20) + l5 * b05, 20);
      const b06 = kap * load<f32>(e0, 24) + s6 * pv0;
      store<f32>(e0, b06, 24);
      store<f32>(g0, load<f32>(g0, 24) + l6 * b06, 24);
      const b07 = kap * load<f32>(e0, 28) + s7 * pv0;
      store<f32>(e0, b07, 28);
      store<f32>(g0, load<f32>(g0, 28) + l7 * b07, 28);
      const b10 = kap * load<f32>(e1) + s0 * pv1;
      store<f32>(e1, b10);
      store<f32>(g1, load<f32>(g1) + l0 * b10);
      const b11 = kap * load<f32>(e1, 4) + s1 * pv1;
      store<f32>(e1, b11, 4);
      store<f32>(g1, load<f32>(g1, 4) + l1 * b11, 4);
      const b12 = kap * load<f32>(e1, 8) + s2 * pv1;
      store<f32>(e1, b12, 8);
      store<f32>(g1, load<f32>(g1, 8) + l2 * b12, 8);
      const b13 = kap * load<f32>(e1, 12) + s3 * pv1;
      store<f32>(e1, b13, 12);
      store<f32>(g1, load<f32>(g1, 12) + l3 * b13, 12);
      const b14 = kap * load<f32>(e1, 16) + s4 * pv1;
      store<f32>(e1, b14, 16);
      store<f32>(g1, load<f32>(g1, 16) + l4 * b14, 16);
      const b15 = kap * load<f32>(e1, 20) + s5 * pv1;
      store<f32>(e1, b15, 20);
      store<f32>(g1, load<f32>(g1, 20) + l5 * b15, 20);
      const b16 = kap * load<f32>(e1, 24) + s6 * pv1;
      store<f32>(e1, b16, 24);
      store<f32>(g1, load<f32>(g1, 24) + l6 * b16, 24);
      const b17 = kap * load<f32>(e1, 28) + s7 * pv1;
      store<f32>(e1, b17, 28);
      store<f32>(g1, load<f32>(g1, 28) + l7 * b17, 28);
      ps += 32;
      l += 32;
      e0 += 32;
      g0 += 32;
      e1 += 32;
      g1 += 32;
    }
    for (; ps < end; ps += 4, l += 4, e0 += 4, g0 += 4, e1 += 4, g1 += 4) {
      const b0 = kap * load<f32>(e0) + load<f32>(ps) * pv0;
      store<f32>(e0, b0);
      store<f32>(g0, load<f32>(g0) + load<f32>(l) * b0);
      const b1 = kap * load<f32>(e1) + load<f32>(ps) * pv1;
      store<f32>(e1, b1);
      store<f32>(g1, load<f32>(g1) + load<f32>(l) * b1);
    }
    e0 = e1;
    g0 = g1;
  }
  if (pre < preEnd) {
    const pv0 = load<f32>(pre);
    for (let ps = PSI, l = L; ps < end; ps += 4, l += 4, e0 += 4, g0 += 4) {
      const b0 = kap * load<f32>(e0) + load<f32>(ps) * pv0;
      store<f32>(e0, b0);
      store<f32>(g0, load<f32>(g0) + load<f32>(l) * b0);
    }
  }
}

/** Any s: e = psi pv; ebar = kappa ebar + s e; g += L ebar. */
function learnLifScaled(): void {
  const kap = kappa, s = sOut, n = nRec, PSI = pPsi, L = pL;
  const end8 = PSI + (<usize>(n & ~7) << 2), end = PSI + (<usize>n << 2);
  const rowBytes = <usize>n << 2;
  const preEnd = pPre + (<usize>nPre << 2);
  let e0 = pEbar, g0 = pG, pre = pPre;
  // two presynaptic rows per pass share the psi and L loads
  for (; pre + 4 < preEnd; pre += 8) {
    const pv0 = load<f32>(pre), pv1 = load<f32>(pre, 4);
    let e1 = e0 + rowBytes, g1 = g0 + rowBytes;
    let ps = PSI, l = L;
    while (ps < end8) {
      const s0 = load<f32>(ps), s1 = load<f32>(ps, 4), s2 = load<f32>(ps, 8), s3 = load<f32>(ps, 12);
      const s4 = load<f32>(ps, 16), s5 = load<f32>(ps, 20), s6 = load<f32>(ps, 24), s7 = load<f32>(ps, 28);
      const l0 = load<f32>(l), l1 = load<f32>(l, 4), l2 = load<f32>(l, 8), l3 = load<f32>(l, 12);
      const l4 = load<f32>(l, 16), l5 = load<f32>(l, 20), l6 = load<f32>(l, 24), l7 = load<f32>(l, 28);
      const b00 = kap * load<f32>(e0) + s * (s0 * pv0);
      store<f32>(e0, b00);
      store<f32>(g0, load<f32>(g0) + l0 * b00);
      const b01 = kap * load<f32>(e0, 4) + s * (s1 * pv0);
      store<f32>(e0, b01, 4);
      store<f32>(g0, load<f32>(g0, 4) + l1 * b01, 4);
      const b02 = kap * load<f32>(e0, 8) + s * (s2 * pv0);
      store<f32>(e0, b02, 8);
      store<f32>(g0, load<f32>(g0, 8) + l2 * b02, 8);
      const b03 = kap * load<f32>(e0, 12) + s * (s3 * pv0);
      store<f32>(e0, b03, 12);
      store<f32>(g0, load<f32>(g0, 12) + l3 * b03, 12);
      const b04 = kap * load<f32>(e0, 16) + s * (s4 * pv0);
      store<f32>(e0, b04, 16);
      store<f32>(g0, load<f32>(g0, 16) + l4 * b04, 16);
      const b05 = kap * load<f32>(e0, 20) + s * (s5 * pv0);
      store<f32>(e0, b05, 20);
      store<f32>(g0, load<f32>(g0, 20) + l5 * b05, 20);
      const b06 = kap * load<f32>(e0, 24) + s * (s6 * pv0);
      store<f32>(e0, b06, 24);
      store<f32>(g0, load<f32>(g0, 24) + l6 * b06, 24);
      const b07 = kap * load<f32>(e0, 28) + s * (s7 * pv0);
      store<f32>(e0, b07, 28);
      store<f32>(g0, load<f32>(g0, 28) + l7 * b07, 28);
      const b10 = kap * load<f32>(e1) + s * (s0 * pv1);
      store<f32>(e1, b10);
      store<f32>(g1, load<f32>(g1) + l0 * b10);
      const b11 = kap * load<f32>(e1, 4) + s * (s1 * pv1);
      store<f32>(e1, b11, 4);
      store<f32>(g1, load<f32>(g1, 4) + l1 * b11, 4);
      const b12 = kap * load<f32>(e1, 8) + s * (s2 * pv1);
      store<f32>(e1, b12, 8);
      store<f32>(g1, load<f32>(g1, 8) + l2 * b12, 8);
      const b13 = kap * load<f32>(e1, 12) + s * (s3 * pv1);
      store<f32>(e1, b13, 12);
      store<f32>(g1, load<f32>(g1, 12) + l3 * b13, 12);
      const b14 = kap * load<f32>(e1, 16) + s * (s4 * pv1);
      store<f32>(e1, b14, 16);
      store<f32>(g1, load<f32>(g1, 16) + l4 * b14, 16);
      const b15 = kap * load<f32>(e1, 20) + s * (s5 * pv1);
      store<f32>(e1, b15, 20);
      store<f32>(g1, load<f32>(g1, 20) + l5 * b15, 20);
      const b16 = kap * load<f32>(e1, 24) + s * (s6 * pv1);
      store<f32>(e1, b16, 24);
      store<f32>(g1, load<f32>(g1, 24) + l6 * b16, 24);
      const b17 = kap * load<f32>(e1, 28) + s * (s7 * pv1);
      store<f32>(e1, b17, 28);
      store<f32>(g1, load<f32>(g1, 28) + l7 * b17, 28);
      ps += 32;
      l += 32;
      e0 += 32;
      g0 += 32;
      e1 += 32;
      g1 += 32;
    }
    for (; ps < end; ps += 4, l += 4, e0 += 4, g0 += 4, e1 += 4, g1 += 4) {
      const b0 = kap * load<f32>(e0) + s * (load<f32>(ps) * pv0);
      store<f32>(e0, b0);
      store<f32>(g0, load<f32>(g0) + load<f32>(l) * b0);
      const b1 = kap * load<f32>(e1) + s * (load<f32>(ps) * pv1);
      store<f32>(e1, b1);
      store<f32>(g1, load<f32>(g1) + load<f32>(l) * b1);
    }
    e0 = e1;
    g0 = g1;
  }
  if (pre < preEnd) {
    const pv0 = load<f32>(pre);
    for (let ps = PSI, l = L; ps < end; ps += 4, l += 4, e0 += 4, g0 += 4) {
      const b0 = kap * load<f32>(e0) + s * (load<f32>(ps) * pv0);
      store<f32>(e0, b0);
      store<f32>(g0, load<f32>(g0) + load<f32>(l) * b0);
    }
  }
}

// SIMD fast path for LIF without the rate regulariser (the common case): two presynaptic rows
// per pass share the psi and L loads. Same per-element arithmetic as rowLif, so bit-identical.
// `s1`: readoutScale "one" (s = 1, and s*e == e exactly, so the multiply is skipped).
@inline function pairsLifSimd(s1: bool): void {
  const rowBytes = <usize>S << 2;
  const psi = pPsi, L = pL, pre = pPre;
  const kv = f32x4.splat(kappa), sv = f32x4.splat(sOut);
  let p = 0;
  for (; p + 1 < nPre; p += 2) {
    const a0 = f32x4.splat(load<f32>(pre + (<usize>p << 2)));
    const a1 = f32x4.splat(load<f32>(pre + (<usize>(p + 1) << 2)));
    const e0 = pEbar + <usize>p * rowBytes, e1 = e0 + rowBytes;
    const g0 = pG + <usize>p * rowBytes, g1 = g0 + rowBytes;
    // 8 neurons per iteration (immediate offsets, independent chains), then a 4-neuron tail
    let o: usize = 0;
    for (; o + 32 <= rowBytes; o += 32) {
      const ps = v128.load(psi + o), ps2 = v128.load(psi + o, 16);
      const l = v128.load(L + o), l2 = v128.load(L + o, 16);
      const ea = e0 + o, eb = e1 + o, ga = g0 + o, gb = g1 + o;
      let x0 = f32x4.mul(ps, a0), y0 = f32x4.mul(ps2, a0);
      let x1 = f32x4.mul(ps, a1), y1 = f32x4.mul(ps2, a1);
      if (!s1) { x0 = f32x4.mul(sv, x0); y0 = f32x4.mul(sv, y0); x1 = f32x4.mul(sv, x1); y1 = f32x4.mul(sv, y1); }
      const b0 = f32x4.add(f32x4.mul(kv, v128.load(ea)), x0);
      const c0 = f32x4.add(f32x4.mul(kv, v128.load(ea, 16)), y0);
      const b1 = f32x4.add(f32x4.mul(kv, v128.load(eb)), x1);
      const c1 = f32x4.add(f32x4.mul(kv, v128.load(eb, 16)), y1);
      v128.store(ea, b0);
      v128.store(ea, c0, 16);
      v128.store(eb, b1);
      v128.store(eb, c1, 16);
      v128.store(ga, f32x4.add(v128.load(ga), f32x4.mul(l, b0)));
      v128.store(ga, f32x4.add(v128.load(ga, 16), f32x4.mul(l2, c0)), 16);
      v128.store(gb, f32x4.add(v128.load(gb), f32x4.mul(l, b1)));
      v128.store(gb, f32x4.add(v128.load(gb, 16), f32x4.mul(l2, c1)), 16);
    }
    if (o < rowBytes) {
      const ps = v128.load(psi + o);
      const l = v128.load(L + o);
      let x0 = f32x4.mul(ps, a0);
      let x1 = f32x4.mul(ps, a1);
      if (!s1) { x0 = f32x4.mul(sv, x0); x1 = f32x4.mul(sv, x1); }
      const b0 = f32x4.add(f32x4.mul(kv, v128.load(e0 + o)), x0);
      const b1 = f32x4.add(f32x4.mul(kv, v128.load(e1 + o)), x1);
      v128.store(e0 + o, b0);
      v128.store(e1 + o, b1);
      v128.store(g0 + o, f32x4.add(v128.load(g0 + o), f32x4.mul(l, b0)));
      v128.store(g1 + o, f32x4.add(v128.load(g1 + o), f32x4.mul(l, b1)));
    }
  }
  if (p < nPre) {
    const off = <usize>p * rowBytes;
    rowLif(load<f32>(pre + (<usize>p << 2)), pEbar + off, pG + off, 0, rowBytes, false);
  }
}

/**
 * Learning half of step t (after epForward, and after the host wrote L in inject mode):
 * presynaptic traces, eligibility traces, kappa filtering and gradient accumulation.
 */
export function epLearn(): void {
  const alif = (flags & F_ALIF) != 0;
  const reg = (flags & F_RATEREG) != 0;
  const al = alpha, ze = zeta, PRE = pPre;
  // xbar^t = alpha xbar + zeta x^t (the input pre term at t); zbar stays at t-1 for now.
  const inBytes = <usize>nIn << 2;
  for (let o: usize = 0; o < inBytes; o += 4) store<f32>(PRE + o, al * load<f32>(PRE + o) + ze * load<f32>(pAct + o));
  const rowBytes = <usize>S << 2;
  if ((flags & F_STEP) != 0) {
    learnStep(alif);
  } else if (!alif && !reg) {
    if (ASC_FEATURE_SIMD) {
      if (sOut == 1) pairsLifSimd(true);
      else pairsLifSimd(false);
    } else if (sOut == 1) {
      learnLifOne();
    } else {
      learnLifScaled();
    }
  } else {
    for (let p = 0; p < nPre; p++) {
      const off = <usize>p * rowBytes;
      const pv = f32At(PRE, p);
      if (alif) {
        if (reg) rowAlif(pv, pEpsA + off, pEbar + off, pG + off, pESum + off, rowBytes, true);
        else rowAlif(pv, pEpsA + off, pEbar + off, pG + off, 0, rowBytes, false);
      } else {
        rowLif(pv, pEbar + off, pG + off, pESum + off, rowBytes, true);
      }
    }
  }
  // zbar^t = alpha zbar + zeta z^t
  const zb = PRE + inBytes, Z = pZ, recBytes = <usize>nRec << 2;
  for (let o: usize = 0; o < recBytes; o += 4) store<f32>(zb + o, al * load<f32>(zb + o) + ze * load<f32>(Z + o));
  if ((flags & F_STEP) != 0) {
    ok = readoutUpdate(nRec, S, nOut, pZ, pZk, pErr, pWOut, pBOut, kappa, sOut, ok, updateRate, (flags & F_TRAINBIAS) != 0);
  } else {
    epReadoutLearn();
  }
}

/**
 * Per-step update (F_STEP) of wIn/wRec: e, epsA and ebar as in the trial rule, then
 * W -= (lr L_j) ebar_ji at once; the wRec diagonal stays 0. Scalar, any neuron model.
 */
function learnStep(alif: bool): void {
  const n = nRec, rowBytes = <usize>S << 2, recBytes = <usize>n << 2;
  const PSI = pPsi, L = pL, LR = pCur, BETA = pBeta, kap = kappa, s = sOut, rh = rho, lr = updateRate;
  // lr L_j once per neuron (cur is free after the forward pass)
  for (let o: usize = 0; o < recBytes; o += 4) store<f32>(LR + o, lr * load<f32>(L + o));
  for (let p = 0; p < nPre; p++) {
    const off = <usize>p * rowBytes;
    const pv = f32At(pPre, p);
    const w = pW + off, eb = pEbar + off, ea = pEpsA + off;
    for (let o: usize = 0; o < recBytes; o += 4) {
      let e: f32;
      if (alif) {
        const a = load<f32>(ea + o);
        e = load<f32>(PSI + o) * (pv - load<f32>(BETA + o) * a);
        store<f32>(ea + o, rh * a + e);
      } else {
        e = load<f32>(PSI + o) * pv;
      }
      const b = kap * load<f32>(eb + o) + s * e;
      store<f32>(eb + o, b);
      store<f32>(w + o, load<f32>(w + o) - load<f32>(LR + o) * b);
    }
  }
  zeroRecDiagonal();
}

/** The readout gradients of step t (exact): zk, gOut, ok, gB (device/kernels/readout.ts). */
export function epReadoutLearn(): void {
  ok = readoutGrads(nRec, S, nOut, pZ, pZk, pErr, pGOut, pGB, kappa, sOut, ok);
}

/** One full time step: epForward then epLearn. */
export function epStep(mask: f32): void {
  epForward(mask);
  epLearn();
}

/**
 * Ends the trial: adds the rate regulariser, applies lossReduction, zeroes the wRec diagonal
 * and (trainBias off) the bOut gradient. Returns the task loss. Call once per trial.
 */
export function epFinish(): f64 {
  // per-step updates: nothing accumulated to finish (lossReduction "sum", no rate regulariser)
  if ((flags & F_STEP) != 0) return lossSum;
  const T = <f32>steps;
  if ((flags & F_RATEREG) != 0 && steps > 0) {
    // reg_j = cReg (n_j/T - f dt/1000) / T, times the unfiltered sum_t e_ji (pCur is scratch here)
    for (let j = 0; j < nRec; j++) setF32(pCur, j, cReg * (f32At(pNSpk, j) / T - fTarget) / T);
    const rowBytes = <usize>S << 2;
    for (let p = 0; p < nPre; p++) {
      const g = pG + <usize>p * rowBytes;
      const es = pESum + <usize>p * rowBytes;
      for (let j = 0; j < nRec; j++) setF32(g, j, f32At(g, j) + f32At(pCur, j) * f32At(es, j));
    }
  }
  let norm: f32 = 1;
  if ((flags & F_MEAN) != 0) norm = (flags & F_CE) != 0 ? <f32>maskedSteps : T;
  if (norm != 1 && norm > 0) {
    scaleDiv(pG, nPre * S, norm);
    scaleDiv(pGOut, nOut * S, norm);
    scaleDiv(pGB, nOut, norm);
  }
  for (let i = 0; i < nRec; i++) setF32(pG + <usize>(nIn + i) * (<usize>S << 2), i, 0);
  if ((flags & F_TRAINBIAS) == 0) memory.fill(pGB, 0, <usize>nOut << 2);
  return norm > 0 ? lossSum / <f64>norm : lossSum;
}

export function scaleDiv(p: usize, n: i32, d: f32): void {
  for (let i = 0; i < n; i++) setF32(p, i, f32At(p, i) / d);
}

/** Steps run in the current trial. */
export function epSteps(): i32 { return steps; }

// ---- weight application (MODEL.md "Training loop") ----

export function gdRange(w: usize, g: usize, rows: i32, cols: i32, stride: i32, lr: f32, clip: bool, wMin: f32, wMax: f32): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * stride + c;
      let x = f32At(w, i) - lr * f32At(g, i);
      if (clip) x = min<f32>(max<f32>(x, wMin), wMax);
      setF32(w, i, x);
    }
  }
}

export function adamRange(w: usize, g: usize, m: usize, v: usize, rows: i32, cols: i32, stride: i32,
  lrT: f32, b1: f32, b2: f32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * stride + c;
      const gi = f32At(g, i);
      const mi = b1 * f32At(m, i) + (<f32>1 - b1) * gi;
      const vi = b2 * f32At(v, i) + (<f32>1 - b2) * gi * gi;
      setF32(m, i, mi);
      setF32(v, i, vi);
      setF32(w, i, f32At(w, i) - lrT * mi / (Mathf.sqrt(vi) + eps));
    }
  }
}

function zeroRecDiagonal(): void {
  for (let i = 0; i < nRec; i++) setF32(pW + <usize>(nIn + i) * (<usize>S << 2), i, 0);
}

/** gd: W -= lr g for wIn, wRec, wOut (and bOut with trainBias), then clipped to [wMin, wMax] if clip. */
export function epApplyGd(lr: f32, clip: bool, wMin: f32, wMax: f32): void {
  if ((flags & F_STEP) != 0) return; // applied every step
  gdRange(pW, pG, nPre, nRec, S, lr, clip, wMin, wMax);
  gdRange(pWOut, pGOut, nOut, nRec, S, lr, clip, wMin, wMax);
  if ((flags & F_TRAINBIAS) != 0) gdRange(pBOut, pGB, 1, nOut, nOut, lr, clip, wMin, wMax);
  zeroRecDiagonal();
}

/** adam (TensorFlow form) at its n-th step (n >= 1); needs F_ADAM. */
export function epApplyAdam(lr: f32, b1: f32, b2: f32, eps: f32, n: i32): void {
  if ((flags & F_STEP) != 0) return;
  const lrT = lr * Mathf.sqrt(<f32>1 - Mathf.pow(b2, <f32>n)) / (<f32>1 - Mathf.pow(b1, <f32>n));
  adamRange(pW, pG, pMW, pVW, nPre, nRec, S, lrT, b1, b2, eps);
  adamRange(pWOut, pGOut, pMOut, pVOut, nOut, nRec, S, lrT, b1, b2, eps);
  if ((flags & F_TRAINBIAS) != 0) adamRange(pBOut, pGB, pMB, pVB, 1, nOut, nOut, lrT, b1, b2, eps);
  zeroRecDiagonal();
}

/** Zeroes the Adam moments (a new training run). */
export function epResetOptimizer(): void {
  if ((flags & F_ADAM) != 0) memory.fill(pMW, 0, epPtr(FLD_VB) + (<usize>nOut << 2) - pMW);
}

// Accessors used by the SAL kernel (same arena).
export function epNIn(): i32 { return nIn; }
export function epNRec(): i32 { return nRec; }
export function epNOut(): i32 { return nOut; }
export function epFlags(): i32 { return flags; }
