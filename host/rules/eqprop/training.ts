// How EqProp trains (EQPROP.md "Training"), on the training seam (host/train/training.ts): one
// iteration is one mini-batch; every sample runs from state 0 with the current weights (free and
// nudged phases), then W[l] -= lr[l] · (batch mean of gW[l]) and b[l] likewise.
//
// The optimizer: EqProp's update is plain SGD with one rate per layer pair on the batch mean, and
// a board's APPLY does exactly that, so the run's optimizer record is `gd` whose `lr` is lr[0];
// the per-layer list is the rule's (`lr`, shown in run.json). Adam, wMin/wMax and `freeze` are
// refused rather than ignored. No optimizer state exists beyond the weights, so a checkpoint is
// W and b (and `optimizer.step`, the updates applied), and float32 weights read back from a board
// go back onto a board bit for bit.
//
// A run config is an EqProp case body (model.kind "eqprop"; `params` optional: Glorot-uniform
// from `seed`) whose `inputs`/`targets` are the data set, plus `lr` (a number or one per layer
// pair), `batchSize` (default 1: online), `epochs` or `iterations`, and `seed` (epoch orders).
// Iteration n's batch follows from n alone (train.ts batchSchedule), so --resume and a board
// reset replay exactly. `--task digits` is ./digits-run.ts.
import { InputError } from "../../input/errors.ts";
import { finite, intIn, obj, type Json } from "../../input/fields.ts";
import { newOptimizerState } from "../../train/optimizer.ts";
import type { RuleTraining, RunSpec, TensorSpec } from "../../train/training.ts";
import { eqpropDevice } from "./device-trainer.ts";
import { digitsRun } from "./digits-run.ts";
import { EqpropHostTarget } from "./host-target.ts";
import { batchesOf, eqpropOptimizer, eqpropOptimizerInfo, oneHotLabels, type EqpropBatch, type EqpropRunBase, type EqpropTrainState } from "./run-base.ts";
import { parseEqpropCase, parseModel, type EqpropCase } from "./schema.ts";
import { glorotUniform, lrPerLayer } from "./train.ts";

/** The fields of an EqProp run config; anything else is refused (a misspelt `batchsize` must not be ignored). */
const RUN_FIELDS = ["format", "name", "rule", "model", "params", "inputs", "targets", "lr", "batchSize", "epochs", "iterations", "seed", "optimizer", "freeze"];

/** `lr` of a run config: a number or a list of numbers, one per layer pair. */
function parseLr(x: Json, pairs: number): number[] {
  if (typeof x === "number") return lrPerLayer(x, pairs);
  if (!Array.isArray(x)) throw new InputError("lr", `expected a number or a list of ${pairs} numbers (one per layer pair), got ${x === undefined ? "nothing" : JSON.stringify(x)}`);
  return lrPerLayer(x.map((v, l) => finite(v, `lr[${l}]`)), pairs);
}

function refuseOptimizer(x: Json): void {
  if (x === undefined || x === "gd") return;
  const o = typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, Json>) : undefined;
  const extra = o ? Object.keys(o).filter((k) => k !== "kind") : [];
  if (o && o.kind === "gd" && extra.length === 0) return;
  throw new InputError(
    extra.length ? `optimizer.${extra[0]}` : "optimizer",
    "EqProp's update is plain SGD with one rate per layer pair (EQPROP.md Training): give the rates as `lr` and leave `optimizer` out (or 'gd')",
  );
}

function tensors(base: EqpropCase): TensorSpec[] {
  const n = base.model.layers;
  return n.slice(1).flatMap((post, l): TensorSpec[] => [
    { name: `W[${l}]`, path: ["params", "W", String(l)], shape: [post, n[l]!], dims: [`layers[${l + 1}]`, `layers[${l}]`], kind: "param" },
    { name: `b[${l}]`, path: ["params", "b", String(l)], shape: [post], dims: [`layers[${l + 1}]`], kind: "param" },
  ]);
}

export const eqpropTraining: RuleTraining<EqpropRunBase, EqpropTrainState, EqpropBatch> = {
  parseRun(r, source) {
    const unknown = Object.keys(r).find((k) => !RUN_FIELDS.includes(k));
    if (unknown) throw new InputError(unknown, `not a field of an EqProp run config; expected ${RUN_FIELDS.join(", ")}`);
    refuseOptimizer(r.optimizer);
    if (r.freeze !== undefined && !(Array.isArray(r.freeze) && r.freeze.length === 0)) {
      throw new InputError("freeze", "EqProp trains every W[l] and b[l] (the board's APPLY updates them all); leave `freeze` out");
    }
    const parsed = parseModel(r.model);
    if (obj(r.model, "model").lossReduction !== undefined && parsed.lossReduction !== "mean") {
      throw new InputError("model.lossReduction", "training always takes the batch mean (EQPROP.md Training); leave it out or give 'mean'");
    }
    const model = { ...parsed, lossReduction: "mean" as const };
    const seed = r.seed === undefined ? 1 : intIn(r.seed, "seed", 0, 2 ** 32 - 1);
    const c = parseEqpropCase({ format: "hil-case/1", name: r.name ?? "eqprop", model: r.model!, params: r.params ?? glorotUniform(model.layers, seed), inputs: r.inputs!, targets: r.targets! }, source);
    const N = c.inputs.length;
    const lr = parseLr(r.lr, model.layers.length - 1);
    const batchSize = r.batchSize === undefined ? 1 : intIn(r.batchSize, "batchSize", 1, N);
    if ((r.epochs === undefined) === (r.iterations === undefined)) {
      throw new InputError("epochs/iterations", "give exactly one: `epochs` (passes over the samples) or `iterations` (mini-batches)");
    }
    const perEpoch = Math.ceil(N / batchSize);
    const iterations = r.epochs !== undefined ? intIn(r.epochs, "epochs", 1, Math.floor(100_000_000 / perEpoch)) * perEpoch : intIn(r.iterations, "iterations", 1, 100_000_000);
    const labels = oneHotLabels(c.targets);
    const base: EqpropRunBase = { ...c, model, lr, batchSize, seed, ...(labels ? { labels } : {}) };
    return {
      name: base.name,
      base,
      trial: batchesOf(base),
      info: { model: { ...model }, optimizer: eqpropOptimizerInfo(lr, batchSize) },
      extras: { lr, batchSize, seed, samples: N, batchesPerEpoch: perEpoch },
      optimizer: eqpropOptimizer(lr),
      iterations,
    };
  },

  fromTask: digitsRun,

  tensors,

  initialState: (spec: RunSpec<EqpropRunBase, EqpropBatch>) => ({ params: structuredClone(spec.base.params), optimizer: newOptimizerState() }),

  host: (spec, initial) => new EqpropHostTarget(spec, initial),

  device: eqpropDevice,
};
