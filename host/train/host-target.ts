// `--board host`: training on the float64 reference, in process.
import { transpose } from "../model/matrix.ts";
import type { Case, Grads, Matrix } from "../model/types.ts";
import { referenceGrad } from "../reference/index.ts";
import { forward } from "../reference/simulate.ts";
import type { Trial } from "../tasks/task.ts";
import { applyUpdate } from "./optimizer.ts";
import type { RunSpec } from "./run-config.ts";
import type { TrainState, TrainTarget, TrialOutcome } from "./target.ts";
import { trainedArrays } from "./trained.ts";

export class HostTarget implements TrainTarget {
  readonly board = "host";
  private s: TrainState;

  constructor(
    private readonly spec: RunSpec,
    initial: TrainState,
  ) {
    this.s = structuredClone(initial);
  }

  private caseFor(trial: Trial): Case {
    return { ...this.spec.base, params: this.s.params, feedback: { kind: this.spec.base.feedback.kind, B: this.s.B }, ...trial };
  }

  async iterate(trial: Trial, record: boolean): Promise<TrialOutcome> {
    const c = this.caseFor(trial);
    const { loss, grads } = referenceGrad(c, this.spec.rule);
    const traj = record ? forward(c) : undefined;
    this.update(grads);
    return { loss, z: traj?.z, y: traj?.y };
  }

  private update(grads: Grads): void {
    const { params, optimizer } = this.s;
    const { arrays, gradArrays, clip, writeBack } = trainedArrays(this.spec, params, grads);
    const wOutBefore = params.wOut.map((row) => row.slice());
    applyUpdate(this.spec.optimizer, optimizer, arrays, gradArrays, clip);
    writeBack();
    this.s.B = nextFeedback(this.spec.base.feedback.kind, this.s.B, wOutBefore, params.wOut);
  }

  async state(): Promise<TrainState> {
    return structuredClone(this.s);
  }

  async close(): Promise<void> {}
}

/**
 * Feedback after an update: symmetric follows wOut; adaptive copies wOut's update (B += dWoutᵀ,
 * which aligns B with wOutᵀ over training without transporting weights); random stays fixed.
 */
export function nextFeedback(kind: Case["feedback"]["kind"], B: Matrix, wOutBefore: Matrix, wOutAfter: Matrix): Matrix {
  if (kind === "symmetric") return transpose(wOutAfter);
  if (kind === "random") return B;
  return B.map((row, j) => row.map((b, k) => b + (wOutAfter[k]![j]! - wOutBefore[k]![j]!)));
}
