// The fixed16 firmware trains on an emulated FPU-less core: `edgeprop train --board
// qemu-mps2-an385` (Cortex-M3, no FPU; boards/qemu-mps2-an385.json numerics "fixed16") learns the
// pattern task with e-prop and gd to a held-out NMSE well below chance (1), and every trial's loss
// equals, bit for bit, that of the same firmware .wasm run in Node with NUMERICS = 1 (integer
// core + float32 readout: soft-float on the M3 rounds as V8 does). `numerics` is e-prop's alone:
// the same image carries DECOLLE, OSTL and EqProp with their float32 kernels, and they give the
// wasm backend's losses and gradients bit for bit there (soft-float, `--memcheck mask`).
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { getBoard } from "../boards/index.ts";
import { buildFirmware } from "../device/firmware/build.ts";
import type { RunSummary } from "../host/report/rundir.ts";
import { DeviceClient } from "../host/session/client.ts";
import { Session } from "../host/session/session.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { createTask } from "../host/tasks/index.ts";
import { InProcessTransport } from "../host/transport/inprocess.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { startQemuBoard } from "../host/firmware/qemu-board.ts";
import { deviceRuleNames, rules } from "../host/rules/index.ts";
import { decolleRandomCase } from "../host/rules/decolle/random.ts";
import { randomOstlCase } from "../host/rules/ostl/random.ts";
import { edgepropAsync } from "./fixtures/mcu/cli.ts";
import { eqpropCase } from "./helpers/eqprop-cases.ts";

const TASK_OPT = { steps: 200, nIn: 40, nRec: 40, tauOut: 5 };
const LR = 1.5e-4; // gd: stable for this task (2e-4 already has loss spikes, in float32 too)
const ITERATIONS = 100;

/** The same training loop in Node: the firmware .wasm with NUMERICS = 1, in process. */
async function nodeLosses(): Promise<number[]> {
  const fw = await FirmwareHost.create((await buildFirmware()).bytes, { boardId: "sim" });
  const at = (fw.exports as unknown as { NUMERICS: WebAssembly.Global }).NUMERICS.value as number;
  new DataView(fw.exports.memory.buffer).setUint32(at, 1, true);
  fw.init();
  const s = new Session(new InProcessTransport(fw), { timeoutMs: 40, retries: 60, maxFrame: 2048 });
  const c = new DeviceClient(s);
  await c.hello();
  const inst = createTask("pattern", 1, TASK_OPT);
  await c.configure(inst.model, "symmetric", { optimizer: "gd" });
  await c.writeParams(inst.params);
  const losses: number[] = [];
  for (let n = 1; n <= ITERATIONS; n++) {
    const tr = inst.trial(n - 1); // iteration n trains on trial n - 1 (host/rules/eprop/training.ts)
    losses.push((await c.runTrial(tr.inputs, tr.targets, tr.mask)).loss);
    await c.apply({ optimizer: "gd", lr: LR, step: n });
  }
  await s.close();
  return losses;
}

describe("fixed16 on an emulated FPU-less core (qemu-mps2-an385, Cortex-M3)", () => {
  it("edgeprop train learns the pattern task to better than chance, with the losses of the Node run", async () => {
    expect(getBoard("qemu-mps2-an385")).toMatchObject({ core: "cortex-m3", fpu: "none", numerics: "fixed16" });
    const out = join(mkdtempSync(join(tmpdir(), "edgeprop-fixed16-")), "run");
    const opt = Object.entries(TASK_OPT).map(([k, v]) => `${k}=${v}`).join(",");
    // not spawnSync: a blocked worker misses vitest's heartbeats during the ~100 s run
    const r = await edgepropAsync([
      "train", "--task", "pattern", "--seed", "1", "--task-opt", opt, "--board", "qemu-mps2-an385", "--rule", "eprop",
      "--optimizer", "gd", "--lr", String(LR), "--iterations", String(ITERATIONS), "--test-trials", "1", "--out", out, "--json",
    ], 280_000); // builds the M3 image on a cold cache, then 100 trials on QEMU
    expect(r.code, r.stderr).toBe(0);
    const losses = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { iteration?: number; loss?: number }).filter((l) => l.iteration !== undefined).map((l) => l.loss!);
    expect(losses).toEqual(await nodeLosses());
    const m = (JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as RunSummary).metric!;
    expect(m).toMatchObject({ name: "nmse", split: "test", chance: 1 });
    expect(m.value).toBeLessThan(0.75);
  }, 300_000);

  it("DECOLLE, OSTL and EqProp run their float32 kernels on it: the wasm backend's results bit for bit", async () => {
    const board = await startQemuBoard({ board: "qemu-mps2-an385" });
    const s = new Session(await SerialTransport.open(board.port), { timeoutMs: 300, retries: 30 });
    try {
      const dev = new DeviceClient(s);
      const h = await dev.hello();
      expect(h.rules).toEqual(deviceRuleNames());
      expect(h.caps).toEqual(expect.arrayContaining(["fixed16", "f32"]));
      const cases: [string, unknown][] = [
        ["decolle", decolleRandomCase({ seed: 20, layers: [10, 8], T: 50, loss: "ce" })],
        ["ostl", randomOstlCase({ layers: [12, 10], neuron: "alif", loss: "ce", seed: 53 })],
        ["eqprop", eqpropCase({ seed: 3, layers: [5, 7, 6, 3], nudge: "symmetric", beta: -0.01, freeSteps: 60, nudgedSteps: 30 })],
      ];
      for (const [name, c] of cases) {
        const rule = rules.find((r) => r.name === name)!;
        expect(await rule.board!(c, dev), name).toEqual(await rule.wasm!(c, "scalar"));
      }
    } finally {
      await s.close();
      await board.stop();
    }
  }, 300_000);
});
