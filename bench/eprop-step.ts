// One e-prop training step (forward + eligibility + gradient accumulation; LIF, recurrent, mse,
// symmetric feedback) for three model sizes: the float64 host reference, the device kernels in
// WASM (scalar and SIMD builds, run by Node) and a plain C version of the same step compiled
// with gcc -O3 -march=native (bench/native/eprop-step.c, speed-of-light baseline only).
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir, repoPath } from "../host/paths.ts";
import { EpropDevice } from "../host/device/driver.ts";
import { planModel } from "../host/device/planner.ts";
import { decays } from "../host/model/decay.ts";
import type { Matrix, ModelConfig, Params } from "../host/model/types.ts";
import { EpropStream } from "../host/reference/eprop.ts";
import { Pcg32 } from "../host/rng/pcg32.ts";
import type { BenchSection } from "./section.ts";
import { median } from "./stats.ts";

/** CPU time of this process in ms (the machines running the bench are shared: wall time is noisier). */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

interface Size {
  nIn: number;
  nRec: number;
  nOut: number;
  /** Steps per timed repeat. */
  T: number;
  hostT: number;
}

const SIZES: Size[] = [
  { nIn: 80, nRec: 100, nOut: 3, T: 1000, hostT: 200 },
  { nIn: 256, nRec: 256, nOut: 3, T: 400, hostT: 30 },
  { nIn: 256, nRec: 1024, nOut: 3, T: 60, hostT: 4 },
];
const REPEATS = 9;

function model(s: Size): ModelConfig {
  return {
    neuron: "lif", nIn: s.nIn, nRec: s.nRec, nOut: s.nOut, dt: 1, tauMem: 20, tauOut: 20, tauAdapt: 200,
    beta: new Array<number>(s.nRec).fill(0), vTh: 1, gamma: 0.3, refractory: 0, loss: "mse", inputScale: "one",
    readoutScale: "one", trainBias: true, rateReg: null, lossReduction: "sum",
  };
}

function data(s: Size) {
  const rng = new Pcg32(s.nRec, s.nIn);
  const mat = (r: number, c: number, scale: number, mean = 0): Matrix =>
    Array.from({ length: r }, () => Array.from({ length: c }, () => mean + scale * rng.normal()));
  const rate = 0.2;
  const wRec = mat(s.nRec, s.nRec, 0.4 / Math.sqrt(s.nRec));
  wRec.forEach((r, j) => (r[j] = 0));
  const p: Params = {
    wIn: mat(s.nRec, s.nIn, 1.2 / Math.sqrt(s.nIn * rate), 0.15 / (s.nIn * rate)),
    wRec,
    wOut: mat(s.nOut, s.nRec, 1 / Math.sqrt(s.nRec)),
    bOut: new Array<number>(s.nOut).fill(0),
  };
  const T = Math.max(s.T, s.hostT);
  const inputs = Array.from({ length: T }, () => Array.from({ length: s.nIn }, () => (rng.uniform() < rate ? 1 : 0)));
  const targets = Array.from({ length: T }, (_, t) => Array.from({ length: s.nOut }, (_, k) => Math.sin((2 * Math.PI * (t + 7 * k)) / 50)));
  return { p, inputs, targets };
}

/** ms per step of the float64 reference. */
function timeHost(s: Size, m: ModelConfig, d: ReturnType<typeof data>): number {
  const B = d.p.wOut[0]!.map((_, j) => d.p.wOut.map((row) => row[j]!));
  const times: number[] = [];
  for (let r = -1; r < Math.min(REPEATS, 5); r++) {
    const st = new EpropStream(m, d.p, B, 1);
    const t0 = cpuMs();
    for (let t = 0; t < s.hostT; t++) st.step(d.inputs[t]!, d.targets[t]!, 1);
    if (r >= 0) times.push((cpuMs() - t0) / s.hostT);
  }
  return median(times);
}

/** A WASM runner: each call runs one repeat (reset + T steps) and returns ms per step. */
async function wasmRunner(s: Size, m: ModelConfig, d: ReturnType<typeof data>, build: "scalar" | "simd"): Promise<{ once: () => number; loss: () => number }> {
  const dev = await EpropDevice.create(m, "symmetric", { build });
  dev.loadParams(d.p);
  const k = dev.k;
  const stepFn = k.raw<(mask: number) => void>("epStep");
  const reset = k.raw<() => void>("epReset");
  const finish = k.raw<() => number>("epFinish");
  const act = new Float32Array(k.memory.buffer, dev.addr("act"), s.nIn);
  const target = new Float32Array(k.memory.buffer, dev.addr("target"), s.nOut);
  const xs = d.inputs.map((x) => Float32Array.from(x));
  const ts = d.targets.map((x) => Float32Array.from(x));
  let loss = 0;
  const once = (): number => {
    reset();
    const t0 = cpuMs();
    for (let t = 0; t < s.T; t++) {
      act.set(xs[t]!);
      target.set(ts[t]!);
      stepFn(1);
    }
    const dt = (cpuMs() - t0) / s.T;
    loss = finish();
    return dt;
  };
  once(); // warm-up (tier-up to optimised code)
  return { once, loss: () => loss };
}

/** The C baseline: `native` = gcc -O3 -march=native; `sse` = 128-bit vectors without FMA, what WASM SIMD can express. */
function nativeExe(kind: "native" | "sse"): string {
  const dir = cacheDir("bench");
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, `eprop-step-${kind}`);
  const flags = kind === "native" ? ["-O3", "-march=native"] : ["-O3", "-msse4.2", "-ffp-contract=off"];
  execFileSync("gcc", [...flags, "-o", exe, repoPath("bench", "native", "eprop-step.c"), "-lm"]);
  return exe;
}

/** Writes the model for the C program; each call of the returned function runs it once (warm-up pass + 1 timed pass). */
function nativeRunner(exe: string, s: Size, m: ModelConfig, d: ReturnType<typeof data>): { once: () => number; loss: () => number } {
  const { alpha, kappa } = decays(m);
  const nPre = s.nIn + s.nRec;
  const w = new Float32Array(nPre * s.nRec);
  for (let j = 0; j < s.nRec; j++) {
    for (let i = 0; i < s.nIn; i++) w[i * s.nRec + j] = d.p.wIn[j]![i]!;
    for (let i = 0; i < s.nRec; i++) w[(s.nIn + i) * s.nRec + j] = d.p.wRec[j]![i]!;
  }
  const parts = [
    Buffer.from(new Uint32Array([s.nIn, s.nRec, s.nOut, s.T]).buffer),
    Buffer.from(new Float32Array([alpha, kappa, m.vTh, m.gamma]).buffer),
    Buffer.from(w.buffer),
    Buffer.from(Float32Array.from(d.p.wOut.flat()).buffer),
    Buffer.from(Float32Array.from(d.p.bOut).buffer),
    Buffer.from(Float32Array.from(d.inputs.slice(0, s.T).flat()).buffer),
    Buffer.from(Float32Array.from(d.targets.slice(0, s.T).flat()).buffer),
  ];
  const file = cacheDir("bench", `eprop-${s.nIn}-${s.nRec}.bin`);
  writeFileSync(file, Buffer.concat(parts));
  let loss = 0;
  return {
    once: () => {
      const out = JSON.parse(execFileSync(exe, [file, "1"], { encoding: "utf8" })) as { nsPerStep: number; loss: number };
      loss = out.loss;
      return out.nsPerStep / 1e6;
    },
    loss: () => loss,
  };
}

const fmt = (x: number, d = 2) => x.toFixed(d);
const range = (xs: number[], d = 2) => `${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}×`;

function goals(vsNative: number[], vsSse: number[], vsHost: number[]): string[] {
  const lif = model({ nIn: 80, nRec: 100, nOut: 3, T: 1, hostT: 1 });
  const alif = { ...lif, neuron: "alif" as const, beta: lif.beta.map(() => 1) };
  const gd = planModel(lif, "symmetric");
  const adam = planModel(lif, "symmetric", { optimizer: "adam" });
  const a = planModel(alif, "symmetric");
  const met = (ok: boolean) => (ok ? "met" : "**not met**");
  return [
    "Goals (benchmarks, not tests):",
    `- WASM SIMD ≥ 0.8× native C: ${met(Math.min(...vsNative) >= 0.8)} — measured ${range(vsNative)}. Against the same C built for 128-bit`,
    `  vectors without FMA (what WASM SIMD can express) it is ${range(vsSse)}: the gap to \`-march=native\` is the host's wider`,
    "  vectors (AVX2/AVX-512, 8–16 lanes) and FMA, which WASM SIMD (4 lanes, no relaxed-simd) cannot use.",
    `- WASM SIMD ≥ 5× the float64 host reference: ${met(Math.min(...vsHost) >= 5)} — measured ${range(vsHost, 1)}.`,
    `- ≤ 8 bytes of device state per synapse for a LIF e-prop model: ${met(gd.bytesPerSynapse <= 8)} — ${fmt(gd.bytesPerSynapse)} bytes/synapse for`,
    `  nIn 80 × nRec 100 × nOut 3 with gd (arena ${gd.bytes} bytes): 12 per input/recurrent synapse = weight + kappa-filtered`,
    "  eligibility trace ebar + gradient accumulator (the LIF eligibility trace itself factorises into per-neuron psi and",
    "  per-input xbar/zbar and costs nothing per synapse). The gradient accumulator is what MODEL.md's training loop needs",
    "  (weights fixed during a trial, update after it); 8 bytes would need the update applied online every step.",
    `  Adam adds two moments (${fmt(adam.bytesPerSynapse)} bytes/synapse), ALIF the adaptation trace epsA (${fmt(a.bytesPerSynapse)}).`,
  ];
}
const sig = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export const epropStepSection: BenchSection = {
  name: "eprop-step",
  async run(log) {
    const exe = nativeExe("native");
    const exeSse = nativeExe("sse");
    const rows: string[] = [];
    const ratios: string[] = [];
    const vsNative: number[] = [];
    const vsSse: number[] = [];
    const vsHost: number[] = [];
    for (const s of SIZES) {
      const m = model(s);
      const d = data(s);
      const synapses = s.nIn * s.nRec + s.nRec * (s.nRec - 1) + s.nOut * s.nRec;
      log(`  eprop-step nIn ${s.nIn} nRec ${s.nRec}: host`);
      const host = timeHost(s, m, d);
      log(`  ... wasm scalar, wasm simd, native C x2 (interleaved, ${REPEATS} rounds)`);
      const runners = [await wasmRunner(s, m, d, "scalar"), await wasmRunner(s, m, d, "simd"), nativeRunner(exe, s, m, d), nativeRunner(exeSse, s, m, d)];
      const times: number[][] = [[], [], [], []];
      for (let r = 0; r < REPEATS; r++) runners.forEach((run, i) => times[i]!.push(run.once()));
      const scalar = { ms: median(times[0]!) };
      const simd = { ms: median(times[1]!), loss: runners[1]!.loss() };
      const nat = { ms: median(times[2]!), loss: runners[2]!.loss() };
      const sse = median(times[3]!);
      if (runners[0]!.loss() !== simd.loss) throw new Error("bench: WASM scalar and SIMD builds disagree on the loss");
      if (Math.abs(nat.loss - simd.loss) > 1e-3 * Math.max(1, Math.abs(simd.loss))) {
        throw new Error(`bench: native C and WASM disagree on the loss (${nat.loss} vs ${simd.loss}); the C step is not the same computation`);
      }
      const plan = planModel(m, "symmetric");
      vsNative.push(nat.ms / simd.ms);
      vsSse.push(sse / simd.ms);
      vsHost.push(host / simd.ms);
      const sups = (ms: number) => (synapses / (ms / 1e3) / 1e6).toFixed(0);
      rows.push(
        `| ${s.nIn} × ${s.nRec} × ${s.nOut} | ${synapses} | ${sig(host * 1e3)} | ${sig(scalar.ms * 1e3)} | ${sig(simd.ms * 1e3)} | ${sig(nat.ms * 1e3)} | ${sig(sse * 1e3)} | ${sups(host)} / ${sups(scalar.ms)} / ${sups(simd.ms)} / ${sups(nat.ms)} | ${fmt(plan.bytesPerSynapse)} |`,
      );
      ratios.push(
        `| ${s.nIn} × ${s.nRec} | ${fmt(host / simd.ms, 1)}× | ${fmt(host / scalar.ms, 1)}× | ${fmt(nat.ms / simd.ms)}× | ${fmt(sse / simd.ms)}× | ${fmt(nat.ms / scalar.ms)}× | ${fmt(scalar.ms / simd.ms)}× |`,
      );
    }
    return [
      "## e-prop training step: host reference vs WASM (scalar, SIMD) vs native C",
      "",
      "One training step = forward (LIF, recurrent, event-driven input sums), readout, mse error,",
      "learning signal through B = wOut^T, eligibility traces, kappa filter and gradient accumulation",
      `(MODEL.md). Medians of ${REPEATS} repeats of a run of steps (host: 5), inputs written into the arena every step;`,
      "times are CPU time (process CPU time in Node, thread CPU time in C), since the bench machines are shared;",
      "WASM scalar, WASM SIMD and native C are interleaved round by round so they share the machine's state.",
      "Native C = bench/native/eprop-step.c, the same loops in plain C, `gcc -O3 -march=native`",
      "(auto-vectorised for the host's widest vectors, may contract to FMA): a speed-of-light baseline, not a backend.",
      "Native C 128-bit = the same file with `-O3 -msse4.2 -ffp-contract=off`: 4 float lanes and no FMA, which is",
      "what WASM SIMD (v128, no relaxed-simd) can express. Ratios are speed-ups (> 1 = faster than the column's baseline).",
      "",
      "| nIn × nRec × nOut | synapses | host f64 µs/step | WASM scalar µs/step | WASM SIMD µs/step | native C µs/step | native C 128-bit µs/step | M synapse-updates/s (host / scalar / SIMD / C) | device bytes/synapse |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
      "",
      "| size | SIMD vs host | scalar vs host | SIMD vs native C | SIMD vs native C 128-bit | scalar vs native C | SIMD vs scalar |",
      "| --- | --- | --- | --- | --- | --- | --- |",
      ...ratios,
      "",
      ...goals(vsNative, vsSse, vsHost),
    ].join("\n");
  },
};
