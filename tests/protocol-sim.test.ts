// The sim board over a real serial line: a separate Node process hosting the firmware .wasm on
// one end of a socat pty pair, the host on the other end through `serialport`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSim } from "../host/sim/sim.ts";
import type { Sim } from "../host/sim/sim.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import type { Transport } from "../host/transport/transport.ts";
import { Session } from "../host/session/session.ts";
import { DeviceError, ErrorCode, MsgType, ParamId, f32le, fromF32le } from "../protocol/messages.ts";
import { randomCase } from "../host/case/random.ts";
import { wasmBackend } from "../host/backends/wasm.ts";
import { simBackend, gradOverSerial } from "../host/backends/sim.ts";
import { DeviceClient } from "../host/session/client.ts";
import { startInProcessBoard } from "../host/sim/inprocess.ts";
import { startFaultProxy } from "../host/transport/proxy.ts";

/** WRITEs wIn in frame-sized chunks and READs it back, as raw protocol requests. */
async function writeReadBack(s: Session, w: Float32Array): Promise<Float32Array> {
  const chunk = Math.floor((s.maxBody - 40) / 4);
  for (let o = 0; o < w.length; o += chunk) await s.request(MsgType.WRITE, { p: ParamId.wIn, o, d: f32le(w.subarray(o, o + chunk)) });
  const back = new Float32Array(w.length);
  for (let o = 0; o < w.length; o += chunk) {
    const r = await s.request(MsgType.READ, { p: ParamId.wIn, o, n: Math.min(chunk, w.length - o) });
    back.set(fromF32le(r.d as Uint8Array), o);
  }
  return back;
}

describe("sim board over a pty", () => {
  let sim: Sim;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "edgeprop-sim-"));
    sim = await startSim({ dir });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it("answers HELLO and PING, moves parameters, survives a board crash and restart", async () => {
    const t = await SerialTransport.open(sim.port);
    const logs: string[] = [];
    let boots = 0;
    const s = new Session(t, { timeoutMs: 100, retries: 5, onLog: (_l, m) => logs.push(m), onBoot: () => boots++ });
    const info = await s.connect();
    expect(info).toMatchObject({ pv: 1, board: "sim", mf: 2048 });
    const p = await s.request(MsgType.PING, { d: Uint8Array.of(0, 0, 1) });
    expect(p.d).toEqual(Uint8Array.of(0, 0, 1));

    await s.request(MsgType.CONFIGURE, { nIn: 80, nRec: 100, nOut: 2 });
    const w = new Float32Array(8000).map((_, i) => Math.sin(i));
    expect(await writeReadBack(s, w)).toEqual(w);

    // crash: requests time out with a clear error while the board is down
    await sim.killBoard();
    await expect(s.request(MsgType.PING, {})).rejects.toThrow(/no answer to PING .* after 6 attempts/);
    // power back on: the firmware greets (LOG), RAM is gone, the session carries on
    await sim.startBoard();
    // the boot LOG precedes every answer of the new firmware instance on the (ordered) line
    const info2 = await s.connect();
    expect(boots).toBe(1);
    expect(logs).toContain("edgeprop firmware ready");
    expect(info2.board).toBe("sim");
    expect(s.maxFrame).toBe(2048);
    const e = await s.request(MsgType.READ, { p: 0, n: 1 }).catch((x) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as DeviceError).code).toBe(ErrorCode.NOT_CONFIGURED);
    expect(e.message).toMatch(/the device has no model yet/);
    await s.close();
  }, 30_000);
});

describe("sim board with byte faults on its UART", () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSim({ dir: mkdtempSync(join(tmpdir(), "edgeprop-simf-")), faultRate: 1e-3, faultSeed: 7 });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it("moves parameters exactly over a 1e-3 byte-error link", async () => {
    const t = await SerialTransport.open(sim.port);
    const s = new Session(t, { timeoutMs: 60, retries: 40, maxFrame: 512 });
    await s.connect();
    await s.request(MsgType.CONFIGURE, { nIn: 40, nRec: 50, nOut: 2 });
    const w = new Float32Array(2000).map((_, i) => Math.cos(i));
    expect(await writeReadBack(s, w)).toEqual(w);
    expect(s.stats.retransmits + s.stats.badFrames).toBeGreaterThan(0);
    await s.close();
  }, 30_000);
});

describe("grad --backend sim", () => {
  it("equals --backend wasm bit for bit on random cases (one board, several cases; and a fresh board with faults)", async () => {
    const sim = await startSim({ dir: mkdtempSync(join(tmpdir(), "edgeprop-simg-")) });
    try {
      const cases = [
        randomCase({ seed: 11 }),
        randomCase({ seed: 12, neuron: "alif", loss: "ce", recurrent: true }),
        randomCase({ seed: 13, feedback: "random", recurrent: true, rateReg: { cReg: 0.3, fTargetHz: 12 }, lossReduction: "mean" }),
        randomCase({ seed: 14, nIn: 40, nRec: 50, nOut: 2, T: 300, recurrent: true, refractory: 3 }),
      ];
      for (const c of cases) {
        const want = await wasmBackend.grad(c, { rule: "eprop", flags: {} });
        expect(await gradOverSerial(c, sim.port)).toEqual(want);
      }
    } finally {
      await sim.stop();
    }
    const c = randomCase({ seed: 15, recurrent: true });
    const want = await wasmBackend.grad(c, { rule: "eprop", flags: {} });
    expect(await simBackend.grad(c, { rule: "eprop", flags: { "fault-rate": "0.001" } })).toEqual(want);
  }, 60_000);
});

describe("board crash mid-training (protocol level)", () => {
  it("kill the board process mid-trial, restart it, LOAD the last checkpoint from storage: same weights as an uninterrupted run", async () => {
    const cs = randomCase({ seed: 21, recurrent: true, nIn: 12, nRec: 20, nOut: 2, T: 300 });
    const TRIALS = 6;
    const trial = async (c: DeviceClient) => {
      await c.runTrial(cs.inputs, cs.targets, cs.mask, { maxStepsPerFrame: 20 });
      await c.apply({ optimizer: "adam", lr: 0.01 });
    };
    // uninterrupted
    const a = await startInProcessBoard();
    const ca = new DeviceClient(new Session(a.transport));
    await ca.hello();
    await ca.configure(cs.model, cs.feedback.kind, { optimizer: "adam" });
    await ca.writeParams(cs.params);
    for (let i = 0; i < TRIALS; i++) await trial(ca);
    const want = await ca.readParams();
    await ca.session.close();

    // interrupted at trial 4, over the pty, checkpoint saved to the board's storage after every update
    const sim = await startSim({ dir: mkdtempSync(join(tmpdir(), "edgeprop-simk-")) });
    try {
      // The board dies when the host sends the 3rd of trial 4's 15 RUN frames: two answered, the
      // third lost — mid-trial by construction, whatever the machine's speed.
      let framesToKill = Infinity;
      let killing: Promise<void> | undefined;
      const serial = await SerialTransport.open(sim.port);
      const tap: Transport = {
        name: serial.name,
        write: (d) => {
          if (--framesToKill === 0) killing = sim.killBoard();
          serial.write(d);
        },
        onData: (cb) => serial.onData(cb),
        onError: (cb) => serial.onError(cb),
        close: () => serial.close(),
      };
      const s = new Session(tap, { timeoutMs: 200, retries: 3 });
      const c = new DeviceClient(s);
      await c.hello();
      await c.configure(cs.model, cs.feedback.kind, { optimizer: "adam" });
      await c.writeParams(cs.params);
      let crashed = false;
      for (let i = 0; i < TRIALS; ) {
        try {
          if (i === 3 && !crashed) {
            crashed = true;
            framesToKill = 3;
          }
          await trial(c);
          await c.checkpointSave();
          i++;
        } catch (e) {
          await killing;
          if (sim.board.exitCode === null && sim.board.signalCode === null) throw e; // not the crash
          await sim.startBoard();
          await c.hello();
          i = (await c.checkpointLoad(cs.model, cs.feedback.kind)).updates; // resume after the last saved update
        }
      }
      expect(crashed).toBe(true);
      expect(s.boots).toBe(1);
      expect(await c.readParams()).toEqual(want);
      await s.close();
    } finally {
      await sim.stop();
    }
  }, 60_000);
});

describe("fault proxy between host and board", () => {
  it("a 2e-3 byte-error proxy in front of the sim board: grad equals the clean one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-proxy-"));
    const sim = await startSim({ dir: join(dir, "sim") });
    const proxy = await startFaultProxy(sim.port, join(dir, "proxy"), { rate: 2e-3, seed: 5 });
    try {
      const c = randomCase({ seed: 31, recurrent: true, nIn: 20, nRec: 30, T: 200 });
      const want = await wasmBackend.grad(c, { rule: "eprop", flags: {} });
      expect(await gradOverSerial(c, proxy.port, { maxFrame: 512 })).toEqual(want);
      const hits = (x: typeof proxy.toBoard.stats) => x.dropped + x.flipped + x.duplicated;
      expect(hits(proxy.toBoard.stats) + hits(proxy.toHost.stats)).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
      await sim.stop();
    }
  }, 60_000);
});
