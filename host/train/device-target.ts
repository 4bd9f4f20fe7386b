// Training on a board over the wire (sim, QEMU, a real MCU), for any rule with a device trainer
// (training.ts DeviceTrainer): the device runs the rule and applies the optimizer itself; the host
// only streams iterations and asks for updates. Host checkpoints hold the board's own checkpoint
// blob (optimizer moments included), so `--resume` restores it exactly, and a board that resets
// mid-run is given the last checkpoint back and the iterations since are replayed (they are
// deterministic): no update is lost or applied twice. The host keeps that blob rather than the
// board's storage, which on MCUs is far smaller than a model.
import { InputError } from "../input/errors.ts";
import { getRule } from "../rules/index.ts";
import type { BoardConnection } from "../link/connect-board.ts";
import type { LinkStats } from "../link/link-stats.ts";
import type { DeviceClient } from "../session/client.ts";
import { DeviceError, ErrorCode } from "../../protocol/messages.ts";
import type { TrainState, TrainTarget, TrialOutcome } from "./target.ts";
import type { DeviceTrainer, RunSpec } from "./training.ts";

export interface DeviceTargetOptions {
  /** Iterations the initial state holds (default: its optimizer step, one update per iteration). */
  iteration?: number;
}

/** How often one iteration is retried after the board reset before the run gives up. */
const MAX_RECOVERIES = 3;

export class DeviceTarget<S extends TrainState = TrainState, Item = unknown> implements TrainTarget<S, Item> {
  private rebooted = false;
  /** Iterations the board's state holds. */
  private done: number;
  /** The last checkpoint taken (or the run's starting state) and its iteration: what a reset board gets back. */
  private last: S;
  private lastDone: number;
  /** Board resets recovered from so far (reported by `train`, asserted by tests). */
  recoveries = 0;
  private readonly client: DeviceClient;

  private constructor(
    readonly board: string,
    private readonly spec: RunSpec<unknown, Item>,
    private readonly trainer: DeviceTrainer<unknown, S, Item>,
    private readonly conn: BoardConnection,
    initial: S,
    iteration: number,
  ) {
    this.client = conn.client;
    this.done = iteration;
    this.last = initial;
    this.lastDone = iteration;
  }

  /** The rule's device trainer, once it has accepted the run (InputError otherwise): call it before starting a board. */
  static trainerFor<S extends TrainState, Item>(spec: RunSpec<unknown, Item>): DeviceTrainer<unknown, S, Item> {
    const trainer = getRule(spec.rule, "rule").training?.device as DeviceTrainer<unknown, S, Item> | undefined;
    if (!trainer) throw new InputError("rule", `rule '${spec.rule}' has no device kernel: it trains with --board host only`);
    trainer.check?.(spec);
    return trainer;
  }

  /** Trains on the board behind `conn` (connectBoard); closing the target releases it. */
  static async open<S extends TrainState, Item>(spec: RunSpec<unknown, Item>, initial: S, conn: BoardConnection, o: DeviceTargetOptions = {}): Promise<DeviceTarget<S, Item>> {
    let target: DeviceTarget<S, Item> | undefined;
    try {
      const trainer = DeviceTarget.trainerFor<S, Item>(spec);
      const iteration = o.iteration ?? initial.optimizer.step;
      target = new DeviceTarget(conn.board?.id ?? conn.info.board, spec, trainer, conn, initial, iteration);
      const t = target;
      conn.onBoot = () => {
        t.rebooted = true;
      };
      await target.load(initial, iteration);
    } catch (err) {
      if (target) await target.close();
      else await conn.release();
      throw err;
    }
    return target;
  }

  /** Greets the board (its firmware must carry the rule) and puts `state`, `done` iterations in, on it. */
  private async load(state: S, done: number): Promise<void> {
    await this.client.helloFor(this.spec.rule, "rule");
    await this.trainer.load(this.client, this.spec, state);
    this.done = done;
    this.rebooted = false;
  }

  private async runOne(item: Item, record: boolean): Promise<TrialOutcome> {
    const outcome = await this.trainer.iterate(this.client, this.spec, item, this.done + 1, record);
    this.done++;
    return outcome;
  }

  async iterate(item: Item, record: boolean): Promise<TrialOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.rebooted) await this.recover();
        return await this.runOne(item, record);
      } catch (err) {
        const reset = this.rebooted || (err instanceof DeviceError && err.code === ErrorCode.NOT_CONFIGURED);
        if (!reset || attempt >= MAX_RECOVERIES) throw err;
        this.rebooted = true;
      }
    }
  }

  /** After a board reset: the last checkpoint goes back on it and the lost iterations are replayed. */
  private async recover(): Promise<void> {
    const upTo = this.done;
    await this.load(this.last, this.lastDone);
    this.recoveries++;
    for (let n = this.done + 1; n <= upTo; n++) await this.runOne(this.spec.trial(n), false);
  }

  async state(): Promise<S> {
    this.last = await this.trainer.state(this.client, this.spec, this.done);
    this.lastDone = this.done;
    return structuredClone(this.last);
  }

  link(): LinkStats {
    return this.conn.stats();
  }

  async close(): Promise<void> {
    await this.conn.release();
  }
}
