// Which parameters a run trains, as flat arrays the optimizer can update in place.
import type { Grads, Params } from "../model/types.ts";
import { TRAINABLE, type RunSpec, type Trainable } from "./run-config.ts";

/** The weights that wMin/wMax clip; the bias is not a weight. */
const CLIPPED: ReadonlySet<string> = new Set(["wIn", "wRec", "wOut"]);

export function trainedNames(spec: RunSpec): Trainable[] {
  return TRAINABLE.filter((n) => !spec.freeze.includes(n) && !(n === "bOut" && !spec.base.model.trainBias));
}

export function trainedArrays(spec: RunSpec, params: Params, grads: Grads) {
  const names = trainedNames(spec);
  const flat = (x: number[] | number[][]) => (Array.isArray(x[0]) ? (x as number[][]).flat() : (x as number[]).slice());
  const arrays: Record<string, number[]> = {};
  const gradArrays: Record<string, number[]> = {};
  for (const n of names) {
    arrays[n] = flat(params[n]);
    gradArrays[n] = flat(grads[n]);
  }
  const writeBack = () => {
    for (const n of names) {
      const src = arrays[n]!;
      if (n === "bOut") params.bOut = src;
      else {
        const cols = params[n][0]!.length;
        params[n] = params[n].map((_, r) => src.slice(r * cols, (r + 1) * cols));
      }
    }
    // MODEL.md: wRec has no self-connections, whatever clipping did.
    params.wRec.forEach((row, j) => (row[j] = 0));
  };
  return { arrays, gradArrays, clip: CLIPPED, writeBack };
}
