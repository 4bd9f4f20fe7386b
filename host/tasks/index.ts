// The registry of tasks (`edgeprop train --task NAME`). Adding a task = its file and one line here.
import { InputError } from "../input/errors.ts";
import { DIGITS_TASK } from "./digits.ts";
import { evidenceTask } from "./evidence.ts";
import { fashionMnistTask } from "./fashion-mnist.ts";
import { fashionMnistStackTask } from "./fashion-mnist-stack.ts";
import { patternTask } from "./pattern.ts";
import { storeRecallTask } from "./store-recall.ts";
import type { StackTaskDef } from "./stack-task.ts";
import type { TaskDef, TaskInstance, TaskOptions } from "./task.ts";

export type { MetricInfo, MetricName, TaskDef, TaskInstance, TaskOptions, Trial } from "./task.ts";
export { feedbackFor, toCase, trialList } from "./task.ts";
export { createStackTask, STACK_DEFAULTS, type StackTaskInstance } from "./stack.ts";

export const tasks: TaskDef[] = [patternTask, evidenceTask, storeRecallTask, fashionMnistTask];
/** Tasks for layer stacks (`--rule decolle`): the same trials without the recurrent network. */
export const stackTasks: StackTaskDef[] = [fashionMnistStackTask];

export function findTask(name: string): TaskDef {
  const t = tasks.find((d) => d.name === name);
  if (!t) throw new InputError("--task", `expected one of ${tasks.map((d) => d.name).join(", ")} (or ${DIGITS_TASK.name} with --rule eqprop), got '${name}'`);
  return t;
}

export function createTask(name: string, seed: number, options?: Partial<TaskOptions>): TaskInstance {
  return findTask(name).create(seed, options);
}
