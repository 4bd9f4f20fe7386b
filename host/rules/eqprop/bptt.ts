// `--rule bptt` on an EqProp case (EQPROP.md, optional self-check): the exact gradient of `loss`
// (C at the end of the free phase) through the `freeSteps` steps of the relaxation, by
// backpropagation through time. One step is s' = clip(u), u_k = (1 - eps) s_k + eps rho'(s_k) h_k;
// rho' and the clip's slope are 1 on the closed interval [0, 1], as the spec's rho'. On a
// converged case it meets the exact fixed-point gradient; on a short one it is what the
// relaxation really computes.
import type { GradOutput } from "../rule.ts";
import { drives, inputDrive, rho, rhoPrime, step, zeroState, cost, type State } from "./dynamics.ts";
import { scaleGrads, zeroGrads } from "./reference.ts";
import type { EqpropCase, EqpropParams } from "./schema.ts";

export interface BpttOutput extends GradOutput {
  loss: number;
  grads: EqpropParams;
}

/** Adds d loss / d theta of one sample's free phase into g; returns its loss. */
function sampleBptt(p: EqpropParams, x: readonly number[], y: readonly number[], epsilon: number, steps: number, g: EqpropParams): number {
  const layers = [x.length, ...p.b.map((v) => v.length)];
  const L = layers.length - 1;
  const drive0 = inputDrive(p, x);
  const states: State[] = [zeroState(layers)];
  for (let t = 0; t < steps; t++) states.push(step(p, drive0, states[t]!, 0, y, epsilon));
  const last = states[steps]!;
  // adjoint of the final state: dC/ds_L = s_L - y
  let a: number[][] = last.map((v, k) => (k === L - 1 ? v.map((s, i) => s - y[i]!) : v.map(() => 0)));
  const rx = x.map(rho);
  for (let t = steps - 1; t >= 0; t--) {
    const s = states[t]!;
    const h = drives(p, drive0, s);
    // q_k = dC/du_k * eps rho'(s_k), with dC/du_k = a_k * clip'(u_k)
    const dU = s.map((v, k) => v.map((sv, i) => {
      const u = sv - epsilon * (sv - rhoPrime(sv) * h[k]![i]!);
      return u >= 0 && u <= 1 ? a[k]![i]! : 0;
    }));
    const q = dU.map((v, k) => v.map((d, i) => d * epsilon * rhoPrime(s[k]![i]!)));
    const r = [rx, ...s.map((v) => v.map(rho))];
    // parameters: h_{l+1} has W[l] rho(s_l) + b[l]; h_l (l >= 1) has W[l]^T rho(s_{l+1})
    g.W.forEach((w, l) =>
      w.forEach((row, i) => {
        for (let j = 0; j < row.length; j++) row[j]! += q[l]![i]! * r[l]![j]! + (l >= 1 ? r[l + 1]![i]! * q[l - 1]![j]! : 0);
        g.b[l]![i]! += q[l]![i]!;
      }),
    );
    // states: (1 - eps) directly, and through the neighbours' drives times rho'(s_k)
    a = s.map((v, k) =>
      v.map((sv, j) => {
        let back = 0;
        if (k + 1 < L) p.W[k + 1]!.forEach((row, i) => (back += row[j]! * q[k + 1]![i]!)); // s_k feeds h_{k+1} bottom-up
        if (k >= 1) p.W[k]![j]!.forEach((w, i) => (back += w * q[k - 1]![i]!)); // s_k feeds h_{k-1} top-down
        return (1 - epsilon) * dU[k]![j]! + rhoPrime(sv) * back;
      }),
    );
  }
  return cost(last, y);
}

/** `edgeprop grad CASE --rule bptt` on an EqProp case. */
export function eqpropBptt(c: EqpropCase): BpttOutput {
  const { model: m, params: p } = c;
  const g = zeroGrads(m.layers);
  let loss = 0;
  c.inputs.forEach((x, n) => (loss += sampleBptt(p, x, c.targets[n]!, m.epsilon, m.freeSteps, g)));
  if (m.lossReduction === "mean") {
    loss /= c.inputs.length;
    scaleGrads(g, 1 / c.inputs.length);
  }
  return { loss, grads: g };
}
