// OSTL training on a board: the device runs OSTL and applies the optimizer itself (APPLY gd or
// Adam, PROTOCOL.md §7); the host streams each trial and asks for the update. The shared
// DeviceTarget (host/train/device-target.ts) owns the link, board resets and replay; the state it
// checkpoints holds the board's own blob (arena with Adam moments), so --resume and a reset board
// continue exactly.
import { InputError } from "../../input/errors.ts";
import type { Trial } from "../../tasks/task.ts";
import type { DeviceTrainer } from "../../train/training.ts";
import { OstlBoard } from "./board.ts";
import { stackRaster, type StackState } from "./host-target.ts";
import type { OstlCase } from "./schema.ts";

const F32_MAX = 3.4028234663852886e38;

export const ostlDevice: DeviceTrainer<OstlCase, StackState, Trial> = {
  check(spec) {
    if (spec.freeze.length) throw new InputError("freeze", "boards train every parameter; freezing is available with --board host");
    const o = spec.optimizer;
    if (o.kind === "adam" && (o.wMin !== null || o.wMax !== null)) {
      throw new InputError(o.wMin !== null ? "optimizer.wMin" : "optimizer.wMax", "an OSTL board clips weights with gd only (MODEL.md: gd clips to [wMin, wMax]); use gd, or train Adam with clipping on --board host");
    }
  },

  async load(client, spec, state) {
    const { model } = spec.base;
    if (state.device) {
      await OstlBoard.restore(client, model, Buffer.from(state.device, "base64"));
    } else {
      const { board } = await OstlBoard.configure(client, model, { optimizer: spec.optimizer.kind });
      await board.writeParams(state.params);
    }
  },

  async iterate(client, spec, trial, n, record) {
    const board = new OstlBoard(client, spec.base.model);
    const r = await board.runTrial(trial.inputs, trial.targets, trial.mask, { outputs: record, spikes: record });
    const o = spec.optimizer;
    // The firmware clips to both bounds; a bound not given is the float32 range's end (no clipping there).
    const clip = o.wMin !== null || o.wMax !== null ? { wMin: o.wMin ?? -F32_MAX, wMax: o.wMax ?? F32_MAX } : {};
    await board.apply({ optimizer: o.kind, lr: o.lr, b1: o.beta1, b2: o.beta2, eps: o.eps, step: n, ...clip });
    return { loss: r.loss, z: r.spikes && stackRaster(r.spikes), y: r.y };
  },

  async state(client, spec, done) {
    const board = new OstlBoard(client, spec.base.model);
    const params = await board.readParams();
    const blob = await board.checkpoint();
    return { params, optimizer: { step: done, m: {}, v: {} }, device: Buffer.from(blob).toString("base64") };
  },
};
