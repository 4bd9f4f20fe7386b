// SAL — spike-based alignment of the feedback weights B (MODEL.md "SAL"), float64 host reference.
// Device twin: device/kernels/sal.ts (float32); tests/wasm-sal.test.ts ties the two.
//
// One step t (t = 1, 2, ...; eta_t = eta0 / (1 + t/Ta)), exactly as the device runs it:
//   1. draws: U_j for j = 0..nRec-1, then U'_k for k = 0..nOut-1 (one PCG32 stream)
//   2. lower: v_j = alpha v_j + bL_j + gB sum_k B[j][k] y_k^{t-1} - thL_j z_j^{t-1};
//             z_j^t = [U_j < sigmoid((v_j - thL_j)/delta)]
//   3. upper: u_k = kappa u_k + bU_k + gF sum_j wOut[k][j] z_j^{t-1} - thU_k y_k^{t-1};
//             y_k^t = [U'_k < sigmoid((u_k - thU_k)/delta)]
//   4. c = eta_t lambda, traces of step t-1: upper spikes (k ascending) B[j][k] += c q_j for all j;
//      then lower spikes (j ascending) B[j][k] -= c r_k for all k
//   5. q = lambda q + z^t, r = lambda r + y^t
//   6. homeostasis bL += etaH (rhoTarget - z^t), bU += etaH (rhoTarget - y^t)
// Initial state: b = (1 - decay)(theta + delta logit(rhoTarget)), membranes b / (1 - decay),
// spikes and traces 0. Sums run in index order over the units that spiked.
import type { Matrix } from "../model/types.ts";
import { Pcg32 } from "../rng/pcg32.ts";
import { cosine } from "../model/compare.ts";
import { transpose } from "../model/matrix.ts";

export interface SalParams {
  dt: number;
  tauMem: number; // lower layer membrane
  tauOut: number; // upper layer membrane
  tauStdp: number;
  delta: number; // escape-noise width (both layers)
  wRms: number; // target RMS of the effective forward weights: gF = wRms / rms(wOut)
  rhoTarget: number; // target spike probability per step
  etaH: number; // homeostasis rate
  eta0: number; // plasticity rate
  Ta: number; // plasticity rate decay time (steps)
}

/** The parameters that worked in MODEL.md's numpy prototype. */
export const SAL_DEFAULTS: SalParams = {
  dt: 1, tauMem: 20, tauOut: 20, tauStdp: 20, delta: 0.1, wRms: 0.1, rhoTarget: 0.02, etaH: 5e-5, eta0: 0.01, Ta: 20000,
};

export interface SalSetup {
  wOut: Matrix; // [nOut][nRec]
  B: Matrix; // [nRec][nOut], initial feedback
  thLower: number[]; // [nRec]
  thUpper: number[]; // [nOut]
  seed: { state: bigint | number; seq: bigint | number };
  params?: Partial<SalParams>;
  /**
   * "f64" (default): the float64 reference. "f32": every operation rounded to float32 in the
   * device kernel's order (inputs and constants too), which reproduces the device's B bit for bit.
   */
  precision?: "f64" | "f32";
}

/** The constants both implementations derive from the parameters (the device gets them rounded to float32). */
export interface SalConstants {
  alpha: number;
  kappa: number;
  lambda: number;
  delta: number;
  gF: number;
  gB: number;
  rhoTarget: number;
  etaH: number;
  eta0: number;
  Ta: number;
}

export function salConstants(wOut: Matrix, params: Partial<SalParams> = {}): SalConstants {
  const p = { ...SAL_DEFAULTS, ...params };
  const flat = wOut.flat();
  const rms = Math.sqrt(flat.reduce((s, w) => s + w * w, 0) / flat.length);
  const gF = p.wRms / rms;
  return {
    alpha: Math.exp(-p.dt / p.tauMem),
    kappa: Math.exp(-p.dt / p.tauOut),
    lambda: Math.exp(-p.dt / p.tauStdp),
    delta: p.delta,
    gF,
    gB: gF,
    rhoTarget: p.rhoTarget,
    etaH: p.etaH,
    eta0: p.eta0,
    Ta: p.Ta,
  };
}

// Escape-noise probability: float64 sigmoid of the (float32, in "f32" mode) argument, as on the device.
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const id = (x: number) => x;

export class SalStream {
  readonly B: Matrix;
  readonly k: SalConstants;
  readonly nRec: number;
  readonly nOut: number;
  v: number[];
  u: number[];
  z: number[];
  y: number[];
  q: number[];
  bL: number[];
  bU: number[];
  t = 0;
  lowerSpikes = 0;
  upperSpikes = 0;
  private readonly rng: Pcg32;

  private readonly r: (x: number) => number;
  private readonly wOut: Matrix;
  private readonly thL: number[];
  private readonly thU: number[];

  constructor(readonly setup: SalSetup) {
    const r = (this.r = setup.precision === "f32" ? Math.fround : id);
    this.B = setup.B.map((row) => row.map(r));
    this.wOut = setup.wOut.map((row) => row.map(r));
    this.thL = setup.thLower.map(r);
    this.thU = setup.thUpper.map(r);
    this.nRec = setup.B.length;
    this.nOut = setup.wOut.length;
    const k0 = salConstants(setup.wOut, setup.params);
    this.k = Object.fromEntries(Object.entries(k0).map(([n, x]) => [n, r(x)])) as unknown as SalConstants;
    this.rng = new Pcg32(setup.seed.state, setup.seed.seq);
    const { alpha, kappa, delta, rhoTarget } = this.k;
    const logit = r(Math.log(rhoTarget / (1 - rhoTarget)));
    this.bL = this.thL.map((th) => r(r(1 - alpha) * r(th + r(delta * logit))));
    this.bU = this.thU.map((th) => r(r(1 - kappa) * r(th + r(delta * logit))));
    this.v = this.bL.map((b) => r(b / r(1 - alpha)));
    this.u = this.bU.map((b) => r(b / r(1 - kappa)));
    this.z = new Array<number>(this.nRec).fill(0);
    this.q = new Array<number>(this.nRec).fill(0);
    this.y = new Array<number>(this.nOut).fill(0);
    this.r_ = new Array<number>(this.nOut).fill(0);
  }

  /** Upper-layer traces (r of MODEL.md). */
  r_: number[];

  step(): void {
    const { nRec, nOut, B, k, r, wOut, thL, thU } = this;
    this.t++;
    const c = r(r(k.eta0 / r(1 + r(this.t / k.Ta))) * k.lambda);
    const U = Array.from({ length: nRec }, () => this.rng.uniform());
    const Uu = Array.from({ length: nOut }, () => this.rng.uniform());
    const zn = new Array<number>(nRec);
    for (let j = 0; j < nRec; j++) {
      let fb = 0;
      for (let kk = 0; kk < nOut; kk++) if (this.y[kk] !== 0) fb = r(fb + B[j]![kk]!);
      const th = thL[j]!;
      this.v[j] = r(r(r(r(k.alpha * this.v[j]!) + this.bL[j]!) + r(k.gB * fb)) - r(th * this.z[j]!));
      zn[j] = U[j]! < sigmoid(r(r(this.v[j]! - th) / k.delta)) ? 1 : 0;
    }
    const yn = new Array<number>(nOut);
    for (let kk = 0; kk < nOut; kk++) {
      let ff = 0;
      for (let j = 0; j < nRec; j++) if (this.z[j] !== 0) ff = r(ff + wOut[kk]![j]!);
      const th = thU[kk]!;
      this.u[kk] = r(r(r(r(k.kappa * this.u[kk]!) + this.bU[kk]!) + r(k.gF * ff)) - r(th * this.y[kk]!));
      yn[kk] = Uu[kk]! < sigmoid(r(r(this.u[kk]! - th) / k.delta)) ? 1 : 0;
    }
    for (let kk = 0; kk < nOut; kk++) if (yn[kk]) for (let j = 0; j < nRec; j++) B[j]![kk] = r(B[j]![kk]! + r(c * this.q[j]!));
    for (let j = 0; j < nRec; j++) if (zn[j]) for (let kk = 0; kk < nOut; kk++) B[j]![kk] = r(B[j]![kk]! - r(c * this.r_[kk]!));
    for (let j = 0; j < nRec; j++) {
      this.q[j] = r(r(k.lambda * this.q[j]!) + zn[j]!);
      this.bL[j] = r(this.bL[j]! + r(k.etaH * r(k.rhoTarget - zn[j]!)));
      this.lowerSpikes += zn[j]!;
    }
    for (let kk = 0; kk < nOut; kk++) {
      this.r_[kk] = r(r(k.lambda * this.r_[kk]!) + yn[kk]!);
      this.bU[kk] = r(this.bU[kk]! + r(k.etaH * r(k.rhoTarget - yn[kk]!)));
      this.upperSpikes += yn[kk]!;
    }
    this.z = zn;
    this.y = yn;
  }

  run(n: number): void {
    for (let i = 0; i < n; i++) this.step();
  }
}

/** Angle in degrees between vec(B) and vec(wOut^T) (MODEL.md: arccos of their cosine). */
export function alignmentAngleDeg(B: Matrix, wOut: Matrix): number {
  const cos = Math.max(-1, Math.min(1, cosine(B.flat(), transpose(wOut).flat())));
  return (Math.acos(cos) * 180) / Math.PI;
}

/** Thresholds theta * (1 + jitter * (2U - 1)) per neuron (MODEL.md: "varied by ±20 %"). */
export function jitteredThresholds(n: number, theta: number, jitter: number, rng: Pcg32): number[] {
  return Array.from({ length: n }, () => theta * (1 + jitter * (2 * rng.uniform() - 1)));
}
