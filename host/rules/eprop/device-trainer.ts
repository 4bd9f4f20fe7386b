// e-prop training on a board: the device runs e-prop and applies the optimizer itself; the host
// streams each trial and asks for the update. The shared DeviceTarget (host/train/device-target.ts)
// owns the link, board resets and replay; the state it checkpoints holds the board's own blob.
import { InputError } from "../../input/errors.ts";
import { transpose } from "../../model/matrix.ts";
import type { Case } from "../../model/types.ts";
import type { Trial } from "../../tasks/task.ts";
import type { DeviceTrainer } from "../../train/training.ts";
import type { RecurrentState } from "./training.ts";

export const epropDevice: DeviceTrainer<Case, RecurrentState, Trial> = {
  check(spec) {
    if (spec.base.feedback.kind === "adaptive") {
      throw new InputError("feedback.kind", "'adaptive' feedback is trained on the host only for now; use 'symmetric' or 'random' on a board");
    }
    if (spec.freeze.length) throw new InputError("freeze", "boards train every parameter; freezing is available with --board host");
  },

  async load(client, spec, state) {
    const { model, feedback } = spec.base;
    if (state.device) {
      await client.checkpointWrite(Buffer.from(state.device, "base64"), model, feedback.kind);
    } else {
      await client.configure(model, feedback.kind, { optimizer: spec.optimizer.kind });
      await client.writeParams(state.params, state.B);
    }
  },

  async iterate(client, spec, trial, n, record) {
    const r = await client.runTrial(trial.inputs, trial.targets, trial.mask, { outputs: record, spikes: record });
    const o = spec.optimizer;
    await client.apply({
      optimizer: o.kind, lr: o.lr, b1: o.beta1, b2: o.beta2, eps: o.eps, step: n,
      ...(o.wMin !== null ? { wMin: o.wMin } : {}), ...(o.wMax !== null ? { wMax: o.wMax } : {}),
    });
    return { loss: r.loss, z: r.z, y: r.y };
  },

  async state(client, spec, done) {
    const params = await client.readParams();
    const B = spec.base.feedback.kind === "symmetric" ? transpose(params.wOut) : await client.readFeedback();
    const blob = await client.checkpointRead();
    return { params, B, optimizer: { step: done, m: {}, v: {} }, device: Buffer.from(blob).toString("base64") };
  },
};
