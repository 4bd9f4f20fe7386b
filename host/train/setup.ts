// Turns `--config run.json` or `--task NAME` into a run (training.ts RunSetup): the RunSpec the
// loop executes, what run.json records, what identifies the run for --resume, and the task's
// held-out evaluation. The rule builds its own part (training.ts parseRun / fromTask).
import { readFileSync } from "node:fs";
import { InputError } from "../input/errors.ts";
import { readJsonFile } from "../input/fields.ts";
import { trainingOf } from "../rules/index.ts";
import { parseRunConfig } from "./run-config.ts";
import type { RunSetup, TaskRunOptions } from "./training.ts";

export function setupFromConfig(path: string): RunSetup {
  const { spec, info } = parseRunConfig(readJsonFile(path), path);
  const extra = Object.keys(spec.extras).length ? { extra: spec.extras } : {};
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
  return training.fromTask(o) as RunSetup;
}
