// e-prop training on a board: the device runs e-prop and applies the optimizer itself; the host
// streams each trial and asks for the update. The shared DeviceTarget (host/train/device-target.ts)
// owns the link, board resets and replay; the state it checkpoints holds the board's own blob.
// Mini-batches: the board sums the batch's gradients itself (the first trial starts with `rs`, the
// others with RESET 1, which keeps the sum), then one APPLY with `div` = B for "mean"; replicas
// (host/train/replicas.ts) read that sum with GRADS and write the boards' total back (WRITE ids
// 8..11). Every APPLY carries the update's scheduled rate and the board echoes the float32 it used.
import { InputError } from "../../input/errors.ts";
import { transpose } from "../../model/matrix.ts";
import type { Case } from "../../model/types.ts";
import type { DeviceClient } from "../../session/client.ts";
import type { Trial } from "../../tasks/task.ts";
import { lrAt } from "../../train/schedule.ts";
import type { DeviceBatch, DeviceTrainer, RunSpec } from "../../train/training.ts";
import { GRAD_WRITE_ID, ParamId } from "../../../protocol/messages.ts";
import type { RecurrentState } from "./training.ts";

const GRAD_NAMES = ["wIn", "wRec", "wOut", "bOut"] as const;

/** APPLY of update n at its scheduled rate; returns the float32 rate the board applied. */
async function applyUpdate(client: DeviceClient, spec: RunSpec<Case, Trial>, n: number, div: number): Promise<{ lr?: number }> {
  const o = spec.optimizer;
  const r = await client.applyResponse({
    optimizer: o.kind, lr: lrAt(o.lr, spec.lrSchedule, n), b1: o.beta1, b2: o.beta2, eps: o.eps, step: n, div,
    ...(o.wMin !== null ? { wMin: o.wMin } : {}), ...(o.wMax !== null ? { wMax: o.wMax } : {}),
  });
  return typeof r.lr === "number" ? { lr: r.lr } : {};
}

/** What lossReduction "mean" divides a trial's gradient by (MODEL.md Options): masked steps (ce) or T. */
function meanDivisor(spec: RunSpec<Case, Trial>, t: Trial): number {
  return spec.base.model.loss === "ce" ? t.mask.filter((m) => m !== 0).length : t.inputs.length;
}

const batch: DeviceBatch<Case, Trial> = {
  async accumulate(client, spec, trials, record, onItem) {
    const h = client.session.info;
    if (h && !h.caps.includes("batch")) {
      throw new InputError("batchSize", `board '${h.board}' runs e-prop firmware ${h.fw} without mini-batches (HELLO caps lack 'batch'): rebuild and flash it, or use batchSize 1`);
    }
    // The board keeps one sum: with lossReduction "mean" its trials must share their divisor.
    if (spec.base.model.lossReduction === "mean") {
      const d = trials.map((t) => meanDivisor(spec, t));
      const i = d.findIndex((x) => x !== d[0]);
      if (i >= 0) throw new InputError("batchSize", `lossReduction 'mean' on a board sums a batch's trials at one divisor: trial ${i + 1} of a batch divides by ${d[i]} steps, the first by ${d[0]}; use trials of equal (masked) length, lossReduction 'sum', or --board host`);
    }
    const out = [];
    for (let i = 0; i < trials.length; i++) {
      const t = trials[i]!;
      const last = record && i === trials.length - 1;
      const r = await client.runTrial(t.inputs, t.targets, t.mask, { outputs: last, spikes: last, keepGrads: i > 0 });
      out.push({ loss: r.loss, z: r.z, y: r.y });
      onItem?.(i);
    }
    return out;
  },

  apply: applyUpdate,

  async read(client) {
    const g = await client.readGrads();
    return { wIn: g.wIn, wRec: g.wRec, wOut: g.wOut, bOut: g.bOut };
  },

  async write(client, _spec, grads) {
    for (const name of GRAD_NAMES) await client.writeArray(GRAD_WRITE_ID + ParamId[name], (grads[name] as number[] | number[][]).flat());
  },
};

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
    const { lr } = await applyUpdate(client, spec, n, 1);
    return { loss: r.loss, z: r.z, y: r.y, lr };
  },

  async state(client, spec, done) {
    const params = await client.readParams();
    const B = spec.base.feedback.kind === "symmetric" ? transpose(params.wOut) : await client.readFeedback();
    const blob = await client.checkpointRead();
    return { params, B, optimizer: { step: done, m: {}, v: {} }, device: Buffer.from(blob).toString("base64") };
  },

  batch,
  schedules: true,
};
