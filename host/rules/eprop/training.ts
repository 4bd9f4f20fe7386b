// How the recurrent rules (e-prop, BPTT) train: MODEL.md's training loop. A run config is a
// hil-case/1 body plus optional `trials` ({inputs, targets, mask}, cycled); a task gives its
// case, trials and held-out metric. Tensors: wIn, wRec, wOut, bOut (bOut fixed when trainBias
// is false; wMin/wMax clip the weights) and the feedback matrix B, carried along.
import { parseCase, warnUnknownFields } from "../../case/parse.ts";
import { InputError } from "../../input/errors.ts";
import { obj, type Json } from "../../input/fields.ts";
import type { Case, GradResult, Matrix, Params } from "../../model/types.ts";
import { forward } from "../../reference/simulate.ts";
import { createTask, findTask, toCase } from "../../tasks/index.ts";
import type { Trial } from "../../tasks/task.ts";
import { newOptimizerState } from "../../train/optimizer.ts";
import { caseAndTrials } from "../../train/run-trials.ts";
import type { TrainState } from "../../train/target.ts";
import { trainedTensors } from "../../train/tensors.ts";
import type { DeviceTrainer, RuleTraining, RunSetup, TensorSpec } from "../../train/training.ts";
import { RecurrentHostTarget } from "./host-target.ts";

export interface RecurrentState extends TrainState<Params> {
  /** Feedback matrix B [nRec][nOut] (changes with symmetric and adaptive feedback). */
  B: Matrix;
}

function caseBody(c: Case): Record<string, Json> {
  return { format: "hil-case/1", name: c.name, model: c.model, params: c.params, feedback: c.feedback };
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

function tensors(base: Case): TensorSpec[] {
  const { nIn, nRec, nOut, trainBias } = base.model;
  return [
    { name: "wIn", path: ["params", "wIn"], shape: [nRec, nIn], dims: ["nRec", "nIn"], kind: "param", clip: true },
    { name: "wRec", path: ["params", "wRec"], shape: [nRec, nRec], dims: ["nRec", "nRec"], kind: "param", clip: true },
    { name: "wOut", path: ["params", "wOut"], shape: [nOut, nRec], dims: ["nOut", "nRec"], kind: "param", clip: true },
    { name: "bOut", path: ["params", "bOut"], shape: [nOut], dims: ["nOut"], kind: "param", fixed: !trainBias },
    { name: "B", path: ["B"], shape: [nRec, nOut], dims: ["nRec", "nOut"], kind: "state" },
  ];
}

/** The training of a recurrent rule whose float64 gradients are `grad`, on boards with `device`. */
export function recurrentTraining(grad: (c: Case) => GradResult, device?: DeviceTrainer<Case, RecurrentState, Trial>): RuleTraining<Case, RecurrentState, Trial> {
  return {
    parseRun(r, source) {
      warnUnknownFields(r, source);
      const { base, trials } = caseAndTrials(r, (body) => parseCase(body, source), parseTrial);
      return {
        name: base.name,
        base,
        trial: (n) => trials[(n - 1) % trials.length]!,
        info: { feedback: base.feedback.kind, model: { ...base.model } },
        extras: {},
      };
    },

    fromTask(o): RunSetup<Case, Trial> {
      if (o.feedback === "adaptive") throw new InputError("--feedback", "tasks train with 'symmetric' or 'random' feedback");
      if (o.feedback === "sal") throw new InputError("--feedback", `'sal' learns e-prop's feedback matrix: use it with --rule eprop (got --rule ${o.rule})`);
      const inst = createTask(o.task, o.seed, { ...(o.quick ? findTask(o.task).quick : {}), ...o.taskOptions });
      const base = toCase(inst, inst.trial(0), { feedback: o.feedback, name: `${o.task}-seed${o.seed}` });
      if (o.testTrials > inst.nTest) throw new InputError("--test-trials", `${o.task} has ${inst.nTest} test trials, ${o.testTrials} asked for`);
      return {
        spec: { name: base.name, rule: o.rule, base, optimizer: o.optimizer, iterations: o.iterations, trial: (n) => inst.trial(n - 1), freeze: [], extras: {} },
        info: {
          task: o.task, taskOptions: inst.options, seed: o.seed, rule: o.rule, optimizer: o.optimizer, iterations: o.iterations,
          feedback: o.feedback, model: { ...inst.model }, metric: inst.metric,
        },
        definition: { task: o.task, seed: o.seed, options: inst.options, rule: o.rule, feedback: o.feedback, optimizer: o.optimizer, iterations: o.iterations },
        testTrials: o.testTrials,
        evaluate: (params, wanted) => {
          const nTrials = Math.min(wanted, inst.nTest);
          const trials = Array.from({ length: nTrials }, (_, i) => inst.testTrial(i));
          const ys = trials.map((t) => forward(toCase(inst, t, { params: params as Params, feedback: o.feedback })).y);
          const m = inst.metric;
          return { name: m.name, value: inst.evaluate(trials, ys), chance: m.chance, higherIsBetter: m.higherIsBetter, nTrials };
        },
      };
    },

    tensors,

    initialState: (spec) => ({ params: structuredClone(spec.base.params), B: structuredClone(spec.base.feedback.B), optimizer: newOptimizerState() }),

    host: (spec, initial) => new RecurrentHostTarget(spec, initial, grad, trainedTensors(tensors(spec.base), spec.freeze)),

    ...(device ? { device } : {}),

    scale: { batches: true, schedules: true },

    sample(spec, n, outcome) {
      if (!outcome.z || !outcome.y) return undefined;
      const trial = spec.trial(n);
      return { iteration: n, dt: spec.base.model.dt, inputs: trial.inputs, z: outcome.z, y: outcome.y, targets: trial.targets, mask: trial.mask, loss: outcome.loss, label: trial.label };
    },
  };
}
