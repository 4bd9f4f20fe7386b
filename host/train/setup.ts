// Turns `--config run.json` or `--task NAME` into a run: the RunSpec the loop executes, what
// run.json records, what identifies the run for --resume, and the task's held-out evaluation.
import { readFileSync } from "node:fs";
import { InputError } from "../input/errors.ts";
import type { FeedbackKind, Params, Rule } from "../model/types.ts";
import { forward } from "../reference/simulate.ts";
import { createTask, findTask, toCase, type TaskOptions } from "../tasks/index.ts";
import type { OptimizerConfig } from "./optimizer.ts";
import { readRunSpec, type RunSpec } from "./run-config.ts";
import type { RunInfo } from "../report/rundir.ts";

export interface RunSetup {
  spec: RunSpec;
  info: Partial<RunInfo> & { rule: string };
  /** Identifies the run for --resume (a different config must not resume this checkpoint). */
  definition: unknown;
  /** The task's metric on held-out trials with the given weights (tasks only). */
  evaluate?: (params: Params, nTrials: number) => { name: string; value: number; chance: number; higherIsBetter: boolean; nTrials: number };
  /** Held-out trials for the final score. */
  testTrials: number;
}

export function setupFromConfig(path: string): RunSetup {
  const spec = readRunSpec(path);
  return {
    spec,
    info: { rule: spec.rule, optimizer: spec.optimizer, iterations: spec.iterations, feedback: spec.base.feedback.kind, model: { ...spec.base.model }, config: path },
    definition: readFileSync(path, "utf8"),
    testTrials: 0,
  };
}

export interface TaskRunOptions {
  task: string;
  /** Use the task's short-run option set (TaskDef.quick) under the given options. */
  quick: boolean;
  seed: number;
  taskOptions: Partial<TaskOptions>;
  rule: Rule;
  feedback: FeedbackKind;
  optimizer: OptimizerConfig;
  iterations: number;
  testTrials: number;
}

export function setupFromTask(o: TaskRunOptions): RunSetup {
  if (o.feedback === "adaptive") throw new InputError("--feedback", "tasks train with 'symmetric' or 'random' feedback");
  const inst = createTask(o.task, o.seed, { ...(o.quick ? findTask(o.task).quick : {}), ...o.taskOptions });
  const base = toCase(inst, inst.trial(0), { feedback: o.feedback, name: `${o.task}-seed${o.seed}` });
  if (o.testTrials > inst.nTest) throw new InputError("--test-trials", `${o.task} has ${inst.nTest} test trials, ${o.testTrials} asked for`);
  const spec: RunSpec = {
    name: base.name,
    base,
    rule: o.rule,
    optimizer: o.optimizer,
    iterations: o.iterations,
    trial: (n) => inst.trial(n - 1),
    freeze: [],
  };
  return {
    spec,
    info: {
      task: o.task, taskOptions: inst.options, seed: o.seed, rule: o.rule, optimizer: o.optimizer, iterations: o.iterations,
      feedback: o.feedback, model: { ...inst.model }, metric: inst.metric,
    },
    definition: { task: o.task, seed: o.seed, options: inst.options, rule: o.rule, feedback: o.feedback, optimizer: o.optimizer, iterations: o.iterations },
    testTrials: o.testTrials,
    evaluate: (params, wanted) => {
      const nTrials = Math.min(wanted, inst.nTest);
      const trials = Array.from({ length: nTrials }, (_, i) => inst.testTrial(i));
      const ys = trials.map((t) => forward(toCase(inst, t, { params, feedback: o.feedback })).y);
      const m = inst.metric;
      return { name: m.name, value: inst.evaluate(trials, ys), chance: m.chance, higherIsBetter: m.higherIsBetter, nTrials };
    },
  };
}
