// DECOLLE training on a board (PROTOCOL.md "DECOLLE"): the device runs the kernel and applies the
// optimizer itself; the host streams each trial. decolleUpdate "trial": RUN, then APPLY (the trial's
// gradient, Adam step n = the iteration). "step": APPLY first arms the per-step update (every later
// step with mask 1 applies its own gradient, divided by `div` = M under lossReduction "mean"), then
// RUN — the arming is re-sent before every trial, so a restored or replayed board needs no memory
// of it. The shared DeviceTarget (host/train/device-target.ts) owns the link, board resets, replay
// and the checkpoints, which hold the board's own blob (weights, Adam moments and counters, the
// armed update): `--resume` and a reset board continue bit for bit.
import { InputError } from "../../input/errors.ts";
import type { DeviceClient } from "../../session/client.ts";
import type { DeviceTrainer, RunSpec } from "../../train/training.ts";
import { DecolleClient, type DecolleApply } from "./board.ts";
import type { DecolleCase } from "./schema.ts";
import { decolleUpdateOf, maskedSteps, type DecolleOutcome, type DecolleState, type DecolleTrial } from "./trial.ts";

type Spec = RunSpec<DecolleCase, DecolleTrial>;

const clientFor = (client: DeviceClient, spec: Spec) => new DecolleClient(client, spec.base.model);

/** The APPLY of an iteration: the optimizer's settings, plus `step` (trial Adam) or `div` (step mode). */
function applyOf(spec: Spec, trial: DecolleTrial, n: number): DecolleApply {
  const o = spec.optimizer;
  const a: DecolleApply = { optimizer: o.kind, lr: o.lr, b1: o.beta1, b2: o.beta2, eps: o.eps };
  if (o.wMin !== null) a.wMin = o.wMin;
  if (o.wMax !== null) a.wMax = o.wMax;
  if (decolleUpdateOf(spec) === "trial") {
    if (o.kind === "adam") a.step = n;
  } else if (spec.base.model.lossReduction === "mean") {
    a.div = Math.max(1, maskedSteps(trial.mask));
  }
  return a;
}

export const decolleDevice: DeviceTrainer<DecolleCase, DecolleState, DecolleTrial> = {
  check(spec) {
    if (spec.freeze.length) throw new InputError("freeze", "boards train every parameter; freezing is available with --board host");
    const o = spec.optimizer;
    if (o.kind === "adam" && (o.wMin !== null || o.wMax !== null)) {
      throw new InputError(o.wMin !== null ? "optimizer.wMin" : "optimizer.wMax", "a board clips weights with gd only (the DECOLLE kernel's Adam does not clip); drop wMin/wMax or use --board host");
    }
    if ((o.wMin === null) !== (o.wMax === null)) {
      throw new InputError(o.wMin === null ? "optimizer.wMin" : "optimizer.wMax", "a board clips with both wMin and wMax; give both or neither");
    }
  },

  async load(client, spec, state) {
    const d = clientFor(client, spec);
    if (state.device) {
      await d.restore(Buffer.from(state.device, "base64"));
    } else {
      await d.configure({ optimizer: spec.optimizer.kind, update: decolleUpdateOf(spec) });
      await d.writeParams(state.params, state.readouts);
    }
  },

  async iterate(client, spec, trial, n, record): Promise<DecolleOutcome> {
    const d = clientFor(client, spec);
    const step = decolleUpdateOf(spec) === "step";
    if (step) await d.apply(applyOf(spec, trial, n));
    const r = await d.runTrial(trial.inputs, trial.targets, trial.mask, { outputs: record, spikes: record });
    if (!step) await d.apply(applyOf(spec, trial, n));
    const layers = record && r.z && r.y ? r.z.map((z, l) => ({ z, y: r.y!.map((yt) => yt[l]!) })) : undefined;
    return {
      loss: r.loss,
      layerLoss: r.layerLoss,
      metrics: { layerLoss: r.layerLoss },
      ...(layers ? { z: layers.at(-1)!.z, y: layers.at(-1)!.y, layers } : {}),
    };
  },

  async state(client, spec, done) {
    const d = clientFor(client, spec);
    const params = await d.readParams();
    const blob = await client.checkpointRead();
    return { params, readouts: structuredClone(spec.base.readouts), optimizer: { step: done, m: {}, v: {} }, device: Buffer.from(blob).toString("base64") };
  },
};
