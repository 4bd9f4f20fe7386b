// The host half of the FPGA flow: the core streams spikes z^t out; the host runs the leaky
// readout, the loss and the learning signals L_j^t = sum_k B[j][k] err_k^t (MODEL.md "Readout
// and loss"), and the exact wOut / bOut gradients, in float64.
import { decays, lossNormaliser } from "../host/model/decay.ts";
import type { Case, Matrix } from "../host/model/types.ts";
import { softmax } from "../host/reference/simulate.ts";

export interface ReadoutResult {
  loss: number;
  /** Learning signals [T][nRec] (already divided by the loss normaliser). */
  L: Matrix;
  gWOut: Matrix;
  gBOut: number[];
}

export function readout(c: Case, z: Matrix): ReadoutResult {
  const m = c.model;
  const { kappa, s } = decays(m);
  const norm = lossNormaliser(m, c.mask);
  const { nRec, nOut } = m;
  const B = c.feedback.B;
  const y = new Array<number>(nOut).fill(0);
  const zk = new Array<number>(nRec).fill(0);
  let ok = 0;
  let loss = 0;
  const L: Matrix = [];
  const gWOut: Matrix = Array.from({ length: nOut }, () => new Array<number>(nRec).fill(0));
  const gBOut = new Array<number>(nOut).fill(0);
  for (let t = 0; t < z.length; t++) {
    const zt = z[t]!;
    for (let k = 0; k < nOut; k++) {
      let acc = c.params.bOut[k]!;
      for (let j = 0; j < nRec; j++) acc += c.params.wOut[k]![j]! * zt[j]!;
      y[k] = kappa * y[k]! + s * acc;
    }
    for (let j = 0; j < nRec; j++) zk[j] = kappa * zk[j]! + s * zt[j]!;
    ok = kappa * ok + s;
    const target = c.targets[t]!;
    const mask = c.mask[t]!;
    let err: number[];
    if (m.loss === "mse") {
      err = y.map((yk, k) => yk - target[k]!);
      loss += 0.5 * err.reduce((a, e) => a + e * e, 0);
    } else {
      const p = softmax(y);
      if (mask) loss -= target.reduce((a, tk, k) => a + (tk ? tk * Math.log(p[k]!) : 0), 0);
      err = p.map((pk, k) => mask * (pk - target[k]!));
    }
    err = err.map((e) => e / norm);
    L.push(Array.from({ length: nRec }, (_, j) => B[j]!.reduce((a, b, k) => a + b * err[k]!, 0)));
    for (let k = 0; k < nOut; k++) {
      for (let j = 0; j < nRec; j++) gWOut[k]![j]! += err[k]! * zk[j]!;
      if (m.trainBias) gBOut[k]! += err[k]! * ok;
    }
  }
  return { loss: loss / norm, L, gWOut, gBOut };
}
