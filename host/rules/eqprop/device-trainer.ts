// EqProp training on a board (the shared DeviceTarget owns the link, resets and replay): CONFIGURE
// and WRITE the checkpoint's weights, then per iteration RUN the mini-batch in training mode and
// APPLY W[l] -= lr[l] · batch mean on the board (board-train.ts). The board holds nothing else a
// run needs (plain SGD: no moments), and its float32 weights read back into float64 go back onto
// a board unchanged, so W and b are the whole checkpoint: no board blob is kept.
import type { DeviceClient } from "../../session/client.ts";
import type { DeviceTrainer, RunSpec } from "../../train/training.ts";
import { boardIteration, boardStart } from "./board-train.ts";
import { EqpropBoard } from "./board.ts";
import { batchOutcome, type EqpropBatch, type EqpropRunBase, type EqpropTrainState } from "./run-base.ts";

type Spec = RunSpec<EqpropRunBase, EqpropBatch>;

/** The run's model as the board is configured for training (loss summed per batch, as board-train.ts expects). */
const boardFor = (client: DeviceClient, spec: Spec): EqpropBoard => new EqpropBoard(client, { ...spec.base.model, lossReduction: "sum" });

export const eqpropDevice: DeviceTrainer<EqpropRunBase, EqpropTrainState, EqpropBatch> = {
  async load(client, spec, state) {
    const { model, lr } = spec.base;
    await boardStart(client, model.layers, { ...model, lr }, state.params);
  },

  async iterate(client, spec, batch) {
    return batchOutcome(await boardIteration(boardFor(client, spec), batch.xs, batch.ys, spec.base.lr), batch);
  },

  async state(client, spec, done) {
    return { params: await boardFor(client, spec).readParams(), optimizer: { step: done, m: {}, v: {} } };
  },
};
