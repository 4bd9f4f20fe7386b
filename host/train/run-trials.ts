// The trials of a run config (MODEL.md's training loop): `trials` ({inputs, targets, mask},
// non-empty, cycled: iteration n runs trial (n-1) mod their number), or else the case's own
// data as the one trial. A config with `trials` and no `inputs` takes its first trial's data as
// the case's, so the case validator sees a complete case. Shared by every rule whose run
// config is a case body (recurrent cases, layer stacks).
import { InputError } from "../input/errors.ts";
import { obj, type Json } from "../input/fields.ts";
import type { Trial } from "../tasks/task.ts";

export function caseAndTrials<C extends Trial>(
  r: Record<string, Json>,
  parseBase: (body: Record<string, Json>) => C,
  parseTrial: (x: Json, field: string, base: C) => Trial,
): { base: C; trials: Trial[] } {
  const body: Record<string, Json> = { format: "hil-case/1", ...r };
  let raw: Json[] | null = null;
  if (r.trials !== undefined) {
    if (!Array.isArray(r.trials) || r.trials.length === 0) throw new InputError("trials", "expected a non-empty array of {inputs, targets, mask}");
    raw = r.trials;
    if (r.inputs === undefined) Object.assign(body, obj(r.trials[0], "trials[0]"));
  }
  const base = parseBase(body);
  const trials = raw ? raw.map((t, i) => parseTrial(t, `trials[${i}]`, base)) : [{ inputs: base.inputs, targets: base.targets, mask: base.mask }];
  return { base, trials };
}
