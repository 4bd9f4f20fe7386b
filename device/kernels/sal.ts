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
import { epPtr, epNRec, epNOut, epStride } from "./eprop";
import { pcgUniform } from "./pcg32";
import {
  FLD_WOUT, FLD_FB, FLD_SV, FLD_SZ, FLD_SQ, FLD_SBL, FLD_STHL, FLD_SDRAW, FLD_SU, FLD_SY, FLD_SR, FLD_SBU, FLD_STHU,
} from "./layout";

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
let t: i32 = 0;
let lowerSpikes: i32 = 0;
let upperSpikes: i32 = 0;

@inline function f32At(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function setF32(p: usize, i: i32, x: f32): void { store<f32>(p + (<usize>i << 2), x); }
// The escape-noise probability is evaluated in float64 from the float32 argument, so that host and
// device agree on every draw (a float32 exp differs between libms by an ulp; a 24-bit uniform
// never lands within an ulp of a float64 probability in practice).
@inline function fires(draw: f32, x: f32): bool { return <f64>draw < 1.0 / (1.0 + Math.exp(-<f64>x)); }

/** alphaL = exp(-dt/tauMem), kappaU = exp(-dt/tauOut), lambda = exp(-dt/tauStdp), delta, gains, rhoTarget, etaH, eta0, Ta. */
export function salConstants(alphaL_: f32, kappaU_: f32, lambda_: f32, delta_: f32, gF_: f32, gB_: f32,
  rhoTarget_: f32, etaH_: f32, eta0_: f32, Ta_: f32): void {
  alphaL = alphaL_; kappaU = kappaU_; lam = lambda_; delta = delta_; gF = gF_; gB = gB_;
  rhoT = rhoTarget_; etaH = etaH_; eta0 = eta0_; Ta = Ta_;
}

/**
 * Starts an alignment phase: thresholds must be in FLD_STHL / FLD_STHU. Biases start at
 * b = (1 - decay)(theta + delta logit(rhoTarget)), membranes at b / (1 - decay); spikes and traces 0.
 */
export function salInit(): void {
  const nRec = epNRec(), nOut = epNOut();
  const logit = <f32>Math.log(<f64>rhoT / (1.0 - <f64>rhoT));
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
}

/** One alignment step (see the header). */
export function salStep(): void {
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
  for (let i = 0; i < n; i++) salStep();
}

export function salSteps(): i32 { return t; }
export function salLowerSpikes(): i32 { return lowerSpikes; }
export function salUpperSpikes(): i32 { return upperSpikes; }
