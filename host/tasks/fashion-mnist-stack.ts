// Fashion-MNIST for layer stacks (`--task fashion-mnist --rule decolle`): the images, pooling,
// spike coding, trial order and test split of fashion-mnist.ts, which builds the trials; the
// options of its recurrent network (nRec, tauMem, gIn, ...) are not options here.
// Defaults differ from the recurrent task's: rate coding with white pixels firing every other
// step (rateHz 500 at dt 1 ms), 30 steps, no silent tail, the loss on the last 20 steps (the
// first 10 are a burn-in in which the stack's traces fill up), 196 inputs (14 x 14).
import { InputError } from "../input/errors.ts";
import { fashionMnistTask } from "./fashion-mnist.ts";
import type { StackTaskDef } from "./stack-task.ts";

const defaults = {
  dataDir: "",
  pool: 2,
  encoding: "rate",
  encSteps: 30,
  tailSteps: 0,
  decisionSteps: 20,
  threshold: 0.1,
  rateHz: 500,
  trainLimit: 60000,
  testLimit: 10000,
  dt: 1,
};

export const fashionMnistStackTask: StackTaskDef = {
  name: "fashion-mnist",
  summary: "Fashion-MNIST spike-coded for a layer stack (the fashion-mnist task's data, without its recurrent network)",
  defaults,
  quick: { pool: 4, encSteps: 16, decisionSteps: 10 },
  create(seed, options) {
    for (const k of Object.keys(options ?? {})) {
      if (!(k in defaults)) throw new InputError(`fashion-mnist.options.${k}`, `unknown option for a layer stack; expected one of ${Object.keys(defaults).join(", ")}`);
    }
    const o = { ...defaults, ...options };
    const inst = fashionMnistTask.create(seed, o);
    const { model } = inst;
    return {
      task: inst.task,
      seed,
      options: Object.fromEntries(Object.keys(defaults).map((k) => [k, inst.options[k]!])),
      nIn: model.nIn,
      nOut: model.nOut,
      dt: model.dt,
      // getters, as the task's: creating the task reads no file
      get nTrain() {
        return inst.nTrain;
      },
      trial: inst.trial,
      get nTest() {
        return inst.nTest;
      },
      testTrial: inst.testTrial,
      metric: inst.metric,
      evaluate: inst.evaluate,
    };
  },
};
