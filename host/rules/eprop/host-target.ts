// `--board host` for the recurrent rules (e-prop, BPTT): the float64 reference in process. One
// iteration: the trial's loss and gradients with the current weights, then one optimizer update
// at the update's scheduled rate; a mini-batch sums its trials' float64 gradients in trial order
// (divided by B for "mean") before the one update.
import { transpose } from "../../model/matrix.ts";
import type { Case, GradResult, Matrix } from "../../model/types.ts";
import { forward } from "../../reference/simulate.ts";
import type { Trial } from "../../tasks/task.ts";
import { batchDivisor, sumGradients } from "../../train/batch.ts";
import { lrAt } from "../../train/schedule.ts";
import type { TrainTarget, TrialOutcome } from "../../train/target.ts";
import { applyTensorUpdate } from "../../train/tensors.ts";
import type { RunSpec, TensorSpec } from "../../train/training.ts";
import type { RecurrentState } from "./training.ts";

export class RecurrentHostTarget implements TrainTarget<RecurrentState, Trial> {
  readonly board = "host";
  private s: RecurrentState;

  constructor(
    private readonly spec: RunSpec<Case, Trial>,
    initial: RecurrentState,
    private readonly grad: (c: Case) => GradResult,
    /** The tensors the optimizer updates. */
    private readonly trained: readonly TensorSpec[],
  ) {
    this.s = structuredClone(initial);
  }

  private caseFor(trial: Trial): Case {
    return { ...this.spec.base, params: this.s.params, feedback: { kind: this.spec.base.feedback.kind, B: this.s.B }, ...trial };
  }

  async iterate(trial: Trial, record: boolean): Promise<TrialOutcome> {
    return this.update([trial], record);
  }

  async iterateBatch(trials: Trial[], record: boolean): Promise<TrialOutcome> {
    return this.update(trials, record);
  }

  private update(trials: Trial[], record: boolean): Promise<TrialOutcome> {
    const cases = trials.map((t) => this.caseFor(t));
    const results = cases.map((c) => this.grad(c));
    // One trial: its gradient as it is (MODEL.md's loop, bit for bit).
    const grads = results.length === 1 ? results[0]!.grads : sumGradients(results.map((r) => ({ ...r.grads })), batchDivisor(this.spec));
    const loss = results.length === 1 ? results[0]!.loss : results.reduce((s, r) => s + r.loss, 0) / results.length;
    const traj = record ? forward(cases.at(-1)!) : undefined;
    const { params } = this.s;
    const wOutBefore = params.wOut.map((row) => row.slice());
    const lr = lrAt(this.spec.optimizer.lr, this.spec.lrSchedule, this.s.optimizer.step + 1);
    applyTensorUpdate({ ...this.spec.optimizer, lr }, this.s.optimizer, this.s, this.trained, grads);
    // MODEL.md: wRec has no self-connections, whatever clipping did.
    params.wRec.forEach((row, j) => (row[j] = 0));
    this.s.B = nextFeedback(this.spec.base.feedback.kind, this.s.B, wOutBefore, params.wOut);
    return Promise.resolve({ loss, z: traj?.z, y: traj?.y, lr });
  }

  async state(): Promise<RecurrentState> {
    return structuredClone(this.s);
  }

  async close(): Promise<void> {}
}

/**
 * Feedback after an update: symmetric follows wOut; adaptive copies wOut's update (B += dWoutᵀ,
 * which aligns B with wOutᵀ over training without transporting weights); random stays fixed.
 */
function nextFeedback(kind: Case["feedback"]["kind"], B: Matrix, wOutBefore: Matrix, wOutAfter: Matrix): Matrix {
  if (kind === "symmetric") return transpose(wOutAfter);
  if (kind === "random") return B;
  return B.map((row, j) => row.map((b, k) => b + (wOutAfter[k]![j]! - wOutBefore[k]![j]!)));
}
