// Training on a board over the wire (sim, QEMU, a real MCU): the device runs e-prop and applies
// the optimizer itself; the host only streams trials and asks for updates. Host checkpoints hold
// the board's own checkpoint blob (Adam moments included), so `--resume` restores it exactly,
// and a board that resets mid-run is given the last checkpoint back and the iterations since
// are replayed (they are deterministic): no update is lost or applied twice. The host keeps
// that blob rather than the board's storage, which on MCUs is far smaller than a model.
import { transpose } from "../model/matrix.ts";
import { InputError } from "../input/errors.ts";
import type { BoardConnection } from "../link/connect-board.ts";
import type { LinkStats } from "../link/link-stats.ts";
import type { DeviceClient } from "../session/client.ts";
import type { Trial } from "../tasks/task.ts";
import { DeviceError, ErrorCode } from "../../protocol/messages.ts";
import type { RunSpec } from "./run-config.ts";
import type { TrainState, TrainTarget, TrialOutcome } from "./target.ts";

/** How often one iteration is retried after the board reset before the run gives up. */
const MAX_RECOVERIES = 3;

export class DeviceTarget implements TrainTarget {
  private rebooted = false;
  private done: number;
  /** The last checkpoint taken (or the run's starting state): what a reset board gets back. */
  private last: TrainState;
  /** Board resets recovered from so far (reported by `train`, asserted by tests). */
  recoveries = 0;
  private readonly client: DeviceClient;

  private constructor(
    readonly board: string,
    private readonly spec: RunSpec,
    private readonly conn: BoardConnection,
    initial: TrainState,
  ) {
    this.client = conn.client;
    this.done = initial.optimizer.step;
    this.last = initial;
  }

  /** What boards cannot train: refused before anything is started or connected. */
  static check(spec: RunSpec): void {
    if (spec.base.feedback.kind === "adaptive") {
      throw new InputError("feedback.kind", "'adaptive' feedback is trained on the host only for now; use 'symmetric' or 'random' on a board");
    }
    if (spec.freeze.length) throw new InputError("freeze", "boards train every parameter; freezing is available with --board host");
    if (spec.rule !== "eprop") throw new InputError("rule", `boards learn with e-prop, not '${spec.rule}' (use --board host for BPTT)`);
  }

  /** Trains on the board behind `conn` (connectBoard); closing the target releases it. */
  static async open(spec: RunSpec, initial: TrainState, conn: BoardConnection): Promise<DeviceTarget> {
    const target = new DeviceTarget(conn.board?.id ?? conn.info.board, spec, conn, initial);
    try {
      DeviceTarget.check(spec);
      conn.onBoot = () => {
        target.rebooted = true;
      };
      await target.load(initial);
    } catch (err) {
      await target.close();
      throw err;
    }
    return target;
  }

  /** Configures the board and puts `state` on it (the board's own blob when there is one). */
  private async load(state: TrainState): Promise<void> {
    const { model, feedback } = this.spec.base;
    await this.client.hello();
    if (state.device) {
      await this.client.checkpointWrite(Buffer.from(state.device, "base64"), model, feedback.kind);
    } else {
      await this.client.configure(model, feedback.kind, { optimizer: this.spec.optimizer.kind });
      await this.client.writeParams(state.params, state.B);
    }
    this.done = state.optimizer.step;
    this.rebooted = false;
  }

  private async runOne(trial: Trial, record: boolean): Promise<TrialOutcome> {
    const r = await this.client.runTrial(trial.inputs, trial.targets, trial.mask, { outputs: record, spikes: record });
    const o = this.spec.optimizer;
    await this.client.apply({
      optimizer: o.kind, lr: o.lr, b1: o.beta1, b2: o.beta2, eps: o.eps, step: this.done + 1,
      ...(o.wMin !== null ? { wMin: o.wMin } : {}), ...(o.wMax !== null ? { wMax: o.wMax } : {}),
    });
    this.done++;
    return { loss: r.loss, z: r.z, y: r.y };
  }

  async iterate(trial: Trial, record: boolean): Promise<TrialOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.rebooted) await this.recover();
        return await this.runOne(trial, record);
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
    await this.load(this.last);
    this.recoveries++;
    for (let n = this.done + 1; n <= upTo; n++) await this.runOne(this.spec.trial(n), false);
  }

  async state(): Promise<TrainState> {
    const params = await this.client.readParams();
    const B = this.spec.base.feedback.kind === "symmetric" ? transpose(params.wOut) : await this.client.readFeedback();
    const blob = await this.client.checkpointRead();
    this.last = { params, B, optimizer: { step: this.done, m: {}, v: {} }, device: Buffer.from(blob).toString("base64") };
    return structuredClone(this.last);
  }

  link(): LinkStats {
    return this.conn.stats();
  }

  async close(): Promise<void> {
    await this.conn.release();
  }
}
