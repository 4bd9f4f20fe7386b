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
//
// B changes only in step 4, from spike timing (the traces q, r) and eta_t: wOut enters only the
// upper layer's drive (step 3) and the gains. tests/sal-train.test.ts replays B from recorded
// spike trains alone to show it.
import type { Matrix } from "../model/types.ts";
import { Pcg32 } from "../rng/pcg32.ts";

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

export type Precision = "f64" | "f32";

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
  precision?: Precision;
}

/** The constants both implementations derive from the parameters (the device gets them rounded to float32). */
export interface SalConstants {
  alpha: number;
  kappa: number;
  lambda: number;
  delta: number;
  /** wRms (training: the gains follow wOut at every phase; 0 when the gains are fixed). */
  wRms: number;
  gF: number;
  gB: number;
  rhoTarget: number;
  etaH: number;
  eta0: number;
  Ta: number;
}

/** Decays and rates of the parameters; gains from `wOut` (standalone alignment) or 0 until gains() (training). */
export function salConstants(wOut: Matrix | null, params: Partial<SalParams> = {}): SalConstants {
  const p = { ...SAL_DEFAULTS, ...params };
  const gF = wOut ? p.wRms / Math.sqrt(wOut.flat().reduce((s, w) => s + w * w, 0) / wOut.flat().length) : 0;
  return {
    alpha: Math.exp(-p.dt / p.tauMem),
    kappa: Math.exp(-p.dt / p.tauOut),
    lambda: Math.exp(-p.dt / p.tauStdp),
    delta: p.delta,
    wRms: wOut ? 0 : p.wRms,
    gF,
    gB: gF,
    rhoTarget: p.rhoTarget,
    etaH: p.etaH,
    eta0: p.eta0,
    Ta: p.Ta,
  };
}

/**
 * What a SAL stream holds between steps besides B and wOut: a training checkpoint's `sal`
 * record, and the device's SAL fields of the arena (host/rules/eprop/sal-blob.ts).
 */
export interface SalVectors {
  v: number[];
  z: number[];
  q: number[];
  bL: number[];
  thL: number[];
  u: number[];
  y: number[];
  r: number[];
  bU: number[];
  thU: number[];
  /** [gF, gB]: the gains of the current phase. */
  gains: number[];
  /** u32 words: [t, lower spikes, upper spikes, PCG32 state hi, state lo, inc hi, inc lo, ready (1)]. */
  counters: number[];
}

export const SAL_COUNTERS = 8;

/** How training draws its start from the stream (device/kernels/sal.ts salDraw). */
export interface SalDraw {
  theta: number;
  jitter: number;
  bScale: number;
}

// Escape-noise probability: float64 sigmoid of the (float32, in "f32" mode) argument, as on the device.
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const id = (x: number) => x;
const SQRT3 = 1.7320508075688772;

export class SalStream {
  /** The feedback matrix [nRec][nOut] (in "f32" mode every entry a float32). */
  B: Matrix;
  readonly k: SalConstants;
  readonly nRec: number;
  readonly nOut: number;
  v: number[];
  u: number[];
  z: number[];
  y: number[];
  q: number[];
  /** Upper-layer traces (r of MODEL.md). */
  r_: number[];
  bL: number[];
  bU: number[];
  t = 0;
  lowerSpikes = 0;
  upperSpikes = 0;
  /** Called after every step with its spikes (tests record spike trains with it). */
  onStep?: (z: readonly number[], y: readonly number[]) => void;
  private readonly rng: Pcg32;
  private readonly r: (x: number) => number;
  private wOut: Matrix;
  private readonly thL: number[];
  private readonly thU: number[];

  /** Standalone alignment: B and thresholds given, gains from setup.wOut (rounded to float32 in "f32" mode). */
  constructor(setup: SalSetup);
  constructor(setup: SalSetup, rng: Pcg32, k: SalConstants, vectors?: SalVectors);
  constructor(setup: SalSetup, rng?: Pcg32, k?: SalConstants, vectors?: SalVectors) {
    const r = (this.r = setup.precision === "f32" ? Math.fround : id);
    this.B = setup.B.map((row) => row.map(r));
    this.wOut = setup.wOut.map((row) => row.map(r));
    this.thL = setup.thLower.map(r);
    this.thU = setup.thUpper.map(r);
    this.nRec = setup.B.length;
    this.nOut = setup.wOut.length;
    const k0 = k ?? salConstants(setup.wOut, setup.params);
    this.k = Object.fromEntries(Object.entries(k0).map(([n, x]) => [n, r(x)])) as unknown as SalConstants;
    this.rng = rng ?? new Pcg32(setup.seed.state, setup.seed.seq);
    if (vectors) {
      this.v = vectors.v.map(r);
      this.z = vectors.z.slice();
      this.q = vectors.q.map(r);
      this.bL = vectors.bL.map(r);
      this.u = vectors.u.map(r);
      this.y = vectors.y.slice();
      this.r_ = vectors.r.map(r);
      this.bU = vectors.bU.map(r);
      [this.k.gF, this.k.gB] = vectors.gains.map(r) as [number, number];
      [this.t, this.lowerSpikes, this.upperSpikes] = vectors.counters as [number, number, number];
      return;
    }
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

  /**
   * Training's start, drawn as the device's salDraw does: seed(seed, seq), thresholds
   * theta (1 + jitter (2U - 1)) for the nRec lower then the nOut upper units, then B[j][k] =
   * bScale sqrt(3) (2U - 1) row-major; then salInit. Gains stay 0 until gains().
   */
  static draw(o: { nRec: number; nOut: number; seed: number; seq: number; draw: SalDraw; params: Partial<SalParams>; precision: Precision }): SalStream {
    const rng = new Pcg32(o.seed, o.seq);
    const r = o.precision === "f32" ? Math.fround : id;
    const th = () => r(o.draw.theta * (1 + o.draw.jitter * (2 * rng.uniform() - 1)));
    const thLower = Array.from({ length: o.nRec }, th);
    const thUpper = Array.from({ length: o.nOut }, th);
    const a = o.draw.bScale * SQRT3;
    const B = Array.from({ length: o.nRec }, () => Array.from({ length: o.nOut }, () => r(a * (2 * rng.uniform() - 1))));
    const wOut = Array.from({ length: o.nOut }, () => new Array<number>(o.nRec).fill(0));
    return new SalStream({ wOut, B, thLower, thUpper, seed: { state: 0, seq: 0 }, precision: o.precision }, rng, salConstants(null, o.params));
  }

  /** A stream continuing from a snapshot() (with its B and the current wOut). */
  static resume(o: { B: Matrix; wOut: Matrix; params: Partial<SalParams>; precision: Precision }, s: SalVectors): SalStream {
    const setup: SalSetup = { wOut: o.wOut, B: o.B, thLower: s.thL, thUpper: s.thU, seed: { state: 0, seq: 0 }, precision: o.precision };
    return new SalStream(setup, Pcg32.fromWords(s.counters.slice(3, 7)), salConstants(null, o.params), s);
  }

  /** Everything but B and wOut, as the device's arena holds it. */
  snapshot(): SalVectors {
    return {
      v: this.v.slice(), z: this.z.slice(), q: this.q.slice(), bL: this.bL.slice(), thL: this.thL.slice(),
      u: this.u.slice(), y: this.y.slice(), r: this.r_.slice(), bU: this.bU.slice(), thU: this.thU.slice(),
      gains: [this.k.gF, this.k.gB],
      counters: [this.t >>> 0, this.lowerSpikes >>> 0, this.upperSpikes >>> 0, ...this.rng.words(), 1],
    };
  }

  /** The forward weights the upper layer is driven by (training: the current wOut, before each phase). */
  setForward(wOut: Matrix): void {
    this.wOut = wOut.map((row) => row.map(this.r));
  }

  /** gF = gB = wRms / rms(wOut) (device salGains: sum of squares in float64, k then j); 0 if wOut is 0. Returns gF. */
  gains(): number {
    let ss = 0;
    for (const row of this.wOut) for (const w of row) ss += w * w;
    const rms = Math.sqrt(ss / (this.nOut * this.nRec));
    const g = rms > 0 ? this.r(this.k.wRms / rms) : 0;
    this.k.gF = g;
    this.k.gB = g;
    return g;
  }

  /** Restarts the eta schedule (t = 0). */
  restart(): void {
    this.t = 0;
  }

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
    this.onStep?.(zn, yn);
  }

  run(n: number): void {
    for (let i = 0; i < n; i++) this.step();
  }
}

/** Angle in degrees between vec(B) and vec(wOut^T) (MODEL.md: arccos of their cosine). */
export function alignmentAngleDeg(B: Matrix, wOut: Matrix): number {
  return angleOfCos(feedbackCos(B, wOut));
}

/**
 * Cosine between vec(B) and vec(wOut^T), summed in float64 over k then j as the device's salCos
 * does (so a board's reported angle and the host's agree to the bit); 0 if either is all zero.
 */
export function feedbackCos(B: Matrix, wOut: Matrix): number {
  let bw = 0, bb = 0, ww = 0;
  wOut.forEach((row, k) =>
    row.forEach((w, j) => {
      const b = B[j]![k]!;
      bw += b * w;
      bb += b * b;
      ww += w * w;
    }),
  );
  return bb > 0 && ww > 0 ? bw / Math.sqrt(bb * ww) : 0;
}

/** Degrees of a cosine (clamped to [-1, 1]). */
export function angleOfCos(cos: number): number {
  return (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI;
}

/** Thresholds theta * (1 + jitter * (2U - 1)) per neuron (MODEL.md: "varied by ±20 %"). */
export function jitteredThresholds(n: number, theta: number, jitter: number, rng: Pcg32): number[] {
  return Array.from({ length: n }, () => theta * (1 + jitter * (2 * rng.uniform() - 1)));
}
