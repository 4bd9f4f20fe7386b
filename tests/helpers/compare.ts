// Comparisons shared by the equivalence suites.
import type { Grads } from "../../host/model/types.ts";
export { cosine, maxRelErr } from "../../host/model/compare.ts";

export const GRAD_KEYS = ["wIn", "wRec", "wOut", "bOut"] as const;

export function flat(g: Grads, key: (typeof GRAD_KEYS)[number]): number[] {
  return key === "bOut" ? g.bOut : g[key].flat();
}
