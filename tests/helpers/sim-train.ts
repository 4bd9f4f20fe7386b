// Training a run spec on a fresh simulated board, in process (the loop of `edgeprop train --board
// sim`), optionally killing and restarting the board process after an iteration: what the
// board-reset recovery tests of every rule share.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { connectBoard } from "../../host/link/connect-board.ts";
import { startSim } from "../../host/sim/sim.ts";
import { DeviceTarget } from "../../host/train/device-target.ts";
import { runLoop } from "../../host/train/loop.ts";
import type { TrainState } from "../../host/train/target.ts";
import type { RunSpec } from "../../host/train/training.ts";

export interface SimTrainOptions {
  /** Folder under which the board keeps its storage. */
  dir: string;
  /** Kill the board after this iteration and start it again (blank): the next iteration meets a dead board. */
  killAfter?: number;
  checkpointEvery: number;
}

/** Trains `spec` from `initial` on a new simulated board; the final state, every iteration's loss and the recoveries. */
export async function trainOnSim<S extends TrainState>(
  spec: RunSpec<unknown, unknown>, initial: S, o: SimTrainOptions,
): Promise<{ state: S; losses: number[]; recoveries: number }> {
  const sim = await startSim({ dir: mkdtempSync(join(o.dir, "board-")) });
  try {
    const conn = await connectBoard({ board: "sim", port: sim.port, timeouts: { waitMs: 30_000 } });
    const target = await DeviceTarget.open(spec, initial, conn);
    const losses: number[] = [];
    let restart: Promise<void> | undefined;
    try {
      await runLoop(spec, target, {
        start: 1,
        checkpointEvery: o.checkpointEvery,
        record: () => false,
        onIteration: (n, outcome) => {
          losses.push(outcome.loss);
          // a crash while the host goes on sending: the next iteration meets a dead, then a blank board
          if (n === o.killAfter) restart = sim.killBoard().then(() => sim.startBoard());
        },
      });
      await restart;
      return { state: (await target.state()) as S, losses, recoveries: target.recoveries };
    } finally {
      await target.close();
    }
  } finally {
    await sim.stop();
  }
}
