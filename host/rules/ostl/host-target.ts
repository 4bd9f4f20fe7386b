// `--board host` for layer stacks (OSTL, BPTT of stacks): the float64 reference in process. One
// iteration: the trial's loss and gradients with the current weights, then one optimizer update.
import type { Matrix } from "../../model/types.ts";
import type { Trial } from "../../tasks/task.ts";
import type { TrainState, TrainTarget, TrialOutcome } from "../../train/target.ts";
import { applyTensorUpdate } from "../../train/tensors.ts";
import type { RunSpec, TensorSpec } from "../../train/training.ts";
import type { OstlResult } from "./reference.ts";
import type { OstlCase, OstlParams } from "./schema.ts";
import { runStack } from "./stack.ts";

export type StackState = TrainState<OstlParams>;

/** A stack's loss and gradients for one trial (OSTL's, or the full BPTT's). */
export type StackGrad = (c: OstlCase) => OstlResult;

/** The case of one trial with the given parameters. */
export function stackCaseFor(base: OstlCase, params: OstlParams, trial: Trial): OstlCase {
  return { ...base, params, inputs: trial.inputs, targets: trial.targets, mask: trial.mask };
}

/** Gradients by tensor name (what applyTensorUpdate reads), from the case's layout. */
export function gradsByName(g: OstlParams): Record<string, number[] | Matrix> {
  const out: Record<string, number[] | Matrix> = { wOut: g.wOut, bOut: g.bOut };
  g.layers.forEach((lg, l) => {
    out[`layers[${l}].w`] = lg.w;
    out[`layers[${l}].b`] = lg.b;
  });
  return out;
}

/** One raster for the report: every layer's spikes side by side at each step, bottom layer first. */
export function stackRaster(z: readonly Matrix[]): Matrix {
  return z[0]!.map((_, t) => z.flatMap((layer) => layer[t]!));
}

export class StackHostTarget implements TrainTarget<StackState, Trial> {
  readonly board = "host";
  private s: StackState;

  constructor(
    private readonly spec: RunSpec<OstlCase, Trial>,
    initial: StackState,
    private readonly grad: StackGrad,
    /** The tensors the optimizer updates. */
    private readonly trained: readonly TensorSpec[],
  ) {
    this.s = structuredClone(initial);
  }

  async iterate(trial: Trial, record: boolean): Promise<TrialOutcome> {
    const c = stackCaseFor(this.spec.base, this.s.params, trial);
    const { loss, grads } = this.grad(c);
    const traj = record ? runStack(c) : undefined;
    applyTensorUpdate(this.spec.optimizer, this.s.optimizer, this.s, this.trained, gradsByName(grads));
    return { loss, z: traj && stackRaster(traj.layers.map((steps) => steps.map((s) => s.z))), y: traj?.y };
  }

  async state(): Promise<StackState> {
    return structuredClone(this.s);
  }

  async close(): Promise<void> {}
}
