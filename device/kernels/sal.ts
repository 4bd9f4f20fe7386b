// SAL — spike-based alignment of the feedback weights B (MODEL.md "SAL"), float32, in the
// e-prop arena (needs F_SEPB | F_SAL at epConfigure). Host twin: host/reference/sal.ts.
//
// One step t (t = 1, 2, ...; eta_t = eta0 / (1 + t/Ta)):
//   1. draws: U_j for j = 0..nRec-1, then U'_k for k = 0..nOut-1 (one PCG32 stream)
//   2. lower: v_j = alphaL v_j + bL_j + gB sum_k B[j][k] y_k^{t-1} - thL_j z_j^{t-1};
//             z_j^t = [U_j < sigmoid((v_j - thL_j)/delta)]   (sigmoid in float64 of the float32 argument)
//   3. upper: u_k = kappaU u_k + bU_k + gF sum_j wOut[k][j] z_j^{t-1} - thU_k y_k^{t-1};
//             y_k^t = [U'_k < sigmoid((u_k - thU_k)/delta)]
//   4. with c = eta_t * lambda and the traces of step t-1:
//      upper spikes (k ascending): B[j][k] += c q_j for all j;
//      then lower spikes (j ascending): B[j][k] -= c r_k for all k
//   5. traces q = lambda q + z^t, r = lambda r + y^t
//   6. homeostasis bL += etaH (rhoT - z^t), bU += etaH (rhoT - y^t)
// Sums run in index order, skipping silent units.
//
// Every piece of SAL state lives in the arena — the vectors in FLD_S*, the scalars (constants,
// gains, the eta schedule's t, spike counters, the PCG32 state) in the FLD_SSC block below — so
// an e-prop checkpoint (the whole arena) holds SAL exactly. salRun loads the block into module
// globals, runs, and stores it back.
//
// Training (issue 12) draws its start on the device: salParams, pcgSeed, salDraw (thresholds and
// the initial B from the stream), salInit; then per alignment phase salGains (gF = gB from the
// device's own wOut), optionally salRestart (eta schedule from t = 0), salRun(n).
import { expF64, logF64 } from "./fdlibm";
import { epPtr, epNRec, epNOut, epStride } from "./eprop";
import { pcgUniform, pcgState, pcgRestore } from "./pcg32";
import {
  FLD_WOUT, FLD_FB, FLD_SV, FLD_SZ, FLD_SQ, FLD_SBL, FLD_STHL, FLD_SDRAW, FLD_SU, FLD_SY, FLD_SR, FLD_SBU, FLD_STHU,
  FLD_SSC,
} from "./layout";

// Words of the FLD_SSC block (host twin: host/reference/sal-block.ts).
const SC_ALPHA = 0, SC_KAPPA = 1, SC_LAMBDA = 2, SC_DELTA = 3, SC_WRMS = 4, SC_RHOT = 5, SC_ETAH = 6;
const SC_ETA0 = 7, SC_TA = 8, SC_GF = 9, SC_GB = 10; // f32
const SC_T = 11, SC_LOWER = 12, SC_UPPER = 13, SC_PCG = 14, SC_READY = 18; // u32 (PCG32: state hi, lo, inc hi, lo)

let alphaL: f32 = 0;
let kappaU: f32 = 0;
let lam: f32 = 0;
let delta: f32 = 0.1;
let gF: f32 = 1;
let gB: f32 = 1;
let rhoT: f32 = 0.02;
let etaH: f32 = 0;
let eta0: f32 = 0;
let Ta: f32 = 1;
let t: u32 = 0;
let lowerSpikes: u32 = 0;
let upperSpikes: u32 = 0;

@inline function f32At(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function setF32(p: usize, i: i32, x: f32): void { store<f32>(p + (<usize>i << 2), x); }
@inline function u32At(p: usize, i: i32): u32 { return load<u32>(p + (<usize>i << 2)); }
@inline function setU32(p: usize, i: i32, x: u32): void { store<u32>(p + (<usize>i << 2), x); }
// The escape-noise probability is evaluated in float64 from the float32 argument, so that host and
// device agree on every draw (a float32 exp differs between libms by an ulp; a 24-bit uniform
// never lands within an ulp of a float64 probability in practice).
@inline function fires(draw: f32, x: f32): bool { return <f64>draw < 1.0 / (1.0 + expF64(-<f64>x)); }

/** Block → module globals (and the PCG32 stream), before steps run. */
function salLoad(): void {
  const p = epPtr(FLD_SSC);
  alphaL = f32At(p, SC_ALPHA); kappaU = f32At(p, SC_KAPPA); lam = f32At(p, SC_LAMBDA); delta = f32At(p, SC_DELTA);
  rhoT = f32At(p, SC_RHOT); etaH = f32At(p, SC_ETAH); eta0 = f32At(p, SC_ETA0); Ta = f32At(p, SC_TA);
  gF = f32At(p, SC_GF); gB = f32At(p, SC_GB);
  t = u32At(p, SC_T); lowerSpikes = u32At(p, SC_LOWER); upperSpikes = u32At(p, SC_UPPER);
  pcgRestore(u32At(p, SC_PCG), u32At(p, SC_PCG + 1), u32At(p, SC_PCG + 2), u32At(p, SC_PCG + 3));
}

/** Module globals (and the PCG32 stream) → block, after steps ran. */
function salStore(): void {
  const p = epPtr(FLD_SSC);
  setU32(p, SC_T, t); setU32(p, SC_LOWER, lowerSpikes); setU32(p, SC_UPPER, upperSpikes);
  for (let i = 0; i < 4; i++) setU32(p, SC_PCG + i, pcgState(i));
}

/** Constants with fixed gains (standalone alignment: the host computed gF, gB). */
export function salConstants(alphaL_: f32, kappaU_: f32, lambda_: f32, delta_: f32, gF_: f32, gB_: f32,
  rhoTarget_: f32, etaH_: f32, eta0_: f32, Ta_: f32): void {
  salParams(alphaL_, kappaU_, lambda_, delta_, 0, rhoTarget_, etaH_, eta0_, Ta_);
  const p = epPtr(FLD_SSC);
  setF32(p, SC_GF, gF_);
  setF32(p, SC_GB, gB_);
}

/** Constants of training: the gains come from wRms and the device's wOut at every phase (salGains). */
export function salParams(alphaL_: f32, kappaU_: f32, lambda_: f32, delta_: f32, wRms_: f32,
  rhoTarget_: f32, etaH_: f32, eta0_: f32, Ta_: f32): void {
  const p = epPtr(FLD_SSC);
  setF32(p, SC_ALPHA, alphaL_); setF32(p, SC_KAPPA, kappaU_); setF32(p, SC_LAMBDA, lambda_); setF32(p, SC_DELTA, delta_);
  setF32(p, SC_WRMS, wRms_); setF32(p, SC_RHOT, rhoTarget_); setF32(p, SC_ETAH, etaH_); setF32(p, SC_ETA0, eta0_);
  setF32(p, SC_TA, Ta_);
}

/**
 * gF = gB = f32(wRms / rms(wOut)), rms over the nOut x nRec forward weights in float64 (k then j
 * ascending); 0 when wOut is all zero. MODEL.md: B lands in wOut's units. Returns gF.
 */
export function salGains(): f32 {
  const nRec = epNRec(), nOut = epNOut(), S = epStride();
  const pW = epPtr(FLD_WOUT), p = epPtr(FLD_SSC);
  let ss: f64 = 0;
  for (let k = 0; k < nOut; k++) {
    for (let j = 0; j < nRec; j++) {
      const w = <f64>f32At(pW, k * S + j);
      ss += w * w;
    }
  }
  const rms = Math.sqrt(ss / <f64>(nOut * nRec));
  const g: f32 = rms > 0 ? <f32>(<f64>f32At(p, SC_WRMS) / rms) : 0;
  setF32(p, SC_GF, g);
  setF32(p, SC_GB, g);
  return g;
}

/**
 * Draws the start of training from the PCG32 stream (seeded with pcgSeed): thresholds
 * thL_j = f32(theta (1 + jitter (2U - 1))) for j ascending, then thU_k likewise, then the
 * initial B[j][k] = f32(bScale sqrt(3) (2U - 1)) row-major (rms bScale). Call salInit next.
 */
export function salDraw(theta: f64, jitter: f64, bScale: f64): void {
  const nRec = epNRec(), nOut = epNOut(), S = epStride();
  const pThL = epPtr(FLD_STHL), pThU = epPtr(FLD_STHU), pFb = epPtr(FLD_FB);
  for (let j = 0; j < nRec; j++) setF32(pThL, j, <f32>(theta * (1.0 + jitter * (2.0 * <f64>pcgUniform() - 1.0))));
  for (let k = 0; k < nOut; k++) setF32(pThU, k, <f32>(theta * (1.0 + jitter * (2.0 * <f64>pcgUniform() - 1.0))));
  const a = bScale * 1.7320508075688772;
  for (let j = 0; j < nRec; j++) {
    for (let k = 0; k < nOut; k++) setF32(pFb, k * S + j, <f32>(a * (2.0 * <f64>pcgUniform() - 1.0)));
  }
}

/**
 * Starts alignment: thresholds must be in FLD_STHL / FLD_STHU and the stream seeded (its state
 * enters the block here). Biases start at b = (1 - decay)(theta + delta logit(rhoTarget)),
 * membranes at b / (1 - decay); spikes, traces, t and counters 0.
 */
export function salInit(): void {
  const nRec = epNRec(), nOut = epNOut();
  const p = epPtr(FLD_SSC);
  alphaL = f32At(p, SC_ALPHA); kappaU = f32At(p, SC_KAPPA); delta = f32At(p, SC_DELTA); rhoT = f32At(p, SC_RHOT);
  const logit = <f32>logF64(<f64>rhoT / (1.0 - <f64>rhoT));
  const pTh = epPtr(FLD_STHL), pB = epPtr(FLD_SBL), pV = epPtr(FLD_SV);
  for (let j = 0; j < nRec; j++) {
    const b = (<f32>1 - alphaL) * (f32At(pTh, j) + delta * logit);
    setF32(pB, j, b);
    setF32(pV, j, b / (<f32>1 - alphaL));
  }
  const pThU = epPtr(FLD_STHU), pBU = epPtr(FLD_SBU), pU = epPtr(FLD_SU);
  for (let k = 0; k < nOut; k++) {
    const b = (<f32>1 - kappaU) * (f32At(pThU, k) + delta * logit);
    setF32(pBU, k, b);
    setF32(pU, k, b / (<f32>1 - kappaU));
  }
  memory.fill(epPtr(FLD_SZ), 0, <usize>nRec << 2);
  memory.fill(epPtr(FLD_SQ), 0, <usize>nRec << 2);
  memory.fill(epPtr(FLD_SY), 0, <usize>nOut << 2);
  memory.fill(epPtr(FLD_SR), 0, <usize>nOut << 2);
  t = 0;
  lowerSpikes = 0;
  upperSpikes = 0;
  salStore();
  setU32(p, SC_READY, 1);
}

/** Restarts the eta schedule (t = 0; eta back at eta0). */
export function salRestart(): void {
  setU32(epPtr(FLD_SSC), SC_T, 0);
}

/** 1 once salInit has run on this arena (a checkpoint carries it), else 0. */
export function salReady(): i32 {
  return <i32>u32At(epPtr(FLD_SSC), SC_READY);
}

/** One alignment step (see the header) on the module globals. */
function step(): void {
  const nRec = epNRec(), nOut = epNOut(), S = epStride();
  const rowBytes = <usize>S << 2;
  const pFb = epPtr(FLD_FB), pWOut = epPtr(FLD_WOUT);
  const pV = epPtr(FLD_SV), pZ = epPtr(FLD_SZ), pQ = epPtr(FLD_SQ), pBL = epPtr(FLD_SBL), pThL = epPtr(FLD_STHL);
  const pD = epPtr(FLD_SDRAW), pU = epPtr(FLD_SU), pY = epPtr(FLD_SY), pR = epPtr(FLD_SR), pBU = epPtr(FLD_SBU);
  const pThU = epPtr(FLD_STHU);
  t++;
  const c = (eta0 / (<f32>1 + <f32>t / Ta)) * lam;
  for (let j = 0; j < nRec; j++) setF32(pD, j, pcgUniform());
  for (let k = 0; k < nOut; k++) setF32(pD, S + k, pcgUniform());
  // lower layer (its new spikes go to the draw slots, which are consumed: D_j := z_j^t)
  for (let j = 0; j < nRec; j++) {
    let fb: f32 = 0;
    for (let k = 0; k < nOut; k++) if (f32At(pY, k) != 0) fb += load<f32>(pFb + <usize>k * rowBytes + (<usize>j << 2));
    const th = f32At(pThL, j);
    const v = alphaL * f32At(pV, j) + f32At(pBL, j) + gB * fb - th * f32At(pZ, j);
    setF32(pV, j, v);
    setF32(pD, j, fires(f32At(pD, j), (v - th) / delta) ? 1 : 0);
  }
  // upper layer
  for (let k = 0; k < nOut; k++) {
    let ff: f32 = 0;
    const row = pWOut + <usize>k * rowBytes;
    for (let j = 0; j < nRec; j++) if (f32At(pZ, j) != 0) ff += f32At(row, j);
    const th = f32At(pThU, k);
    const u = kappaU * f32At(pU, k) + f32At(pBU, k) + gF * ff - th * f32At(pY, k);
    setF32(pU, k, u);
    setF32(pD, S + k, fires(f32At(pD, S + k), (u - th) / delta) ? 1 : 0);
  }
  // plasticity with the traces of step t-1: potentiation on upper spikes, then depression on lower spikes
  for (let k = 0; k < nOut; k++) {
    if (f32At(pD, S + k) == 0) continue;
    const row = pFb + <usize>k * rowBytes;
    for (let j = 0; j < nRec; j++) setF32(row, j, f32At(row, j) + c * f32At(pQ, j));
  }
  for (let j = 0; j < nRec; j++) {
    if (f32At(pD, j) == 0) continue;
    for (let k = 0; k < nOut; k++) {
      const a = pFb + <usize>k * rowBytes + (<usize>j << 2);
      store<f32>(a, load<f32>(a) - c * f32At(pR, k));
    }
  }
  // commit spikes, traces, homeostasis
  for (let j = 0; j < nRec; j++) {
    const z = f32At(pD, j);
    setF32(pZ, j, z);
    setF32(pQ, j, lam * f32At(pQ, j) + z);
    setF32(pBL, j, f32At(pBL, j) + etaH * (rhoT - z));
    if (z != 0) lowerSpikes++;
  }
  for (let k = 0; k < nOut; k++) {
    const y = f32At(pD, S + k);
    setF32(pY, k, y);
    setF32(pR, k, lam * f32At(pR, k) + y);
    setF32(pBU, k, f32At(pBU, k) + etaH * (rhoT - y));
    if (y != 0) upperSpikes++;
  }
}

/** Runs n alignment steps. */
export function salRun(n: i32): void {
  salLoad();
  for (let i = 0; i < n; i++) step();
  salStore();
}

/** One alignment step. */
export function salStep(): void {
  salRun(1);
}

/** Work of one step in synapse-equivalents, for bounded work per poll: the worst case of its loops. */
export function salStepWork(): u32 {
  return <u32>(epNRec() * epNOut() * 3 + epNRec() * 4 + epNOut() * 4 + 1);
}

/** Steps of the eta schedule so far (since salInit or the last salRestart). */
export function salSteps(): i32 { return <i32>u32At(epPtr(FLD_SSC), SC_T); }
/** Spikes since salInit (u32, wrapping). */
export function salLowerSpikes(): i32 { return <i32>u32At(epPtr(FLD_SSC), SC_LOWER); }
export function salUpperSpikes(): i32 { return <i32>u32At(epPtr(FLD_SSC), SC_UPPER); }

/** Cosine between vec(B) and vec(wOut^T), in float64, k then j ascending (0 if either is all zero). */
export function salCos(): f64 {
  const nRec = epNRec(), nOut = epNOut(), S = epStride();
  const pFb = epPtr(FLD_FB), pW = epPtr(FLD_WOUT);
  let bw: f64 = 0, bb: f64 = 0, ww: f64 = 0;
  for (let k = 0; k < nOut; k++) {
    for (let j = 0; j < nRec; j++) {
      const b = <f64>f32At(pFb, k * S + j), w = <f64>f32At(pW, k * S + j);
      bw += b * w;
      bb += b * b;
      ww += w * w;
    }
  }
  return bb > 0 && ww > 0 ? bw / Math.sqrt(bb * ww) : 0;
}
