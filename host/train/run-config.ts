// A training run (`edgeprop train --config run.json`): `rule` (default eprop), `optimizer`,
// `iterations`, optionally `freeze`, and the rule's own part (training.ts parseRun; for the
// recurrent rules a hil-case/1 body plus optional `trials`, as MODEL.md's training loop
// defines them: iteration n (1-based) runs trial (n-1) mod trials.length).
import { InputError } from "../input/errors.ts";
import { choice, intIn, obj, readJsonFile, text, type Json } from "../input/fields.ts";
import type { RunInfo } from "../report/rundir.ts";
import { trainingOf } from "../rules/index.ts";
import { parseOptimizer, unknownOptimizerFields } from "./optimizer.ts";
import type { RunSpec } from "./training.ts";

/** A run config: the run, and what run.json shows of the rule's setting. */
export function parseRunConfig(x: Json, source = "run"): { spec: RunSpec; info: Partial<RunInfo> } {
  const r = obj(x, source);
  const rule = r.rule === undefined ? "eprop" : text(r.rule, "rule");
  const training = trainingOf(rule, "rule");
  const run = training.parseRun(r, source);
  const params = training.tensors(run.base).filter((t) => t.kind === "param").map((t) => t.name);
  // like unknown model fields: a likely typo that would leave a setting at its default
  for (const k of unknownOptimizerFields(r.optimizer)) {
    process.stderr.write(`edgeprop: warning: ${source}: optimizer.${k} is not a field edgeprop reads (ignored); known: kind, lr, beta1, beta2, eps, wMin, wMax\n`);
  }
  const freeze = r.freeze === undefined ? [] : (() => {
    if (!Array.isArray(r.freeze)) throw new InputError("freeze", `expected an array of ${params.join("|")}`);
    return r.freeze.map((f, i) => choice(f, `freeze[${i}]`, params));
  })();
  const spec: RunSpec = {
    name: run.name,
    rule,
    base: run.base,
    optimizer: run.optimizer ?? parseOptimizer(r.optimizer),
    iterations: run.iterations ?? intIn(r.iterations, "iterations", 1, 100_000_000),
    trial: run.trial,
    freeze,
    extras: run.extras,
  };
  return { spec, info: run.info };
}

/**
 * The run of a config file. Its case and items are the rule's (`any`: the caller knows which
 * rule its config names, as tests of e-prop runs do).
 */
export function readRunSpec(path: string): RunSpec<any, any> {
  return parseRunConfig(readJsonFile(path), path).spec;
}
