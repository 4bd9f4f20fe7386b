// `--board host` for EqProp: the float64 reference in process (train.ts trainIteration). One
// iteration: every sample of the mini-batch with the current weights, then W[l] -= lr[l] · batch mean.
import type { TrainTarget, TrialOutcome } from "../../train/target.ts";
import type { RunSpec } from "../../train/training.ts";
import { trainIteration, type TrainConfig } from "./train.ts";
import { batchOutcome, type EqpropBatch, type EqpropRunBase, type EqpropTrainState } from "./run-base.ts";

export class EqpropHostTarget implements TrainTarget<EqpropTrainState, EqpropBatch> {
  readonly board = "host";
  private s: EqpropTrainState;
  private readonly cfg: TrainConfig;

  constructor(spec: RunSpec<EqpropRunBase, EqpropBatch>, initial: EqpropTrainState) {
    this.s = structuredClone(initial);
    const { beta, epsilon, freeSteps, nudgedSteps, nudge } = spec.base.model;
    this.cfg = { beta, epsilon, freeSteps, nudgedSteps, nudge, lr: spec.base.lr };
  }

  async iterate(batch: EqpropBatch): Promise<TrialOutcome> {
    const r = trainIteration(this.s.params, this.cfg, batch.xs, batch.ys);
    this.s.params = r.params;
    this.s.optimizer.step++;
    return batchOutcome(r, batch);
  }

  async state(): Promise<EqpropTrainState> {
    return structuredClone(this.s);
  }

  async close(): Promise<void> {}
}
