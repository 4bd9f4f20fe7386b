// Random stimulus for the bit-exactness checks (`edgeprop hdl sim`, tests/fpga-*.test.ts):
// weights across the signed range, Bernoulli input spikes, learning signals across the range.
import { Pcg32 } from "../host/rng/pcg32.ts";
import type { Derived } from "./config.ts";
import type { Stimulus } from "./golden.ts";

export interface RandomStimulusOptions {
  steps: number;
  seed: number;
  /** Probability of an input spike per step. */
  rate?: number;
  learn?: boolean;
  commit?: boolean;
}

export function randomStimulus(d: Derived, o: RandomStimulusOptions): Stimulus {
  const c = d.cfg;
  const rng = new Pcg32(o.seed, 0xf9a);
  const rate = o.rate ?? 0.3;
  // weights mostly around +-vTh/4 with a positive bias, so neurons spike and saturation is hit
  const wMax = 2 ** (c.weightBits - 1);
  const wScale = Math.min(wMax - 1, d.vThInt / 2);
  const w = Array.from({ length: d.nSyn }, () => {
    const u = rng.uniform();
    if (u < 0.02) return u < 0.01 ? wMax - 1 : -wMax; // extremes exercise saturation
    return Math.max(-wMax, Math.min(wMax - 1, Math.round((rng.uniform() - 0.4) * wScale)));
  });
  const x = Array.from({ length: o.steps }, () => Array.from({ length: c.nIn }, () => (rng.uniform() < rate ? 1 : 0)));
  const lMax = 2 ** (c.learnBits - 1);
  const l = o.learn === false ? null : Array.from({ length: o.steps }, () => Array.from({ length: c.nRec }, () => Math.min(lMax - 1, Math.floor((rng.uniform() * 2 - 1) * lMax))));
  return { w, x, l, commit: o.commit ?? true };
}

/** First difference between two simulation outputs, or null when bit-identical. */
export function firstDifference(a: Record<string, unknown>, b: Record<string, unknown>, keys: string[]): string | null {
  for (const k of keys) {
    const x = JSON.stringify(a[k]);
    const y = JSON.stringify(b[k]);
    if (x !== y) {
      let p = 0;
      while (p < x.length && x[p] === y[p]) p++;
      return `${k} differs near …${x.slice(Math.max(0, p - 40), p + 40)} vs …${y.slice(Math.max(0, p - 40), p + 40)}`;
    }
  }
  return null;
}
