// Independent check of BPTT: central finite differences of the objective on a smooth variant
// of the model (sigmoid spikes, psi = their true derivative) computed by the same forward code.
// The stop-gradient terms (reset, refractory hold) are frozen at the unperturbed run, which is
// exactly what sg() means, so the two derivatives must agree to FD accuracy.
import type { Case, Grads } from "../model/types.ts";
import { bpttGrad } from "./bptt.ts";
import { simulate } from "./simulate.ts";
import { sigmoidSpike } from "../model/spike.ts";

export interface FdComparison {
  weight: keyof Grads;
  index: [number, number];
  bptt: number;
  fd: number;
}

export function fdCheck(c: Case, probes: Array<[keyof Grads, number, number]>, width = 0.3, h = 1e-6): FdComparison[] {
  const spike = sigmoidSpike(width);
  const nominal = simulate(c, { spike });
  const frozen = { resetZ: [new Array<number>(c.model.nRec).fill(0), ...nominal.z.slice(0, -1)], refractory: nominal.refractory };
  const objective = (cc: Case) => {
    const tr = simulate(cc, { spike, frozen });
    return tr.loss + tr.lossReg;
  };
  const g = bpttGrad(c, { spike, frozen }).grads;
  return probes.map(([weight, r, col]) => {
    const at = (delta: number) => {
      const cc: Case = structuredClone(c);
      if (weight === "bOut") cc.params.bOut[col]! += delta;
      else cc.params[weight][r]![col]! += delta;
      return objective(cc);
    };
    const fd = (at(h) - at(-h)) / (2 * h);
    const bptt = weight === "bOut" ? g.bOut[col]! : g[weight][r]![col]!;
    return { weight, index: [r, col], bptt, fd };
  });
}
