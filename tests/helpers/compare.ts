// Comparisons shared by the equivalence suites.
import type { Grads, Params } from "../../host/model/types.ts";
export { cosine, maxRelErr } from "../../host/model/compare.ts";

export const GRAD_KEYS = ["wIn", "wRec", "wOut", "bOut"] as const;

/** One gradient (or parameter: same shapes) as a flat array. */
export function flat(g: Grads | Params, key: (typeof GRAD_KEYS)[number]): number[] {
  return key === "bOut" ? g.bOut : g[key].flat();
}
