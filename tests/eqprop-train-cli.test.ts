// `edgeprop train --rule eqprop` (EQPROP.md "Training") end to end: `--task digits --quick` from a
// folder outside the repository beats chance on the host and on the simulated board, with its run
// folder (held-out accuracy on the 360 held-out images per checkpoint, confusion matrix, states)
// and its report; training on the sim board is the wasm kernel's training bit for bit; a run
// resumed from its checkpoint (host), a host killed mid-run and resumed (sim board) and a board
// killed mid-run end with the uninterrupted run's weights; bad run configs are named.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { getBoard } from "../boards/index.ts";
import { firmwareWasmFor } from "../host/firmware/source.ts";
import { chartNames, renderReport } from "../host/report/html.ts";
import { readRunDir, RunWriter } from "../host/report/rundir.ts";
import { RESULT_ROWS } from "../host/results/rows.ts";
import { digitsRun } from "../host/rules/eqprop/digits-run.ts";
import { eqpropTraining } from "../host/rules/eqprop/training.ts";
import type { EqpropBatch, EqpropRunBase, EqpropTrainState } from "../host/rules/eqprop/run-base.ts";
import type { EqpropParams } from "../host/rules/eqprop/schema.ts";
import { EqpropDevice } from "../host/rules/eqprop/wasm.ts";
import { trainOnSim as trainOnSimBoard } from "./helpers/sim-train.ts";
import { digitsSplit, digitTargets } from "../host/tasks/digits.ts";
import { readCheckpoint, writeCheckpoint } from "../host/train/checkpoint.ts";
import { newOptimizerState, OPTIMIZER_DEFAULTS } from "../host/train/optimizer.ts";
import { parseRunConfig } from "../host/train/run-config.ts";
import type { RunSpec, TaskRunOptions } from "../host/train/training.ts";
import { ROOT } from "./helpers/cli.ts";
import { inputError } from "./helpers/errors.ts";

/** A user's folder, outside the repository: the CLI is run from here. */
const user = mkdtempSync(join(tmpdir(), "edgeprop-eqprop-user-"));
const BIN = `${ROOT}bin/edgeprop.mjs`;

/** Runs the CLI in the user's folder without blocking the test worker (a run takes seconds). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: user, encoding: "utf8", timeout: 300_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }));
  });
}

const readJson = (dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), "utf8"));
const metrics = (dir: string) => readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

function taskOptions(over: Partial<TaskRunOptions> = {}): TaskRunOptions {
  return {
    task: "digits", quick: true, seed: 3, taskOptions: {}, rule: "eqprop", feedback: "symmetric",
    optimizer: { ...OPTIMIZER_DEFAULTS }, iterations: 200, testTrials: 50, ...over,
  };
}

describe("edgeprop train --task digits --quick --rule eqprop, from a folder outside the repository", () => {
  const runs: Record<string, string> = {};
  // The simulated board's firmware is built here, from the repository, before the CLI runs from the
  // user's folder: asc names the compiled functions by their paths relative to the process's folder,
  // and tests/rules-seam.test.ts reads those names in the cached build.
  beforeAll(async () => {
    await firmwareWasmFor(getBoard("sim"));
  }, 300_000);
  for (const board of ["host", "sim"] as const) {
    it(`--board ${board}: beats chance (10 %) on the 360 held-out digits; metrics, confusion and states in the run folder`, async () => {
      // the host run goes to a relative folder; the sim board's is absolute (its pty lives under it)
      const out = board === "host" ? "digits-host" : join(user, "digits-sim");
      const r = await cli(["train", "--task", "digits", "--quick", "--rule", "eqprop", "--board", board, "--out", out]);
      expect(r.code, r.stderr).toBe(0);
      const dir = join(user, board === "host" ? out : "digits-sim");
      runs[board] = dir;
      const run = readJson(dir, "run.json");
      expect(run).toMatchObject({ task: "digits", rule: "eqprop", board, iterations: 100, optimizer: { kind: "sgd", lr: [0.1, 0.05], batchSize: 10 } });
      expect(run.model).toMatchObject({ layers: [64, 32, 10], beta: 1, epsilon: 0.5, freeSteps: 40, nudgedSteps: 10, nudge: "symmetric" });
      const rows = metrics(dir);
      expect(rows.map((m) => m.iteration)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(rows.every((m) => m.accuracyTrials === 10 && m.accuracy >= 0 && m.accuracy <= 1)).toBe(true);
      // one checkpoint per epoch (50 batches of the 500 quick training images), each scored on all 360 held-out images
      expect(rows.filter((m) => m.test !== undefined).map((m) => [m.iteration, m.testTrials])).toEqual([[50, 360]]);
      const s = readJson(dir, "summary.json");
      expect(s.metric).toMatchObject({ name: "accuracy", nTrials: 360, chance: 0.1, split: "test" });
      console.log(`digits --quick on ${board}: held-out accuracy ${(100 * s.metric.value).toFixed(1)} % (360 images)`);
      expect(s.metric.value).toBeGreaterThan(0.3);
      const counts: number[][] = s.confusion.counts;
      expect(counts.flat().reduce((a, b) => a + b, 0)).toBe(360);
      expect(counts.reduce((a, row, k) => a + row[k]!, 0) / 360).toBeCloseTo(s.metric.value, 12);
      const { heldOut } = digitsSplit();
      expect(counts.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(counts.map((_, k) => heldOut.labels.filter((l) => l === k).length));
      expect(s.states.samples).toHaveLength(4);
      expect(s.states.samples[0].phases.map((p: { name: string }) => p.name)).toEqual(["free s⁰", "nudged s^β", "nudged s^−β", "target y"]);
      expect(readJson(dir, "params.json").W.map((w: number[][]) => [w.length, w[0]!.length])).toEqual([[32, 64], [10, 32]]);
    }, 300_000);
  }

  it("the sim board trains what the host trains (float32 vs float64: the first losses agree to 1e-4)", () => {
    const host = metrics(runs.host!);
    const sim = metrics(runs.sim!);
    for (let i = 0; i < 10; i++) expect(Math.abs(sim[i]!.loss - host[i]!.loss)).toBeLessThan(1e-4 * host[i]!.loss);
  });

  it("edgeprop report draws the loss, the accuracy curves, the confusion matrix and the states (headless chromium)", async () => {
    const r = await cli(["report", runs.sim!, "--check", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).charts).toEqual(["loss", "metrics", "confusion", "states"]);
    const html = readFileSync(join(runs.sim!, "report.html"), "utf8");
    expect(html).toContain("test (360 trials per point)");
    expect(html).toContain("accuracy (10 trials per point)");
    expect(html).toMatch(/Confusion matrix, held-out \(360 trials\)/);
  }, 120_000);

  it("a malformed confusion matrix or states figure in summary.json is named, not drawn wrong", () => {
    const dir = mkdtempSync(join(user, "bad-report-"));
    const w = new RunWriter(dir);
    w.writeRun({ rule: "eqprop", board: "host" });
    w.appendMetric({ iteration: 1, loss: 1 });
    const good = readJson(runs.host!, "summary.json");
    w.writeSummary({ ...good, confusion: { ...good.confusion, counts: good.confusion.counts.slice(1) } });
    expect(inputError(() => renderReport(readRunDir(dir))).field).toBe("summary.json: confusion");
    const states = structuredClone(good.states);
    states.samples[0].phases[0].layers[1] = new Array(33).fill(0.5); // 33 values in a 4 x 8 grid
    w.writeSummary({ ...good, states });
    expect(inputError(() => chartNames(readRunDir(dir))).field).toBe("summary.json: states");
    w.writeSummary(good);
    expect(chartNames(readRunDir(dir))).toEqual(["loss", "confusion", "states"]);
  });

  it("the results rows state what the digits task runs (30 epochs of 144 batches, lr [0.1, 0.05], 360 held-out images)", () => {
    const rows = RESULT_ROWS.filter((r) => r.task === "digits");
    expect(rows.map((r) => r.board)).toEqual(["host", "sim"]);
    for (const row of rows) {
      for (const cfg of [row.full, row.quick]) {
        const s = digitsRun(taskOptions({ quick: false, taskOptions: cfg.taskOptions, iterations: cfg.iterations, testTrials: cfg.testTrials }));
        expect([s.spec.iterations, s.spec.base.lr[0], s.testTrials]).toEqual([cfg.iterations, cfg.lr, cfg.testTrials]);
      }
    }
    expect(digitsRun(taskOptions({ quick: false })).spec.base.lr).toEqual([0.1, 0.05]);
  });

  it("the CLI's flags override the task's defaults only when given; wrong ones are named", async () => {
    const given = digitsRun(taskOptions({ explicit: ["iterations", "lr", "test-trials"], iterations: 7, optimizer: { ...OPTIMIZER_DEFAULTS, kind: "gd", lr: 0.02 }, testTrials: 20 }));
    expect([given.spec.iterations, given.spec.base.lr, given.testTrials]).toEqual([7, [0.02, 0.02], 20]);
    const defaults = digitsRun(taskOptions());
    expect([defaults.spec.iterations, defaults.spec.base.lr, defaults.testTrials]).toEqual([100, [0.1, 0.05], 360]);
    expect(inputError(() => digitsRun(taskOptions({ explicit: ["optimizer"] }))).field).toBe("--optimizer");
    expect(inputError(() => digitsRun(taskOptions({ explicit: ["feedback"], feedback: "random" }))).field).toBe("--feedback");
    expect(inputError(() => digitsRun(taskOptions({ explicit: ["test-trials"], testTrials: 361 }))).expected).toMatch(/1\.\.360/);
    expect(inputError(() => digitsRun(taskOptions({ task: "pattern" }))).field).toBe("--task");
    expect(inputError(() => digitsRun(taskOptions({ taskOptions: { epsilon: 1.5 } }))).field).toBe("digits.options.epsilon");
    expect(inputError(() => digitsRun(taskOptions({ taskOptions: { beta: 0 } }))).field).toBe("digits.options.beta");
    expect(inputError(() => digitsRun(taskOptions({ taskOptions: { batchSize: 0 } }))).field).toBe("digits.options.batchSize");
    expect(inputError(() => digitsRun(taskOptions({ taskOptions: { lr1: -1 } }))).field).toBe("digits.options.lr1");
    expect(inputError(() => digitsRun(taskOptions({ taskOptions: { layers: 3 } }))).expected).toMatch(/unknown option/);
    const r = await cli(["train", "--task", "digits", "--rule", "eqprop", "--optimizer", "adam", "--out", "never"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--optimizer: .*plain SGD/);
  });
});

/** 8 batches of 10 digits (the 8th crosses into the second epoch of the 75 images) through [64, 16, 10]. */
const smallRun = (nudge: "one-sided" | "symmetric") =>
  digitsRun(taskOptions({ taskOptions: { trainLimit: 75, hidden: 16, nudge }, explicit: ["iterations"], iterations: 8 })).spec;

/** Trains `spec` on a fresh simulated board for its iterations; optionally kills and restarts the board after iteration `killAfter`. */
async function trainOnSim(spec: RunSpec<EqpropRunBase, EqpropBatch>, killAfter?: number): Promise<{ params: EqpropParams; losses: number[]; recoveries: number }> {
  const initial: EqpropTrainState = { params: structuredClone(spec.base.params), optimizer: newOptimizerState() };
  const r = await trainOnSimBoard(spec, initial, { dir: user, killAfter, checkpointEvery: 3 });
  return { params: r.state.params, losses: r.losses, recoveries: r.recoveries };
}

describe("EqProp training on the simulated board", () => {
  const spec = smallRun;

  for (const nudge of ["one-sided", "symmetric"] as const) {
    it(`${nudge}: = the wasm kernel's training, bit for bit (weights and every batch's loss)`, async () => {
      const s = spec(nudge);
      const board = await trainOnSim(s);
      const dev = await EqpropDevice.create(s.base.model.layers, nudge);
      dev.setConstants(s.base.model);
      dev.writeParams(s.base.params);
      const losses: number[] = [];
      for (let n = 1; n <= s.iterations; n++) {
        const b = s.trial(n);
        losses.push(dev.iteration(b.xs, b.ys, s.base.lr).loss / b.xs.length);
      }
      expect(board.losses).toEqual(losses);
      expect(board.params).toEqual(dev.readParams());
      expect(board.params).not.toEqual(s.base.params);
    }, 120_000);
  }

  it("a board killed and restarted mid-run gets the last checkpoint back and replays: the uninterrupted run's weights", async () => {
    const s = spec("symmetric");
    const clean = await trainOnSim(s);
    const crashed = await trainOnSim(s, 5); // last checkpoint at iteration 3
    expect([clean.recoveries, crashed.recoveries]).toEqual([0, 1]);
    expect(crashed.params).toEqual(clean.params);
  }, 120_000);
});

describe("--resume", () => {
  /** Runs the CLI and SIGKILLs it after `lines` JSON lines (iterations) on stdout. */
  function killAfter(args: string[], lines: number): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: user });
      let seen = 0;
      child.stdout.on("data", (d: Buffer) => {
        seen += d.toString().split("\n").length - 1;
        if (seen >= lines) child.kill("SIGKILL");
      });
      child.on("exit", () => resolve());
    });
  }

  it("--board host: a run resumed from its checkpoint file (written, read back and validated) ends with the uninterrupted run's weights", async () => {
    const s = smallRun("symmetric");
    const straight = eqpropTraining.host(s, eqpropTraining.initialState(s));
    for (let n = 1; n <= s.iterations; n++) await straight.iterate(s.trial(n), false);
    const first = eqpropTraining.host(s, eqpropTraining.initialState(s));
    for (let n = 1; n <= 3; n++) await first.iterate(s.trial(n), false);
    const dir = mkdtempSync(join(user, "host-resume-"));
    writeCheckpoint(dir, { iteration: 3, runHash: "h", state: await first.state() });
    const cp = readCheckpoint(dir, eqpropTraining.tensors(s.base));
    const resumed = eqpropTraining.host(s, cp.state as EqpropTrainState);
    for (let n = cp.iteration + 1; n <= s.iterations; n++) await resumed.iterate(s.trial(n), false);
    expect(await resumed.state()).toEqual(await straight.state());
    expect((await straight.state()).optimizer.step).toBe(8);
  });

  it("--board sim: a host killed mid-run resumes to the uninterrupted run's weights and metrics", async () => {
    const args = (out: string) => ["train", "--task", "digits", "--quick", "--rule", "eqprop", "--task-opt", "trainLimit=45,hidden=12", "--iterations", "12", "--checkpoint-every", "4", "--board", "sim", "--out", join(user, out), "--json"];
    const whole = await cli(args("whole-sim"));
    expect(whole.code, whole.stderr).toBe(0);
    await killAfter(args("killed-sim"), 7);
    const cp = readJson(join(user, "killed-sim"), "checkpoint.json");
    expect(cp.iteration).toBeGreaterThanOrEqual(4);
    expect(cp.iteration).toBeLessThan(12);
    const resumed = await cli([...args("killed-sim"), "--resume"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readJson(join(user, "killed-sim"), "params.json")).toEqual(readJson(join(user, "whole-sim"), "params.json"));
    const strip = (rows: { elapsedMs?: number }[]) => rows.map(({ elapsedMs: _, ...r }) => r);
    expect(strip(metrics(join(user, "killed-sim")))).toEqual(strip(metrics(join(user, "whole-sim"))));
  }, 300_000);

  it("a checkpoint whose tensors are damaged is refused, naming the tensor", async () => {
    const dir = join(user, "whole-sim");
    const cp = readJson(dir, "checkpoint.json");
    cp.state.params.W[1].pop();
    writeFileSync(join(dir, "checkpoint.json"), JSON.stringify(cp));
    const r = await cli(["train", "--task", "digits", "--quick", "--rule", "eqprop", "--task-opt", "trainLimit=45,hidden=12", "--iterations", "12", "--checkpoint-every", "4", "--board", "sim", "--out", dir, "--resume"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/state\.params\.W\[1\]: expected 10 rows/);
  });
});

describe("EqProp run configs", () => {
  const { train } = digitsSplit();
  const body = (over: Record<string, unknown> = {}) => ({
    rule: "eqprop", name: "small",
    model: { kind: "eqprop", layers: [64, 8, 10], beta: 1, epsilon: 0.5, freeSteps: 12, nudgedSteps: 4, nudge: "symmetric" },
    inputs: train.x.slice(0, 25), targets: digitTargets(train).slice(0, 25), lr: [0.1, 0.05], batchSize: 10, epochs: 2, seed: 4, ...over,
  });

  it("epochs count batches (the last one short), params default to Glorot-uniform from the seed, lr per layer pair", () => {
    const parsed = parseRunConfig(body() as never);
    const spec = parsed.spec as RunSpec<EqpropRunBase, EqpropBatch>;
    const info = parsed.info;
    expect(spec.iterations).toBe(6);
    expect(spec.optimizer).toMatchObject({ kind: "gd", lr: 0.1 });
    expect(info.optimizer).toEqual({ kind: "sgd", lr: [0.1, 0.05], batchSize: 10, reduction: "mean" });
    const base = spec.base;
    expect(base.params.W[0]!.length).toBe(8);
    expect(base.labels).toEqual(train.labels.slice(0, 25));
    expect(spec.trial(3).xs).toHaveLength(5);
    expect(spec.trial(4).index).not.toEqual(spec.trial(1).index); // epoch 2 has its own order
    expect(new Set([1, 2, 3].flatMap((n) => spec.trial(n).index)).size).toBe(25);
    expect(parseRunConfig(body({ lr: 0.3, epochs: undefined, iterations: 9 }) as never).spec).toMatchObject({ iterations: 9, base: { lr: [0.3, 0.3] } });
  });

  const BAD: [string, Record<string, unknown>, string, RegExp][] = [
    ["lr list of the wrong length", { lr: [0.1] }, "lr", /a list of 2 \(one per layer pair\), got a list of 1/],
    ["lr <= 0", { lr: [0.1, 0] }, "lr[1]", /> 0/],
    ["batchSize < 1", { batchSize: 0 }, "batchSize", /integer in \[1, 25\]/],
    ["batchSize above the samples", { batchSize: 26 }, "batchSize", /\[1, 25\]/],
    ["epsilon outside (0, 1]", { model: { ...body().model, epsilon: 1.5 } }, "model.epsilon", /\(0, 1\]/],
    ["beta 0", { model: { ...body().model, beta: 0 } }, "model.beta", /other than 0/],
    ["both epochs and iterations", { iterations: 5 }, "epochs/iterations", /exactly one/],
    ["Adam", { optimizer: "adam" }, "optimizer", /plain SGD/],
    ["an optimizer rate", { optimizer: { kind: "gd", lr: 0.1 } }, "optimizer.lr", /`lr`/],
    ["lossReduction sum", { model: { ...body().model, lossReduction: "sum" } }, "model.lossReduction", /batch mean/],
    ["freeze", { freeze: ["W[0]"] }, "freeze", /every W\[l\]/],
    ["a misspelt field", { batchsize: 10 }, "batchsize", /not a field/],
    ["an input outside [0, 1]", { inputs: [[2, ...train.x[0]!.slice(1)], ...train.x.slice(1, 25)] }, "inputs[0][0]", /\[0, 1\]/],
  ];
  for (const [label, over, field, message] of BAD) {
    it(`names ${label}`, () => {
      const e = inputError(() => parseRunConfig(body(over) as never));
      expect(e.field).toBe(field);
      expect(e.expected).toMatch(message);
    });
  }

  it("the CLI prints one line naming the field and exits 2", async () => {
    const path = join(user, "bad-run.json");
    writeFileSync(path, JSON.stringify(body({ lr: [0.1, 0.05, 0.01] })));
    const r = await cli(["train", "--config", path, "--out", "bad-run"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/lr: expected a number or a list of 2/);
  });
});
