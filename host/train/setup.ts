// Turns `--config run.json` or `--task NAME` into a run (training.ts RunSetup): the RunSpec the
// loop executes, what run.json records, what identifies the run for --resume, and the task's
// held-out evaluation. The rule builds its own part (training.ts parseRun / fromTask); the scale
// settings (mini-batches, lr schedule) are rule-neutral and added here.
import { readFileSync } from "node:fs";
import { InputError } from "../input/errors.ts";
import { readJsonFile } from "../input/fields.ts";
import { trainingOf } from "../rules/index.ts";
import { parseRunConfig } from "./run-config.ts";
import type { RunSetup, RunSpec, TaskRunOptions } from "./training.ts";

/** What run.json shows of a run's scale settings (nothing when it has none). */
function scaleInfo(spec: RunSpec): Record<string, unknown> {
  return {
    ...(spec.batch ? { batchSize: spec.batch.size, batchReduction: spec.batch.reduction } : {}),
    ...(spec.lrSchedule ? { lrSchedule: spec.lrSchedule } : {}),
  };
}

export function setupFromConfig(path: string): RunSetup {
  const { spec, info } = parseRunConfig(readJsonFile(path), path);
  const extras = { ...spec.extras, ...scaleInfo(spec) };
  const extra = Object.keys(extras).length ? { extra: extras } : {};
  return {
    spec,
    info: { rule: spec.rule, optimizer: spec.optimizer, iterations: spec.iterations, ...info, ...extra, config: path },
    definition: readFileSync(path, "utf8"),
    testTrials: 0,
  };
}

export function setupFromTask(o: TaskRunOptions): RunSetup {
  const training = trainingOf(o.rule, "--rule");
  if (!training.fromTask) throw new InputError("--task", `rule '${o.rule}' trains from run configs only for now: use --config run.json`);
  const s = training.fromTask(o) as RunSetup;
  if (!o.batch && !o.lrSchedule) return s;
  s.spec = { ...s.spec, ...(o.batch ? { batch: o.batch } : {}), ...(o.lrSchedule ? { lrSchedule: o.lrSchedule } : {}) };
  const scale = scaleInfo(s.spec);
  return { ...s, info: { ...s.info, extra: { ...s.info.extra, ...scale } }, definition: { task: s.definition, ...scale } };
}
