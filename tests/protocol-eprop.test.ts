// The firmware's model messages (RUN, GRADS, APPLY, CHECKPOINT) against the kernels driven
// directly (`--backend wasm`, host/device/driver.ts): the same e-prop kernels reached through
// frames must give bit-identical losses, gradients and weights.
import { beforeAll, describe, expect, it } from "vitest";
import { buildFirmware } from "../device/firmware/build.ts";
import { randomCase } from "../host/case/random.ts";
import type { RandomCaseOptions } from "../host/case/random.ts";
import { deviceGrad, EpropDevice } from "../host/device/driver.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { InProcessTransport } from "../host/transport/inprocess.ts";
import { Session } from "../host/session/session.ts";
import { DeviceClient } from "../host/session/client.ts";
import { FaultyTransport } from "../host/transport/fault.ts";
import { DeviceError, ErrorCode, MsgType, f32le, packBits } from "../protocol/messages.ts";
import type { Matrix } from "../host/model/types.ts";

let wasm: Uint8Array;
beforeAll(async () => {
  wasm = (await buildFirmware()).bytes;
});

async function client(opts: { maxFrame?: number; faultRate?: number; storage?: Uint8Array } = {}) {
  const fw = await FirmwareHost.create(wasm, { boardId: "sim" });
  if (opts.storage) fw.storageBytes.set(opts.storage);
  fw.init();
  let t: InProcessTransport | FaultyTransport = new InProcessTransport(fw);
  if (opts.faultRate) t = new FaultyTransport(t, { rate: opts.faultRate, seed: 3 });
  const s = new Session(t, { timeoutMs: 40, retries: 60, maxFrame: opts.maxFrame ?? 2048 });
  const c = new DeviceClient(s);
  await c.hello();
  return { c, s, fw };
}

const CASES: [string, RandomCaseOptions][] = [
  ["lif mse", { seed: 1 }],
  ["alif ce recurrent", { seed: 2, neuron: "alif", loss: "ce", recurrent: true }],
  ["random feedback, rateReg, mean", { seed: 3, feedback: "random", rateReg: { cReg: 0.5, fTargetHz: 10 }, lossReduction: "mean", recurrent: true }],
  ["refractory, oneMinusAlpha/Kappa, no bias", { seed: 4, refractory: 2, inputScale: "oneMinusAlpha", readoutScale: "oneMinusKappa", trainBias: false }],
  ["bigger, many frames", { seed: 5, nIn: 40, nRec: 30, nOut: 2, T: 400, recurrent: true }],
];

describe("firmware e-prop over the protocol = wasm backend, bit for bit", () => {
  for (const [name, o] of CASES) {
    it(name, async () => {
      const cs = randomCase(o);
      const ref = await deviceGrad(cs, "scalar");
      const { c, s } = await client({ maxFrame: 512 });
      await c.configure(cs.model, cs.feedback.kind);
      await c.writeParams(cs.params, cs.feedback.B);
      const run = await c.runTrial(cs.inputs, cs.targets, cs.mask);
      const g = await c.readGrads();
      expect(run.loss).toBe(ref.loss);
      expect(g).toEqual(ref.grads);
      if (cs.inputs.length > 200) expect(run.frames).toBeGreaterThan(1);
      await s.close();
    });
  }

  it("host-injected learning signals", async () => {
    const cs = randomCase({ seed: 6, recurrent: true });
    const L: Matrix = cs.inputs.map((_, t) => Array.from({ length: cs.model.nRec }, (_, j) => Math.fround(Math.sin(t * 7 + j))));
    const ref = await deviceGrad(cs, "scalar", { injectL: L });
    const { c, s } = await client();
    await c.configure(cs.model, cs.feedback.kind);
    await c.writeParams(cs.params);
    const run = await c.runTrial(cs.inputs, cs.targets, cs.mask, { injectL: L, outputs: true, spikes: true });
    expect(run.loss).toBe(ref.loss);
    expect(await c.readGrads()).toEqual(ref.grads);
    expect(run.y!.length).toBe(cs.inputs.length);
    expect(run.spikeCounts!.reduce((a, b) => a + b, 0)).toBe(run.z!.flat().reduce((a, b) => a + b, 0));
    await s.close();
  });

  it("training (gd and adam) ends with identical weights, also over a 1e-3 byte-error link", async () => {
    const cs = randomCase({ seed: 7, recurrent: true, nIn: 10, nRec: 16, T: 100 });
    for (const optimizer of ["gd", "adam"] as const) {
      const dev = await EpropDevice.create(cs.model, cs.feedback.kind, { optimizer });
      dev.loadParams(cs.params, cs.feedback.B);
      const results = [];
      for (const faultRate of [0, 1e-3]) {
        const { c, s } = await client({ maxFrame: 512, faultRate });
        await c.configure(cs.model, cs.feedback.kind, { optimizer });
        await c.writeParams(cs.params);
        for (let it = 1; it <= 5; it++) {
          await c.runTrial(cs.inputs, cs.targets, cs.mask);
          await c.apply({ optimizer, lr: 0.01 });
        }
        results.push(await c.readParams());
        if (faultRate) expect(s.stats.retransmits).toBeGreaterThan(0);
        await s.close();
      }
      for (let it = 1; it <= 5; it++) {
        dev.runTrial(cs.inputs, cs.targets, cs.mask);
        if (optimizer === "gd") dev.applyGd(0.01);
        else dev.applyAdam(0.01, 0.9, 0.999, 1e-8, it);
      }
      expect(results[0]).toEqual(dev.readParams());
      expect(results[1]).toEqual(results[0]);
    }
  });

  it("CHECKPOINT: read, restore on a fresh board, save/load via storage — training resumes identically", async () => {
    const cs = randomCase({ seed: 8, recurrent: true, nIn: 10, nRec: 16, T: 80 });
    const train = async (c: DeviceClient, n: number) => {
      for (let i = 0; i < n; i++) {
        await c.runTrial(cs.inputs, cs.targets, cs.mask);
        await c.apply({ optimizer: "adam", lr: 0.01 });
      }
    };
    const a = await client();
    await a.c.configure(cs.model, cs.feedback.kind, { optimizer: "adam" });
    await a.c.writeParams(cs.params);
    await train(a.c, 3);
    const blob = await a.c.checkpointRead();
    const saved = await a.c.checkpointSave();
    expect(saved).toBe(blob.length);
    await train(a.c, 3);
    const want = await a.c.readParams();

    const b = await client(); // a host that kept the blob (host killed, `--resume`)
    await b.c.checkpointWrite(blob, cs.model, cs.feedback.kind);
    await train(b.c, 3);
    expect(await b.c.readParams()).toEqual(want);

    const d = await client({ storage: a.fw.storageBytes }); // the board restarted, storage kept
    await d.c.checkpointLoad(cs.model, cs.feedback.kind);
    await train(d.c, 3);
    expect(await d.c.readParams()).toEqual(want);

    // a damaged blob is refused in words
    const bad = blob.slice();
    bad[200]! ^= 1;
    const e = await client();
    await expect(e.c.checkpointWrite(bad, cs.model, cs.feedback.kind)).rejects.toThrow(/STORAGE.*CRC mismatch/);
    await Promise.all([a.s.close(), b.s.close(), d.s.close(), e.s.close()]);
  });

  it("RUN rejects wrong shapes and NaN with the field named", async () => {
    const { c, s } = await client();
    const cs = randomCase({ seed: 9 });
    await c.configure(cs.model, cs.feedback.kind);
    const err = async (body: Record<string, unknown>) => (await s.request(MsgType.RUN, body).catch((x) => x)) as DeviceError;
    const x = packBits([[1, 0, 0, 0, 0, 0, 0, 1]], 8);
    let e = await err({ n: 2, x });
    expect(e).toBeInstanceOf(DeviceError);
    expect([e.code, e.field]).toEqual([ErrorCode.BAD_SHAPE, "x"]);
    e = await err({ n: 1, x, tg: f32le([NaN, 0, 0]) });
    expect([e.code, e.field]).toEqual([ErrorCode.BAD_VALUE, "tg"]);
    e = await err({ n: 1, x, tg: f32le([0, 0]) });
    expect([e.code, e.field]).toEqual([ErrorCode.BAD_SHAPE, "tg"]);
    expect(e.message).toMatch(/must be n x nOut f32 \(nOut = 3, got 8 bytes\)/);
    e = await err({ n: 1, x, o: 1, bogus: 1 });
    expect([e.code, e.field]).toEqual([ErrorCode.BAD_FIELD, "bogus"]);
    const ok = await s.request(MsgType.RUN, { n: 1, x, rs: true, o: 3 });
    expect(ok.n).toBe(1);
    await s.close();
  });
});
