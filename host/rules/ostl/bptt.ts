// BPTT of a layer stack (OSTL.md "BPTT": the exact gradient of E for the case's resetGrad),
// by a backward pass over the stored trajectory. Adjoints (d = dE/d·, total), r = resetGrad ? 1 : 0:
//   dy^t      = err^t + kappa dy^{t+1}
//   dz^{l,t}  = [l = L] wOut^T dy^t + [l < L] W^{l+1 T} dv^{l+1,t} - r vTh dv^{l,t+1} + da^{l,t+1}
//   dv^{l,t}  = psi^{l,t} dz^{l,t} + alpha dv^{l,t+1}
//   da^{l,t}  = -beta psi^{l,t} dz^{l,t} + rho da^{l,t+1}
//   grad W^l += dv^{l,t} z^{l-1,t T}, grad b^l += dv^{l,t}; grad wOut += dy^t z^{L,t T}, grad bOut += dy^t.
import { zeros } from "../../model/matrix.ts";
import type { OstlCase } from "./schema.ts";
import type { OstlResult } from "./reference.ts";
import { runStack, stackConsts } from "./stack.ts";

export function stackBpttGrad(c: OstlCase): OstlResult {
  const { model: m, params: p } = c;
  const k = stackConsts(m, c.mask);
  const tr = runStack(c);
  const L = m.layers.length;
  const T = c.inputs.length;
  const r = m.resetGrad ? 1 : 0;
  const nTop = m.layers[L - 1]!.n;
  const g = {
    layers: m.layers.map((layer, l) => ({ w: zeros(layer.n, l === 0 ? m.nIn : m.layers[l - 1]!.n), b: new Array<number>(layer.n).fill(0) })),
    wOut: zeros(m.nOut, nTop),
    bOut: new Array<number>(m.nOut).fill(0),
  };
  let dy = new Array<number>(m.nOut).fill(0);
  let dvNext = m.layers.map((l) => new Array<number>(l.n).fill(0));
  let daNext = m.layers.map((l) => new Array<number>(l.n).fill(0));
  for (let t = T - 1; t >= 0; t--) {
    dy = tr.err[t]!.map((e, o) => e + k.kappa * dy[o]!);
    const zTop = tr.layers[L - 1]![t]!.z;
    dy.forEach((d, o) => {
      for (let j = 0; j < nTop; j++) g.wOut[o]![j]! += d * zTop[j]!;
      if (m.trainBias) g.bOut[o]! += d;
    });
    const dv: number[][] = new Array(L);
    const da: number[][] = new Array(L);
    for (let l = L - 1; l >= 0; l--) {
      const kl = k.layers[l]!;
      const n = m.layers[l]!.n;
      const psi = tr.layers[l]![t]!.psi;
      dv[l] = new Array<number>(n);
      da[l] = new Array<number>(n);
      for (let j = 0; j < n; j++) {
        let dz = -r * kl.vTh * dvNext[l]![j]! + daNext[l]![j]!;
        if (l === L - 1) for (let o = 0; o < m.nOut; o++) dz += p.wOut[o]![j]! * dy[o]!;
        else {
          const wUp = p.layers[l + 1]!.w;
          const dvUp = dv[l + 1]!;
          for (let q = 0; q < dvUp.length; q++) dz += wUp[q]![j]! * dvUp[q]!;
        }
        dv[l]![j] = psi[j]! * dz + kl.alpha * dvNext[l]![j]!;
        da[l]![j] = -kl.beta[j]! * psi[j]! * dz + kl.rho * daNext[l]![j]!;
      }
      const pre = l === 0 ? c.inputs[t]! : tr.layers[l - 1]![t]!.z;
      const gl = g.layers[l]!;
      dv[l]!.forEach((d, j) => {
        if (d === 0) return;
        const row = gl.w[j]!;
        for (let i = 0; i < pre.length; i++) row[i]! += d * pre[i]!;
        gl.b[j]! += d;
      });
    }
    dvNext = dv;
    daNext = da;
  }
  return { loss: tr.loss, grads: g };
}
