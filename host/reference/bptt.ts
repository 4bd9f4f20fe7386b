// BPTT: the exact gradient of E (task loss + rate regulariser) under MODEL.md's conventions,
// by a hand-derived backward pass over the stored trajectory. Adjoints (d = dE/d·, total):
//   dy_k^t = err_k^t + kappa*dy_k^{t+1}
//   dz_j^t = s*sum_k wOut[k][j]*dy_k^t + reg_j + zeta*sum_{l!=j} wRec[l][j]*dv_l^{t+1} + da_j^{t+1}
//   dv_j^t = psi_j^t*dz_j^t + alpha*dv_j^{t+1}            (the reset is sg(): no path back)
//   da_j^t = -beta_j*psi_j^t*dz_j^t + rho*da_j^{t+1}
// and dW accumulates each weight's local input times the adjoint of what it drives.
import { zeros } from "../model/matrix.ts";
import { decays } from "../model/decay.ts";
import type { Case, GradResult } from "../model/types.ts";
import { simulate, type SimulateOptions } from "./simulate.ts";

export function bpttGrad(c: Case, opts: SimulateOptions = {}): GradResult {
  const { model: m, params: p } = c;
  const { alpha, rho, kappa, zeta, s } = decays(m);
  const tr = simulate(c, opts);
  const T = c.inputs.length;
  const { nIn, nRec, nOut } = m;
  const g = { wIn: zeros(nRec, nIn), wRec: zeros(nRec, nRec), wOut: zeros(nOut, nRec), bOut: new Array<number>(nOut).fill(0) };

  let dyNext = new Array<number>(nOut).fill(0);
  let dvNext = new Array<number>(nRec).fill(0);
  let daNext = new Array<number>(nRec).fill(0);
  for (let t = T - 1; t >= 0; t--) {
    const z = tr.z[t]!;
    const zPrev = t > 0 ? tr.z[t - 1]! : new Array<number>(nRec).fill(0);
    const psi = tr.psi[t]!;
    const dy = tr.err[t]!.map((e, k) => e + kappa * dyNext[k]!);
    const dv = new Array<number>(nRec);
    const da = new Array<number>(nRec);
    for (let j = 0; j < nRec; j++) {
      let dz = tr.reg[j]! + daNext[j]!;
      for (let k = 0; k < nOut; k++) dz += s * p.wOut[k]![j]! * dy[k]!;
      for (let l = 0; l < nRec; l++) if (l !== j) dz += zeta * p.wRec[l]![j]! * dvNext[l]!;
      dv[j] = psi[j]! * dz + alpha * dvNext[j]!;
      da[j] = -m.beta[j]! * psi[j]! * dz + rho * daNext[j]!;
    }
    const x = c.inputs[t]!;
    for (let j = 0; j < nRec; j++) {
      const dvj = zeta * dv[j]!;
      if (dvj === 0) continue;
      const gIn = g.wIn[j]!;
      for (let i = 0; i < nIn; i++) gIn[i]! += dvj * x[i]!;
      const gRec = g.wRec[j]!;
      for (let i = 0; i < nRec; i++) if (i !== j) gRec[i]! += dvj * zPrev[i]!;
    }
    for (let k = 0; k < nOut; k++) {
      const gOut = g.wOut[k]!;
      for (let j = 0; j < nRec; j++) gOut[j]! += s * dy[k]! * z[j]!;
      if (m.trainBias) g.bOut[k]! += s * dy[k]!;
    }
    dyNext = dy;
    dvNext = dv;
    daNext = da;
  }
  return { loss: tr.loss, grads: g };
}
