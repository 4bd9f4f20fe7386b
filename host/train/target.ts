// Where a training run executes: the float64 reference on the host, or a board over the wire.
// The loop (loop.ts) is the same for all; a target only runs trials and applies updates.
import type { Matrix, Params } from "../model/types.ts";
import type { Trial } from "../tasks/task.ts";
import type { OptimizerState } from "./optimizer.ts";
import type { LinkStats } from "../link/link-stats.ts";

export interface TrialOutcome {
  /** Task loss of the trial, measured with the weights before this iteration's update. */
  loss: number;
  /** Spikes and readout of the trial, when asked for (report samples, metrics). */
  z?: Matrix;
  y?: Matrix;
}

/** Everything needed to resume a run exactly. */
export interface TrainState {
  params: Params;
  /** Feedback matrix B [nRec][nOut] (changes with symmetric and adaptive feedback). */
  B: Matrix;
  optimizer: OptimizerState;
  /** A board's own checkpoint blob (base64): restores its optimizer moments exactly. */
  device?: string;
}

export interface TrainTarget {
  readonly board: string;
  /** Runs one trial with the current weights, then applies the optimizer update. */
  iterate(trial: Trial, record: boolean): Promise<TrialOutcome>;
  state(): Promise<TrainState>;
  /** Boards: what happened on the link so far (frames, retransmissions, CRC failures, faults). */
  link?(): LinkStats;
  close(): Promise<void>;
}
