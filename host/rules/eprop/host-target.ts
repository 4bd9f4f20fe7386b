// `--board host` for the recurrent rules (e-prop, BPTT): the float64 reference in process. One
// iteration: the trial's loss and gradients with the current weights, then one optimizer update.
import { transpose } from "../../model/matrix.ts";
import type { Case, GradResult, Matrix } from "../../model/types.ts";
import { forward } from "../../reference/simulate.ts";
import type { Trial } from "../../tasks/task.ts";
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
    const c = this.caseFor(trial);
    const { loss, grads } = this.grad(c);
    const traj = record ? forward(c) : undefined;
    const { params } = this.s;
    const wOutBefore = params.wOut.map((row) => row.slice());
    applyTensorUpdate(this.spec.optimizer, this.s.optimizer, this.s, this.trained, grads);
    // MODEL.md: wRec has no self-connections, whatever clipping did.
    params.wRec.forEach((row, j) => (row[j] = 0));
    this.s.B = nextFeedback(this.spec.base.feedback.kind, this.s.B, wOutBefore, params.wOut);
    return { loss, z: traj?.z, y: traj?.y };
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
