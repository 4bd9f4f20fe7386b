// What DECOLLE's training pieces share (training.ts, host-target.ts, device-trainer.ts, task.ts):
// the trial of an iteration, the training state, the outcome of an iteration and the
// `decolleUpdate` setting (DECOLLE.md "Training").
import { choice, type Json } from "../../input/fields.ts";
import type { Matrix } from "../../model/types.ts";
import type { TrainState, TrialOutcome } from "../../train/target.ts";
import type { RunSpec } from "../../train/training.ts";
import type { LayerParams, Readout } from "./schema.ts";

export const DECOLLE_UPDATES = ["step", "trial"] as const;
export type DecolleUpdate = (typeof DECOLLE_UPDATES)[number];

/** One iteration's trial (a task's Trial, or a run config's `trials` entry). */
export interface DecolleTrial {
  inputs: Matrix;
  targets: Matrix;
  mask: number[];
  label?: number;
}

export interface DecolleState extends TrainState<{ layers: LayerParams[] }> {
  /** The fixed readouts G, bG of every layer (carried in checkpoints, never trained). */
  readouts: Readout[];
}

/** A DECOLLE iteration: the trial's loss, each layer's E^l, and when recorded every layer's spikes and readout. */
export interface DecolleOutcome extends TrialOutcome {
  layerLoss: number[];
  /** Per layer: spikes z [T][n_l] and readout y [T][nOut]. */
  layers?: Array<{ z: Matrix; y: Matrix }>;
}

/** `decolleUpdate` of a run config or task option: "step" (default, the spec's) or "trial". */
export function parseDecolleUpdate(x: Json, field = "decolleUpdate"): DecolleUpdate {
  return x === undefined ? "step" : choice(x, field, DECOLLE_UPDATES);
}

export function decolleUpdateOf(spec: RunSpec): DecolleUpdate {
  return (spec.extras.decolleUpdate as DecolleUpdate | undefined) ?? "step";
}

/** M: the steps with mask 1. */
export const maskedSteps = (mask: readonly number[]): number => mask.reduce((a, m) => a + (m !== 0 ? 1 : 0), 0);
