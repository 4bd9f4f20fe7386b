// A task's trials on a layer stack (OSTL.md "Case format") instead of a recurrent network: the
// same inputs, targets, masks, metric and held-out trials as the task itself (`trial(i)`,
// `testTrial(i)`), with the network replaced by `layers` feed-forward LIF/ALIF layers of the
// task's nRec neurons each (the task's neuron constants; in evidence accumulation the last
// nAdaptive neurons of every layer adapt). Layer 1's weights are the task's wIn and the
// readout is the task's wOut, so a one-layer stack is the task's network without wRec (plus
// per-layer biases, 0 at the start); layer l > 1 draws W ~ N(0, (gHidden*vTh)^2 / n_{l-1}) from
// the parameter stream's index l-1 (index 0 is the task's own draw). Stack-only options:
// `layers` and `gHidden`; everything else is the task's. A stack has no refractory period, so a
// task whose default has one (evidence: 4 steps) runs with refractory 0, and asking for another
// value is refused.
import { InputError } from "../input/errors.ts";
import { LIMITS, stackSynapses, type OstlModel, type OstlParams } from "../rules/ostl/schema.ts";
import { Stream, gaussian, int, real, rng } from "./common.ts";
import { findTask } from "./index.ts";
import type { TaskInstance, TaskOptions } from "./task.ts";

export const STACK_DEFAULTS = {
  layers: 1,
  gHidden: 2, // gain of the layers above the first: keeps every layer near the first one's rate (≈ 18 Hz, seed 1)
} as const;

export interface StackTaskInstance {
  inst: TaskInstance;
  /** The task's options and the stack's (what the run records). */
  options: TaskOptions;
  model: OstlModel;
  /** Seeded initial parameters. */
  params: OstlParams;
}

/** Task `name` on a layer stack; `options` mixes the task's options and STACK_DEFAULTS' keys. */
export function createStackTask(name: string, seed: number, options: Partial<TaskOptions> = {}): StackTaskInstance {
  const def = findTask(name);
  const taskOpts: Partial<TaskOptions> = {};
  const stackOpts: TaskOptions = { ...STACK_DEFAULTS };
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    if (k in STACK_DEFAULTS) {
      if (typeof v !== "number") throw new InputError(`${name}.options.${k}`, `expected a number, got ${JSON.stringify(v)}`);
      stackOpts[k] = v;
    } else taskOpts[k] = v;
  }
  const L = int(name, stackOpts, "layers", 1, LIMITS.maxLayers);
  const gHidden = real(name, stackOpts, "gHidden", 0, 1e6);
  if ("refractory" in def.defaults && taskOpts.refractory === undefined) taskOpts.refractory = 0;
  const inst = def.create(seed, taskOpts);
  const m = inst.model;
  if (m.refractory !== 0) throw new InputError(`${name}.options.refractory`, `a layer stack has no refractory period (OSTL.md): expected 0, got ${m.refractory}`);
  if (m.rateReg) throw new InputError(`${name}.options.cReg`, "the firing-rate regulariser is not supported in a layer stack (OSTL.md): expected 0");
  const n = m.nRec;
  const synapses = stackSynapses(m.nIn, new Array<number>(L).fill(n), m.nOut);
  if (synapses > LIMITS.maxSynapses) {
    throw new InputError(`${name}.options.layers`, `a stack of at most ${LIMITS.maxSynapses} synapses (host reference memory), got ${L} layers of ${n}: ${synapses}`);
  }
  const adaptive = m.beta.some((b) => b !== 0);
  const model: OstlModel = {
    nIn: m.nIn,
    nOut: m.nOut,
    dt: m.dt,
    tauOut: m.tauOut,
    loss: m.loss,
    lossReduction: m.lossReduction,
    trainBias: m.trainBias,
    resetGrad: true,
    layers: Array.from({ length: L }, () => ({
      n, neuron: adaptive ? "alif" : "lif", tauMem: m.tauMem, tauAdapt: m.tauAdapt, beta: m.beta.slice(), vTh: m.vTh, gamma: m.gamma,
    })),
  };
  const zeros = () => new Array<number>(n).fill(0);
  const params: OstlParams = {
    layers: Array.from({ length: L }, (_, l) => ({
      w: l === 0 ? inst.params.wIn.map((r) => r.slice()) : gaussian(rng(seed, Stream.params, l), n, n, (gHidden * m.vTh) / Math.sqrt(n)),
      b: zeros(),
    })),
    wOut: inst.params.wOut.map((r) => r.slice()),
    bOut: inst.params.bOut.slice(),
  };
  return { inst, options: { ...inst.options, ...stackOpts }, model, params };
}
