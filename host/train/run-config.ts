// A training run (`edgeprop train --config run.json`): a hil-case/1 body plus `rule`,
// `optimizer`, `iterations` and optionally `trials` and `freeze`, as MODEL.md's training loop
// defines them. Iteration n (1-based) runs trial (n-1) mod trials.length.
import { InputError } from "../input/errors.ts";
import { choice, intIn, obj, readJsonFile, type Json } from "../input/fields.ts";
import { parseCase, warnUnknownFields } from "../case/parse.ts";
import type { Case, Rule } from "../model/types.ts";
import type { Trial } from "../tasks/task.ts";
import { parseOptimizer, unknownOptimizerFields, type OptimizerConfig } from "./optimizer.ts";

export const TRAINABLE = ["wIn", "wRec", "wOut", "bOut"] as const;
export type Trainable = (typeof TRAINABLE)[number];

export interface RunSpec {
  name: string;
  /** Model, initial parameters and feedback; its inputs are trial 0's. */
  base: Case;
  rule: Rule;
  optimizer: OptimizerConfig;
  iterations: number;
  /** Trial for iteration n (1-based): MODEL.md's list cycles; tasks generate them on demand. */
  trial(n: number): Trial;
  /** Parameters held fixed (wIn/wRec/wOut/bOut). bOut is also fixed when trainBias is false. */
  freeze: Trainable[];
}

function parseTrial(x: Json, field: string, base: Case): Trial {
  const t = obj(x, field);
  // Reuse the case validator for shapes, NaN and the ce/mask rules of this trial, naming the
  // field inside the trial (e.g. `trials[3].inputs[5][1]`).
  try {
    const c = parseCase({ ...caseBody(base), inputs: t.inputs, targets: t.targets, mask: t.mask }, field);
    return { inputs: c.inputs, targets: c.targets, mask: c.mask };
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`${field}.${err.field}`, err.expected);
    throw err;
  }
}

function caseBody(c: Case): Record<string, Json> {
  return { format: "hil-case/1", name: c.name, model: c.model, params: c.params, feedback: c.feedback };
}

export function parseRunSpec(x: Json, source = "run"): RunSpec {
  const r = obj(x, source);
  const body: Record<string, Json> = { format: "hil-case/1", ...r };
  let trialsRaw: Json[] | null = null;
  if (r.trials !== undefined) {
    if (!Array.isArray(r.trials) || r.trials.length === 0) throw new InputError("trials", "expected a non-empty array of {inputs, targets, mask}");
    trialsRaw = r.trials;
    if (r.inputs === undefined) Object.assign(body, obj(r.trials[0], "trials[0]"));
  }
  const base = parseCase(body, source);
  const trials = trialsRaw ? trialsRaw.map((t, i) => parseTrial(t, `trials[${i}]`, base)) : [{ inputs: base.inputs, targets: base.targets, mask: base.mask }];
  const freeze = r.freeze === undefined ? [] : (() => {
    if (!Array.isArray(r.freeze)) throw new InputError("freeze", `expected an array of ${TRAINABLE.join("|")}`);
    return r.freeze.map((f, i) => choice(f, `freeze[${i}]`, TRAINABLE));
  })();
  return {
    name: base.name,
    base,
    rule: r.rule === undefined ? "eprop" : choice(r.rule, "rule", ["eprop", "bptt"] as const),
    optimizer: parseOptimizer(r.optimizer),
    iterations: intIn(r.iterations, "iterations", 1, 100_000_000),
    trial: (n) => trials[(n - 1) % trials.length]!,
    freeze,
  };
}

export function readRunSpec(path: string): RunSpec {
  const json = readJsonFile(path);
  warnUnknownFields(json, path);
  const opt = typeof json === "object" && json !== null ? (json as Record<string, Json>).optimizer : undefined;
  for (const k of unknownOptimizerFields(opt)) {
    process.stderr.write(`edgeprop: warning: ${path}: optimizer.${k} is not a field edgeprop reads (ignored); known: kind, lr, beta1, beta2, eps, wMin, wMax\n`);
  }
  return parseRunSpec(json, path);
}
