// How DECOLLE trains (`edgeprop train --rule decolle`; DECOLLE.md "Training"). A run config is a
// DECOLLE stack case body (model, params, readouts, and inputs/targets/mask or `trials`, cycled)
// plus `decolleUpdate`: "step" (default, the spec's: the optimizer after every step with mask 1)
// or "trial" (the trial's accumulated gradient, applied once). A task (`--task NAME`, the stack
// tasks of host/tasks) gives the trials and the held-out metric; the stack is built here from
// `--task-opt` (task.ts). Tensors: every layer's w and b (trained; wMin/wMax clip both, as the
// kernel's gd does) and every readout's G and bG (carried, never trained).
import { InputError } from "../../input/errors.ts";
import { obj, type Json } from "../../input/fields.ts";
import type { TrajectorySample } from "../../report/rundir.ts";
import { newOptimizerState } from "../../train/optimizer.ts";
import { trainedTensors } from "../../train/tensors.ts";
import type { RuleTraining, TensorSpec } from "../../train/training.ts";
import { decolleDevice } from "./device-trainer.ts";
import { DecolleHostTarget } from "./host-target.ts";
import { parseDecolleCase, type DecolleCase } from "./schema.ts";
import { decolleFromTask } from "./task.ts";
import { parseDecolleUpdate, type DecolleOutcome, type DecolleState, type DecolleTrial } from "./trial.ts";

function caseBody(c: DecolleCase): Record<string, Json> {
  return { format: "hil-case/1", name: c.name, model: c.model as unknown as Json, params: c.params as unknown as Json, readouts: c.readouts as unknown as Json };
}

function parseTrial(x: Json, field: string, base: DecolleCase): DecolleTrial {
  const t = obj(x, field);
  // The case validator checks this trial's shapes, NaN, mask and ce targets, naming the field inside the trial.
  try {
    const c = parseDecolleCase({ ...caseBody(base), inputs: t.inputs, targets: t.targets, mask: t.mask }, field);
    return { inputs: c.inputs, targets: c.targets, mask: c.mask };
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`${field}.${err.field}`, err.expected);
    throw err;
  }
}

function tensors(base: DecolleCase): TensorSpec[] {
  const { model } = base;
  const size = (l: number) => (l < 0 ? "model.nIn" : `model.layers[${l}].n`);
  return model.layers.flatMap((cfg, l): TensorSpec[] => {
    const nPre = l === 0 ? model.nIn : model.layers[l - 1]!.n;
    const at = (...k: string[]) => ["params", "layers", String(l), ...k];
    return [
      { name: `layers[${l}].w`, path: at("w"), shape: [cfg.n, nPre], dims: [size(l), size(l - 1)], kind: "param", clip: true },
      { name: `layers[${l}].b`, path: at("b"), shape: [cfg.n], dims: [size(l)], kind: "param", clip: true },
      { name: `readouts[${l}].G`, path: ["readouts", String(l), "G"], shape: [model.nOut, cfg.n], dims: ["model.nOut", size(l)], kind: "state" },
      { name: `readouts[${l}].bG`, path: ["readouts", String(l), "bG"], shape: [model.nOut], dims: ["model.nOut"], kind: "state" },
    ];
  });
}

/** `freeze` naming a readout: G and bG are fixed by the rule, so there is nothing to freeze. */
function refuseFrozenReadouts(freeze: Json): void {
  if (!Array.isArray(freeze)) return;
  freeze.forEach((f, i) => {
    if (typeof f === "string" && /^readouts\[\d+\]\.(G|bG)$/.test(f)) {
      throw new InputError(`freeze[${i}]`, `${f} is a fixed random readout in DECOLLE (never trained, nothing to freeze); freeze layers[l].w or layers[l].b`);
    }
  });
}

export const decolleTraining: RuleTraining<DecolleCase, DecolleState, DecolleTrial> = {
  parseRun(r, source) {
    const decolleUpdate = parseDecolleUpdate(r.decolleUpdate);
    refuseFrozenReadouts(r.freeze);
    const body: Record<string, Json> = { format: "hil-case/1", ...r };
    let trialsRaw: Json[] | null = null;
    if (r.trials !== undefined) {
      if (!Array.isArray(r.trials) || r.trials.length === 0) throw new InputError("trials", "expected a non-empty array of {inputs, targets, mask}");
      trialsRaw = r.trials;
      if (r.inputs === undefined) Object.assign(body, obj(r.trials[0], "trials[0]"));
    }
    const base = (() => {
      try {
        return parseDecolleCase(body, source);
      } catch (err) {
        // the first trial stood in for the case's data: name the field inside it
        if (trialsRaw && r.inputs === undefined && err instanceof InputError && /^(inputs|targets|mask)\b/.test(err.field)) throw new InputError(`trials[0].${err.field}`, err.expected);
        throw err;
      }
    })();
    const trials = trialsRaw ? trialsRaw.map((t, i) => parseTrial(t, `trials[${i}]`, base)) : [{ inputs: base.inputs, targets: base.targets, mask: base.mask }];
    return {
      name: base.name,
      base,
      trial: (n) => trials[(n - 1) % trials.length]!,
      info: { model: { ...base.model } },
      extras: { decolleUpdate },
    };
  },

  fromTask: decolleFromTask,

  tensors,

  initialState: (spec) => ({ params: structuredClone(spec.base.params), readouts: structuredClone(spec.base.readouts), optimizer: newOptimizerState() }),

  host: (spec, initial) => new DecolleHostTarget(spec, initial, trainedTensors(tensors(spec.base), spec.freeze)),

  device: decolleDevice,

  sample(spec, n, outcome) {
    const o = outcome as DecolleOutcome;
    if (!o.layers || !o.z || !o.y) return undefined;
    const trial = spec.trial(n);
    const sample: TrajectorySample = {
      iteration: n,
      dt: 1,
      inputs: trial.inputs,
      z: o.z,
      y: o.y,
      targets: trial.targets,
      mask: trial.mask,
      loss: o.loss,
      layers: o.layers.map((L, l) => ({ name: `layers[${l}]`, z: L.z, y: L.y, loss: o.layerLoss[l] })),
    };
    if (trial.label !== undefined) sample.label = trial.label;
    return sample;
  },
};
