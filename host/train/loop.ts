// MODEL.md's training loop, the same for every rule and target: iteration n runs item n (a
// trial with fixed weights, whose recorded loss is measured before the update that follows —
// or what the rule's iteration is, training.ts), then a checkpoint is taken every
// `checkpointEvery` iterations and at the end. With mini-batches (batch.ts) iteration n is one
// update over items (n-1)*B + 1 .. n*B.
import { batchItems } from "./batch.ts";
import type { TrainState, TrainTarget, TrialOutcome } from "./target.ts";
import type { RunSpec } from "./training.ts";

export interface LoopHooks<S extends TrainState = TrainState> {
  /** First iteration to run (1, or the checkpoint's iteration + 1 on resume). */
  start: number;
  checkpointEvery: number;
  /** Iterations whose spikes and outputs are recorded (the last one always is). */
  record(n: number): boolean;
  /** `state` is given at checkpoint iterations (every `checkpointEvery`, and the last). */
  onIteration(n: number, outcome: TrialOutcome, state: S | undefined): void;
}

export class DivergedError extends Error {}

export async function runLoop<S extends TrainState, Item>(spec: RunSpec<unknown, Item>, target: TrainTarget<S, Item>, hooks: LoopHooks<S>): Promise<void> {
  for (let n = hooks.start; n <= spec.iterations; n++) {
    const items = batchItems(spec, n);
    const record = n === spec.iterations || hooks.record(n);
    const outcome = items.length === 1 ? await target.iterate(items[0]!, record) : await target.iterateBatch!(items, record);
    if (!Number.isFinite(outcome.loss)) {
      throw new DivergedError(`loss is ${outcome.loss} at iteration ${n}: training diverged (lower the learning rate); the last checkpoint is intact`);
    }
    const checkpoint = n % hooks.checkpointEvery === 0 || n === spec.iterations;
    hooks.onIteration(n, outcome, checkpoint ? await target.state() : undefined);
  }
}
