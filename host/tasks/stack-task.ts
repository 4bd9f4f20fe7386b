// A task for layer stacks (DECOLLE, `--task NAME --rule decolle`): the same seeded trials,
// held-out trials and metric as a TaskInstance (task.ts), without the recurrent network a
// TaskDef also builds (model, initial parameters, feedback). The stack itself — its layers,
// constants and initial weights — is the rule's (host/rules/decolle/training.ts).
import type { TaskInstance, TaskOptions } from "./task.ts";

export type StackTaskInstance = Omit<TaskInstance, "model" | "params" | "randomB"> & {
  nIn: number;
  nOut: number;
  /** Step length in ms (for reports). */
  dt: number;
};

export interface StackTaskDef {
  /** The task's name (the same as its recurrent TaskDef's). */
  name: string;
  summary: string;
  /** Every data option the task takes, with its default; `create` rejects unknown ones. */
  defaults: TaskOptions;
  /** Options of a short run that still clearly beats chance. */
  quick: Partial<TaskOptions>;
  create(seed: number, options?: Partial<TaskOptions>): StackTaskInstance;
}
