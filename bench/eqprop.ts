// One EqProp training sample (EQPROP.md: free phase, nudged phase(s), contrastive estimate into
// the gradient sums, and its share of the SGD update of a batch of 10) on EQPROP.md's digits
// network, side by side: the float64 host reference (train.ts trainIteration), the device kernel
// in WASM (scalar and SIMD builds, run by Node) and the same scalar .wasm translated to C by
// wasm2c (Debian wabt) and compiled by the host gcc (-O2 -ffp-contract=off, as the MCU pipeline
// and host/device/native.ts do): the kernel as firmware would run it, without a WASM engine.
// Also the work per sample (multiply-accumulates) and the device's bytes per parameter.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { buildNativeProgram } from "../host/device/native.ts";
import { ensureWasm } from "../host/device/build.ts";
import { cacheDir } from "../host/paths.ts";
import { FIELDS, eqpropArena } from "../host/rules/eqprop/layout.ts";
import { paramCount, type EqpropModel } from "../host/rules/eqprop/schema.ts";
import { glorotUniform, trainIteration, type TrainConfig } from "../host/rules/eqprop/train.ts";
import { EqpropDevice } from "../host/rules/eqprop/wasm.ts";
import { digitsSplit, digitTargets } from "../host/tasks/digits.ts";
import type { BenchSection } from "./section.ts";
import { median } from "./stats.ts";

/** CPU time of this process in ms (the bench machines are shared: wall time is noisier). */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

const SAMPLES = 100;
const BATCH = 10;
const REPEATS = 9;
const LR = [0.1, 0.05];

interface Setup {
  label: string;
  model: EqpropModel;
}

// EQPROP.md's training configuration, and the same network with one-sided nudging (one nudged phase fewer).
const SETUPS: Setup[] = (["symmetric", "one-sided"] as const).map((nudge) => ({
  label: `[64, 32, 10] ${nudge}`,
  model: { layers: [64, 32, 10], beta: 1, epsilon: 0.5, freeSteps: 40, nudgedSteps: 10, nudge, lossReduction: "mean" },
}));

/**
 * Multiply-accumulates of one training sample, as EQPROP.md counts them: the input drive once,
 * then per relaxation step the drives from below (beyond layer 1) and from above, then the
 * estimate (two products per weight by the identity a'b'^T - ab^T = (a'-a)b'^T + a(b'-b)^T).
 */
export function macsPerSample(m: EqpropModel): { input: number; perStep: number; steps: number; estimate: number; total: number } {
  const n = m.layers;
  const pair = (l: number) => n[l + 1]! * n[l]!;
  const input = pair(0);
  let inner = 0;
  for (let l = 1; l + 1 < n.length; l++) inner += pair(l);
  const perStep = 2 * inner; // W[l] rho(s_l) up, W[l]^T rho(s_{l+1}) down
  const steps = m.freeSteps + m.nudgedSteps * (m.nudge === "symmetric" ? 2 : 1);
  const estimate = 2 * (input + inner);
  return { input, perStep, steps, estimate, total: input + perStep * steps + estimate };
}

function data() {
  const { train } = digitsSplit();
  return { xs: train.x.slice(0, SAMPLES), ys: digitTargets(train).slice(0, SAMPLES) };
}

/** ms per sample of the float64 reference: SAMPLES samples in batches of BATCH from the initial weights. */
function hostRunner(s: Setup, d: ReturnType<typeof data>): { once: () => number; loss: () => number } {
  const cfg: TrainConfig = { ...s.model, lr: LR };
  let loss = 0;
  return {
    once: () => {
      let p = glorotUniform(s.model.layers, 1);
      loss = 0;
      const t0 = cpuMs();
      for (let b = 0; b < SAMPLES; b += BATCH) {
        const r = trainIteration(p, cfg, d.xs.slice(b, b + BATCH), d.ys.slice(b, b + BATCH));
        p = r.params;
        loss += r.loss;
      }
      return (cpuMs() - t0) / SAMPLES;
    },
    loss: () => loss,
  };
}

/** The WASM kernel driven through its raw exports (inputs written straight into the arena), as a firmware handler drives it. */
async function wasmRunner(s: Setup, d: ReturnType<typeof data>, build: "scalar" | "simd"): Promise<{ once: () => number; loss: () => number }> {
  const dev = await EqpropDevice.create(s.model.layers, s.model.nudge, build);
  dev.setConstants(s.model);
  const k = dev.k;
  const eqPtr = k.raw<(f: number, l: number) => number>("eqPtr");
  const sample = k.raw<(res: number) => number>("eqSample");
  const lossOf = k.raw<() => number>("eqLoss");
  const apply = k.raw<() => void>("eqApply");
  const mem = () => new Float32Array(k.memory.buffer);
  const at = (f: (typeof FIELDS)[number]) => eqPtr(FIELDS.indexOf(f), 0) / 4;
  const xs = d.xs.map((x) => Float32Array.from(x));
  const ys = d.ys.map((y) => Float32Array.from(y));
  const initial = glorotUniform(s.model.layers, 1);
  let loss = 0;
  const once = (): number => {
    dev.writeParams(initial);
    dev.clear();
    loss = 0;
    const m = mem();
    const t0 = cpuMs();
    for (let i = 0; i < SAMPLES; i++) {
      m.set(xs[i]!, at("X"));
      m.set(ys[i]!, at("Y"));
      sample(0);
      loss += lossOf();
      if ((i + 1) % BATCH === 0) {
        m.set(LR.map((r) => r / BATCH), at("LR"));
        apply();
      }
    }
    return (cpuMs() - t0) / SAMPLES;
  };
  once(); // warm-up (tier-up to optimised code)
  return { once, loss: () => loss };
}

/** The C harness around the wasm2c translation of scalar.wasm: the same sequence of exported calls, timed with the thread's CPU clock. */
const HARNESS = String.raw`/* generated by bench/eqprop.ts */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "wasm-rt.h"
#include "eq.h"

static Z_eq_instance_t I;
static FILE *in;
static void rd(void *p, size_t n) { if (fread(p, 1, n, in) != n) { fprintf(stderr, "truncated input\n"); exit(2); } }
static double cpu_ns(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
static float *arena(u32 field, u32 layer) { return (float *)(Z_eqZ_memory(&I)->data + Z_eqZ_eqPtr(&I, field, layer)); }

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: eqprop-bench INPUT\n"); return 2; }
  in = fopen(argv[1], "rb");
  if (!in) { perror("open"); return 2; }
  /* L, layers[L+1], flags, beta, epsilon, freeSteps, nudgedSteps, samples, batch, fields W B LR X Y, then
     W[l] rows and b[l] (float32), lr[l] (float64), inputs [samples][n0] and targets [samples][nL] (float32) */
  u32 L, n[17], flags, freeSteps, nudgedSteps, samples, batch, fW, fB, fLR, fX, fY; f32 beta, eps;
  rd(&L, 4); if (L < 1 || L > 15) return 2;
  rd(n, 4 * (L + 1)); rd(&flags, 4); rd(&beta, 4); rd(&eps, 4); rd(&freeSteps, 4); rd(&nudgedSteps, 4);
  rd(&samples, 4); rd(&batch, 4); rd(&fW, 4); rd(&fB, 4); rd(&fLR, 4); rd(&fX, 4); rd(&fY, 4);
  wasm_rt_init();
  Z_eq_init_module();
  Z_eq_instantiate(&I);
  for (u32 k = 0; k <= L; k++) Z_eqZ_eqSetSize(&I, k, n[k]);
  u32 bytes = Z_eqZ_eqPlan(&I, L, flags);
  u32 base = Z_eqZ_reserve(&I, bytes);
  if (!base || Z_eqZ_eqConfigure(&I, base, L, flags) != bytes) { fprintf(stderr, "configure failed\n"); return 2; }
  Z_eqZ_eqConstants(&I, beta, eps, freeSteps, nudgedSteps);
  size_t wn = 0; for (u32 l = 0; l < L; l++) wn += (size_t)n[l + 1] * n[l] + n[l + 1];
  float *w0 = malloc(4 * wn); double lr[16];
  rd(w0, 4 * wn); rd(lr, 8 * L);
  float *xs = malloc(4 * (size_t)samples * n[0]), *ys = malloc(4 * (size_t)samples * n[L]);
  rd(xs, 4 * (size_t)samples * n[0]); rd(ys, 4 * (size_t)samples * n[L]);
  double ns = 0, loss = 0;
  for (int pass = 0; pass < 2; pass++) { /* a warm-up pass, then the timed one, each from the initial weights */
    float *w = w0;
    for (u32 l = 0; l < L; l++) {
      u32 stride = Z_eqZ_eqStride(&I, l);
      for (u32 i = 0; i < n[l + 1]; i++, w += n[l]) memcpy(arena(fW, l) + (size_t)i * stride, w, 4 * n[l]);
      memcpy(arena(fB, l), w, 4 * n[l + 1]); w += n[l + 1];
    }
    Z_eqZ_eqClear(&I);
    loss = 0;
    double t0 = cpu_ns();
    for (u32 s = 0; s < samples; s++) {
      memcpy(arena(fX, 0), xs + (size_t)s * n[0], 4 * n[0]);
      memcpy(arena(fY, 0), ys + (size_t)s * n[L], 4 * n[L]);
      Z_eqZ_eqSample(&I, 0);
      loss += Z_eqZ_eqLoss(&I);
      if ((s + 1) % batch == 0) {
        for (u32 l = 0; l < L; l++) arena(fLR, 0)[l] = (float)(lr[l] / batch);
        Z_eqZ_eqApply(&I);
      }
    }
    ns = (cpu_ns() - t0) / samples;
  }
  printf("{\"nsPerSample\": %.1f, \"loss\": %.17g}\n", ns, loss);
  Z_eq_free(&I);
  wasm_rt_free();
  return 0;
}
`;

/** Writes the model and the samples for the C program; each call of the returned function runs it once. */
async function nativeRunner(s: Setup, d: ReturnType<typeof data>): Promise<{ once: () => number; loss: () => number }> {
  const exe = await buildNativeProgram(await ensureWasm("scalar"), "eq", HARNESS);
  const m = s.model;
  const L = m.layers.length - 1;
  const p = glorotUniform(m.layers, 1);
  const u32 = (xs: number[]) => Buffer.from(new Uint32Array(xs).buffer);
  const f32 = (xs: number[]) => Buffer.from(Float32Array.from(xs).buffer);
  mkdirSync(cacheDir("bench"), { recursive: true });
  const file = cacheDir("bench", `eqprop-${m.nudge}.bin`);
  writeFileSync(
    file,
    Buffer.concat([
      u32([L, ...m.layers, m.nudge === "symmetric" ? 1 : 0]), f32([m.beta, m.epsilon]), u32([m.freeSteps, m.nudgedSteps, SAMPLES, BATCH]),
      u32(["W", "B", "LR", "X", "Y"].map((f) => FIELDS.indexOf(f as (typeof FIELDS)[number]))),
      f32(p.W.flatMap((w, l) => [...w.flat(), ...p.b[l]!])), Buffer.from(Float64Array.from(LR).buffer),
      f32(d.xs.flat()), f32(d.ys.flat()),
    ]),
  );
  let loss = 0;
  return {
    once: () => {
      const out = JSON.parse(execFileSync(exe, [file], { encoding: "utf8" })) as { nsPerSample: number; loss: number };
      loss = out.loss;
      return out.nsPerSample / 1e6;
    },
    loss: () => loss,
  };
}

const us = (ms: number) => (ms * 1e3 >= 100 ? (ms * 1e3).toFixed(0) : (ms * 1e3).toFixed(1));
const x = (r: number) => `${r.toFixed(r >= 10 ? 0 : 2)}×`;

export const eqpropSection: BenchSection = {
  name: "eqprop",
  async run(log) {
    const d = data();
    const rows: string[] = [];
    const ratios: string[] = [];
    for (const s of SETUPS) {
      log(`  eqprop ${s.label}: host f64, WASM scalar, WASM SIMD, native C (wasm2c), interleaved, ${REPEATS} rounds`);
      const runners = [hostRunner(s, d), await wasmRunner(s, d, "scalar"), await wasmRunner(s, d, "simd"), await nativeRunner(s, d)];
      runners[0]!.once(); // the host's warm-up
      const times: number[][] = runners.map(() => []);
      for (let r = 0; r < REPEATS; r++) runners.forEach((run, i) => times[i]!.push(run.once()));
      const [host, scalar, simd, native] = times.map(median) as [number, number, number, number];
      const [hostLoss, scalarLoss, simdLoss, nativeLoss] = runners.map((r) => r.loss()) as [number, number, number, number];
      // the same computation everywhere: the builds and the C translation bit for bit, float64 within float32 rounding
      if (scalarLoss !== simdLoss || scalarLoss !== nativeLoss) throw new Error(`bench: WASM scalar, SIMD and native C disagree on the loss (${scalarLoss}, ${simdLoss}, ${nativeLoss})`);
      if (Math.abs(hostLoss - scalarLoss) > 1e-3 * hostLoss) throw new Error(`bench: float64 and float32 losses differ beyond rounding (${hostLoss} vs ${scalarLoss})`);
      const mac = macsPerSample(s.model);
      const arena = eqpropArena(s.model.layers, s.model.nudge === "symmetric");
      const params = paramCount(s.model.layers);
      const mmacs = (ms: number) => (mac.total / (ms / 1e3) / 1e6).toFixed(0);
      rows.push(
        `| ${s.label} | ${mac.total} | ${us(host)} | ${us(scalar)} | ${us(simd)} | ${us(native)} | ${mmacs(host)} / ${mmacs(scalar)} / ${mmacs(simd)} / ${mmacs(native)} | ${params} | ${arena.bytes} | ${(arena.bytes / params).toFixed(2)} |`,
      );
      ratios.push(`| ${s.label} | ${x(host / simd)} | ${x(host / scalar)} | ${x(scalar / simd)} | ${x(native / simd)} | ${x(native / scalar)} |`);
    }
    const m = macsPerSample(SETUPS[0]!.model);
    return [
      "## EqProp: one training sample, host reference vs WASM (scalar, SIMD) vs native C (wasm2c)",
      "",
      `One sample of EQPROP.md's digits training (network [64, 32, 10], β 1, ε 0.5, 40 free / 10 nudged steps): the free phase`,
      "from 0, the nudged phase(s) from s⁰, the contrastive estimate added to the gradient sums, and a tenth of the SGD update",
      `of its batch of ${BATCH} (lr [0.1, 0.05]); ${SAMPLES} digits per timed repeat from the same initial weights, time per sample.`,
      `Medians of ${REPEATS} repeats of CPU time (process CPU time in Node, thread CPU time in C), interleaved round by round.`,
      "Host f64 = the reference (host/rules/eqprop/train.ts). WASM = the device kernel (device/rules/eqprop/kernel.ts) through",
      "its raw exports, inputs written into the arena. Native C = the scalar .wasm translated by wasm2c and compiled with",
      "`gcc -O2 -ffp-contract=off` (as host/device/native.ts and the MCU pipeline do): the kernel as firmware runs it, without",
      "a WASM engine. wabt 1.0.32's wasm2c cannot translate SIMD, so there is no native SIMD column. WASM scalar, SIMD and",
      "native C give the same loss to the last bit (checked); float64 within float32 rounding.",
      "",
      "| network | MACs/sample | host f64 µs | WASM scalar µs | WASM SIMD µs | native C µs | M MAC/s (host / scalar / SIMD / C) | parameters | device arena bytes | bytes/parameter |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
      "",
      "| network | SIMD vs host | scalar vs host | SIMD vs scalar | SIMD vs native C | scalar vs native C |",
      "| --- | --- | --- | --- | --- | --- |",
      ...ratios,
      "",
      `MACs per sample (symmetric): ${m.input} for the input drive (once per sample) + ${m.steps} steps × ${m.perStep} (W[1] up and`,
      `down) + ${m.estimate} for the estimate = ${m.total} (EQPROP.md's ≈ 45k). Device bytes per parameter: the whole arena`,
      "(float32 W and b, their gradient sums, per-layer rates, input, target, the drive cache, the phase states s⁰, s^β, s^−β,",
      "the drives and a scratch row, rows padded to 4 floats) over the weights and biases: a weight and its gradient sum are",
      "8 bytes, the rest is per unit. Online training (batch 1) would not need the gradient sums (EQPROP.md).",
    ].join("\n");
  },
};
