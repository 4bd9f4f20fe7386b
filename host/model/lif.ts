// MODEL.md's recurrent layer (LIF, and ALIF where beta_j > 0), one time step: a parameter
// record, a state record and a pure step function — the shape of Norse's lif_step. The float64
// forward pass (host/reference/simulate.ts) and online e-prop (host/reference/eprop.ts) both
// step through this one function, so they cannot disagree on a spike, a reset or a refractory
// hold. The device kernel (device/kernels/eprop.ts) is the float32 copy; tests/lif-step.test.ts
// ties the three to a hand-computed trajectory.
import { decays } from "./decay.ts";
import { heaviside, type SpikeFn } from "./spike.ts";
import type { Matrix, ModelConfig } from "./types.ts";

export interface LifParameters {
  alpha: number; // membrane decay
  rho: number; // adaptation decay
  zeta: number; // synaptic input scale (1, or 1 - alpha)
  vTh: number;
  gamma: number; // surrogate height
  /** Adaptation strength per neuron (0 = LIF). */
  beta: readonly number[];
  /** Steps after a spike in which z = 0 and psi = 0 while v keeps integrating. */
  refractory: number;
  spike: SpikeFn;
}

/** Everything a neuron carries from step t-1 to step t. */
export interface LifState {
  v: number[];
  a: number[];
  z: number[];
  /** Refractory steps still to hold, per neuron. */
  hold: number[];
}

/** Values for the stop-gradient terms instead of the run's own (finite differences freeze them). */
export interface LifFrozen {
  resetZ: readonly number[];
  held: readonly boolean[];
}

export interface LifStep {
  state: LifState;
  /** v - A, the spike decision variable. */
  u: number[];
  psi: number[];
  /** Whether the neuron was held by its refractory period at this step. */
  held: boolean[];
}

export function lifParameters(m: ModelConfig, spike: SpikeFn = heaviside): LifParameters {
  const { alpha, rho, zeta } = decays(m);
  return { alpha, rho, zeta, vTh: m.vTh, gamma: m.gamma, beta: m.beta, refractory: m.refractory, spike };
}

/** MODEL.md: all state is zero before the first step. */
export function lifInitialState(n: number): LifState {
  const zero = () => new Array<number>(n).fill(0);
  return { v: zero(), a: zero(), z: zero(), hold: zero() };
}

/**
 * Step t from state t-1 and input x^t:
 *   v^t = alpha v^{t-1} + zeta (sum_i wIn[j][i] x_i^t + sum_{i != j} wRec[j][i] z_i^{t-1}) - vTh sg(z_j^{t-1})
 *   a^t = rho a^{t-1} + z^{t-1};  u^t = v^t - (vTh + beta a^t)
 *   held (hold > 0): z^t = 0, psi^t = 0, one hold step used up;
 *   else z^t = spike(u^t), psi^t = surrogate(u^t), and a spike decision (u^t > 0) starts a hold
 *   of `refractory` steps: steps t+1 .. t+refractory are held (MODEL.md "refractory steps after
 *   a spike"), the step of the spike itself is not.
 */
export function lifStep(p: LifParameters, s: LifState, x: readonly number[], wIn: Matrix, wRec: Matrix, frozen?: LifFrozen): LifStep {
  const n = s.v.length;
  const state: LifState = { v: new Array<number>(n), a: new Array<number>(n), z: new Array<number>(n), hold: new Array<number>(n) };
  const u = new Array<number>(n);
  const psi = new Array<number>(n);
  const held = new Array<boolean>(n);
  const resetZ = frozen ? frozen.resetZ : s.z;
  for (let j = 0; j < n; j++) {
    let current = 0;
    const rowIn = wIn[j]!;
    for (let i = 0; i < x.length; i++) current += rowIn[i]! * x[i]!;
    const rowRec = wRec[j]!;
    for (let i = 0; i < n; i++) if (i !== j) current += rowRec[i]! * s.z[i]!;
    const v = p.alpha * s.v[j]! + p.zeta * current - p.vTh * resetZ[j]!;
    const a = p.rho * s.a[j]! + s.z[j]!;
    const uj = v - (p.vTh + p.beta[j]! * a);
    state.v[j] = v;
    state.a[j] = a;
    u[j] = uj;
    held[j] = frozen ? frozen.held[j]! : s.hold[j]! > 0;
    if (held[j]) {
      state.z[j] = 0;
      psi[j] = 0;
      state.hold[j] = Math.max(0, s.hold[j]! - 1);
    } else {
      state.z[j] = p.spike.z(uj, p.vTh);
      psi[j] = p.spike.psi(uj, p.vTh, p.gamma);
      state.hold[j] = uj > 0 ? p.refractory : 0;
    }
  }
  return { state, u, psi, held };
}
