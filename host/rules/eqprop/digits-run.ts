// `edgeprop train --task digits --rule eqprop`: EQPROP.md's training check as a run. The data and
// the task's options are host/tasks/digits.ts (DIGITS_TASK); here they become an EqProp run:
// Glorot-uniform weights and epoch orders from --seed, the training images (the first
// `trainLimit` of the 1437) in mini-batches, and the held-out metric: accuracy of the free phase
// (float64, the reference) on the 360 held-out images the run never trains on, scored at every
// checkpoint and at the end, with the confusion matrix and the free / nudged states of a few
// held-out digits for the report.
//
// The CLI's generic flags take the task's own defaults unless the user gives them
// (TaskRunOptions.explicit): --iterations N is N mini-batches instead of `epochs`; --lr X is X for
// every layer pair instead of lr0/lr1; --optimizer must be gd; --feedback symmetric only (EqProp's
// weights are symmetric by construction); --test-trials N scores the first N held-out images.
import { InputError } from "../../input/errors.ts";
import { positive, type Json } from "../../input/fields.ts";
import type { ConfusionFigure, RunInfo, StatesFigure } from "../../report/rundir.ts";
import { int, resolveOptions } from "../../tasks/common.ts";
import { DIGITS, DIGITS_TASK, digitsSplit, digitTargets, type DigitSet } from "../../tasks/digits.ts";
import type { RunSetup, TaskRunOptions } from "../../train/training.ts";
import { argmax } from "./dynamics.ts";
import { samplePhases, type Settings } from "./reference.ts";
import { batchesOf, eqpropOptimizer, eqpropOptimizerInfo, type EqpropBatch, type EqpropRunBase } from "./run-base.ts";
import { LIMITS, parseModel, type EqpropModel, type EqpropParams } from "./schema.ts";
import { evaluate, glorotUniform } from "./train.ts";

const TASK = DIGITS_TASK.name;

function options(o: TaskRunOptions) {
  const opts = resolveOptions(TASK, DIGITS_TASK.defaults, { ...(o.quick ? DIGITS_TASK.quick : {}), ...o.taskOptions });
  const field = (k: string) => `${TASK}.options.${k}`;
  const trainLimit = int(TASK, opts, "trainLimit", 1, DIGITS.train);
  return {
    opts,
    epochs: int(TASK, opts, "epochs", 1, 100_000),
    batchSize: int(TASK, opts, "batchSize", 1, trainLimit),
    hidden: int(TASK, opts, "hidden", 1, LIMITS.maxUnits),
    lr: ["lr0", "lr1"].map((k) => positive(opts[k]!, field(k))),
    trainLimit,
    states: int(TASK, opts, "states", 0, 16),
    // beta, epsilon, the step counts and the nudge are the case's fields: the case's checks name them
    model: { kind: "eqprop", beta: opts.beta!, epsilon: opts.epsilon!, freeSteps: opts.freeSteps!, nudgedSteps: opts.nudgedSteps!, nudge: opts.nudge! } as Record<string, Json>,
  };
}

/** The model of the run, its fields named as task options when they are wrong. */
function modelOf(m: Record<string, Json>, layers: number[]): EqpropModel {
  try {
    return parseModel({ ...m, layers });
  } catch (err) {
    if (err instanceof InputError && err.field.startsWith("model.")) throw new InputError(`${TASK}.options.${err.field.slice("model.".length)}`, err.expected);
    throw err;
  }
}

function pick(set: DigitSet, n: number): DigitSet {
  return { x: set.x.slice(0, n), labels: set.labels.slice(0, n), index: set.index.slice(0, n) };
}

/** The grid a layer of n units is drawn in: 8 wide (the input is the 8x8 image). */
const grid = (n: number): [number, number] => (n <= 10 ? [1, n] : [Math.ceil(n / 8), 8]);

export function confusionOf(labels: readonly number[], predictions: readonly number[], split: string): ConfusionFigure {
  const counts = Array.from({ length: DIGITS.classes }, () => new Array<number>(DIGITS.classes).fill(0));
  labels.forEach((k, i) => counts[k]![predictions[i]!]!++);
  return { labels: Array.from({ length: DIGITS.classes }, (_, k) => String(k)), counts, split, nTrials: labels.length };
}

/** s0, s^beta (and s^-beta) of the first `n` samples of `set` with parameters p (float64). */
export function statesOf(p: EqpropParams, m: Settings & { layers: number[] }, set: DigitSet, n: number): StatesFigure {
  const ys = digitTargets(set);
  const sym = m.nudge === "symmetric";
  return {
    title: `Free (s⁰) and nudged (s^β${sym ? ", s^−β" : ""}, β = ${m.beta}) states of held-out digits, float64, final weights; last row: the target`,
    layers: m.layers.map((units, k) => ({ name: k === 0 ? "input x" : k === m.layers.length - 1 ? "output" : `layer ${k}`, shape: k === 0 ? [8, 8] : grid(units) })),
    samples: set.x.slice(0, n).map((x, i) => {
      const ph = samplePhases(p, m, x, ys[i]!);
      const row = (name: string, s: number[][]) => ({ name, layers: [x, ...s] });
      const pred = argmax(ph.s0[ph.s0.length - 1]!);
      return {
        label: `digit ${set.labels[i]}, predicted ${pred}`,
        phases: [
          row("free s⁰", ph.s0),
          row("nudged s^β", ph.sb),
          ...(ph.sm ? [row("nudged s^−β", ph.sm)] : []),
          { name: "target y", layers: [...m.layers.slice(0, -1).map(() => null), ys[i]!] },
        ],
      };
    }),
  };
}

/** `--task digits` as an EqProp run (training.ts fromTask). */
export function digitsRun(o: TaskRunOptions): RunSetup<EqpropRunBase, EqpropBatch> {
  if (o.task !== TASK) throw new InputError("--task", `rule eqprop trains on '${TASK}' (static images); '${o.task}' is a spiking task: train it with a recurrent rule (--rule eprop|bptt)`);
  const given = new Set(o.explicit ?? []);
  if (given.has("optimizer") && o.optimizer.kind !== "gd") throw new InputError("--optimizer", "EqProp's update is plain SGD with one rate per layer pair (EQPROP.md Training): gd only");
  if (given.has("feedback") && o.feedback !== "symmetric") throw new InputError("--feedback", "EqProp's weights carry both directions (symmetric by construction): no feedback matrix to choose");
  const t = options(o);
  const split = digitsSplit();
  const train = pick(split.train, t.trainLimit);
  const heldOut = split.heldOut;
  if (given.has("test-trials") && !(o.testTrials >= 1 && o.testTrials <= heldOut.x.length)) {
    throw new InputError("--test-trials", `expected 1..${heldOut.x.length} (the held-out images of digits), got ${o.testTrials}`);
  }
  const testTrials = given.has("test-trials") ? o.testTrials : heldOut.x.length;
  const layers = [DIGITS.pixels, t.hidden, DIGITS.classes];
  const model: EqpropModel = { ...modelOf(t.model, layers), lossReduction: "mean" };
  const lr = given.has("lr") ? layers.slice(1).map(() => o.optimizer.lr) : t.lr;
  const perEpoch = Math.ceil(train.x.length / t.batchSize);
  const iterations = given.has("iterations") ? o.iterations : t.epochs * perEpoch;
  if (iterations > 100_000_000) throw new InputError(`${TASK}.options.epochs`, `at most ${Math.floor(100_000_000 / perEpoch)} epochs of ${perEpoch} batches, got ${t.epochs}`);
  const name = `${TASK}-seed${o.seed}`;
  const base: EqpropRunBase = {
    name, model, params: glorotUniform(layers, o.seed), inputs: train.x, targets: digitTargets(train),
    lr, batchSize: t.batchSize, seed: o.seed, labels: train.labels,
  };
  const heldOutTargets = digitTargets(heldOut);
  const freePhase = (p: EqpropParams, n: number) => evaluate(p, model, heldOut.x.slice(0, n), heldOutTargets.slice(0, n)).predictions;
  const metric = { name: "accuracy" as const, higherIsBetter: true, chance: 1 / DIGITS.classes };
  const info: Partial<RunInfo> & { rule: string } = {
    task: TASK, taskOptions: t.opts, seed: o.seed, rule: o.rule, optimizer: eqpropOptimizerInfo(lr, t.batchSize), iterations, model: { ...model },
    metric: { ...metric, description: `accuracy of the free phase (float64) on the first ${testTrials} of the ${heldOut.x.length} held-out images` },
    extra: { epochs: iterations / perEpoch, batchesPerEpoch: perEpoch, trainImages: train.x.length, heldOutImages: heldOut.x.length },
  };
  return {
    spec: { name, rule: o.rule, base, optimizer: eqpropOptimizer(lr), iterations, trial: batchesOf(base), freeze: [], extras: {} },
    info,
    definition: { task: TASK, seed: o.seed, options: t.opts, rule: o.rule, lr, iterations },
    testTrials,
    checkpointEvery: perEpoch,
    periodicTestTrials: testTrials,
    evaluate: (params, wanted) => {
      const n = Math.min(wanted, heldOut.x.length);
      const pred = freePhase(params as EqpropParams, n);
      return { ...metric, value: pred.filter((p, i) => p === heldOut.labels[i]).length / n, nTrials: n };
    },
    report: (params) => {
      const p = params as EqpropParams;
      return {
        confusion: confusionOf(heldOut.labels.slice(0, testTrials), freePhase(p, testTrials), "held-out"),
        states: statesOf(p, model, heldOut, t.states),
      };
    },
  };
}
