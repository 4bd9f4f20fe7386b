// Comparisons shared by the equivalence suites.
import type { Grads } from "../../host/model/types.ts";

export const GRAD_KEYS = ["wIn", "wRec", "wOut", "bOut"] as const;

export function flat(g: Grads, key: (typeof GRAD_KEYS)[number]): number[] {
  return key === "bOut" ? g.bOut : g[key].flat();
}

/** max |a - b| / max |b| (0 when both are all zero). */
export function maxRelErr(a: number[], b: number[]): number {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => {
    num = Math.max(num, Math.abs(x - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  });
  return den === 0 ? num : num / den;
}

export function cosine(a: number[], b: number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((x, i) => {
    ab += x * b[i]!;
    aa += x * x;
    bb += b[i]! * b[i]!;
  });
  return ab / Math.sqrt(aa * bb);
}
