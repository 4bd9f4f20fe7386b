// `edgeprop train --task NAME --rule decolle`: a stack task's trials (host/tasks stackTasks) on a
// DECOLLE stack built from the task options below (`--task-opt layers=400x400,loss=ce,...`; the
// other options are the task's). Initial weights, seeded with the task's parameter stream:
//   W^l ~ N(0, gW^2 / n_{l-1}) for traceScale "oneMinus" (where P is about the input's spike
//         rate); for another traceScale that draw times (1-alpha)(1-beta) / (cQ cP): the same
//         network, by DECOLLE.md's W-equivalence of the traceScales;
//   b^l = bias;  G^l ~ N(0, gG^2 / n_l) (fixed);  bG^l = 0.
// The held-out metric is the task's on the top layer's readout (the stack's output, as in the
// paper), computed by the float64 reference with the trained weights.
import { InputError } from "../../input/errors.ts";
import { choice, intIn, numberIn, type Json } from "../../input/fields.ts";
import { gaussian, rng, Stream } from "../../tasks/common.ts";
import { stackTasks } from "../../tasks/index.ts";
import type { StackTaskDef } from "../../tasks/stack-task.ts";
import type { TaskOptions, Trial } from "../../tasks/task.ts";
import type { RunSetup, TaskRunOptions } from "../../train/training.ts";
import { DecolleStream } from "./reference.ts";
import { MAX_LAYERS, parseDecolleCase, traceGains, type DecolleCase, type DecolleModel, type LayerParams } from "./schema.ts";
import { parseDecolleUpdate, type DecolleTrial } from "./trial.ts";

/** The stack's task options and their defaults (what `--task-opt` may set besides the task's own options). */
export const STACK_DEFAULTS = {
  layers: "400x400",
  loss: "ce",
  lossReduction: "sum",
  traceScale: "oneMinus",
  surrogate: "box",
  alpha: 0.9,
  beta: 0.85,
  alpharp: 0.65,
  wrp: 1,
  reg: 0,
  gW: 1,
  gG: 1,
  bias: 0,
  decolleUpdate: "step",
} satisfies TaskOptions;

/**
 * `--quick` (with the task's own quick options): a small stack with faster traces for the short
 * trials, updated once per trial. Fashion-MNIST, 1000 iterations, Adam lr 0.005, seed 1: test
 * accuracy about 0.4 on 300 images (chance 0.1).
 */
const STACK_QUICK = { layers: "100x100", alpha: 0.8, beta: 0.7, decolleUpdate: "trial" };

function findStackTask(name: string): StackTaskDef {
  const t = stackTasks.find((d) => d.name === name);
  if (!t) throw new InputError("--task", `rule 'decolle' trains layer stacks on ${stackTasks.map((d) => d.name).join(", ")}; got '${name}'`);
  return t;
}

/** `layers`: sizes bottom first, "400x400" (or one number). */
function layerSizes(x: Json, field: string): number[] {
  const parts = String(x).split("x");
  if (parts.length > MAX_LAYERS) throw new InputError(field, `expected 1 to ${MAX_LAYERS} layer sizes like 400x400, got '${x}'`);
  return parts.map((p) => {
    const n = Number(p);
    if (p.trim() === "" || !Number.isFinite(n)) throw new InputError(field, `expected layer sizes like 400x400, got '${x}'`);
    return intIn(n, field, 1, 65535);
  });
}

/** The DECOLLE model of the stack options. */
function stackModel(nIn: number, nOut: number, s: TaskOptions, f: (k: string) => string): DecolleModel {
  const decay = (k: string) => numberIn(s[k]!, f(k), 0, 1 - Number.EPSILON);
  const layer = { neuron: "decolle" as const, alpha: decay("alpha"), beta: decay("beta"), alpharp: decay("alpharp"), wrp: numberIn(s.wrp!, f("wrp"), -1e6, 1e6), reg: numberIn(s.reg!, f("reg"), 0, 1e6) };
  return {
    nIn,
    nOut,
    loss: choice(s.loss!, f("loss"), ["mse", "smoothL1", "ce"] as const),
    lossReduction: choice(s.lossReduction!, f("lossReduction"), ["sum", "mean"] as const),
    traceScale: choice(s.traceScale!, f("traceScale"), ["one", "oneMinus", "tau"] as const),
    surrogate: choice(s.surrogate!, f("surrogate"), ["box", "sigmoid"] as const),
    layers: layerSizes(s.layers!, f("layers")).map((n) => ({ ...layer, n })),
  };
}

/** Seeded initial W, b and fixed readouts G, bG (header comment). */
function initStack(seed: number, m: DecolleModel, s: TaskOptions, f: (k: string) => string) {
  const gW = numberIn(s.gW!, f("gW"), 0, 1e6);
  const gG = numberIn(s.gG!, f("gG"), 0, 1e6);
  const bias = numberIn(s.bias!, f("bias"), -1e6, 1e6);
  const r = rng(seed, Stream.params);
  const sizes = [m.nIn, ...m.layers.map((l) => l.n)];
  const layers: LayerParams[] = m.layers.map((cfg, l) => {
    const om = traceGains("oneMinus", cfg);
    const g = traceGains(m.traceScale, cfg);
    const scale = (om.cQ * om.cP) / (g.cQ * g.cP);
    return { w: gaussian(r, cfg.n, sizes[l]!, (gW * scale) / Math.sqrt(sizes[l]!)), b: new Array<number>(cfg.n).fill(bias) };
  });
  const readouts = m.layers.map((cfg) => ({ G: gaussian(r, m.nOut, cfg.n, gG / Math.sqrt(cfg.n)), bG: new Array<number>(m.nOut).fill(0) }));
  return { layers, readouts };
}

/** The top layer's readout y [T][nOut] of a trial, by the float64 reference with the weights frozen (no learning). */
export function topReadout(c: Pick<DecolleCase, "model" | "params" | "readouts">, trial: DecolleTrial): number[][] {
  const s = new DecolleStream(c.model, c.params, c.readouts, { frozen: true });
  const top = s.layers.at(-1)!;
  return trial.inputs.map((x, t) => {
    s.step(x, trial.targets[t]!, trial.mask[t]!);
    return Array.from(top.y);
  });
}

export function decolleFromTask(o: TaskRunOptions): RunSetup<DecolleCase, DecolleTrial> {
  const def = findStackTask(o.task);
  const given = { ...(o.quick ? { ...def.quick, ...STACK_QUICK } : {}), ...o.taskOptions };
  const stack: TaskOptions = { ...STACK_DEFAULTS };
  const data: TaskOptions = {};
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) continue;
    if (k in STACK_DEFAULTS) stack[k] = v;
    else if (k in def.defaults) data[k] = v;
    else throw new InputError(`${o.task}.options.${k}`, `unknown option; expected one of ${[...Object.keys(def.defaults), ...Object.keys(STACK_DEFAULTS)].join(", ")}`);
  }
  const f = (k: string) => `${o.task}.options.${k}`;
  const decolleUpdate = parseDecolleUpdate(stack.decolleUpdate, f("decolleUpdate"));
  const inst = def.create(o.seed, data);
  const model = stackModel(inst.nIn, inst.nOut, stack, f);
  const { layers, readouts } = initStack(o.seed, model, stack, f);
  if (o.testTrials > inst.nTest) throw new InputError("--test-trials", `${o.task} has ${inst.nTest} test trials, ${o.testTrials} asked for`);
  const first = inst.trial(0);
  const name = `${o.task}-decolle-seed${o.seed}`;
  const base = parseDecolleCase({ format: "hil-case/1", name, model, params: { layers }, readouts, inputs: first.inputs, targets: first.targets, mask: first.mask } as unknown as Json, name);
  const options = { ...inst.options, ...stack };
  return {
    spec: { name, rule: o.rule, base, optimizer: o.optimizer, iterations: o.iterations, trial: (n) => inst.trial(n - 1), freeze: [], extras: { decolleUpdate } },
    info: { task: o.task, taskOptions: options, seed: o.seed, rule: o.rule, optimizer: o.optimizer, iterations: o.iterations, model: { ...model }, metric: inst.metric, extra: { decolleUpdate } },
    definition: { task: o.task, seed: o.seed, options, rule: o.rule, optimizer: o.optimizer, iterations: o.iterations },
    testTrials: o.testTrials,
    evaluate: (params, wanted) => {
      const nTrials = Math.min(wanted, inst.nTest);
      // The metric reads a trial's targets, mask and label: its input spikes are dropped once it
      // has run, so 10 000 held-out images (T x nIn each) never sit in memory at once.
      const trials: Trial[] = [];
      const ys = Array.from({ length: nTrials }, (_, i) => {
        const t = inst.testTrial(i);
        trials.push({ ...t, inputs: [] });
        return topReadout({ model, params: params as { layers: LayerParams[] }, readouts }, t);
      });
      const m = inst.metric;
      return { name: m.name, value: inst.evaluate(trials, ys), chance: m.chance, higherIsBetter: m.higherIsBetter, nTrials };
    },
  };
}
