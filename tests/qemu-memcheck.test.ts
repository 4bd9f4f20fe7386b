// The two ways the MCU firmware checks memory accesses (host/firmware/memcheck.ts,
// device/mcu/README.md "Memory isolation"), on the emulated Cortex-M4:
// - both give the gradients of the wasm backend bit for bit (same float32 code, only the
//   address arithmetic differs);
// - a kernel that stores outside its linear memory (tests/fixtures/mcu/wild.ts) is trapped by
//   `bounds` and contained by `mask`: its stores land in its own window and every canary the
//   shim keeps around the firmware's stack, instance and window (device/mcu/canaries.h) survives;
// - `mask`'s typed accessors fault on unaligned VLDR/VSTR, so every rule's handlers read and write
//   MessagePack payloads (which sit at any byte offset) byte-wise: WRITE and READ round-trip bins
//   at each offset mod 4 for e-prop, DECOLLE, OSTL and EqProp.
import { describe, expect, it } from "vitest";
import { getBoard } from "../boards/index.ts";
import { wasmBackend } from "../host/backends/wasm.ts";
import { gradOverSerial } from "../host/backends/sim.ts";
import { randomCase } from "../host/case/random.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { repoPath } from "../host/paths.ts";
import type { Memcheck } from "../host/firmware/memcheck.ts";
import { bootQemu, stopQemu } from "../host/firmware/qemu.ts";
import { startQemuBoard } from "../host/firmware/qemu-board.ts";
import { compileAssemblyScript } from "../host/firmware/source.ts";
import { DecolleClient, decolleParamId } from "../host/rules/decolle/board.ts";
import { decolleRandomCase } from "../host/rules/decolle/random.ts";
import { EqpropBoard, EQPROP_ID } from "../host/rules/eqprop/board.ts";
import { OstlBoard, OstlId } from "../host/rules/ostl/board.ts";
import { randomOstlCase } from "../host/rules/ostl/random.ts";
import { DeviceClient } from "../host/session/client.ts";
import { Session } from "../host/session/session.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { MsgType, f32le } from "../protocol/messages.ts";
import { eqpropCase } from "./helpers/eqprop-cases.ts";

const MODES: Memcheck[] = ["mask", "bounds"];
/** The pattern wild.ts stores; the canary build counts it in the window. */
const PATTERN = "0x5aa5c33cu";

describe("--memcheck mask|bounds on qemu-mps2-an386", () => {
  it("both give the wasm backend's loss and gradients bit for bit", async () => {
    const cases = [
      randomCase({ neuron: "lif", recurrent: true, seed: 7, nIn: 9, nRec: 21, nOut: 3, T: 40 }),
      randomCase({ neuron: "alif", recurrent: true, feedback: "random", readoutScale: "oneMinusKappa", seed: 8, nIn: 6, nRec: 10, T: 40 }),
    ];
    const refs = await Promise.all(cases.map((c) => wasmBackend.grad(c, { rule: "eprop", flags: {} })));
    for (const memcheck of MODES) {
      const board = await startQemuBoard({ board: "qemu-mps2-an386", memcheck });
      try {
        expect(board.build.memcheck).toBe(memcheck);
        for (const [i, c] of cases.entries()) {
          const got = await gradOverSerial(c, board.port);
          expect(got.loss).toBe(refs[i]!.loss);
          expect(got.grads).toEqual(refs[i]!.grads);
        }
      } finally {
        await board.stop();
      }
    }
  }, 300_000);

  it("a kernel storing outside its memory: trapped with bounds, contained in its window with mask (canaries intact)", async () => {
    const board = getBoard("qemu-mps2-an386");
    const wasmPath = await compileAssemblyScript(repoPath("tests", "fixtures", "mcu", "wild.ts"), "wild");
    for (const memcheck of MODES) {
      const build = await buildFirmware({ board, wasmPath, memcheck, defines: [`-DEDGEPROP_CANARIES=${PATTERN}`] });
      const b = await bootQemu({ board, elf: build.elf, ready: /HELLO wild 1\n/ });
      try {
        await b.link.write("P");
        await b.link.waitFor(/PONG\n/);
        // every guard intact before the stores, no pattern anywhere in the window
        expect((await b.link.waitFor(/CANARY (\d+) (\d+)\n/))[0]).toBe("CANARY 0 0\n");
        await b.link.write("W");
        if (memcheck === "bounds") {
          await b.link.waitFor(/TRAP 1 Out-of-bounds access[^\n]*\n/);
          continue;
        }
        const w = await b.link.waitFor(/WILD (\d+) (\d+)\n/, 30_000);
        expect(Number(w[1])).toBe(256 + 256 + 1 + 4096 + 3);
        expect(Number(w[2])).toBe(256 + 256 + 1 + 4096); // each store reads back: it landed somewhere the kernel owns
        const c = await b.link.waitFor(/CANARY (\d+) (\d+)\n/, 30_000);
        expect(Number(c[1])).toBe(0); // stack, instance, memory descriptor, window guards: untouched
        expect(Number(c[2])).toBeGreaterThan(4000); // the stores are in the window
        // and the firmware still runs: another request, answered, with nothing new to report
        await b.link.write("P");
        await b.link.waitFor(/PONG\n/);
        await b.link.write("P");
        await b.link.waitFor(/PONG\n/);
        expect(b.link.received).not.toMatch(/CANARY|FAULT|TRAP/);
      } finally {
        await b.link.close();
        await stopQemu(b.qemu);
      }
    }
  }, 300_000);

  it("every rule's WRITE and READ carry f32 bins at each byte offset mod 4 (mask: aligned typed accessors)", async () => {
    // (an unaligned typed access faults: the board halts and the request times out)
    // body {p, o, d}: the bin's data starts 8 + |o| + |bin header| bytes in, |o| 1..3 (o < 128,
    // < 256, < 65536) and the header 2 (bin 8) or 3 (bin 16): the four chunks hit every residue
    const CHUNKS: [number, number][] = [[5, 20], [130, 20], [300, 20], [400, 80]];
    const board = await startQemuBoard({ board: "qemu-mps2-an386", memcheck: "mask" });
    const s = new Session(await SerialTransport.open(board.port), { timeoutMs: 300, retries: 30 });
    try {
      const dev = new DeviceClient(s);
      await dev.hello();
      // a parameter of >= 480 elements of each rule (24 x 24 weights; e-prop's wIn, not wRec's zero diagonal)
      const rules: [string, number, () => Promise<unknown>][] = [
        ["eprop", 0, () => dev.configure(randomCase({ seed: 1, nIn: 24, nRec: 24 }).model, "symmetric")],
        ["decolle", decolleParamId(0, "w"), () => new DecolleClient(dev, decolleRandomCase({ seed: 1, layers: [24], nIn: 24 }).model).configure()],
        ["ostl", OstlId.w(0), () => OstlBoard.configure(dev, randomOstlCase({ seed: 1, layers: [24], nIn: 24 }).model)],
        ["eqprop", EQPROP_ID.W(0), () => new EqpropBoard(dev, eqpropCase({ seed: 1, layers: [24, 24, 3] }).model).configure()],
      ];
      for (const [name, p, configure] of rules) {
        await configure();
        for (const [i, [o, n]] of CHUNKS.entries()) {
          const values = Array.from({ length: n }, (_, k) => Math.fround((i + 1) * 0.01 * (k - n / 2) + 0.003));
          expect((await dev.request(MsgType.WRITE, { p, o, d: f32le(values) })).n, name).toBe(n);
          const d = (await dev.request(MsgType.READ, { p, o, n })).d as Uint8Array;
          expect(Array.from(new Float32Array(d.slice().buffer)), `${name} o ${o}`).toEqual(values);
        }
      }
    } finally {
      await s.close();
      await board.stop();
    }
  }, 300_000);
});
