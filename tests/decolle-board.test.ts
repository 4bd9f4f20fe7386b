// DECOLLE on boards (device/rules/decolle/handlers.ts over PROTOCOL.md "DECOLLE", host side
// host/rules/decolle/board.ts): the firmware hosted in this process, the sim board (a separate
// process on a pty) and the firmware on the emulated Cortex-M4 (QEMU) all equal the DECOLLE
// kernel driven directly (`--backend wasm`, host/rules/decolle/wasm.ts) bit for bit: loss,
// layerLoss, every gradient, and the weights after "trial" and "step" training with gd and Adam.
// Bad requests get the right ERROR with the field named, checkpoints resume identically, and a
// firmware built without the rule refuses it by name.
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFirmware } from "../device/firmware/build.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { InProcessTransport } from "../host/transport/inprocess.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { Session } from "../host/session/session.ts";
import { DeviceClient } from "../host/session/client.ts";
import { startSim } from "../host/sim/sim.ts";
import { startQemuBoard } from "../host/firmware/qemu-board.ts";
import { randomCase } from "../host/case/random.ts";
import { deviceGrad } from "../host/device/driver.ts";
import { decolleRandomCase, type DecolleRandomOptions } from "../host/rules/decolle/random.ts";
import { DecolleDevice, decolleWasm } from "../host/rules/decolle/wasm.ts";
import { DecolleClient, decolleParamId, type DecolleBoardOptions } from "../host/rules/decolle/board.ts";
import { decolleRule } from "../host/rules/decolle/index.ts";
import { planDecolle } from "../host/rules/decolle/plan.ts";
import type { DecolleCase } from "../host/rules/decolle/schema.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { FrameSplitter, decodeFrame, encodeFrame } from "../protocol/frame.ts";
import { DeviceError, ErrorCode, MsgType, decodeBody, encodeBody, f32le, packBits, validateDeviceBody, type Body } from "../protocol/messages.ts";

let wasm: Uint8Array;
beforeAll(async () => {
  wasm = (await buildFirmware()).bytes;
});

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
async function loaded(c: DeviceClient, cs: DecolleCase, opts: DecolleBoardOptions = {}): Promise<DecolleClient> {
  const d = new DecolleClient(c, cs.model);
  await d.configure(opts);
  await d.writeParams(cs.params, cs.readouts);
  return d;
}

/** The same on the kernel in Node (scalar build, the firmware's). */
async function kernel(cs: DecolleCase, optimizer: "gd" | "adam" = "gd"): Promise<DecolleDevice> {
  const dev = await DecolleDevice.create(cs.model, "scalar", { optimizer });
  dev.load(cs.params, cs.readouts);
  return dev;
}

/** The DeviceError a request is answered with. */
async function refused(p: Promise<unknown>): Promise<DeviceError> {
  const e = await p.then(() => null, (x: unknown) => x);
  if (!(e instanceof DeviceError)) throw new Error(`expected a DeviceError, got ${String(e)}`);
  return e;
}

const masked = (cs: DecolleCase) => cs.mask.filter((m) => m === 1).length;

const CASES: [string, DecolleRandomOptions][] = [
  ["2 layers, mse, box", { seed: 1 }],
  ["3 layers, ce, sigmoid, regularisers", { seed: 2, layers: [8, 7, 6], loss: "ce", surrogate: "sigmoid", reg: 0.5 }],
  ["smoothL1, mean, traceScale tau", { seed: 3, loss: "smoothL1", lossReduction: "mean", traceScale: "tau" }],
  ["1 layer, oneMinus, box with regulariser, T 300 (many frames)", { seed: 4, layers: [20], traceScale: "oneMinus", reg: 0.3, T: 300 }],
];

describe("firmware DECOLLE in Node = the kernel driven directly (wasm backend), bit for bit", () => {
  for (const [name, o] of CASES) {
    it(name, async () => {
      const cs = decolleRandomCase(o);
      const want = await decolleWasm(cs);
      const { c, s } = await board({ maxFrame: 512 });
      const got = await decolleRule.board!(cs, c);
      expect(got.loss).toBe(want.loss);
      expect(got.layerLoss).toEqual(want.layerLoss);
      expect(got.grads).toEqual(want.grads);
      expect(Object.keys(got)).toEqual(["loss", "layerLoss", "grads"]); // DECOLLE.md's JSON
      if (cs.inputs.length > 200) {
        const again = await new DecolleClient(c, cs.model).runTrial(cs.inputs, cs.targets, cs.mask);
        expect(again.frames).toBeGreaterThan(3);
        expect(again.loss).toBe(want.loss);
      }
      await s.close();
    });
  }

  it("f32 inputs (xf 1) as well as spikes", async () => {
    const cs = decolleRandomCase({ seed: 5 });
    cs.inputs = cs.inputs.map((r, t) => r.map((x, i) => x * 0.5 + ((t * 7 + i * 3) % 5) / 10));
    const want = await decolleWasm(cs);
    const { c, s } = await board();
    expect(await decolleRule.board!(cs, c)).toEqual(want);
    await s.close();
  });

  for (const optimizer of ["gd", "adam"] as const) {
    it(`decolleUpdate "trial", ${optimizer}: weights after 3 trials + APPLY equal the kernel's`, async () => {
      const cs = decolleRandomCase({ seed: 6, layers: [10, 8] });
      const { c, s } = await board({ maxFrame: 512 });
      const d = await loaded(c, cs, { optimizer, update: "trial" });
      const dev = await kernel(cs, optimizer);
      for (let it = 1; it <= 3; it++) {
        const r = await d.runTrial(cs.inputs, cs.targets, cs.mask);
        const w = dev.runTrial(cs.inputs, cs.targets, cs.mask);
        expect([r.loss, r.layerLoss]).toEqual([w.loss, w.layerLoss]);
        const k = await d.apply({ optimizer, lr: 0.01 });
        if (optimizer === "gd") dev.call("dcApplyGd", 0.01, 0, 0, 0);
        else dev.call("dcApplyAdam", 0.01, 0.9, 0.999, 1e-8, it);
        expect(k).toBe(it);
      }
      expect(await d.readParams()).toEqual(dev.readParams());
      await s.close();
    });
  }

  const STEP: [string, "gd" | "adam", DecolleRandomOptions, { wMin?: number; wMax?: number }][] = [
    ["gd, clipped to [-0.4, 0.4]", "gd", { seed: 7 }, { wMin: -0.4, wMax: 0.4 }],
    ["adam, lossReduction mean (div = M)", "adam", { seed: 8, lossReduction: "mean", loss: "ce" }, {}],
  ];
  for (const [name, optimizer, o, clip] of STEP) {
    it(`decolleUpdate "step", ${name}: W changes inside RUN exactly as the kernel's dcStepUpdate`, async () => {
      const cs = decolleRandomCase(o);
      const div = cs.model.lossReduction === "mean" ? masked(cs) : 1;
      const { c, s } = await board({ maxFrame: 512 });
      const d = await loaded(c, cs, { optimizer, update: "step" });
      const dev = await kernel(cs, optimizer);
      const opt = optimizer === "adam" ? 1 : 0;
      const clipOn = clip.wMin !== undefined ? 1 : 0;
      expect(dev.call("dcStepUpdate", opt, 0.02, 0.9, 0.999, 1e-8, clipOn, clip.wMin ?? 0, clip.wMax ?? 0, div)).toBe(1);
      expect(await d.apply({ optimizer, lr: 0.02, ...clip, ...(div !== 1 ? { div } : {}) })).toBe(0);
      for (let it = 0; it < 2; it++) {
        const r = await d.runTrial(cs.inputs, cs.targets, cs.mask, { maxStepsPerFrame: 17 });
        const w = dev.runTrial(cs.inputs, cs.targets, cs.mask);
        expect([r.loss, r.layerLoss]).toEqual([w.loss, w.layerLoss]);
      }
      const params = await d.readParams();
      expect(params).toEqual(dev.readParams());
      expect(params).not.toEqual(cs.params); // the updates happened
      expect(await d.apply({ optimizer, lr: 0.02, ...clip, ...(div !== 1 ? { div } : {}) })).toBe(2 * masked(cs));
      await s.close();
    });
  }

  it("evaluation (learn: false): the same loss, no gradient, no update; y and every layer's spikes as the kernel's dcForward", async () => {
    const cs = decolleRandomCase({ seed: 9, layers: [9, 11] });
    const { c, s } = await board({ maxFrame: 512 });
    const d = await loaded(c, cs, { update: "step" });
    const dev = await kernel(cs);
    const learned = dev.runTrial(cs.inputs, cs.targets, cs.mask);
    // the kernel, forward only
    dev.reset();
    const y: number[][][] = [];
    const z: number[][][] = cs.model.layers.map(() => []);
    cs.inputs.forEach((x, t) => {
      dev.k.writeF32(dev.call("dcPtr", 0), x);
      dev.k.writeF32(dev.call("dcPtr", 1), cs.targets[t]!);
      dev.call("dcForward", cs.mask[t]!);
      y.push(cs.model.layers.map((_, l) => Array.from(dev.k.readF32(dev.addr(l, "y"), cs.model.nOut))));
      cs.model.layers.forEach((_, l) => z[l]!.push(dev.spikes(l)));
    });
    const fwd = dev.finish();
    expect([fwd.loss, fwd.layerLoss]).toEqual([learned.loss, learned.layerLoss]);
    expect(fwd.grads.layers.flatMap((g) => [...g.w.flat(), ...g.b]).every((v) => v === 0)).toBe(true);

    const r = await d.runTrial(cs.inputs, cs.targets, cs.mask, { learn: false, outputs: true, spikes: true, maxStepsPerFrame: 13 });
    expect([r.loss, r.layerLoss]).toEqual([learned.loss, learned.layerLoss]);
    expect(r.y).toEqual(y);
    expect(r.z).toEqual(z);
    expect(r.spikeCounts).toEqual(z.map((raster) => raster[0]!.map((_, j) => raster.reduce((a, row) => a + row[j]!, 0))));
    expect(z.every((raster) => raster.flat().some((v) => v === 1))).toBe(true);
    expect(await d.readGrads()).toEqual(fwd.grads);
    expect(await d.readParams()).toEqual((await kernel(cs)).readParams()); // no update
    // a learning RUN under "step" before any APPLY has no update to apply
    const e = await refused(d.runTrial(cs.inputs, cs.targets, cs.mask));
    expect([e.code, e.field]).toEqual([ErrorCode.BAD_VALUE, "learn"]);
    await s.close();
  });

  it("DECOLLE and e-prop take turns on one board (the arena is shared): each equals its own kernel", async () => {
    const dc = decolleRandomCase({ seed: 22 });
    const ep = randomCase({ seed: 22, recurrent: true });
    const { c, s } = await board();
    const wantDc = await decolleWasm(dc);
    expect(await decolleRule.board!(dc, c)).toEqual(wantDc);
    await c.configure(ep.model, ep.feedback.kind);
    await c.writeParams(ep.params, ep.feedback.B);
    const wantEp = await deviceGrad(ep, "scalar");
    expect((await c.runTrial(ep.inputs, ep.targets, ep.mask)).loss).toBe(wantEp.loss);
    expect(await c.readGrads()).toEqual(wantEp.grads);
    // e-prop's CONFIGURE made DECOLLE forget its model; a DECOLLE CONFIGURE brings it back
    expect(await decolleRule.board!(dc, c)).toEqual(wantDc);
    await s.close();
  });

  it("a long RUN spans polls (bounded work per poll) and still equals the kernel", async () => {
    const cs = decolleRandomCase({ seed: 10, nIn: 100, layers: [200, 150], nOut: 10, T: 20, inputRate: 0.1 });
    const want = await decolleWasm(cs);
    const { c, s, fw } = await board();
    await loaded(c, cs);
    await s.close();
    // talk to the firmware frame by frame to see each poll
    const out: Uint8Array[] = [];
    fw.onTx = (b) => out.push(b);
    const body: Body = { n: cs.inputs.length, x: packBits(cs.inputs, cs.model.nIn), tg: f32le(cs.targets.flat()), m: packBits([cs.mask], cs.mask.length), rs: true, end: true };
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
    expect([frames[0]!.loss, frames[0]!.layerLoss]).toEqual([want.loss, want.layerLoss]);
  });
});

describe("DECOLLE checkpoints", () => {
  for (const update of ["trial", "step"] as const) {
    it(`"${update}" with Adam: read, restore on a fresh board, save/load through storage — training continues identically`, async () => {
      const cs = decolleRandomCase({ seed: 11, layers: [10, 6], T: 40 });
      const train = async (d: DecolleClient, n: number) => {
        const losses = [];
        for (let i = 0; i < n; i++) {
          losses.push((await d.runTrial(cs.inputs, cs.targets, cs.mask)).loss);
          if (update === "trial") await d.apply({ optimizer: "adam", lr: 0.01 });
        }
        return losses;
      };
      const a = await board({ maxFrame: 512 });
      const da = await loaded(a.c, cs, { optimizer: "adam", update });
      if (update === "step") await da.apply({ optimizer: "adam", lr: 0.005 });
      await train(da, 2);
      const blob = await a.c.checkpointRead();
      expect((await a.c.checkpointInfo()).updates).toBe(2); // "trial": APPLYs; "step": learning trials
      expect(await a.c.checkpointSave()).toBe(blob.length);
      const wantLoss = await train(da, 2);
      const want = await da.readParams();

      const b = await board({ maxFrame: 512 }); // a host that kept the blob (--resume)
      const db = new DecolleClient(b.c, cs.model);
      await db.restore(blob);
      expect(await train(db, 2)).toEqual(wantLoss);
      expect(await db.readParams()).toEqual(want);

      const d = await board({ storage: a.fw.storageBytes }); // the board restarted, storage kept
      const r = await d.c.request(MsgType.CHECKPOINT, { op: 3, rule: "decolle" });
      expect(r.k).toBe(2);
      const dd = new DecolleClient(d.c, cs.model);
      expect(await train(dd, 2)).toEqual(wantLoss);
      expect(await dd.readParams()).toEqual(want);
      await Promise.all([a.s.close(), b.s.close(), d.s.close()]);
    });
  }

  it("mid-trial: the rest of the trial after a restore on a fresh board is bit-identical", async () => {
    const cs = decolleRandomCase({ seed: 12 });
    const half = (from: number, to: number): Body => {
      const b: Body = { n: to - from, x: packBits(cs.inputs.slice(from, to), cs.model.nIn), tg: f32le(cs.targets.slice(from, to).flat()), m: packBits([cs.mask.slice(from, to)], to - from) };
      if (from === 0) b.rs = true;
      else b.end = true;
      return b;
    };
    const T = cs.inputs.length;
    const a = await board();
    await loaded(a.c, cs);
    await a.c.request(MsgType.RUN, half(0, 25));
    const blob = await a.c.checkpointRead();
    const endA = await a.c.request(MsgType.RUN, half(25, T));
    const gradsA = await new DecolleClient(a.c, cs.model).readGrads();
    const b = await board();
    const db = new DecolleClient(b.c, cs.model);
    await db.restore(blob);
    const endB = await b.c.request(MsgType.RUN, half(25, T));
    expect([endB.loss, endB.layerLoss, endB.t]).toEqual([endA.loss, endA.layerLoss, T]);
    expect(await db.readGrads()).toEqual(gradsA);
    expect(endA.loss).toBe((await decolleWasm(cs)).loss);
    await Promise.all([a.s.close(), b.s.close()]);
  });

  it("a damaged, hostile or foreign blob is refused with STORAGE and leaves no model", async () => {
    const cs = decolleRandomCase({ seed: 13 });
    const a = await board();
    await loaded(a.c, cs, { optimizer: "adam" });
    const blob = await a.c.checkpointRead();
    const fresh = async (bytes: Uint8Array) => {
      const b = await board();
      const e = await refused(new DecolleClient(b.c, cs.model).restore(bytes));
      const after = await refused(b.c.request(MsgType.GRADS, { p: 0 }));
      await b.s.close();
      return [e, after] as const;
    };
    const resealed = (edit: (dv: DataView) => void) => {
      const x = blob.slice();
      const dv = new DataView(x.buffer);
      edit(dv);
      dv.setUint32(12, crc32c(x, 16), true);
      return x;
    };
    // arena offsets: header 128 (DCLL), then the layer table (144 bytes each: alpha at +16), ...
    const ARENA = 64;
    const wOffset = planDecolle(cs.model, 1, { optimizer: "adam" }).layers[0]!.fields[0]!.offset;
    const cases: [Uint8Array, RegExp][] = [
      [(() => { const x = blob.slice(); x[300]! ^= 1; return x; })(), /CRC mismatch/],
      [resealed((dv) => dv.setFloat32(ARENA + wOffset, NaN, true)), /out-of-range/],
      [resealed((dv) => dv.setFloat32(ARENA + 128 + 16, 1.0, true)), /out-of-range/],
      [resealed((dv) => dv.setUint32(ARENA + 12, 17, true)), /not a DECOLLE arena/],
      [resealed((dv) => dv.setUint32(16, 2, true)), /not a DECOLLE arena/],
      [(() => { const x = blob.slice(); x[0] = 0x45; return x; })(), /bad magic/],
    ];
    for (const [bytes, why] of cases) {
      const [e, after] = await fresh(bytes);
      expect(e.code).toBe(ErrorCode.STORAGE);
      expect(e.message).toMatch(why);
      expect(after.code).toBe(ErrorCode.NOT_CONFIGURED);
    }
    await a.s.close();
  });
});

describe("DECOLLE requests the firmware refuses, naming the field", () => {
  const layer = { n: 5, alpha: 0.9, beta: 0.85, alpharp: 0.65, wrp: 1, reg: 0 };
  const model = (extra: Record<string, unknown> = {}, layers: unknown = [layer, { ...layer, n: 4 }]) => ({ rule: "decolle", nIn: 6, nOut: 3, layers, ...extra });

  it("CONFIGURE: layers, decays, sizes, choices, memory — and a refused CONFIGURE leaves the model as it was", async () => {
    const cs = decolleRandomCase({ seed: 14 });
    const { c, s } = await board();
    const d = await loaded(c, cs);
    const cfg = async (body: Body) => refused(c.request(MsgType.CONFIGURE, body));
    const bad: [Body, number, string, RegExp?][] = [
      [{ rule: "decolle", nIn: 6, nOut: 3 }, ErrorCode.BAD_FIELD, "layers"],
      [model({}, []), ErrorCode.BAD_VALUE, "layers"],
      [model({}, new Array(17).fill(layer)), ErrorCode.BAD_VALUE, "layers", /1\.\.16 layers \(got 17\)/],
      [model({}, 3), ErrorCode.BAD_FIELD, "layers"],
      [model({}, [layer, { ...layer, alpha: 1 }]), ErrorCode.BAD_VALUE, "layers.alpha", /layers\[1\]: must be a decay factor in \[0, 1\)/],
      [model({}, [{ ...layer, beta: -0.1 }]), ErrorCode.BAD_VALUE, "layers.beta"],
      [model({}, [{ ...layer, alpharp: NaN }]), ErrorCode.BAD_VALUE, "layers.alpharp"],
      [model({}, [{ ...layer, wrp: Infinity }]), ErrorCode.BAD_VALUE, "layers.wrp"],
      [model({}, [{ ...layer, reg: -1 }]), ErrorCode.BAD_VALUE, "layers.reg"],
      [model({}, [{ ...layer, n: 0 }]), ErrorCode.BAD_VALUE, "layers.n"],
      [model({}, [{ alpha: 0.5 }]), ErrorCode.BAD_FIELD, "layers.n", /layers\[0\]\.n missing/],
      [model({}, [{ ...layer, tau: 3 }]), ErrorCode.BAD_FIELD, "tau"],
      [model({ loss: "hinge" }), ErrorCode.BAD_VALUE, "loss"],
      [model({ decolleUpdate: "epoch" }), ErrorCode.BAD_VALUE, "decolleUpdate"],
      [model({ nRec: 4 }), ErrorCode.BAD_FIELD, "nRec"],
      [model({ nIn: 0 }), ErrorCode.BAD_VALUE, "nIn"],
      [model({}, [{ ...layer, n: 65535 }, { ...layer, n: 65535 }]), ErrorCode.NO_MEMORY, "", /model needs about \d+ MiB/],
      [model({ nIn: 2000 }, [{ ...layer, n: 3000 }]), ErrorCode.NO_MEMORY, "", /model needs \d+ bytes; board has \d+ bytes free/],
    ];
    for (const [body, code, field, text] of bad) {
      const e = await cfg(body);
      expect([e.code, e.field ?? ""], JSON.stringify(body).slice(0, 120)).toEqual([code, field]);
      if (text) expect(e.message).toMatch(text);
    }
    const r = await d.runTrial(cs.inputs, cs.targets, cs.mask);
    const want = await decolleWasm(cs);
    expect([r.loss, await d.readGrads()]).toEqual([want.loss, want.grads]);
    await s.close();
  });

  it("WRITE, READ, GRADS, RUN and APPLY", async () => {
    const cs = decolleRandomCase({ seed: 15, lossReduction: "mean" });
    const { c, s } = await board();
    await loaded(c, cs);
    const req = (type: number, body: Body) => refused(c.request(type, body));
    const L = cs.model.layers.length;
    const x = packBits([cs.inputs[0]!], cs.model.nIn);
    const bad: [number, Body, number, string, RegExp?][] = [
      [MsgType.WRITE, { p: 4 * L, d: f32le([1]) }, ErrorCode.BAD_VALUE, "p", /unknown id 8 \(this model's ids are 0\.\.7/],
      [MsgType.WRITE, { p: decolleParamId(1, "b"), o: 9, d: f32le([1, 2]) }, ErrorCode.BAD_SHAPE, "d"],
      [MsgType.WRITE, { p: decolleParamId(0, "G"), d: f32le([0, NaN]) }, ErrorCode.BAD_VALUE, "d", /element 1 is NaN/],
      [MsgType.WRITE, { p: 0, d: new Uint8Array(6) }, ErrorCode.BAD_SHAPE, "d"],
      [MsgType.READ, { p: 1, o: 12, n: 1 }, ErrorCode.BAD_SHAPE, "n"],
      [MsgType.GRADS, { p: decolleParamId(1, "G") }, ErrorCode.UNSUPPORTED, "p", /readouts are fixed/],
      [MsgType.GRADS, { p: 99 }, ErrorCode.BAD_VALUE, "p"],
      [MsgType.RUN, { n: 2, x }, ErrorCode.BAD_SHAPE, "x"],
      [MsgType.RUN, { n: 1, x, tg: f32le([NaN, 0, 0]) }, ErrorCode.BAD_VALUE, "tg"],
      [MsgType.RUN, { n: 1, x, tg: f32le([0, 0]) }, ErrorCode.BAD_SHAPE, "tg"],
      [MsgType.RUN, { n: 1, x: f32le([0, 0, 0, 0, 0, Infinity]), xf: 1 }, ErrorCode.BAD_VALUE, "x"],
      [MsgType.RUN, { n: 1, x, m: new Uint8Array(2) }, ErrorCode.BAD_SHAPE, "m"],
      [MsgType.RUN, { n: 1, x, o: 8 }, ErrorCode.BAD_FIELD, "o"],
      [MsgType.RUN, { n: 1, x, ls: f32le([0]) }, ErrorCode.BAD_FIELD, "ls"],
      [MsgType.APPLY, { opt: 0 }, ErrorCode.BAD_FIELD, "lr"],
      [MsgType.APPLY, { opt: 0, lr: 0 }, ErrorCode.BAD_VALUE, "lr"],
      [MsgType.APPLY, { opt: 0, lr: -0.1 }, ErrorCode.BAD_VALUE, "lr"],
      [MsgType.APPLY, { opt: 0, lr: NaN }, ErrorCode.BAD_VALUE, "lr"],
      [MsgType.APPLY, { opt: 0, lr: 1e-50 }, ErrorCode.BAD_VALUE, "lr", /in float32/],
      [MsgType.APPLY, { opt: 1, lr: 0.1 }, ErrorCode.BAD_VALUE, "opt", /without optimizer "adam"/],
      [MsgType.APPLY, { opt: 0, lr: 0.1, wMin: 1 }, ErrorCode.BAD_VALUE, "wMin"],
      [MsgType.APPLY, { opt: 0, lr: 0.1, div: 3 }, ErrorCode.BAD_FIELD, "div"],
    ];
    for (const [type, body, code, field, text] of bad) {
      const e = await req(type, body);
      expect([e.code, e.field], `${type} ${JSON.stringify(body)}`).toEqual([code, field]);
      if (text) expect(e.message).toMatch(text);
    }
    // "step" with lossReduction "mean": APPLY needs div = M; Adam ranges; k is refused
    const d = await loaded(c, cs, { optimizer: "adam", update: "step" });
    const stepBad: [Body, number, string][] = [
      [{ opt: 1, lr: 0.1 }, ErrorCode.BAD_FIELD, "div"],
      [{ opt: 1, lr: 0.1, div: 0 }, ErrorCode.BAD_VALUE, "div"],
      [{ opt: 1, lr: 0.1, div: 4, k: 3 }, ErrorCode.BAD_FIELD, "k"],
      [{ opt: 1, lr: 0.1, div: 4, b1: 1 }, ErrorCode.BAD_VALUE, "b1"],
      [{ opt: 1, lr: 0.1, div: 4, b2: -0.5 }, ErrorCode.BAD_VALUE, "b2"],
      [{ opt: 1, lr: 0.1, div: 4, eps: 0 }, ErrorCode.BAD_VALUE, "eps"],
      [{ opt: 1, lr: 0.1, div: 4, wMin: -1, wMax: 1 }, ErrorCode.BAD_FIELD, "wMin"],
    ];
    for (const [body, code, field] of stepBad) {
      const e = await req(MsgType.APPLY, body);
      expect([e.code, e.field], JSON.stringify(body)).toEqual([code, field]);
    }
    // none of the refused requests changed anything: the model still computes the case's gradient
    const want = await decolleWasm(cs);
    const r = await d.runTrial(cs.inputs, cs.targets, cs.mask, { learn: false });
    expect(r.loss).toBe(want.loss);
    expect(await d.readParams()).toEqual((await kernel(cs)).readParams());
    await s.close();
  });

  it("a firmware built without the rule (asc --use FW_OMIT_DECOLLE=1) refuses CONFIGURE rule decolle with UNSUPPORTED naming it", async () => {
    const omit = (await buildFirmware("device/firmware/main.ts", "firmware-omit-decolle", ["--use", "FW_OMIT_DECOLLE=1"])).bytes;
    expect(omit.length).toBeLessThan(wasm.length); // the rule's code is gone
    const { c, s } = await board({ firmware: omit });
    expect(s.info!.rules).toContain("eprop");
    expect(s.info!.rules).not.toContain("decolle");
    expect(s.info!.caps).not.toContain("decolle");
    const e = await refused(new DecolleClient(c, decolleRandomCase({ seed: 16 }).model).configure());
    expect([e.code, e.field]).toEqual([ErrorCode.UNSUPPORTED, "rule"]);
    expect(e.message).toMatch(/does not carry rule 'decolle'/);
    await s.close();
    const full = await board();
    expect(full.s.info!.rules).toContain("decolle");
    await full.s.close();
  }, 300_000); // builds a second firmware
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
  const dir = mkdtempSync(join(tmpdir(), "edgeprop-decolle-sim-"));
  const sim = await startSim({ dir });
  try {
    return await fn(sim.port);
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("DECOLLE on the sim board (a separate process over a pty) and on the emulated Cortex-M4 (QEMU)", () => {
  it("sim board: grad = wasm backend bit for bit (two cases, one over many frames), and step training = the kernel", async () => {
    await onSimBoard(async (port) => {
      const a = decolleRandomCase({ seed: 17, layers: [12, 10, 8], loss: "smoothL1" });
      const b = decolleRandomCase({ seed: 18, nIn: 40, layers: [30, 20], T: 400, lossReduction: "mean", surrogate: "sigmoid" });
      const step = decolleRandomCase({ seed: 19 });
      const dev = await kernel(step);
      dev.call("dcStepUpdate", 0, 0.05, 0, 0, 0, 0, 0, 0, 1);
      dev.runTrial(step.inputs, step.targets, step.mask);
      const [ga, gb, trained] = await overSerial(port, async (c) => {
        const ga = await decolleRule.board!(a, c);
        const gb = await decolleRule.board!(b, c);
        const d = await loaded(c, step, { update: "step" });
        await d.apply({ optimizer: "gd", lr: 0.05 });
        await d.runTrial(step.inputs, step.targets, step.mask);
        return [ga, gb, await d.readParams()] as const;
      });
      expect(ga).toEqual(await decolleWasm(a));
      expect(gb).toEqual(await decolleWasm(b));
      expect(trained).toEqual(dev.readParams());
    });
  }, 120_000);

  it("QEMU mps2-an386 (wasm2c + arm-none-eabi-gcc): the same as the sim board, bit for bit", async () => {
    const cs = decolleRandomCase({ seed: 20, layers: [10, 8], T: 50, loss: "ce" });
    const onSim = await onSimBoard((port) => overSerial(port, (c) => decolleRule.board!(cs, c)));
    const qemu = await startQemuBoard({ board: "qemu-mps2-an386" });
    try {
      const onQemu = await overSerial(qemu.port, (c) => decolleRule.board!(cs, c));
      expect(onQemu).toEqual(onSim);
      expect(onSim).toEqual(await decolleWasm(cs));
    } finally {
      await qemu.stop();
    }
  }, 300_000);
});

describe("DECOLLE under random and mutated requests (a fuzzer aimed at the rule's handlers)", () => {
  it("6000 requests: no trap, no hang, exactly one well-formed answer each; afterwards the rule still computes bit for bit", async () => {
    const fw = await FirmwareHost.create(wasm, { boardId: "sim" });
    fw.init();
    let out: Uint8Array[] = [];
    fw.onTx = (b) => out.push(b);
    let seq = 7;
    let lcg = 12345;
    const r = () => ((lcg = (Math.imul(lcg, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const int = (n: number) => Math.floor(r() * n);
    const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
    const bytes = (n: number) => new Uint8Array(n).map(() => int(256));
    const num = () => pick([0.9, 0.5, 0, 1, -0.1, NaN, Infinity, 1e-50, 65535, 2 ** 32, "x", null, true] as const);
    const counts = { requests: 0, errors: 0, ok: 0 };
    /** Sends one request (a body, or raw body bytes) and checks its one answer. */
    const ask = (type: number, body: Body | Uint8Array): Body | null => {
      seq = (seq + 1) & 0xffff;
      out = [];
      fw.feed(encodeFrame({ type, flags: 0, seq, body: body instanceof Uint8Array ? body : encodeBody(body) }));
      expect(fw.pump(200_000)).toBeLessThan(200_000); // not still busy: no hang
      const answers: { type: number; body: Body }[] = [];
      new FrameSplitter((blk) => {
        const f = decodeFrame(blk);
        if (typeof f === "string") throw new Error(`malformed answer frame: ${f}`);
        if (f.flags === 1 && f.seq === seq) answers.push({ type: f.type, body: decodeBody(f.body) });
      }).push(Uint8Array.from(out.flatMap((b) => [...b])));
      expect(answers.length).toBe(1);
      const a = answers[0]!;
      expect(validateDeviceBody(a.type, a.body)).toBeNull();
      counts.requests++;
      if (a.type === MsgType.ERROR) {
        expect((a.body.m as string).length).toBeGreaterThan(0);
        counts.errors++;
        return null;
      }
      expect(a.type).toBe(type);
      counts.ok++;
      return a.body;
    };
    const layers = () => Array.from({ length: r() < 0.05 ? 17 : 1 + int(3) }, () => {
      const l: Body = { n: r() < 0.02 ? 65535 : 1 + int(24) }; // 65535: NO_MEMORY, or a 10 MB arena
      for (const k of ["alpha", "beta", "alpharp", "wrp", "reg", "tau"]) if (r() < 0.15) l[k] = num();
      return l;
    });
    const configure = (): Body => ({
      rule: "decolle", nIn: 1 + int(20), nOut: 1 + int(4), layers: r() < 0.05 ? num() : layers(),
      loss: pick(["mse", "smoothL1", "ce", "?"]), surrogate: pick(["box", "sigmoid"]), traceScale: pick(["one", "oneMinus", "tau"]),
      lossReduction: pick(["sum", "mean"]), optimizer: pick(["gd", "adam"]), decolleUpdate: pick(["trial", "step"]),
    });
    let dims = { nIn: 6, nOut: 3, L: 2 };
    let blob: Uint8Array | null = null;
    const request = (): [number, Body] => {
      switch (int(9)) {
        case 0: {
          const b = configure();
          if (Array.isArray(b.layers)) dims = { nIn: b.nIn as number, nOut: b.nOut as number, L: b.layers.length };
          return [MsgType.CONFIGURE, b];
        }
        case 1: return [MsgType.WRITE, { p: int(4 * dims.L + 2), o: int(8), d: f32le(Array.from({ length: int(40) }, () => (r() < 0.03 ? NaN : r() - 0.5))) }];
        case 2: return [pick([MsgType.READ, MsgType.GRADS]), { p: int(4 * dims.L + 2), o: int(8), n: int(60) }];
        case 3: case 4: {
          const n = 1 + int(30);
          const xf = r() < 0.2 ? 1 : 0;
          const b: Body = { n, x: xf ? f32le(Array.from({ length: n * dims.nIn }, () => (r() < 0.01 ? NaN : r()))) : bytes(n * ((dims.nIn + 7) >> 3) + (r() < 0.1 ? 1 : 0)), rs: r() < 0.5, end: r() < 0.5, o: int(9) };
          if (xf) b.xf = 1;
          if (r() < 0.7) b.tg = f32le(Array.from({ length: n * dims.nOut + (r() < 0.1 ? 1 : 0) }, () => r()));
          if (r() < 0.3) b.m = bytes((n + 7) >> 3);
          if (r() < 0.3) b.learn = r() < 0.5;
          return [MsgType.RUN, b];
        }
        case 5: {
          const b: Body = { opt: int(2), lr: r() < 0.8 ? 0.01 : num() };
          for (const k of ["b1", "b2", "eps", "wMin", "wMax", "div", "k"]) if (r() < 0.15) b[k] = num();
          return [MsgType.APPLY, b];
        }
        case 6: return [MsgType.RESET, { k: int(16) }];
        case 7: {
          const op = int(5);
          const b: Body = { rule: "decolle", op };
          if (op === 0) Object.assign(b, { o: int(300), n: int(1500) });
          if (op === 1) Object.assign(b, { o: r() < 0.7 ? 0 : int(3000), d: bytes(int(400)) });
          return [MsgType.CHECKPOINT, b];
        }
        default: return [MsgType.CHECKPOINT, { rule: "decolle", op: 4 }];
      }
    };
    /** The whole checkpoint blob, read in chunks (null if the board has no DECOLLE model). */
    const readBlob = (size: number): Uint8Array | null => {
      const x = new Uint8Array(size);
      for (let o = 0; o < size; o += 1500) {
        const a = ask(MsgType.CHECKPOINT, { op: 0, o, n: Math.min(1500, size - o) });
        if (!a) return null;
        x.set(a.d as Uint8Array, o);
      }
      return x;
    };
    ask(MsgType.HELLO, { mf: 2048 });
    for (let i = 0; i < 6000; i++) {
      if (i % 200 === 0) await new Promise((res) => setImmediate(res)); // let the test runner breathe
      const [type, body] = request();
      if (r() < 0.25) { // a mutated body (bit flips; the frame's CRC is right, so the parser sees it)
        const raw = encodeBody(body);
        for (let k = 1 + int(3); k > 0; k--) raw[int(raw.length)]! ^= 1 << int(8);
        ask(type, raw);
        continue;
      }
      const a = ask(type, body);
      if (a && type === MsgType.CHECKPOINT && body.op === 4 && (a.size as number) < 20_000) blob = readBlob(a.size as number) ?? blob;
      if (blob && r() < 0.05) { // a real blob with a byte changed and its CRC resealed: only the value checks stand in the way
        const x = blob.slice();
        x[16 + int(x.length - 16)]! ^= 1 << int(8);
        new DataView(x.buffer).setUint32(12, crc32c(x, 16), true);
        for (let o = 0; o < x.length; o += 1500) if (!ask(MsgType.CHECKPOINT, { rule: "decolle", op: 1, o, d: x.subarray(o, o + 1500) })) break;
      }
    }
    console.log(`decolle fuzz: ${JSON.stringify(counts)}`);
    expect(counts.ok).toBeGreaterThan(800); // the success paths were reached, not only errors
    expect(blob).not.toBeNull();
    // and the rule still computes bit for bit on the same firmware instance
    const cs = decolleRandomCase({ seed: 21 });
    const s = new Session(new InProcessTransport(fw), { timeoutMs: 40, retries: 60 });
    const c = new DeviceClient(s);
    await c.hello();
    expect(await decolleRule.board!(cs, c)).toEqual(await decolleWasm(cs));
    await s.close();
  }, 120_000);
});
