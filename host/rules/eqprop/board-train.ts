// EqProp training on a board (EQPROP.md "Training"), the board twin of train.ts: the weights live
// on the board, so these functions take an EqpropBoard and the position in the data instead of
// parameters. A training session wraps them and checkpoints the board (CHECKPOINT READ, or SAVE
// to its storage) with the position:
// - boardStart: CONFIGURE (lossReduction sum: a batch's loss is Σ C(s0), as trainIteration's) and WRITE the initial weights;
// - boardIteration: one mini-batch, RUN in training mode (every sample from state 0: free and
//   nudged phases, estimates summed on the board) then APPLY W[l] -= lr[l] · batch mean;
// - boardEvaluate: RUN with the free phase only;
// - boardTrainNext: the next iteration in the seeded order of train.ts's batchAt.
// The board's float32 arithmetic is the wasm kernel's (EqpropDevice.iteration / evaluate), bit for bit.
import type { DeviceClient } from "../../session/client.ts";
import { EqpropBoard } from "./board.ts";
import type { EqpropParams } from "./schema.ts";
import { batchAt, type BatchOutcome, type TrainConfig, type TrainPosition } from "./train.ts";

/** A board configured for training with `cfg` and holding `params`. */
export async function boardStart(client: DeviceClient, layers: readonly number[], cfg: TrainConfig, params: EqpropParams): Promise<EqpropBoard> {
  const { beta, epsilon, freeSteps, nudgedSteps, nudge } = cfg;
  const b = new EqpropBoard(client, { layers: [...layers], beta, epsilon, freeSteps, nudgedSteps, nudge, lossReduction: "sum" });
  await b.configure();
  await b.writeParams(params);
  return b;
}

/** One iteration on the batch (xs, ys) on the board: its loss Σ C(s0) and predictions; the board's weights move. */
export async function boardIteration(b: EqpropBoard, xs: readonly number[][], ys: readonly number[][], lr: readonly number[]): Promise<BatchOutcome> {
  const r = await b.run(xs, ys);
  await b.apply(lr);
  return { loss: r.loss, predictions: r.predictions };
}

/** The free phase only, on the board: loss Σ C(s0) and the predicted classes. */
export async function boardEvaluate(b: EqpropBoard, xs: readonly number[][], ys: readonly number[][]): Promise<BatchOutcome> {
  const r = await b.run(xs, ys, { learn: false });
  return { loss: r.loss, predictions: r.predictions };
}

/** The next iteration of a run over (xs, ys) on the board, in the order of train.ts's batchAt: the new position and the batch's outcome with the indices of its samples. */
export async function boardTrainNext(
  b: EqpropBoard, pos: TrainPosition, lr: readonly number[], xs: readonly number[][], ys: readonly number[][], batchSize: number, seed: number,
): Promise<{ position: TrainPosition; batch: number[] } & BatchOutcome> {
  const { batch, next } = batchAt(pos, xs.length, batchSize, seed);
  const r = await boardIteration(b, batch.map((i) => xs[i]!), batch.map((i) => ys[i]!), lr);
  return { position: next, batch, ...r };
}
