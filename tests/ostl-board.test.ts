// OSTL on boards (PROTOCOL.md §7, device/rules/ostl/handlers.ts, host/rules/ostl/board.ts): the
// firmware reached through frames computes the `wasm` backend's loss, gradients, outputs, spikes,
// updates and arena bit for bit — hosted in this process, on the sim board (a separate process
// behind a pty) and on the emulated Cortex-M4 (QEMU); checkpoints restore onto a fresh board and
// continue identically, torn/foreign/damaged blobs are refused; bad requests get the right ERROR;
// a firmware built without the rule refuses it by name.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildFirmware } from "../device/firmware/build.ts";
import { ensureWasm } from "../host/device/build.ts";
import { randomCase } from "../host/case/random.ts";
import { startQemuBoard } from "../host/firmware/qemu-board.ts";
import type { Matrix } from "../host/model/types.ts";
import { OstlBoard, OstlId, configureBody, ostlOnBoard } from "../host/rules/ostl/board.ts";
import { ostlRule } from "../host/rules/ostl/index.ts";
import { randomOstlCase, type OstlRandomOptions } from "../host/rules/ostl/random.ts";
import type { OstlCase } from "../host/rules/ostl/schema.ts";
import { OstlDevice, ostlWasmGrad } from "../host/rules/ostl/wasm.ts";
import { DeviceClient } from "../host/session/client.ts";
import { Session } from "../host/session/session.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { startSim } from "../host/sim/sim.ts";
import { InProcessTransport } from "../host/transport/inprocess.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { CheckpointOp, DeviceError, ERROR_NAME, ErrorCode, MsgType, f32le, packBits, type Body } from "../protocol/messages.ts";

let wasm: Uint8Array;
beforeAll(async () => {
  wasm = (await buildFirmware()).bytes;
  await Promise.all([ensureWasm("scalar"), ensureWasm("simd")]);
}, 300_000);

async function inProcess(opts: { maxFrame?: number; storage?: Uint8Array; firmware?: Uint8Array } = {}) {
  const fw = await FirmwareHost.create(opts.firmware ?? wasm, { boardId: "sim" });
  if (opts.storage) fw.storageBytes.set(opts.storage);
  fw.init();
  const s = new Session(new InProcessTransport(fw), { timeoutMs: 40, retries: 60, maxFrame: opts.maxFrame ?? 2048 });
  const dev = new DeviceClient(s);
  await dev.hello();
  return { dev, s, fw };
}

/** The request's DeviceError (the test fails if it succeeds or fails otherwise). */
async function deviceError(p: Promise<unknown>): Promise<DeviceError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof DeviceError)) throw new Error(`expected a DeviceError, got ${e instanceof Error ? e.message : String(e)}`);
  return e;
}

const CASES: [string, OstlRandomOptions, (c: OstlCase) => OstlCase][] = [
  ["1 layer LIF mse sum, resetGrad", { layers: [12], seed: 41 }, (c) => c],
  ["1 layer ALIF ce mean, resetGrad false", { layers: [12], neuron: "alif", loss: "ce", lossReduction: "mean", resetGrad: false, seed: 42 }, (c) => c],
  ["2 layers LIF/ALIF mse mean, resetGrad false, no readout bias", { layers: [12, 10], neuron: ["lif", "alif"], lossReduction: "mean", resetGrad: false, trainBias: false, seed: 43 }, (c) => c],
  ["2 layers ALIF ce sum, resetGrad", { layers: [12, 10], neuron: "alif", loss: "ce", seed: 44 }, (c) => c],
  // analog inputs travel as f32 (xf 1)
  ["3 layers ALIF mse sum, resetGrad, f32 inputs", { layers: [11, 9, 7], neuron: "alif", T: 120, seed: 45 }, (c) => ({ ...c, inputs: c.inputs.map((r, t) => r.map((x, i) => x * 0.8 + 0.05 * Math.sin(t + i))) })],
  ["3 layers LIF ce mean, resetGrad false, T 400 in many frames", { layers: [11, 9, 7], loss: "ce", lossReduction: "mean", resetGrad: false, T: 400, seed: 46 }, (c) => c],
];

/** y^t of every step on the wasm kernels (the driver does not record it). */
function wasmOutputs(dev: OstlDevice, c: OstlCase): Matrix {
  dev.call("osReset");
  const y: Matrix = [];
  c.inputs.forEach((x, t) => {
    dev.k.writeF32(dev.addr("act", 0), x);
    dev.k.writeF32(dev.addr("target"), c.targets[t]!);
    dev.call("osStep", c.mask[t]!);
    y.push(Array.from(dev.k.readF32(dev.addr("y"), c.model.nOut)));
  });
  dev.call("osFinish");
  return y;
}

describe("OSTL firmware over the protocol (in process) = wasm backend, bit for bit", () => {
  for (const [name, o, edit] of CASES) {
    it(name, async () => {
      const c = edit(randomOstlCase(o));
      const ref = await ostlWasmGrad(c, "scalar", { recordSpikes: true });
      const { dev, s } = await inProcess({ maxFrame: 512 });
      const { board } = await OstlBoard.configure(dev, c.model);
      await board.writeParams(c.params);
      const run = await board.runTrial(c.inputs, c.targets, c.mask, { outputs: true, spikes: true });
      expect(run.loss).toBe(ref.loss);
      expect(await board.readGrads()).toEqual(ref.grads);
      expect(run.spikes).toEqual(ref.spikes);
      const wdev = await OstlDevice.create(c.model);
      wdev.loadParams(c.params);
      expect(run.y).toEqual(wasmOutputs(wdev, c));
      expect(await board.readParams()).toEqual(wdev.readParams());
      if (c.inputs.length > 200) expect(run.frames).toBeGreaterThan(3);
      await s.close();
    });
  }

  it("per-neuron beta too large for a CONFIGURE frame follows by WRITE; learn false runs forward only", async () => {
    const c = randomOstlCase({ layers: [150, 140], neuron: "alif", nIn: 10, T: 40, seed: 47 });
    const ref = await ostlWasmGrad(c, "scalar");
    const { dev, s } = await inProcess({ maxFrame: 512 });
    expect(configureBody(c.model, s.maxBody).betaWrites.map(([p]) => p)).toEqual([OstlId.beta(0), OstlId.beta(1)]);
    const got = await ostlOnBoard(c, dev);
    expect(got).toEqual({ loss: ref.loss, grads: ref.grads });
    expect(Array.from(await dev.readArray(OstlId.beta(1), 140))).toEqual(Array.from(Float32Array.from(c.model.layers[1]!.beta)));
    const board = (await OstlBoard.configure(dev, c.model)).board;
    await board.writeParams(c.params);
    const fwd = await board.runTrial(c.inputs, c.targets, c.mask, { learn: false });
    expect(fwd.loss).toBe(ref.loss);
    expect((await board.readGrads()).wOut.flat().every((g) => g === 0)).toBe(true);
    await s.close();
  });

  it("training with gd and Adam ends with the wasm kernels' weights, bit for bit; RESET", async () => {
    const c = randomOstlCase({ layers: [10, 8], neuron: ["alif", "lif"], T: 60, seed: 48 });
    for (const optimizer of ["gd", "adam"] as const) {
      const wdev = await OstlDevice.create(c.model, { optimizer });
      wdev.loadParams(c.params);
      const { dev, s } = await inProcess({ maxFrame: 512 });
      const { board } = await OstlBoard.configure(dev, c.model, { optimizer });
      await board.writeParams(c.params);
      for (let it = 1; it <= 3; it++) {
        const r = await board.runTrial(c.inputs, c.targets, c.mask);
        expect(r.loss).toBe(wdev.runTrial(c.inputs, c.targets, c.mask).loss);
        expect(await board.apply({ optimizer, lr: 0.01 })).toBe(it);
        if (optimizer === "gd") wdev.applyGd(0.01);
        else wdev.applyAdam(0.01, 0.9, 0.999, 1e-8, it);
      }
      expect(await board.readParams()).toEqual(wdev.readParams());
      // RESET 1|2 starts a new trial (gradients 0, a RUN without rs is welcome); 4 restarts the optimizer's count
      await board.runTrial(c.inputs, c.targets, c.mask);
      await dev.reset(3);
      expect((await board.readGrads()).layers[0]!.w.flat().every((g) => g === 0)).toBe(true);
      const x = packBits(c.inputs.slice(0, 2), c.model.nIn);
      expect((await dev.request(MsgType.RUN, { n: 2, x, tg: f32le(c.targets.slice(0, 2).flat()), end: true })).t).toBe(2);
      await dev.reset(4);
      expect(await dev.checkpointInfo()).toMatchObject({ updates: 0 });
      expect(await board.apply({ optimizer, lr: 0.01 })).toBe(1);
      await s.close();
    }
  });
});

describe("OSTL CHECKPOINT", () => {
  it("the blob is the wasm arena behind a prefix; restored on a fresh board (or loaded from storage) training continues identically", async () => {
    const c = randomOstlCase({ layers: [10, 8], neuron: "alif", loss: "ce", T: 50, seed: 49 });
    const train = async (b: OstlBoard, n: number) => {
      for (let i = 0; i < n; i++) {
        await b.runTrial(c.inputs, c.targets, c.mask);
        await b.apply({ optimizer: "adam", lr: 0.02 });
      }
    };
    const a = await inProcess();
    const A = (await OstlBoard.configure(a.dev, c.model, { optimizer: "adam" })).board;
    await A.writeParams(c.params);
    await train(A, 2);
    const blob = await A.checkpoint();
    const wdev = await OstlDevice.create(c.model, { optimizer: "adam" });
    wdev.loadParams(c.params);
    for (let it = 1; it <= 2; it++) {
      wdev.runTrial(c.inputs, c.targets, c.mask);
      wdev.applyAdam(0.02, 0.9, 0.999, 1e-8, it);
    }
    expect(blob.subarray(32)).toEqual(wdev.arena());
    expect(await a.dev.checkpointSave()).toBe(blob.length);
    await train(A, 2);
    const want = await A.readParams();

    const b = await inProcess({ maxFrame: 512 }); // a host that kept the blob; small frames
    const B = await OstlBoard.restore(b.dev, c.model, blob);
    expect(await b.dev.checkpointInfo()).toEqual({ size: blob.length, updates: 2 });
    // the trial had ended when the blob was taken: the next RUN must start one
    const e = await deviceError(b.dev.request(MsgType.RUN, { n: 1, x: packBits([c.inputs[0]!], c.model.nIn) }));
    expect([e.code, e.field]).toEqual([ErrorCode.BAD_VALUE, "rs"]);
    await train(B, 2);
    expect(await B.readParams()).toEqual(want);

    const d = await inProcess({ storage: a.fw.storageBytes }); // the board restarted, storage kept
    const D = await OstlBoard.load(d.dev, c.model);
    expect([D.size, D.updates]).toEqual([blob.length, 2]);
    await train(D.board, 2);
    expect(await D.board.readParams()).toEqual(want);
    await Promise.all([a.s.close(), b.s.close(), d.s.close()]);
  });

  it("refuses torn, damaged, foreign and unsound blobs (STORAGE, in words); a blob of another kind leaves the model in place", async () => {
    const c = randomOstlCase({ layers: [8, 6], nIn: 6, T: 30, seed: 50 });
    const a = await inProcess();
    const A = (await OstlBoard.configure(a.dev, c.model)).board;
    await A.writeParams(c.params);
    await A.runTrial(c.inputs, c.targets, c.mask);
    const blob = await A.checkpoint();
    const ref = await ostlWasmGrad(c, "scalar");
    /** The prefix's CRC-32C made right again after an edit (so only the inner checks can refuse). */
    const sealed = (arena: Uint8Array) => {
      const out = new Uint8Array(32 + arena.length);
      out.set(blob.subarray(0, 32));
      out.set(arena, 32);
      const dv = new DataView(out.buffer);
      dv.setUint32(8, out.length, true);
      dv.setUint32(12, crc32c(out, 16), true);
      return out;
    };
    const { dev, s } = await inProcess({ maxFrame: 512 });
    const restore = (b: Uint8Array) => deviceError(dev.restoreBlob(b, "ostl"));
    const notConfigured = async () => expect((await deviceError(dev.request(MsgType.CHECKPOINT, { op: CheckpointOp.INFO }))).code).toBe(ErrorCode.NOT_CONFIGURED);

    // a blob of another kind (e-prop's) is refused before anything changes
    const ep = await inProcess();
    const ec = randomCase({ seed: 3, nIn: 6, nRec: 8, T: 20 });
    await ep.dev.configure(ec.model, ec.feedback.kind);
    const eblob = await ep.dev.checkpointRead();
    await OstlBoard.configure(dev, c.model);
    expect((await restore(eblob)).message).toMatch(/STORAGE.*not an OSTL checkpoint \(bad magic\)/);
    expect(await ostlOnBoard(c, dev)).toEqual({ loss: ref.loss, grads: ref.grads });

    // damaged: one bit
    const bad = blob.slice();
    bad[700]! ^= 4;
    expect((await restore(bad)).message).toMatch(/STORAGE.*CRC mismatch: the model was discarded/);
    await notConfigured();
    // torn: the host stopped half way
    await dev.request(MsgType.CHECKPOINT, { op: CheckpointOp.WRITE, o: 0, d: blob.subarray(0, 400), rule: "ostl" });
    await notConfigured();
    const gap = await deviceError(dev.request(MsgType.CHECKPOINT, { op: CheckpointOp.WRITE, o: 800, d: blob.subarray(800, 900) }));
    expect([gap.code, gap.field, gap.text]).toEqual([ErrorCode.BAD_VALUE, "o", "chunks must be written in order from 0 (expected offset 400)"]);
    // a CONFIGURE between the chunks (here after the arena's header was adopted), even a refused one, ends the restore
    await dev.request(MsgType.CHECKPOINT, { op: CheckpointOp.WRITE, o: 0, d: blob.subarray(0, 400), rule: "ostl" });
    await dev.request(MsgType.CHECKPOINT, { op: CheckpointOp.WRITE, o: 400, d: blob.subarray(400, 800) });
    const huge = { ...configureBody(c.model, 2048).body, nIn: 2000, layers: [{ n: 3000 }] };
    expect((await deviceError(dev.request(MsgType.CONFIGURE, huge))).code).toBe(ErrorCode.NO_MEMORY);
    const ended = await deviceError(dev.request(MsgType.CHECKPOINT, { op: CheckpointOp.WRITE, o: 800, d: blob.subarray(800, 1200) }));
    expect([ended.code, ended.field]).toEqual([ErrorCode.BAD_VALUE, "o"]);
    await notConfigured();
    // another build's arena (SIMD lanes), correctly sealed
    const simd = await OstlDevice.create(c.model, { build: "simd" });
    expect((await restore(sealed(simd.arena()))).message).toMatch(/STORAGE.*not an OSTL arena this firmware can run/);
    // a NaN weight, correctly sealed: osValidate names its byte
    const nan = blob.slice(32);
    const at = 448 + 8; // in layer 0's W, the first field after the arena's header
    new DataView(nan.buffer).setFloat32(at, NaN, true);
    expect((await restore(sealed(nan))).text).toBe(`checkpoint value at arena byte ${at} is not finite or out of range: the model was discarded`);
    await notConfigured();
    // the good blob still restores, and computes the same trial
    const B = await OstlBoard.restore(dev, c.model, blob);
    await B.runTrial(c.inputs, c.targets, c.mask);
    expect(await B.readGrads()).toEqual(ref.grads);
    await Promise.all([a.s.close(), s.close(), ep.s.close()]);
  });
});

describe("OSTL bad requests get the right ERROR and change nothing", () => {
  it("CONFIGURE, WRITE/READ/GRADS, RUN, APPLY, CHECKPOINT", async () => {
    const c = randomOstlCase({ layers: [10, 8], neuron: ["lif", "alif"], nIn: 6, nOut: 2, T: 40, seed: 51 });
    const ref = await ostlWasmGrad(c, "scalar");
    const { dev, s } = await inProcess();
    /** [code, field, text] of the ERROR a request gets. */
    const err = async (type: number, body: Body) => {
      const e = await deviceError(dev.request(type, body));
      return [e.code, e.field ?? "", e.text] as const;
    };
    const expectErr = async (p: Promise<readonly [number, string, string]>, code: number, field: string, text: RegExp) => {
      const [c0, f, t] = await p;
      expect([ERROR_NAME[c0], f]).toEqual([ERROR_NAME[code], field]);
      expect(t).toMatch(text);
    };
    const cfg = (edit: (b: Body & { layers: Body[] }) => void) => {
      const b = structuredClone(configureBody(c.model, 2048).body) as Body & { layers: Body[] };
      edit(b);
      return err(MsgType.CONFIGURE, b);
    };
    const { board } = await OstlBoard.configure(dev, c.model);
    await board.writeParams(c.params);

    // ---- CONFIGURE: the model in place survives every refusal
    const cases: [(b: Body & { layers: Body[] }) => void, number, string, RegExp][] = [
      [(b) => delete b.nIn, ErrorCode.BAD_FIELD, "nIn", /^missing$/],
      [(b) => (b.layers = []), ErrorCode.BAD_VALUE, "layers", /must hold 1 to 16 layers \(got 0\)/],
      [(b) => (b.layers = new Array(17).fill(b.layers[0])), ErrorCode.BAD_VALUE, "layers", /got 17/],
      [(b) => (b.layers[1]!.n = 0), ErrorCode.BAD_VALUE, "layers.n", /^layer 1: must be an integer in 1\.\.65535$/],
      [(b) => delete b.layers[0]!.n, ErrorCode.BAD_FIELD, "layers.n", /^layer 0: missing$/],
      [(b) => (b.layers[1]!.beta = f32le([0.5, 0.5])), ErrorCode.BAD_SHAPE, "layers.beta", /^layer 1: must hold n = 8 f32$/],
      [(b) => (b.layers[1]!.beta = f32le([0.5, 0.5, 0.5, -1, 0.5, 0.5, 0.5, 0.5])), ErrorCode.BAD_VALUE, "layers.beta", /^layer 1: element 3 is negative/],
      [(b) => (b.layers[0]!.beta = 0.5), ErrorCode.BAD_VALUE, "layers.beta", /^layer 0: must be 0 for neuron lif/],
      [(b) => (b.layers[0]!.gamma = -1), ErrorCode.BAD_VALUE, "layers.gamma", /^layer 0: must be finite and >= 0$/],
      [(b) => (b.layers[1]!.alpha = NaN), ErrorCode.BAD_VALUE, "layers.alpha", /^layer 1: must be finite and > 0$/],
      [(b) => (b.layers[0]!.vTh = "1"), ErrorCode.BAD_FIELD, "layers.vTh", /^layer 0: must be a number$/],
      [(b) => (b.layers[0]!.wIn = 1), ErrorCode.BAD_FIELD, "wIn", /not a field of an OSTL layer/],
      [(b) => (b.refractory = 2), ErrorCode.BAD_FIELD, "refractory", /not a field of an OSTL CONFIGURE/],
      [(b) => (b.loss = "hinge"), ErrorCode.BAD_VALUE, "loss", /unknown choice/],
      [(b) => (b.kappa = 0), ErrorCode.BAD_VALUE, "kappa", /must be finite and > 0/],
      [(b) => (b.layers = [{ n: 65535 }, { n: 65535 }, { n: 65535 }]), ErrorCode.NO_MEMORY, "layers", /the stack needs about \d+ MiB; board has \d+ bytes free/],
      [(b) => ((b.nIn = 2000), (b.layers = [{ n: 3000 }])), ErrorCode.NO_MEMORY, "", /^the stack needs \d+ bytes; board has \d+ bytes free$/],
    ];
    for (const [edit, code, field, text] of cases) await expectErr(cfg(edit), code, field, text);
    expect(await board.runTrial(c.inputs, c.targets, c.mask).then((r) => r.loss)).toBe(ref.loss);
    expect(await board.readGrads()).toEqual(ref.grads);

    // ---- WRITE / READ / GRADS
    await expectErr(err(MsgType.WRITE, { p: 7, d: f32le([1]) }), ErrorCode.BAD_VALUE, "p", /^unknown id 7 .*2 layers\)$/);
    await expectErr(err(MsgType.WRITE, { p: OstlId.beta(0), d: f32le([1]) }), ErrorCode.BAD_VALUE, "p", /layer 0 has no adaptation/);
    await expectErr(err(MsgType.WRITE, { p: OstlId.beta(1), d: f32le([0.1, -0.2]) }), ErrorCode.BAD_VALUE, "d", /^element 1 is negative/);
    await expectErr(err(MsgType.WRITE, { p: OstlId.w(0), d: new Uint8Array(5) }), ErrorCode.BAD_SHAPE, "d", /5 bytes is not a whole number of f32/);
    await expectErr(err(MsgType.WRITE, { p: OstlId.b(1), o: 5, d: f32le([1, 2, 3, 4]) }), ErrorCode.BAD_SHAPE, "d", /exceeds the parameter's 8 elements/);
    await expectErr(err(MsgType.WRITE, { p: OstlId.wOut, d: f32le([1, NaN]) }), ErrorCode.BAD_VALUE, "d", /^element 1 is NaN or infinite$/);
    await expectErr(err(MsgType.WRITE, { p: OstlId.wOut }), ErrorCode.BAD_FIELD, "d", /^missing$/);
    await expectErr(err(MsgType.READ, { p: OstlId.w(0), n: 61 }), ErrorCode.BAD_SHAPE, "n", /exceeds the 60 elements/);
    await expectErr(err(MsgType.GRADS, { p: OstlId.beta(1) }), ErrorCode.BAD_VALUE, "p", /beta is a constant, it has no gradient/);
    await expectErr(err(MsgType.READ, { p: 1, q: 1 }), ErrorCode.BAD_FIELD, "q", /unknown field/);
    expect(await board.readParams()).toEqual((await OstlDevice.create(c.model).then((d) => (d.loadParams(c.params), d))).readParams());

    // ---- RUN
    const x = packBits([c.inputs[0]!], c.model.nIn);
    await expectErr(err(MsgType.RUN, { n: 2, x, rs: true }), ErrorCode.BAD_SHAPE, "x", /must be n x 1 bytes \(got 1 bytes\)/);
    await expectErr(err(MsgType.RUN, { n: 1, x, tg: f32le([NaN, 0]), rs: true }), ErrorCode.BAD_VALUE, "tg", /NaN/);
    await expectErr(err(MsgType.RUN, { n: 1, x, tg: f32le([0]), rs: true }), ErrorCode.BAD_SHAPE, "tg", /nOut = 2, got 4 bytes/);
    await expectErr(err(MsgType.RUN, { n: 1, x, m: new Uint8Array(2), rs: true }), ErrorCode.BAD_SHAPE, "m", /1 bytes/);
    await expectErr(err(MsgType.RUN, { n: 1, x, xf: 1, rs: true }), ErrorCode.BAD_SHAPE, "x", /must be n x 24 bytes/);
    await expectErr(err(MsgType.RUN, { n: 1, x: f32le([0, 0, 0, 0, 0, Infinity]), xf: 1, rs: true }), ErrorCode.BAD_VALUE, "x", /NaN or infinity/);
    await expectErr(err(MsgType.RUN, { n: 1, x, o: 8 }), ErrorCode.BAD_FIELD, "o", /<= 7/);
    await expectErr(err(MsgType.RUN, { n: 1, x, ls: f32le([0]) }), ErrorCode.BAD_FIELD, "ls", /^unknown field$/); // e-prop's injected learning signals
    await expectErr(err(MsgType.RUN, { n: 1, x }), ErrorCode.BAD_VALUE, "rs", /the trial has ended/);
    // the refused RUNs changed nothing: the gradients of the last trial are still there
    expect(await board.readGrads()).toEqual(ref.grads);

    // ---- APPLY
    await expectErr(err(MsgType.APPLY, { opt: 0, lr: 0 }), ErrorCode.BAD_VALUE, "lr", /must be finite and > 0/);
    await expectErr(err(MsgType.APPLY, { opt: 0, lr: NaN }), ErrorCode.BAD_VALUE, "lr", /must be finite and > 0/);
    await expectErr(err(MsgType.APPLY, { opt: 0, lr: -0.1 }), ErrorCode.BAD_VALUE, "lr", /must be finite and > 0/);
    await expectErr(err(MsgType.APPLY, { opt: 0, lr: "big" }), ErrorCode.BAD_FIELD, "lr", /must be a number/);
    await expectErr(err(MsgType.APPLY, { opt: 0 }), ErrorCode.BAD_FIELD, "lr", /missing/);
    await expectErr(err(MsgType.APPLY, { opt: 1, lr: 0.1 }), ErrorCode.BAD_VALUE, "opt", /configured without optimizer "adam"/);
    await expectErr(err(MsgType.APPLY, { opt: 1, lr: 0.1, b1: 1 }), ErrorCode.BAD_VALUE, "b1", /\[0, 1\)/);
    await expectErr(err(MsgType.APPLY, { opt: 0, lr: 0.1, b2: 0.9 }), ErrorCode.BAD_FIELD, "opt", /Adam's/);
    await expectErr(err(MsgType.APPLY, { opt: 0, lr: 0.1, wMin: -1 }), ErrorCode.BAD_VALUE, "wMin", /both wMin <= wMax/);
    await dev.request(MsgType.RUN, { n: 1, x, rs: true });
    await expectErr(err(MsgType.APPLY, { opt: 0, lr: 0.1 }), ErrorCode.BAD_VALUE, "end", /a trial is running/);

    // ---- CHECKPOINT
    await expectErr(err(MsgType.CHECKPOINT, { op: CheckpointOp.READ, o: 10, n: 70000 }), ErrorCode.BAD_SHAPE, "n", /exceeds the checkpoint's \d+ bytes/);
    await expectErr(err(MsgType.CHECKPOINT, { op: CheckpointOp.WRITE, o: 0, d: new Uint8Array(8) }), ErrorCode.BAD_SHAPE, "d", /32 byte prefix/);
    await OstlBoard.configure(dev, randomOstlCase({ layers: [100, 60], nIn: 40, T: 20, seed: 56 }).model);
    await expectErr(err(MsgType.CHECKPOINT, { op: CheckpointOp.SAVE }), ErrorCode.STORAGE, "", /^checkpoint of \d+ bytes does not fit the board's 65536 bytes of storage$/);
    await dev.reset(8);
    await expectErr(err(MsgType.CHECKPOINT, { op: CheckpointOp.INFO }), ErrorCode.NOT_CONFIGURED, "", /CHECKPOINT before CONFIGURE/);
    await expectErr(err(MsgType.CHECKPOINT, { op: CheckpointOp.LOAD, rule: "ostl" }), ErrorCode.STORAGE, "", /not an OSTL checkpoint \(bad magic\)/);
    await s.close();
  });

  it("random and mutated OSTL requests never trap or hang the firmware: every one is answered (successes and refusals)", async () => {
    let seed = 12345;
    const r = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const int = (n: number) => Math.floor(r() * n);
    const pick = <T>(a: readonly T[]) => a[int(a.length)]!;
    const junk = () => pick<unknown>([NaN, -1, 0, 1, 2 ** 32, 65536, 1e300, -0, "lif", true, null, new Uint8Array(int(64)), f32le([r(), NaN]), [1, 2], { n: 3 }]);
    const pool = Array.from({ length: 6 }, (_, i) =>
      randomOstlCase({ layers: [3 + int(12), 2 + int(9)].slice(0, 1 + (i % 2)), nIn: 1 + int(9), nOut: 1 + int(3), T: 30, seed: 60 + i, neuron: pick(["lif", "alif"] as const) }));
    const { dev, s } = await inProcess();
    let cur = pool[0]!;
    let answered = 0;
    const succeeded = new Map<number, number>();
    for (let i = 0; i < 1500; i++) {
      const m = pick(pool);
      const type = pick([MsgType.CONFIGURE, MsgType.WRITE, MsgType.READ, MsgType.GRADS, MsgType.RUN, MsgType.APPLY, MsgType.CHECKPOINT, MsgType.RESET]);
      let body: Body;
      if (type === MsgType.CONFIGURE) body = configureBody(m.model, 2048, { optimizer: pick(["gd", "adam"]) }).body;
      else if (type === MsgType.RUN) {
        const n = 1 + int(30);
        const right = r() < 0.7;
        body = { n, x: packBits(cur.inputs.slice(0, right ? n : 1 + int(30)), cur.model.nIn), rs: r() < 0.5, end: r() < 0.5, o: int(8), tg: f32le(Array.from({ length: right ? n * cur.model.nOut : int(60) }, r)) };
      }
      else if (type === MsgType.CHECKPOINT) body = { op: int(5), o: int(600), n: int(600), d: new Uint8Array(int(500)).map(() => (r() < 0.2 ? int(256) : 0x4f)), rule: "ostl" };
      else if (type === MsgType.APPLY) body = { opt: int(2), lr: pick([0.01, 0, NaN, 1]) };
      else if (type === MsgType.RESET) body = { k: int(16) };
      else {
        body = { p: pick([0, 1, 2, 3, 5, 31, 32, 33, 48, 49, 64]), o: int(4) };
        if (type === MsgType.WRITE) body.d = f32le(Array.from({ length: int(8) }, r));
        else body.n = int(8);
      }
      // mutations: a field dropped, replaced by junk, or a nested layer field replaced
      const keys = Object.keys(body);
      if (r() < 0.5 && keys.length) delete body[pick(keys)];
      if (r() < 0.5 && keys.length) body[pick(keys)] = junk();
      if (r() < 0.3 && Array.isArray(body.layers) && body.layers.length) {
        const l = body.layers[int(body.layers.length)] as Record<string, unknown>;
        l[pick(["n", "neuron", "alpha", "rho", "vTh", "gamma", "beta", "zz"])] = junk();
      }
      try {
        await dev.request(type, body);
        if (type === MsgType.CONFIGURE) cur = m;
        succeeded.set(type, (succeeded.get(type) ?? 0) + 1);
        answered++;
      } catch (e) {
        if (!(e instanceof DeviceError)) throw e; // a trap, abort or timeout is a failure
        answered++;
      }
    }
    expect(answered).toBe(1500);
    // the success paths were reached too, not only the refusals
    for (const t of [MsgType.CONFIGURE, MsgType.WRITE, MsgType.READ, MsgType.GRADS, MsgType.RUN, MsgType.APPLY, MsgType.CHECKPOINT]) expect(succeeded.get(t)).toBeGreaterThan(10);
    await s.close();
  }, 120_000);
});

describe("a firmware built without OSTL (asc --use FW_OMIT_OSTL=1)", () => {
  it("leaves ostl out of HELLO rules and refuses CONFIGURE/CHECKPOINT rule ostl naming the rule", async () => {
    const fw = (await buildFirmware("device/firmware/main.ts", "firmware-no-ostl", ["--use", "FW_OMIT_OSTL=1"])).bytes;
    expect(fw.length).toBeLessThan(wasm.length); // the rule's code is really gone
    const { dev, s } = await inProcess({ firmware: fw });
    expect((await dev.hello()).rules).not.toContain("ostl");
    const c = randomOstlCase({ layers: [6], nIn: 4, T: 20, seed: 52 });
    for (const p of [OstlBoard.configure(dev, c.model), dev.request(MsgType.CHECKPOINT, { op: CheckpointOp.LOAD, rule: "ostl" })]) {
      const e = await deviceError(p);
      expect([e.code, e.field, e.text]).toEqual([ErrorCode.UNSUPPORTED, "rule", "this firmware does not carry rule 'ostl' (HELLO lists its rules)"]);
    }
    await s.close();
  }, 300_000);
});

describe("OSTL on the sim board (a separate process behind a pty) and on QEMU", () => {
  const overSerial = async (port: string, c: OstlCase) => {
    const s = new Session(await SerialTransport.open(port), { timeoutMs: 200, retries: 20 });
    try {
      const dev = new DeviceClient(s);
      expect((await dev.hello()).rules).toContain("ostl");
      return await ostlRule.board!(c, dev);
    } finally {
      await s.close();
    }
  };

  it("sim board = wasm backend, bit for bit (2 and 3 layers, one trial spanning frames and polls)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-ostl-sim-"));
    const sim = await startSim({ dir });
    try {
      for (const o of [
        { layers: [12, 10], neuron: "alif", loss: "ce", seed: 53 },
        { layers: [40, 30, 20], nIn: 30, T: 300, lossReduction: "mean", resetGrad: false, seed: 54 },
      ] as OstlRandomOptions[]) {
        const c = randomOstlCase(o);
        const ref = await ostlWasmGrad(c, "scalar");
        expect(await overSerial(sim.port, c)).toEqual({ loss: ref.loss, grads: ref.grads });
      }
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it("QEMU mps2-an386 (wasm2c + arm gcc) = sim board = wasm backend, bit for bit", async () => {
    const c = randomOstlCase({ layers: [7, 5], neuron: ["alif", "lif"], nIn: 5, nOut: 2, T: 40, seed: 55 });
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-ostl-sim-"));
    const sim = await startSim({ dir });
    let onSim;
    try {
      onSim = await overSerial(sim.port, c);
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    const board = await startQemuBoard({ board: "qemu-mps2-an386" });
    try {
      expect(await overSerial(board.port, c)).toEqual(onSim);
    } finally {
      await board.stop();
    }
    const ref = await ostlWasmGrad(c, "scalar");
    expect(onSim).toEqual({ loss: ref.loss, grads: ref.grads });
  }, 300_000);
});
