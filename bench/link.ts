// Link efficiency and training throughput over the protocol: the sim board (a separate process
// hosting the firmware .wasm on a socat pty pair) driven through `serialport`, model (nIn 80,
// nRec 100, nOut 3), spike inputs, one trial = T steps streamed in RUN frames + one APPLY.
// Link efficiency = payload bytes (the bin fields both ways: spikes, targets, outputs) / wire
// bytes (every byte both ways). Real time at dt = 1 ms means >= 1000 steps/s.
// Also the same over an in-process link (no pty) to separate the serial cost.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Matrix, ModelConfig, Params } from "../host/model/types.ts";
import { Pcg32 } from "../host/rng/pcg32.ts";
import { startSim } from "../host/sim/sim.ts";
import { startInProcessBoard } from "../host/sim/inprocess.ts";
import { DeviceClient } from "../host/session/client.ts";
import { Session } from "../host/session/session.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { CountingTransport } from "../host/transport/transport.ts";
import type { Transport } from "../host/transport/transport.ts";
import type { BenchSection } from "./section.ts";
import { median } from "./stats.ts";

const nIn = 80, nRec = 100, nOut = 3, T = 1000, TRIALS = 7;

function model(): ModelConfig {
  return {
    neuron: "lif", nIn, nRec, nOut, dt: 1, tauMem: 20, tauOut: 20, tauAdapt: 200, beta: new Array<number>(nRec).fill(0),
    vTh: 1, gamma: 0.3, refractory: 0, loss: "mse", inputScale: "one", readoutScale: "one", trainBias: true,
    rateReg: null, lossReduction: "sum",
  };
}

function data() {
  const rng = new Pcg32(7, 80);
  const mat = (r: number, c: number, scale: number, mean = 0): Matrix =>
    Array.from({ length: r }, () => Array.from({ length: c }, () => mean + scale * rng.normal()));
  const wRec = mat(nRec, nRec, 0.4 / Math.sqrt(nRec));
  wRec.forEach((r, j) => (r[j] = 0));
  const params: Params = { wIn: mat(nRec, nIn, 1.2 / Math.sqrt(nIn * 0.2), 0.15 / (nIn * 0.2)), wRec, wOut: mat(nOut, nRec, 0.3), bOut: [0, 0, 0] };
  const inputs = Array.from({ length: T }, () => Array.from({ length: nIn }, () => (rng.uniform() < 0.2 ? 1 : 0)));
  const targets = Array.from({ length: T }, (_, t) => [Math.sin(t / 50), Math.cos(t / 70), 0.5]);
  return { params, inputs, targets, mask: new Array<number>(T).fill(1) };
}

interface LinkFigures {
  efficiency: number;
  stepsPerSec: number;
  trialMs: number;
  framesPerTrial: number;
  wirePerTrial: number;
}

async function measure(transport: Transport, outputs: boolean): Promise<LinkFigures> {
  const counting = new CountingTransport(transport);
  const s = new Session(counting, { timeoutMs: 1000, retries: 3 });
  const c = new DeviceClient(s);
  await c.hello();
  const d = data();
  await c.configure(model(), "symmetric");
  await c.writeParams(d.params);
  await c.runTrial(d.inputs, d.targets, d.mask); // warm-up
  const times: number[] = [];
  let frames = 0;
  const w0 = counting.bytesIn + counting.bytesOut;
  const p0 = c.payloadIn + c.payloadOut;
  for (let i = 0; i < TRIALS; i++) {
    const t0 = performance.now();
    const r = await c.runTrial(d.inputs, d.targets, d.mask, { outputs });
    await c.apply({ optimizer: "gd", lr: 1e-4 });
    times.push(performance.now() - t0);
    frames = r.frames;
  }
  const wire = counting.bytesIn + counting.bytesOut - w0;
  const payload = c.payloadIn + c.payloadOut - p0;
  await s.close();
  const trialMs = median(times);
  return { efficiency: payload / wire, stepsPerSec: (T / trialMs) * 1000, trialMs, framesPerTrial: frames, wirePerTrial: wire / TRIALS };
}

export const linkSection: BenchSection = {
  name: "link",
  async run(log) {
    const rows: string[] = [];
    const row = (where: string, what: string, f: LinkFigures) =>
      `| ${where} | ${what} | ${(100 * f.efficiency).toFixed(1)} % | ${f.framesPerTrial} | ${Math.round(f.wirePerTrial)} | ${f.trialMs.toFixed(1)} | ${Math.round(f.stepsPerSec)} | ${f.stepsPerSec >= 1000 ? "yes" : "no"} |`;
    const sim = await startSim({ dir: mkdtempSync(join(tmpdir(), "edgeprop-bench-")) });
    try {
      for (const outputs of [false, true]) {
        const what = outputs ? "x + targets in, y out" : "x + targets in";
        log(`link: sim board over pty, ${what}`);
        const f = await measure(await SerialTransport.open(sim.port), outputs);
        rows.push(row("sim board, pty (serialport)", what, f));
      }
    } finally {
      await sim.stop();
    }
    for (const outputs of [false, true]) {
      const what = outputs ? "x + targets in, y out" : "x + targets in";
      log(`link: in-process firmware, ${what}`);
      const { transport } = await startInProcessBoard();
      rows.push(row("in-process firmware (no pty)", what, await measure(transport, outputs)));
    }
    return [
      "## Link: streaming efficiency and training steps per second",
      "",
      `Model nIn ${nIn}, nRec ${nRec}, nOut ${nOut} (LIF, recurrent, mse), spike inputs as bitmaps, f32 targets; one trial = ${T} steps`,
      "streamed in RUN frames of up to 2048 bytes, then one APPLY (gd). Efficiency = payload bytes (bin fields, both ways) /",
      `wire bytes (both ways, framing and acknowledgements included). Median of ${TRIALS} trials. Goal: >= 95 % and >= 1000 steps/s`,
      "(real time at dt = 1 ms).",
      "",
      "| link | stream | efficiency | RUN frames / trial | wire bytes / trial | ms / trial | steps/s | real time at 1 ms |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
      "",
    ].join("\n");
  },
};
