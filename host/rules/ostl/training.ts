// How layer stacks train (OSTL, and BPTT on stack cases): MODEL.md's training loop, one update
// per trial. A run config is an OSTL.md stack case body plus `optimizer`, `iterations` and
// optional `trials` ({inputs, targets, mask}, cycled); a task (`--task pattern|evidence`) gives
// its trials on a stack (host/tasks/stack.ts, `--task-opt layers=N`) and its held-out metric.
// Tensors: every layer's w and b, wOut and bOut (bOut fixed when trainBias is false); wMin/wMax
// clip all of them, as the device does, whose layer matrices hold b as their bias column.
import { parseTrialData } from "../../case/parse.ts";
import { InputError } from "../../input/errors.ts";
import { obj, type Json } from "../../input/fields.ts";
import { createStackTask, findTask } from "../../tasks/index.ts";
import type { Trial } from "../../tasks/task.ts";
import { newOptimizerState } from "../../train/optimizer.ts";
import { caseAndTrials } from "../../train/run-trials.ts";
import type { TrialOutcome } from "../../train/target.ts";
import { trainedTensors } from "../../train/tensors.ts";
import type { DeviceTrainer, RuleTraining, RunSetup, TensorSpec } from "../../train/training.ts";
import { StackHostTarget, stackCaseFor, type StackGrad, type StackState } from "./host-target.ts";
import { checkTrajectory, parseOstlCase, type OstlCase, type OstlParams } from "./schema.ts";
import { runStack } from "./stack.ts";

function parseTrial(x: Json, field: string, base: OstlCase): Trial {
  try {
    const t = parseTrialData(obj(x, field), base.model);
    checkTrajectory(t.inputs.length, base.model, "inputs");
    return t;
  } catch (err) {
    if (err instanceof InputError && !err.field.startsWith(field)) throw new InputError(`${field}.${err.field}`, err.expected);
    throw err;
  }
}

export function stackTensors(base: OstlCase): TensorSpec[] {
  const m = base.model;
  const L = m.layers.length;
  const size = (l: number) => (l < 0 ? "nIn" : `layers[${l}].n`);
  const specs: TensorSpec[] = m.layers.flatMap((layer, l): TensorSpec[] => [
    { name: `layers[${l}].w`, path: ["params", "layers", String(l), "w"], shape: [layer.n, l === 0 ? m.nIn : m.layers[l - 1]!.n], dims: [size(l), size(l - 1)], kind: "param", clip: true },
    { name: `layers[${l}].b`, path: ["params", "layers", String(l), "b"], shape: [layer.n], dims: [size(l)], kind: "param", clip: true },
  ]);
  return [
    ...specs,
    { name: "wOut", path: ["params", "wOut"], shape: [m.nOut, m.layers[L - 1]!.n], dims: ["nOut", size(L - 1)], kind: "param", clip: true },
    { name: "bOut", path: ["params", "bOut"], shape: [m.nOut], dims: ["nOut"], kind: "param", fixed: !m.trainBias, clip: true },
  ];
}

/** The training of a layer stack whose float64 gradients are `grad`, on boards with `device`. */
export function stackTraining(grad: StackGrad, device?: DeviceTrainer<OstlCase, StackState, Trial>): RuleTraining<OstlCase, StackState, Trial> {
  return {
    parseRun(r, source) {
      const { base, trials } = caseAndTrials(r, (body) => parseOstlCase(body, source), parseTrial);
      return { name: base.name, base, trial: (n) => trials[(n - 1) % trials.length]!, info: { model: { ...base.model } }, extras: {} };
    },

    fromTask(o): RunSetup<OstlCase, Trial> {
      if (o.feedback !== "symmetric") {
        throw new InputError("--feedback", `a layer stack passes learning signals down through its forward weights (OSTL.md), there is no '${o.feedback}' feedback: leave --feedback out`);
      }
      const st = createStackTask(o.task, o.seed, { ...(o.quick ? findTask(o.task).quick : {}), ...o.taskOptions });
      const { inst } = st;
      if (o.testTrials > inst.nTest) throw new InputError("--test-trials", `${o.task} has ${inst.nTest} test trials, ${o.testTrials} asked for`);
      const name = `${o.task}-${st.model.layers.length}layer-seed${o.seed}`;
      const base: OstlCase = { format: "hil-case/1", name, model: st.model, params: st.params, ...inst.trial(0) };
      return {
        spec: { name, rule: o.rule, base, optimizer: o.optimizer, iterations: o.iterations, trial: (n) => inst.trial(n - 1), freeze: [], extras: {} },
        info: { task: o.task, taskOptions: st.options, seed: o.seed, rule: o.rule, optimizer: o.optimizer, iterations: o.iterations, model: { ...st.model }, metric: inst.metric },
        definition: { task: o.task, seed: o.seed, options: st.options, rule: o.rule, optimizer: o.optimizer, iterations: o.iterations },
        testTrials: o.testTrials,
        evaluate: (params, wanted) => {
          const nTrials = Math.min(wanted, inst.nTest);
          const trials = Array.from({ length: nTrials }, (_, i) => inst.testTrial(i));
          const ys = trials.map((t) => runStack(stackCaseFor(base, params as OstlParams, t)).y);
          const m = inst.metric;
          return { name: m.name, value: inst.evaluate(trials, ys), chance: m.chance, higherIsBetter: m.higherIsBetter, nTrials };
        },
      };
    },

    tensors: stackTensors,

    initialState: (spec) => ({ params: structuredClone(spec.base.params), optimizer: newOptimizerState() }),

    host: (spec, initial) => new StackHostTarget(spec, initial, grad, trainedTensors(stackTensors(spec.base), spec.freeze)),

    ...(device ? { device } : {}),

    sample(spec, n, outcome: TrialOutcome) {
      if (!outcome.z || !outcome.y) return undefined;
      const trial = spec.trial(n);
      const sizes = spec.base.model.layers.map((l) => l.n).join(" + ");
      return {
        iteration: n, dt: spec.base.model.dt, title: `every layer's spikes, bottom layer first (${sizes} neurons)`,
        inputs: trial.inputs, z: outcome.z, y: outcome.y, targets: trial.targets, mask: trial.mask, loss: outcome.loss, label: trial.label,
      };
    },
  };
}
