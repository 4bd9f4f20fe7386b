// The training side of the learning-rule seam: what a rule (host/rules/<name>/) gives
// `edgeprop train`. The loop (loop.ts), the run directory (run.ts), metrics, checkpoints and
// --resume are shared; a rule brings:
//   - parseRun   its part of a run config (`--config run.json`): the base case, the item of each
//                iteration, what run.json shows, and its own extra fields (e.g. DECOLLE's
//                `decolleUpdate`), which also enter the run's identity for --resume; a rule with
//                an update and a count of its own (EqProp: SGD per layer pair, `epochs`) gives
//                the optimizer record and the iterations too;
//   - fromTask   the same from a task (`--task NAME`), with the task's held-out evaluation (and,
//                optionally, its checkpoint cadence and figures of the final weights for the report);
//   - tensors    its named tensors with their shapes: the trained ones (what the optimizer updates,
//                what `freeze` may name, what wMin/wMax clip) and the ones it carries along (e-prop's
//                feedback B). Checkpoints are validated against them generically (shapes,
//                finiteness), so a rule never parses a checkpoint itself;
//   - initialState, host   its state at iteration 0 and its float64 host target;
//   - device     its target on a board over a DeviceClient (absent: it trains on the host only);
//                the shared DeviceTarget (device-target.ts) owns the link, board resets, replay
//                and checkpoints of the board's blob;
//   - sample     the trajectory.json of a recorded iteration, when there is a time series to draw.
//
// An iteration is whatever the rule's `Item` is, and a target's iterate() does whatever the
// rule's update schedule says. The seam admits, and the loop does not care:
//   (a) updates inside a trial (DECOLLE `decolleUpdate: "step"`): iterate() applies the optimizer
//       at every step (applyTensorUpdate on the host, an APPLY per RUN frame on a board);
//       OptimizerState.step then counts updates while the loop, metrics and checkpoints count
//       iterations (DeviceTarget counts them itself; `DeviceTargetOptions.iteration`); the loss
//       it reports is the trial's, as it ran;
//   (b) an iteration that is not one time-series trial (EqProp: a mini-batch of samples): Item
//       is the batch, iterate() runs every sample and applies one update (per-layer learning
//       rates: one applyTensorUpdate per layer group, or gradients scaled per tensor, or the
//       rule's own SGD as EqProp's) and reports the batch's mean loss and, in `metrics`, e.g. its
//       accuracy; `sample` returns undefined when there is nothing to draw.
// Checkpoints are taken between iterations only (every `--checkpoint-every`, and the last).
import type { Json } from "../input/fields.ts";
import type { FeedbackKind } from "../model/types.ts";
import type { RunInfo, TrajectorySample } from "../report/rundir.ts";
import type { DeviceClient } from "../session/client.ts";
import type { TaskOptions } from "../tasks/task.ts";
import type { OptimizerConfig } from "./optimizer.ts";
import type { TrainState, TrainTarget, TrialOutcome } from "./target.ts";

/** A run: what the loop executes (parsed from a run config or built from a task). */
export interface RunSpec<C = unknown, Item = unknown> {
  name: string;
  /** The rule's registered name (host/rules/index.ts). */
  rule: string;
  /** The rule's case: model and initial parameters (its data are the first item's). */
  base: C;
  optimizer: OptimizerConfig;
  iterations: number;
  /** The item of iteration n (1-based): a trial (MODEL.md's list cycles; tasks generate them), or a rule's mini-batch. */
  trial(n: number): Item;
  /** Trained tensors held fixed (names from the rule's `tensors`). */
  freeze: string[];
  /** The rule's own run-config fields (RuleRun.extras). */
  extras: Record<string, Json>;
}

/** One tensor of a rule's training state. */
export interface TensorSpec {
  /** Its name in `freeze`, in the optimizer state and in messages (e.g. `wIn`, `layers[1].w`). */
  name: string;
  /** Where it lives in the rule's TrainState (e.g. ["params", "wIn"], ["B"]). */
  path: readonly string[];
  /** [rows, cols] (row-major nested arrays) or [n]. */
  shape: readonly number[];
  /** Names of the dimensions, for messages (e.g. ["nRec", "nIn"]). */
  dims: readonly string[];
  /** `param`: updated by the optimizer (unless frozen or fixed); `state`: carried along and checkpointed. */
  kind: "param" | "state";
  /** A parameter the model holds fixed (e-prop's bOut with trainBias false). */
  fixed?: boolean;
  /** A weight: clipped to [wMin, wMax] when the optimizer gives them. */
  clip?: boolean;
}

/** A rule's part of a run config. */
export interface RuleRun<C, Item> {
  name: string;
  base: C;
  trial(n: number): Item;
  /** What run.json shows of the rule's setting (e.g. feedback, model). */
  info: Partial<RunInfo>;
  /** The rule's own run-config fields (shown in run.json `extra` when there are any). */
  extras: Record<string, Json>;
  /** A rule with its own update (EqProp: SGD with per-layer rates) gives the optimizer record itself instead of the config's `optimizer`. */
  optimizer?: OptimizerConfig;
  /** A rule that counts its own iterations (EqProp: `epochs` of mini-batches) gives them instead of the config's `iterations`. */
  iterations?: number;
}

/** `--task NAME` options (host/cli/commands/train.ts, demo, results). */
export interface TaskRunOptions {
  task: string;
  /** Use the task's short-run option set (TaskDef.quick) under the given options. */
  quick: boolean;
  seed: number;
  taskOptions: Partial<TaskOptions>;
  rule: string;
  feedback: FeedbackKind;
  optimizer: OptimizerConfig;
  iterations: number;
  testTrials: number;
  /**
   * The CLI flags the user gave (e.g. `iterations`, `lr`, `test-trials`). A task with training
   * defaults of its own (EqProp's digits: epochs, per-layer rates) keeps them for every flag not
   * given. Absent: none was given (a caller that means its values passes their flags).
   */
  explicit?: readonly string[];
}

/** A run and everything around it: what run.json records, its identity, its evaluation. */
export interface RunSetup<C = unknown, Item = unknown> {
  spec: RunSpec<C, Item>;
  info: Partial<RunInfo> & { rule: string };
  /** Identifies the run for --resume (a different config must not resume this checkpoint). */
  definition: unknown;
  /** The task's metric on held-out trials with the given parameters (tasks only). */
  evaluate?: (params: unknown, nTrials: number) => { name: string; value: number; chance: number; higherIsBetter: boolean; nTrials: number };
  /** Held-out trials for the final score. */
  testTrials: number;
  /** Iterations between checkpoints when the user gives none (default 10; digits: one epoch, as each checkpoint scores the held-out set). */
  checkpointEvery?: number;
  /** Held-out trials scored at each checkpoint (default: a few, host/train/run.ts). */
  periodicTestTrials?: number;
  /** Figures of the final parameters that summary.json carries for the report (e.g. `confusion`, `states`). */
  report?: (params: unknown) => Record<string, unknown>;
}

/** A rule's training on a board, over a DeviceClient (the shared DeviceTarget calls it). */
export interface DeviceTrainer<C, S extends TrainState, Item> {
  /** Refuses (InputError) what the rule cannot train on a board, before anything is started. */
  check?(spec: RunSpec<C, Item>): void;
  /** Puts `state` on a board that has just said HELLO: its own blob when it has one, else CONFIGURE + WRITE. */
  load(client: DeviceClient, spec: RunSpec<C, Item>, state: S): Promise<void>;
  /** Runs iteration n's item on the board and applies its update(s) there. */
  iterate(client: DeviceClient, spec: RunSpec<C, Item>, item: Item, n: number, record: boolean): Promise<TrialOutcome>;
  /** The board's state after `done` iterations (parameters and the board's own blob). */
  state(client: DeviceClient, spec: RunSpec<C, Item>, done: number): Promise<S>;
}

export interface RuleTraining<C = unknown, S extends TrainState = TrainState, Item = unknown> {
  parseRun(r: Record<string, Json>, source: string): RuleRun<C, Item>;
  /** Absent: the rule trains from run configs only. */
  fromTask?(o: TaskRunOptions): RunSetup<C, Item>;
  tensors(base: C): TensorSpec[];
  initialState(spec: RunSpec<C, Item>): S;
  host(spec: RunSpec<C, Item>, initial: S): TrainTarget<S, Item>;
  device?: DeviceTrainer<C, S, Item>;
  /** trajectory.json of recorded iteration n (its item is spec.trial(n)); undefined: nothing to draw. */
  sample?(spec: RunSpec<C, Item>, n: number, outcome: TrialOutcome): TrajectorySample | undefined;
}
