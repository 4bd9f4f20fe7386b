// `--board host` for DECOLLE: the float64 streaming reference (reference.ts) in process.
// decolleUpdate "trial": the trial runs with fixed weights, then its accumulated gradient (after
// lossReduction) is applied once. "step" (DECOLLE.md "Training", decolle-public online_update):
// after every step with mask 1 that step's gradient (divided by M, the trial's masked steps,
// under lossReduction "mean") is applied at once, so W changes inside the trial while P, Q, R,
// S carry on — the stream reads W and b live, and its gradient sums are zeroed after each update.
import type { Matrix } from "../../model/types.ts";
import type { TrainTarget } from "../../train/target.ts";
import { applyTensorUpdate } from "../../train/tensors.ts";
import type { RunSpec, TensorSpec } from "../../train/training.ts";
import { DecolleStream, type LayerState } from "./reference.ts";
import type { DecolleCase } from "./schema.ts";
import { decolleUpdateOf, maskedSteps, type DecolleOutcome, type DecolleState, type DecolleTrial } from "./trial.ts";

/** Gradients by tensor name (`layers[l].w`, `layers[l].b`) from the stream's sums, divided by `div`. */
function gradsOf(layers: readonly LayerState[], div: number): Record<string, number[] | Matrix> {
  const out: Record<string, number[] | Matrix> = {};
  layers.forEach((L, l) => {
    out[`layers[${l}].w`] = Array.from({ length: L.n }, (_, j) => Array.from(L.gW.subarray(j * L.nPre, (j + 1) * L.nPre), (g) => g / div));
    out[`layers[${l}].b`] = Array.from(L.gB, (g) => g / div);
  });
  return out;
}

export class DecolleHostTarget implements TrainTarget<DecolleState, DecolleTrial> {
  readonly board = "host";
  private s: DecolleState;
  private readonly step: boolean;

  constructor(
    private readonly spec: RunSpec<DecolleCase, DecolleTrial>,
    initial: DecolleState,
    /** The tensors the optimizer updates. */
    private readonly trained: readonly TensorSpec[],
  ) {
    this.s = structuredClone(initial);
    this.step = decolleUpdateOf(spec) === "step";
  }

  async iterate(trial: DecolleTrial, record: boolean): Promise<DecolleOutcome> {
    const { model } = this.spec.base;
    const stream = new DecolleStream(model, this.s.params, this.s.readouts);
    const div = model.lossReduction === "mean" ? Math.max(1, maskedSteps(trial.mask)) : 1;
    const z: Matrix[] = model.layers.map(() => []);
    const y: Matrix[] = model.layers.map(() => []);
    trial.inputs.forEach((x, t) => {
      stream.step(x, trial.targets[t]!, trial.mask[t]!);
      if (record) {
        stream.layers.forEach((L, l) => {
          z[l]!.push(Array.from(L.S));
          y[l]!.push(Array.from(L.y));
        });
      }
      if (this.step && trial.mask[t] !== 0) {
        applyTensorUpdate(this.spec.optimizer, this.s.optimizer, this.s, this.trained, gradsOf(stream.layers, div));
        for (const L of stream.layers) {
          L.gW.fill(0);
          L.gB.fill(0);
        }
      }
    });
    const r = stream.finish();
    if (!this.step) applyTensorUpdate(this.spec.optimizer, this.s.optimizer, this.s, this.trained, gradsOf(stream.layers, div));
    return {
      loss: r.loss,
      layerLoss: r.layerLoss,
      metrics: { layerLoss: r.layerLoss },
      ...(record ? { z: z.at(-1), y: y.at(-1), layers: z.map((zl, l) => ({ z: zl, y: y[l]! })) } : {}),
    };
  }

  async state(): Promise<DecolleState> {
    return structuredClone(this.s);
  }

  async close(): Promise<void> {}
}
