// Where a training run executes: a rule's host target (float64 reference) or a board over the
// wire (device-target.ts). The loop (loop.ts) is the same for all; a target only runs iterations
// and applies updates. What a rule provides to build its targets is training.ts.
import type { Matrix } from "../model/types.ts";
import type { OptimizerState } from "./optimizer.ts";
import type { LinkStats } from "../link/link-stats.ts";

export interface TrialOutcome {
  /** Task loss of the iteration, measured as it ran (before the update that follows it, or the mean over its updates). */
  loss: number;
  /** Spikes and readout of the iteration's trial, when asked for (report samples, metrics). */
  z?: Matrix;
  y?: Matrix;
  /** The learning rate the update applied (a board's: its float32 value), when the target knows it. */
  lr?: number;
  /**
   * Further figures of the iteration for metrics.jsonl: SAL's `angleDeg`, a mini-batch's `accuracy`
   * and `accuracyTrials`, DECOLLE's per-layer losses `layerLoss`.
   */
  metrics?: Record<string, number | number[]>;
}

/**
 * Everything needed to resume a run exactly: the rule's parameters (what params.json holds),
 * the optimizer state and, on a board, the board's own checkpoint blob. A rule's state adds the
 * other tensors it carries (e-prop: the feedback matrix B); training.ts `tensors` says where
 * each tensor lives in it.
 */
export interface TrainState<P = unknown> {
  params: P;
  optimizer: OptimizerState;
  /** A board's own checkpoint blob (base64): restores its optimizer moments exactly. */
  device?: string;
  /** A host target's own kernel memory (base64; SAL's float32 mode): not a board's blob, checked by the target that restores it. */
  arena?: string;
}

export interface TrainTarget<S extends TrainState = TrainState, Item = unknown> {
  readonly board: string;
  /** Runs iteration n's item with the current weights and applies the rule's update(s). */
  iterate(item: Item, record: boolean): Promise<TrialOutcome>;
  /**
   * A mini-batch (batch.ts): runs every item at the current weights, applies one update with
   * their reduced gradient. The loss is the items' mean; z/y are the last item's if `record`.
   */
  iterateBatch?(items: Item[], record: boolean): Promise<TrialOutcome>;
  /** A one-line status for the progress line (e.g. per-board throughput). */
  status?(): string;
  state(): Promise<S>;
  /** Boards: what happened on the link so far (frames, retransmissions, CRC failures, faults). */
  link?(): LinkStats;
  close(): Promise<void>;
}
