// EqProp on boards (device/rules/eqprop/handlers.ts over PROTOCOL.md "EqProp", host side
// host/rules/eqprop/board.ts and board-train.ts): the firmware hosted in this process, the sim
// board (a separate process on a pty) and the firmware on the emulated Cortex-M4 (QEMU) all
// equal the EqProp kernel driven directly (`--backend wasm`, host/rules/eqprop/wasm.ts) bit for
// bit: loss, gradient sums, residuals, predictions, and the weights after training iterations.
// The firmware drives the kernel through its phase API a few relaxation steps per poll; the wasm
// backend calls eqSample whole: equality ties the two. Bad requests get the right ERROR with the
// field named and change nothing, checkpoints resume identically, and a firmware built without
// the rule refuses it by name.
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFirmware } from "../device/firmware/build.ts";
import { ensureWasm } from "../host/device/build.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { InProcessTransport } from "../host/transport/inprocess.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { Session } from "../host/session/session.ts";
import { DeviceClient } from "../host/session/client.ts";
import { startSim } from "../host/sim/sim.ts";
import { startQemuBoard } from "../host/firmware/qemu-board.ts";
import { eqpropRule } from "../host/rules/eqprop/index.ts";
import { EqpropDevice, eqpropWasm } from "../host/rules/eqprop/wasm.ts";
import { EqpropBoard, EQPROP_ID } from "../host/rules/eqprop/board.ts";
import { boardEvaluate, boardIteration, boardStart, boardTrainNext } from "../host/rules/eqprop/board-train.ts";
import { batchAt, type TrainConfig, type TrainPosition } from "../host/rules/eqprop/train.ts";
import type { EqpropCase } from "../host/rules/eqprop/schema.ts";
import { FLAG_RESPONSE, FrameSplitter, decodeFrame, encodeFrame } from "../protocol/frame.ts";
import { DeviceError, ErrorCode, MsgType, decodeBody, encodeBody, f32le, fromU16le, validateDeviceBody, type Body } from "../protocol/messages.ts";
import { Pcg32 } from "../host/rng/pcg32.ts";
import { eqpropCase, type CaseOptions } from "./helpers/eqprop-cases.ts";

let wasm: Uint8Array;
beforeAll(async () => {
  wasm = (await buildFirmware()).bytes;
  await ensureWasm("scalar");
}, 300_000);

async function board(opts: { maxFrame?: number; storage?: Uint8Array; firmware?: Uint8Array } = {}) {
  const fw = await FirmwareHost.create(opts.firmware ?? wasm, { boardId: "sim" });
  if (opts.storage) fw.storageBytes.set(opts.storage);
  fw.init();
  const s = new Session(new InProcessTransport(fw), { timeoutMs: 40, retries: 60, maxFrame: opts.maxFrame ?? 2048 });
  const c = new DeviceClient(s);
  await c.hello();
  return { c, s, fw };
}

/** The case's model on a board, parameters written. */
async function loaded(c: DeviceClient, cs: EqpropCase): Promise<EqpropBoard> {
  const b = new EqpropBoard(c, cs.model);
  await b.configure();
  await b.writeParams(cs.params);
  return b;
}

/** The same on the kernel in Node (scalar build, the firmware's). */
async function kernel(cs: EqpropCase): Promise<EqpropDevice> {
  const dev = await EqpropDevice.create(cs.model.layers, cs.model.nudge, "scalar");
  dev.setConstants(cs.model);
  dev.writeParams(cs.params);
  return dev;
}

/** The DeviceError a request is answered with. */
async function refused(p: Promise<unknown>): Promise<DeviceError> {
  const e = await p.then(() => null, (x: unknown) => x);
  if (!(e instanceof DeviceError)) throw new Error(`expected a DeviceError, got ${String(e)}`);
  return e;
}

/** Training settings of the spec's check (symmetric, beta 1, eps 0.5), on a small net. */
const trainCase = (o: CaseOptions = {}): EqpropCase =>
  eqpropCase({ seed: 7, layers: [12, 10, 4], nudge: "symmetric", beta: 1, freeSteps: 20, nudgedSteps: 6, samples: 12, ...o });

const CASES: [string, CaseOptions][] = [
  ["[5,7,6,3] one-sided beta 0.1", { seed: 3, layers: [5, 7, 6, 3], beta: 0.1, freeSteps: 60, nudgedSteps: 30 }],
  ["[5,7,6,3] symmetric beta -0.01", { seed: 3, layers: [5, 7, 6, 3], nudge: "symmetric", beta: -0.01, freeSteps: 60, nudgedSteps: 30 }],
  ["[64,32,10] symmetric, mean, many frames", { seed: 4, layers: [64, 32, 10], nudge: "symmetric", wScale: 0.1, lossReduction: "mean", samples: 7, freeSteps: 40, nudgedSteps: 20 }],
  ["short [3,5,4,2] one-sided (unconverged)", { seed: 6, layers: [3, 5, 4, 2], freeSteps: 4, nudgedSteps: 3, wScale: 0.8, bLow: -1, bHigh: 1.8 }],
  ["short [3,5,4,2] symmetric beta 0.5 (unconverged)", { seed: 5, layers: [3, 5, 4, 2], nudge: "symmetric", freeSteps: 3, nudgedSteps: 2, beta: 0.5, wScale: 0.8, bLow: -1, bHigh: 1.8 }],
  ["[9,3] one layer", { seed: 5, layers: [9, 3], beta: 0.05, freeSteps: 30, nudgedSteps: 10 }],
];

describe("firmware EqProp in Node = the kernel driven directly (wasm backend), bit for bit", () => {
  for (const [name, o] of CASES) {
    it(`${name}: loss, grads, residuals, predictions`, async () => {
      const cs = eqpropCase(o);
      const want = await eqpropWasm(cs, "scalar");
      const dev = await kernel(cs);
      const preds = cs.inputs.map((x, n) => dev.sample(x, cs.targets[n]!).prediction);
      const { c, s } = await board({ maxFrame: 512 });
      const got = await eqpropRule.board!(cs, c);
      expect(got).toEqual(want);
      const b = await loaded(c, cs);
      const r = await b.run(cs.inputs, cs.targets, { residual: true });
      expect(r.predictions).toEqual(preds);
      expect(r.residual).toEqual(want.residual);
      expect(await b.readResiduals()).toEqual(want.residual);
      if (cs.model.layers[0]! >= 64) expect(r.frames).toBeGreaterThan(1);
      // evaluation: the free phase only, nothing accumulates
      const ev = await b.run(cs.inputs, cs.targets, { learn: false });
      const wantEv = (await kernel(cs)).evaluate(cs.inputs, cs.targets);
      expect(ev.predictions).toEqual(wantEv.predictions);
      expect(ev.loss).toBe(cs.model.lossReduction === "mean" ? wantEv.loss / cs.inputs.length : wantEv.loss);
      expect((await b.readGrads()).W.flat(2).every((v) => v === 0)).toBe(true);
      await s.close();
    });
  }

  it("a long RUN spans polls (bounded work per poll) and still equals the kernel", async () => {
    const cs = eqpropCase({ seed: 9, layers: [100, 80, 40, 10], nudge: "symmetric", beta: 0.5, wScale: 0.1, freeSteps: 120, nudgedSteps: 40, samples: 2 });
    const want = await eqpropWasm(cs, "scalar");
    const { c, s, fw } = await board();
    await loaded(c, cs);
    await s.close();
    // talk to the firmware frame by frame to see each poll
    const out: Uint8Array[] = [];
    fw.onTx = (b) => out.push(b);
    const body: Body = { n: 2, x: f32le(cs.inputs.flat()), tg: f32le(cs.targets.flat()), rs: true, res: true };
    fw.feed(encodeFrame({ type: MsgType.RUN, flags: 0, seq: 4242, body: encodeBody(body) }));
    fw.poll();
    expect(fw.busy).toBe(true);
    expect(out.length).toBe(0);
    let polls = 1;
    while (fw.busy) {
      fw.poll();
      polls++;
    }
    expect(polls).toBeGreaterThan(3);
    const frames: Body[] = [];
    new FrameSplitter((blk) => {
      const f = decodeFrame(blk);
      if (typeof f !== "string" && f.seq === 4242) frames.push(decodeBody(f.body));
    }).push(Uint8Array.from(out.flatMap((b) => [...b])));
    expect(frames.length).toBe(1);
    expect([frames[0]!.loss, frames[0]!.t, frames[0]!.n]).toEqual([want.loss, 2, 2]);
    expect(fromU16le(frames[0]!.pred as Uint8Array).length).toBe(2);
  });
});

describe("training on the firmware = training the wasm kernel, bit for bit", () => {
  for (const nudge of ["symmetric", "one-sided"] as const) {
    it(`${nudge}: iterations (RUN train + APPLY, batches over several frames), then evaluation`, async () => {
      const cs = trainCase({ nudge });
      const lr = [0.1, 0.05];
      const cfg: TrainConfig = { ...cs.model, lr };
      const dev = await kernel(cs);
      const { c, s } = await board({ maxFrame: 256 });
      const b = await boardStart(c, cs.model.layers, cfg, cs.params);
      let pos: TrainPosition = { epoch: 0, iteration: 0 };
      for (let it = 0; it < 7; it++) {
        const { batch, next } = batchAt(pos, cs.inputs.length, 5, 11);
        const want = dev.iteration(batch.map((i) => cs.inputs[i]!), batch.map((i) => cs.targets[i]!), lr);
        const got = await boardTrainNext(b, pos, lr, cs.inputs, cs.targets, 5, 11);
        expect(got.batch).toEqual(batch);
        expect(got.position).toEqual(next);
        expect({ loss: got.loss, predictions: got.predictions }).toEqual(want);
        pos = next;
      }
      expect(pos.epoch).toBe(2);
      expect(await b.readParams()).toEqual(dev.readParams());
      expect(await boardEvaluate(b, cs.inputs, cs.targets)).toEqual(dev.evaluate(cs.inputs, cs.targets));
      // the rates can be written once (id 32) instead of sent with every APPLY
      await c.writeArray(EQPROP_ID.lr, lr);
      expect(Array.from(await c.readArray(EQPROP_ID.lr, 2))).toEqual(lr.map(Math.fround));
      await b.run(cs.inputs.slice(0, 3), cs.targets.slice(0, 3));
      expect((await c.request(MsgType.APPLY, {})).k).toBe(8);
      await s.close();
    });
  }
});

describe("EqProp checkpoints", () => {
  it("read, restore on a fresh board, save/load through storage — training continues identically, also from the middle of a batch", async () => {
    const cs = trainCase({ seed: 12 });
    const lr = [0.1, 0.05];
    const cfg: TrainConfig = { ...cs.model, lr };
    const batches = [0, 1, 2, 3].map((k) => [cs.inputs.slice(3 * k, 3 * k + 3), cs.targets.slice(3 * k, 3 * k + 3)] as const);
    const train = async (b: EqpropBoard, from: number, to: number) => {
      const out = [];
      for (let k = from; k < to; k++) out.push(await boardIteration(b, batches[k]![0], batches[k]![1], lr));
      return out;
    };
    const a = await board({ maxFrame: 512 });
    const ba = await boardStart(a.c, cs.model.layers, cfg, cs.params);
    await train(ba, 0, 2);
    const blob = await a.c.checkpointRead();
    expect((await a.c.checkpointInfo()).updates).toBe(2);
    expect(await a.c.checkpointSave()).toBe(blob.length);
    const wantOutcomes = await train(ba, 2, 4);
    const want = await ba.readParams();
    // mid-batch: the gradient sums, sample counts and loss so far are part of the blob
    const mid = await board();
    const bm = await boardStart(mid.c, cs.model.layers, cfg, cs.params);
    await train(bm, 0, 3);
    await bm.run(batches[3]![0], batches[3]![1]);
    const midBlob = await mid.c.checkpointRead();

    const b = await board(); // a host that kept the blob (host killed, `--resume`)
    const bb = new EqpropBoard(b.c, cs.model);
    await bb.restore(blob);
    expect(await train(bb, 2, 4)).toEqual(wantOutcomes);
    expect(await bb.readParams()).toEqual(want);

    const d = await board({ storage: a.fw.storageBytes }); // the board restarted, storage kept
    const bd = new EqpropBoard(d.c, cs.model);
    expect(await bd.load()).toEqual({ size: blob.length, updates: 2 });
    expect(await train(bd, 2, 4)).toEqual(wantOutcomes);
    expect(await bd.readParams()).toEqual(want);

    const e = await board();
    const be = new EqpropBoard(e.c, cs.model);
    await be.restore(midBlob);
    expect(await be.apply(lr)).toBe(4);
    expect(await be.readParams()).toEqual(want);
    await Promise.all([a.s.close(), mid.s.close(), b.s.close(), d.s.close(), e.s.close()]);
  });

  it("refuses damaged, foreign and torn blobs with STORAGE; a refused header or stored blob leaves the model in use", async () => {
    const cs = trainCase({ seed: 13 });
    const a = await board();
    const ba = await loaded(a.c, cs);
    const blob = await a.c.checkpointRead();
    const other = trainCase({ seed: 14, layers: [6, 5, 3] });
    const f = await board({ storage: a.fw.storageBytes });
    const bf = await loaded(f.c, other);
    const p0 = await bf.readParams();

    // a damaged arena byte: found when the last chunk arrives; the model is discarded
    const bad = blob.slice();
    bad[blob.length - 7]! ^= 1;
    let e = await refused(bf.restore(bad));
    expect([e.code, e.text]).toEqual([ErrorCode.STORAGE, "checkpoint CRC mismatch: the model was discarded"]);
    expect((await refused(bf.readParams())).code).toBe(ErrorCode.NOT_CONFIGURED);

    // foreign (an e-prop blob's magic, a corrupt size) and torn headers are refused at once: the model stays
    await bf.configure();
    await bf.writeParams(other.params);
    const eprop = blob.slice();
    eprop.set([0x45, 0x50, 0x43, 0x4b], 0); // "EPCK"
    e = await refused(bf.restore(eprop));
    expect([e.code, e.text]).toEqual([ErrorCode.STORAGE, "not an EqProp checkpoint (bad magic)"]);
    const sized = blob.slice();
    new DataView(sized.buffer).setUint32(64, 13, true); // n_0 no longer matches the arena size
    e = await refused(bf.restore(sized));
    expect(e.code).toBe(ErrorCode.STORAGE);
    expect(e.text).toMatch(/does not match its model/);
    e = await refused(bf.restore(blob.subarray(0, 100)));
    expect([e.code, e.field]).toEqual([ErrorCode.BAD_SHAPE, "d"]);
    expect(await bf.readParams()).toEqual(p0);

    // a torn save (header not yet written) and a damaged stored blob are refused by LOAD; the model stays
    await ba.run(cs.inputs, cs.targets);
    await ba.apply([0.1, 0.1]);
    expect(await a.c.checkpointSave()).toBe(blob.length);
    const torn = await board({ storage: a.fw.storageBytes.slice() });
    torn.fw.storageBytes.set([0xff, 0xff, 0xff, 0xff], 0);
    e = await refused(new EqpropBoard(torn.c, cs.model).load());
    expect([e.code, e.text]).toEqual([ErrorCode.STORAGE, "not an EqProp checkpoint (bad magic)"]);
    const flipped = a.fw.storageBytes.slice();
    flipped[400]! ^= 0x10;
    const g = await board({ storage: flipped });
    const bg = await loaded(g.c, other);
    e = await refused(g.c.request(MsgType.CHECKPOINT, { op: 3 }));
    expect(e.code).toBe(ErrorCode.STORAGE);
    expect(e.text).toMatch(/CRC mismatch.*model in use stays/);
    expect(await bg.readParams()).toEqual(p0);
    await Promise.all([a.s.close(), f.s.close(), torn.s.close(), g.s.close()]);
  });
});

describe("EqProp requests the firmware refuses", () => {
  it("names the field and the limit, and changes nothing", async () => {
    const cs = eqpropCase({ seed: 15, layers: [4, 6, 3], freeSteps: 30, nudgedSteps: 10, samples: 2 });
    const { c, s } = await board();
    const conf = (over: Body, drop?: string) => () => {
      const body: Body = { rule: "eqprop", layers: [4, 6, 3], beta: 0.1, freeSteps: 5, nudgedSteps: 5, ...over };
      if (drop) delete body[drop];
      return c.request(MsgType.CONFIGURE, body);
    };
    const req = (type: number, body: Body) => () => c.request(type, body);
    const b = await loaded(c, cs);
    const x = f32le(cs.inputs.flat()), tg = f32le(cs.targets.flat());
    const cases: [string, () => Promise<unknown>, number, string][] = [
      ["input above 1", req(MsgType.RUN, { n: 2, x: f32le([...cs.inputs[0]!, 0.5, 1.5, 0, 0]), tg }), ErrorCode.BAD_VALUE, "x"],
      ["input below 0", req(MsgType.RUN, { n: 2, x: f32le([-0.01, ...cs.inputs.flat().slice(1)]), tg }), ErrorCode.BAD_VALUE, "x"],
      ["NaN input", req(MsgType.RUN, { n: 2, x: f32le([NaN, ...cs.inputs.flat().slice(1)]), tg }), ErrorCode.BAD_VALUE, "x"],
      ["NaN target", req(MsgType.RUN, { n: 2, x, tg: f32le([NaN, 0, 0, 0, 0, 0]) }), ErrorCode.BAD_VALUE, "tg"],
      ["x of the wrong shape", req(MsgType.RUN, { n: 3, x, tg }), ErrorCode.BAD_SHAPE, "x"],
      ["tg of the wrong shape", req(MsgType.RUN, { n: 2, x, tg: f32le([0, 0, 0]) }), ErrorCode.BAD_SHAPE, "tg"],
      ["no targets", req(MsgType.RUN, { n: 2, x }), ErrorCode.BAD_FIELD, "tg"],
      ["W[1] of the wrong length", req(MsgType.WRITE, { p: EQPROP_ID.W(1), o: 10, d: f32le(new Array(9).fill(0)) }), ErrorCode.BAD_SHAPE, "d"],
      ["NaN weight", req(MsgType.WRITE, { p: EQPROP_ID.b(0), d: f32le([0, NaN]) }), ErrorCode.BAD_VALUE, "d"],
      ["lr 0 written", req(MsgType.WRITE, { p: EQPROP_ID.lr, d: f32le([0.1, 0]) }), ErrorCode.BAD_VALUE, "d"],
      ["unknown id", req(MsgType.READ, { p: 4 }), ErrorCode.BAD_VALUE, "p"],
      ["gradient of the rates", req(MsgType.GRADS, { p: EQPROP_ID.lr }), ErrorCode.UNSUPPORTED, "p"],
      ["lr <= 0", req(MsgType.APPLY, { lr: [0.1, -0.1] }), ErrorCode.BAD_VALUE, "lr"],
      ["lr 0", req(MsgType.APPLY, { lr: 0 }), ErrorCode.BAD_VALUE, "lr"],
      ["lr NaN", req(MsgType.APPLY, { lr: [NaN, 0.1] }), ErrorCode.BAD_VALUE, "lr"],
      ["lr below float32", req(MsgType.APPLY, { lr: [1e-50, 0.1] }), ErrorCode.BAD_VALUE, "lr"],
      ["lr per pair of the wrong length", req(MsgType.APPLY, { lr: [0.1, 0.1, 0.1] }), ErrorCode.BAD_SHAPE, "lr"],
      ["APPLY without rates", req(MsgType.APPLY, {}), ErrorCode.BAD_FIELD, "lr"],
      ["APPLY with no training sample", req(MsgType.APPLY, { lr: 0.1 }), ErrorCode.BAD_VALUE, ""],
      ["APPLY with an unknown field", req(MsgType.APPLY, { lr: 0.1, lrr: 1 }), ErrorCode.BAD_FIELD, "lrr"],
      ["beta 0", conf({ beta: 0 }), ErrorCode.BAD_VALUE, "beta"],
      ["epsilon above 1", conf({ epsilon: 1.5 }), ErrorCode.BAD_VALUE, "epsilon"],
      ["epsilon 0", conf({ epsilon: 0 }), ErrorCode.BAD_VALUE, "epsilon"],
      ["freeSteps 0", conf({ freeSteps: 0 }), ErrorCode.BAD_VALUE, "freeSteps"],
      ["nudgedSteps missing", conf({}, "nudgedSteps"), ErrorCode.BAD_FIELD, "nudgedSteps"],
      ["one layer", conf({ layers: [4] }), ErrorCode.BAD_FIELD, "layers"],
      ["a layer of 0 units", conf({ layers: [4, 0, 3] }), ErrorCode.BAD_VALUE, "layers"],
      ["unknown nudge", conf({ nudge: "both" }), ErrorCode.BAD_VALUE, "nudge"],
      ["unknown field", conf({ alpha: 1 }), ErrorCode.BAD_FIELD, "alpha"],
      ["a model beyond the board's RAM", conf({ layers: [4000, 4000, 10] }), ErrorCode.NO_MEMORY, ""],
    ];
    for (const [what, p, code, field] of cases) {
      const e = await refused(p());
      expect([e.code, e.field ?? ""], `${what}: ${e.message}`).toEqual([code, field]);
    }
    // nothing above changed the model: same weights, same gradient, no rates set
    expect(await b.readParams()).toEqual((await kernel(cs)).readParams());
    const want = await eqpropWasm(cs, "scalar");
    const r = await b.run(cs.inputs, cs.targets, { residual: true });
    expect([r.loss, r.residual]).toEqual([want.loss, want.residual]);
    expect(await b.readGrads()).toEqual(want.grads);
    expect(Array.from(await c.readArray(EQPROP_ID.lr, 2))).toEqual([0, 0]);
    await s.close();
  });

  it("a firmware built without the rule (asc --use FW_OMIT_EQPROP=1) refuses CONFIGURE rule eqprop with UNSUPPORTED naming it", async () => {
    const omit = (await buildFirmware("device/firmware/main.ts", "firmware-omit-eqprop", ["--use", "FW_OMIT_EQPROP=1"])).bytes;
    expect(omit.length).toBeLessThan(wasm.length); // the rule's code is gone
    const { c, s } = await board({ firmware: omit });
    expect(s.info!.rules).not.toContain("eqprop");
    expect(s.info!.caps).not.toContain("eqprop");
    const e = await refused(new EqpropBoard(c, eqpropCase({ seed: 16 }).model).configure());
    expect([e.code, e.field]).toEqual([ErrorCode.UNSUPPORTED, "rule"]);
    expect(e.text).toBe("this firmware does not carry rule 'eqprop' (HELLO lists its rules)");
    await s.close();
    const full = await board();
    expect(full.s.info!.rules).toContain("eqprop");
    expect(full.s.info!.caps).toContain("eqprop");
    await full.s.close();
  }, 300_000);
});

describe("EqProp handlers under mutated requests", () => {
  it("3000 bit-flipped CONFIGURE/WRITE/READ/RUN/APPLY/GRADS/CHECKPOINT bodies: no trap, exactly one well-formed answer each", async () => {
    const cs = eqpropCase({ seed: 21, layers: [5, 7, 3], nudge: "symmetric", freeSteps: 8, nudgedSteps: 4, samples: 2 });
    const { c, s, fw } = await board();
    await loaded(c, cs);
    const blob = await c.checkpointRead();
    await s.close();
    const configure: Body = { rule: "eqprop", layers: [5, 7, 3], beta: 0.1, epsilon: 0.5, freeSteps: 8, nudgedSteps: 4, nudge: "symmetric", lossReduction: "mean" };
    const bodies: [number, Body][] = [
      [MsgType.CONFIGURE, configure],
      [MsgType.WRITE, { p: EQPROP_ID.W(0), o: 3, d: f32le([0.1, -0.2, 0.3]) }],
      [MsgType.WRITE, { p: EQPROP_ID.lr, d: f32le([0.1, 0.05]) }],
      [MsgType.READ, { p: EQPROP_ID.b(1), o: 1, n: 2 }],
      [MsgType.RUN, { n: 2, x: f32le(cs.inputs.flat()), tg: f32le(cs.targets.flat()), rs: true, res: true }],
      [MsgType.APPLY, { lr: [0.1, 0.05] }],
      [MsgType.GRADS, { p: EQPROP_ID.residual }],
      [MsgType.CHECKPOINT, { op: 1, o: 0, d: blob, rule: "eqprop" }],
      [MsgType.CHECKPOINT, { op: 0, o: 200, n: 100 }],
    ];
    const r = new Pcg32(21n, 5n);
    const pick = (n: number) => Math.floor(r.uniform() * n);
    let out: Uint8Array[] = [];
    fw.onTx = (x) => out.push(x);
    const send = (type: number, body: Uint8Array, seq: number): Body[] => {
      out = [];
      fw.feed(encodeFrame({ type, flags: 0, seq, body }));
      fw.pump();
      const answers: Body[] = [];
      new FrameSplitter((blk) => {
        const f = decodeFrame(blk);
        if (typeof f === "string") throw new Error(`malformed answer: ${f}`);
        if (f.seq !== seq || !(f.flags & FLAG_RESPONSE)) return;
        const a = decodeBody(f.body);
        const why = validateDeviceBody(f.type, a);
        if (why) throw new Error(`answer of type ${f.type} to ${type}: ${why}`);
        answers.push(a);
      }).push(Uint8Array.from(out.flatMap((x) => [...x])));
      return answers;
    };
    const base = encodeBody(configure);
    let errors = 0;
    for (let k = 0; k < 3000; k++) {
      const seq = 2 * k + 1;
      expect(send(MsgType.CONFIGURE, base, seq)).toHaveLength(1); // a sane model before each mutated request
      const [type, body] = bodies[pick(bodies.length)]!;
      const bytes = encodeBody(body).slice();
      for (let f = 1 + pick(3); f > 0; f--) bytes[pick(bytes.length)]! ^= 1 << pick(8);
      const answers = send(type, bytes, seq + 1);
      expect(answers, `mutation ${k} of type ${type}`).toHaveLength(1);
      if ("c" in answers[0]!) errors++;
    }
    expect(errors).toBeGreaterThan(300); // the mutations reached the checks, not only the happy path
    expect(errors).toBeLessThan(3000);
  }, 300_000);
});

/** A client on a serial port (sim pty or QEMU UART), HELLO said. */
async function overSerial<T>(port: string, fn: (c: DeviceClient) => Promise<T>): Promise<T> {
  const s = new Session(await SerialTransport.open(port), { timeoutMs: 300, retries: 30 });
  try {
    const c = new DeviceClient(s);
    await c.hello();
    return await fn(c);
  } finally {
    await s.close();
  }
}

/** Runs fn against a fresh sim board process (its pty port), then stops it. */
async function onSimBoard<T>(fn: (port: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "edgeprop-eqprop-sim-"));
  const sim = await startSim({ dir });
  try {
    return await fn(sim.port);
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("EqProp on the sim board (a separate process over a pty) and on the emulated Cortex-M4 (QEMU)", () => {
  it("sim board: grad = wasm backend bit for bit (one-sided, symmetric over many frames), and training = the kernel", async () => {
    const a = eqpropCase({ seed: 17, layers: [5, 7, 6, 3], beta: 0.1, freeSteps: 60, nudgedSteps: 30 });
    const m = eqpropCase({ seed: 18, layers: [64, 32, 10], nudge: "symmetric", wScale: 0.1, samples: 12, freeSteps: 40, nudgedSteps: 10, lossReduction: "mean" });
    const t = trainCase({ seed: 19 });
    const lr = [0.1, 0.05];
    const dev = await kernel(t);
    const want = [0, 1, 2].map((k) => dev.iteration(t.inputs.slice(4 * k, 4 * k + 4), t.targets.slice(4 * k, 4 * k + 4), lr));
    const [ga, gm, outcomes, trained] = await onSimBoard((port) =>
      overSerial(port, async (c) => {
        const ga = await eqpropRule.board!(a, c);
        const gm = await eqpropRule.board!(m, c);
        const b = await boardStart(c, t.model.layers, { ...t.model, lr }, t.params);
        const outcomes = [];
        for (let k = 0; k < 3; k++) outcomes.push(await boardIteration(b, t.inputs.slice(4 * k, 4 * k + 4), t.targets.slice(4 * k, 4 * k + 4), lr));
        return [ga, gm, outcomes, await b.readParams()] as const;
      }),
    );
    expect(ga).toEqual(await eqpropWasm(a, "scalar"));
    expect(gm).toEqual(await eqpropWasm(m, "scalar"));
    expect(outcomes).toEqual(want);
    expect(trained).toEqual(dev.readParams());
  }, 120_000);

  it("QEMU mps2-an386 (wasm2c + arm-none-eabi-gcc): the same as the sim board, bit for bit", async () => {
    const cs = eqpropCase({ seed: 20, layers: [6, 8, 3], nudge: "symmetric", beta: 0.5, freeSteps: 40, nudgedSteps: 15, samples: 4 });
    const onSim = await onSimBoard((port) => overSerial(port, (c) => eqpropRule.board!(cs, c)));
    const qemu = await startQemuBoard({ board: "qemu-mps2-an386" });
    try {
      const onQemu = await overSerial(qemu.port, (c) => eqpropRule.board!(cs, c));
      expect(onQemu).toEqual(onSim);
      expect(onSim).toEqual(await eqpropWasm(cs, "scalar"));
    } finally {
      await qemu.stop();
    }
  }, 300_000);
});
