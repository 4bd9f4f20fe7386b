// `edgeprop train --rule decolle` (DECOLLE.md "Training"; host/rules/decolle/training.ts): the
// simulated board ends with the weights of the DECOLLE kernel driven directly, bit for bit, in
// both update modes with gd and Adam, and with the float64 host's within float32 tolerance; a
// killed host resumes and a killed board recovers to the uninterrupted run's weights; a small
// stack learns Fashion-MNIST better than chance on the host and on the board; the run's report
// draws every layer's raster and local loss; bad run configs are named.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chartNames } from "../host/report/html.ts";
import { readRunDir, type RunSummary } from "../host/report/rundir.ts";
import { decolleRandomCase, type DecolleRandomOptions } from "../host/rules/decolle/random.ts";
import { DecolleStream } from "../host/rules/decolle/reference.ts";
import { decolleTraining } from "../host/rules/decolle/training.ts";
import type { DecolleState, DecolleTrial } from "../host/rules/decolle/trial.ts";
import { DecolleDevice } from "../host/rules/decolle/wasm.ts";
import type { DecolleCase, LayerParams } from "../host/rules/decolle/schema.ts";
import { trainOnSim } from "./helpers/sim-train.ts";
import { runLoop } from "../host/train/loop.ts";
import { readCheckpoint, writeCheckpoint } from "../host/train/checkpoint.ts";
import { readRunSpec } from "../host/train/run-config.ts";
import type { RunSpec } from "../host/train/training.ts";
import { ROOT, runIn } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeprop-decolle-train-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Update = "step" | "trial";
type Params = { layers: LayerParams[] };

/** A run config of two margin cases' trials (2 layers, T 60 with a burn-in of 5). */
function runConfig(name: string, o: { update?: Update; optimizer: object | string; iterations: number; loss?: "mse" | "ce"; lossReduction?: "sum" | "mean"; extra?: object }): string {
  const opts: DecolleRandomOptions = { layers: [12, 10], loss: o.loss ?? "mse", lossReduction: o.lossReduction ?? "sum" };
  const c = decolleRandomCase({ seed: 21, ...opts });
  const c2 = decolleRandomCase({ seed: 22, ...opts });
  const { format: _f, inputs: _i, targets: _t, mask: _m, ...body } = c;
  const path = join(dir, `${name}.json`);
  const trials = [c, c2].map(({ inputs, targets, mask }) => ({ inputs, targets, mask }));
  writeFileSync(path, JSON.stringify({ ...body, rule: "decolle", optimizer: o.optimizer, iterations: o.iterations, trials, ...(o.update ? { decolleUpdate: o.update } : {}), ...o.extra }));
  return path;
}

/** The CLI run from a folder outside the repository (runIn does not block the test worker). */
const edgeprop = (args: string[]) => runIn(dir, args);

async function train(cfg: string, out: string, extra: string[] = []) {
  const r = await edgeprop(["train", "--config", cfg, "--out", out, "--json", ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { iteration: number; loss: number });
}

/** The quick Fashion-MNIST run (the results row's quick variant, host/results/rows.ts). */
const QUICK = { iterations: 1000, lr: 0.005, bound: 0.3 };

const params = (d: string): Params => JSON.parse(readFileSync(join(d, "params.json"), "utf8"));
const flatW = (p: Params) => p.layers.flatMap((l) => [...l.w.flat(), ...l.b]);

/** The run driven straight through the DECOLLE kernel (scalar build, the firmware's), as the board trainer's schedule says. */
async function onKernel(spec: RunSpec<DecolleCase, DecolleTrial>, update: Update): Promise<Params> {
  const o = spec.optimizer;
  const dev = await DecolleDevice.create(spec.base.model, "scalar", { optimizer: o.kind });
  dev.load(spec.base.params, spec.base.readouts);
  const clip = o.wMin !== null ? 1 : 0;
  for (let n = 1; n <= spec.iterations; n++) {
    const t = spec.trial(n);
    const M = spec.base.model.lossReduction === "mean" ? Math.max(1, t.mask.filter((m) => m === 1).length) : 1;
    if (update === "step") expect(dev.call("dcStepUpdate", o.kind === "adam" ? 1 : 0, o.lr, o.beta1, o.beta2, o.eps, clip, o.wMin ?? 0, o.wMax ?? 0, M)).toBe(1);
    dev.runTrial(t.inputs, t.targets, t.mask);
    if (update === "trial" && o.kind === "gd") dev.call("dcApplyGd", o.lr, clip, o.wMin ?? 0, o.wMax ?? 0);
    if (update === "trial" && o.kind === "adam") dev.call("dcApplyAdam", o.lr, o.beta1, o.beta2, o.eps, n);
  }
  return dev.readParams();
}

const RUNS: [string, Update, object, { loss?: "mse" | "ce"; lossReduction?: "sum" | "mean" }][] = [
  ["step, adam", "step", { kind: "adam", lr: 0.002 }, {}],
  ["step, gd clipped, ce, mean", "step", { kind: "gd", lr: 0.05, wMin: -0.6, wMax: 0.6 }, { loss: "ce", lossReduction: "mean" }],
  ["trial, adam, ce", "trial", { kind: "adam", lr: 0.002 }, { loss: "ce" }],
  ["trial, gd, mean", "trial", { kind: "gd", lr: 0.05 }, { lossReduction: "mean" }],
];

describe("edgeprop train --rule decolle --board sim", () => {
  for (const [name, update, optimizer, model] of RUNS) {
    it(`${name}: the board's weights are the kernel's bit for bit, and the float64 host's within float32 tolerance`, async () => {
      const id = name.replace(/[^a-z]+/g, "-");
      const cfg = runConfig(id, { update, optimizer, iterations: 6, ...model });
      const sim = await train(cfg, join(dir, `${id}-sim`), ["--board", "sim"]);
      const host = await train(cfg, join(dir, `${id}-host`), ["--board", "host"]);
      const onBoard = params(join(dir, `${id}-sim`));
      expect(onBoard).toEqual(await onKernel(readRunSpec(cfg), update));
      expect(flatW(onBoard)).not.toEqual(flatW(readRunSpec(cfg).base.params)); // it trained
      sim.forEach((row, i) => expect(Math.abs(row.loss - host[i]!.loss)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(host[i]!.loss))));
      const h = flatW(params(join(dir, `${id}-host`)));
      const scale = Math.max(...h.map(Math.abs));
      flatW(onBoard).forEach((w, i) => expect(Math.abs(w - h[i]!)).toBeLessThan(1e-4 * scale));
    }, 120_000);
  }

  it("metrics.jsonl carries each layer's loss; the report draws every layer's raster and local loss", async () => {
    const run = readRunDir(join(dir, "step-adam-sim"));
    expect(run.metrics.map((m) => m.layerLoss!.length)).toEqual([2, 2, 2, 2, 2, 2]);
    run.metrics.forEach((m) => expect(m.layerLoss!.reduce((a, b) => a + b, 0)).toBeCloseTo(m.loss, 9));
    expect(run.trajectory!.layers!.map((l) => [l.name, l.z.length, l.z[0]!.length])).toEqual([["layers[0]", 60, 12], ["layers[1]", 60, 10]]);
    expect(chartNames(run)).toEqual(["loss", "layer-loss", "raster-inputs", "raster-layer-0", "raster-layer-1", "traces"]);
    const r = await edgeprop(["report", join(dir, "step-adam-sim"), "--check"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/charts: loss, layer-loss, raster-inputs, raster-layer-0, raster-layer-1, traces; all rendered in chromium/);
  }, 60_000);

  it("a host killed mid-run resumes to the uninterrupted run's weights (decolleUpdate step, Adam)", async () => {
    const cfg = runConfig("resume", { update: "step", optimizer: { kind: "adam", lr: 0.002 }, iterations: 14 });
    await train(cfg, join(dir, "resume-clean"), ["--board", "sim"]);
    const killed = join(dir, "resume-killed");
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [`${ROOT}bin/edgeprop.mjs`, "train", "--config", cfg, "--out", killed, "--json", "--board", "sim", "--checkpoint-every", "3"], { cwd: dir });
      let lines = 0;
      child.stdout.on("data", (d: Buffer) => {
        lines += d.toString().split("\n").length - 1;
        if (lines >= 7) child.kill("SIGKILL");
      });
      child.on("exit", () => resolve());
    });
    const cp = JSON.parse(readFileSync(join(killed, "checkpoint.json"), "utf8"));
    expect(cp.iteration).toBeGreaterThanOrEqual(3);
    expect(cp.iteration).toBeLessThan(14);
    await train(cfg, killed, ["--board", "sim", "--checkpoint-every", "3", "--resume"]);
    expect(params(killed)).toEqual(params(join(dir, "resume-clean")));
  }, 120_000);

  it("a board killed and restarted mid-run gets the last checkpoint back: the same weights", async () => {
    const spec = readRunSpec(runConfig("reset", { update: "step", optimizer: { kind: "adam", lr: 0.002 }, iterations: 10 })) as RunSpec<DecolleCase, DecolleTrial>;
    const run = async (killAfter?: number) => {
      const r = await trainOnSim(spec, decolleTraining.initialState(spec), { dir, killAfter, checkpointEvery: 4 });
      return { params: r.state.params, recoveries: r.recoveries };
    };
    const clean = await run();
    const crashed = await run(6); // last checkpoint at iteration 4
    expect([clean.recoveries, crashed.recoveries]).toEqual([0, 1]);
    expect(crashed.params).toEqual(clean.params);
  }, 120_000);
});

describe("the host target (float64)", () => {
  it("resumed from a checkpoint written and read back mid-run ends where the uninterrupted run does (step mode, Adam)", async () => {
    const spec = readRunSpec(runConfig("host-resume", { update: "step", optimizer: { kind: "adam", lr: 0.002 }, iterations: 9 })) as RunSpec<DecolleCase, DecolleTrial>;
    const upTo = async (s: RunSpec<DecolleCase, DecolleTrial>, from: DecolleState, start: number) => {
      const t = decolleTraining.host(s, from);
      await runLoop(s, t, { start, checkpointEvery: 100, record: () => false, onIteration: () => {} });
      return t.state();
    };
    const whole = await upTo(spec, decolleTraining.initialState(spec), 1);
    const cpDir = mkdtempSync(join(dir, "cp-"));
    writeCheckpoint(cpDir, { iteration: 4, runHash: "x", state: await upTo({ ...spec, iterations: 4 }, decolleTraining.initialState(spec), 1) });
    const cp = readCheckpoint(cpDir, decolleTraining.tensors(spec.base));
    const resumed = await upTo(spec, cp.state as DecolleState, 5);
    expect(resumed.params).toEqual(whole.params);
    expect(resumed.optimizer).toEqual(whole.optimizer);
    expect(whole.optimizer.step).toBe(9 * 55); // step mode: one update per step with mask 1 (60 steps, 5 of burn-in)
  });
});

describe("held-out evaluation", () => {
  it("a frozen stream (weights packed once, zero traces skipped) gives the reference's spikes, readouts and losses bit for bit", () => {
    for (const c of [decolleRandomCase({ seed: 31, layers: [14, 9, 7], loss: "ce" }), decolleRandomCase({ seed: 32, traceScale: "tau", inputRate: 0.05 })]) {
      const ref = new DecolleStream(c.model, c.params, c.readouts);
      const frozen = new DecolleStream(c.model, c.params, c.readouts, { frozen: true });
      c.inputs.forEach((x, t) => {
        ref.step(x, c.targets[t]!, c.mask[t]!);
        frozen.step(x, c.targets[t]!, c.mask[t]!);
        frozen.layers.forEach((L, l) => expect([L.U, L.S, L.y]).toEqual([ref.layers[l]!.U, ref.layers[l]!.S, ref.layers[l]!.y]));
      });
      expect(frozen.finish().layerLoss).toEqual(ref.finish().layerLoss);
      expect(frozen.layers.every((L) => L.gW.every((g) => g === 0))).toBe(true); // no learning
    }
  });
});

describe("Fashion-MNIST on a small stack (--task fashion-mnist --rule decolle --quick)", () => {
  for (const board of ["host", "sim"]) {
    it(`learns better than chance on --board ${board}`, async () => {
      const out = join(dir, `fmnist-${board}`);
      const r = await edgeprop([
        "train", "--task", "fashion-mnist", "--rule", "decolle", "--quick", "--seed", "1", "--board", board,
        "--iterations", String(QUICK.iterations), "--lr", String(QUICK.lr), "--test-trials", "200", "--checkpoint-every", "250", "--out", out, "--json",
      ]);
      expect(r.code, r.stderr).toBe(0);
      const m = (JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as RunSummary).metric!;
      expect([m.name, m.split, m.nTrials]).toEqual(["accuracy", "test", 200]);
      expect(m.value).toBeGreaterThanOrEqual(QUICK.bound);
      expect(readRunDir(out).run.extra).toEqual({ decolleUpdate: "trial" });
    }, 600_000);
  }
});

describe("bad DECOLLE runs are named (exit 2)", () => {
  const refused = async (args: string[], re: RegExp) => {
    const r = await edgeprop(args);
    expect(r.stderr).toMatch(re);
    expect(r.code).toBe(2);
  };

  it("run configs: decolleUpdate, freezing a fixed readout, board-only limits", async () => {
    const bad = runConfig("bad-update", { optimizer: "adam", iterations: 2, extra: { decolleUpdate: "epoch" } });
    await refused(["train", "--config", bad], /decolleUpdate: expected one of 'step', 'trial', got 'epoch'/);
    const g = runConfig("bad-freeze", { optimizer: "adam", iterations: 2, extra: { freeze: ["layers[0].b", "readouts[1].G"] } });
    await refused(["train", "--config", g], /freeze\[1\]: readouts\[1\]\.G is a fixed random readout in DECOLLE/);
    const typo = runConfig("bad-name", { optimizer: "adam", iterations: 2, extra: { freeze: ["layers[2].w"] } });
    await refused(["train", "--config", typo], /freeze\[0\]: expected one of 'layers\[0\]\.w', 'layers\[0\]\.b', 'layers\[1\]\.w', 'layers\[1\]\.b', got 'layers\[2\]\.w'/);
    const frozen = runConfig("board-freeze", { optimizer: "adam", iterations: 2, extra: { freeze: ["layers[0].b"] } });
    await refused(["train", "--config", frozen, "--board", "sim"], /freeze: boards train every parameter/);
    const clip = runConfig("board-clip", { optimizer: { kind: "adam", lr: 0.01, wMin: -1, wMax: 1 }, iterations: 2 });
    await refused(["train", "--config", clip, "--board", "sim"], /optimizer\.wMin: a board clips weights with gd only/);
    const trials = runConfig("bad-trial", { optimizer: "adam", iterations: 2, extra: { trials: [{ inputs: [[0, 1]], targets: [[0, 0, 0]] }] } });
    await refused(["train", "--config", trials], /trials\[0\]\.inputs\[0\]: expected 6 numbers/);
  }, 300_000);

  it("tasks: stack options, unknown options, tasks without a stack version", async () => {
    const task = ["train", "--task", "fashion-mnist", "--rule", "decolle", "--iterations", "1", "--out", join(dir, "never")];
    await refused([...task, "--task-opt", "layers=40xx"], /fashion-mnist\.options\.layers: expected layer sizes like 400x400, got '40xx'/);
    await refused([...task, "--task-opt", "decolleUpdate=epoch"], /fashion-mnist\.options\.decolleUpdate: expected one of 'step', 'trial', got 'epoch'/);
    await refused([...task, "--task-opt", "nRec=40"], /fashion-mnist\.options\.nRec: unknown option; expected one of dataDir, pool/);
    await refused([...task, "--task-opt", "alpha=1"], /fashion-mnist\.options\.alpha/);
    await refused(["train", "--task", "pattern", "--rule", "decolle"], /--task: rule 'decolle' trains layer stacks on fashion-mnist; got 'pattern'/);
  }, 300_000);
});
