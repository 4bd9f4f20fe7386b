// e-prop training with SAL feedback (issue 12): the board learns B itself in alignment phases
// between trials. Ties the combined loop's host float32 mode to the simulated board and QEMU bit
// for bit (parameters, B, every SAL variable, PCG32 state, losses, angles); resume and board
// resets give the uninterrupted run's state; B moves only by spike timing (never from wOut);
// bad SAL parameters are named by the host and by the firmware.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildFirmware } from "../device/firmware/build.ts";
import { chartsInDom, dumpDom } from "../host/report/chromium.ts";
import { chartNames, renderReport } from "../host/report/html.ts";
import { formatRow } from "../host/report/follow.ts";
import { readRunDir } from "../host/report/rundir.ts";
import { randomCase } from "../host/case/random.ts";
import type { Matrix } from "../host/model/types.ts";
import { SalStream } from "../host/reference/sal.ts";
import { alignInit } from "../host/rules/eprop/sal-board.ts";
import { parseSalSchedule, salParamsOf } from "../host/rules/eprop/sal-config.ts";
import type { SalRunState } from "../host/rules/eprop/sal-host.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { trainOnSim } from "./helpers/sim-train.ts";
import { Session } from "../host/session/session.ts";
import { DeviceClient } from "../host/session/client.ts";
import { readRunSpec } from "../host/train/run-config.ts";
import { resultsMarkdown } from "../host/results/markdown.ts";
import { RESULT_ROWS } from "../host/results/rows.ts";
import type { RowResult } from "../host/results/run.ts";
import { trainingOf } from "../host/rules/index.ts";
import { InProcessTransport } from "../host/transport/inprocess.ts";
import { DeviceError, ErrorCode, MsgType, ParamId } from "../protocol/messages.ts";
import { ROOT } from "./helpers/cli.ts";
import { inputError } from "./helpers/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeprop-sal-train-"));

/** A small e-prop run with SAL feedback: two cycled trials, short alignment phases. */
function runConfig(name: string, feedback: object, iterations = 6, optimizer: object = { kind: "adam", lr: 0.01 }): string {
  const c = randomCase({ neuron: "alif", seed: 21, T: 60, nIn: 5, nRec: 10, nOut: 2, recurrent: true });
  const c2 = randomCase({ neuron: "alif", seed: 22, T: 60, nIn: 5, nRec: 10, nOut: 2, recurrent: true });
  const { format: _f, inputs: _i, targets: _t, mask: _m, feedback: _b, ...body } = c;
  const trials = [c, c2].map(({ inputs, targets, mask }) => ({ inputs, targets, mask }));
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ ...body, rule: "eprop", optimizer, iterations, trials, feedback: { kind: "sal", seed: 5, initialSteps: 3000, steps: 400, ...feedback } }));
  return path;
}

interface Checkpoint {
  iteration: number;
  state: SalRunState;
}
const checkpoint = (d: string): Checkpoint => JSON.parse(readFileSync(join(d, "checkpoint.json"), "utf8"));
// wall time and the board's echo of the rate it applied (`lr`, a board's field) are not the computation's
const metrics = (d: string) => readFileSync(join(d, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => {
  const { elapsedMs: _e, lr: _lr, ...row } = JSON.parse(l) as Record<string, number>;
  return row;
});

/**
 * The CLI in a child process, awaited (not spawnSync: a worker blocked for minutes misses vitest's
 * own RPC deadline); `limitMs` kills a hung run.
 */
function edgeprop(args: string[], cwd = ROOT, limitMs = 280_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${ROOT}bin/edgeprop.mjs`, ...args], { cwd });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function train(cfg: string, out: string, extra: string[] = []): Promise<void> {
  const r = await edgeprop(["train", "--config", cfg, "--out", out, "--json", ...extra]);
  expect(r.code, r.stderr).toBe(0);
}

/** What must agree bit for bit between two runs: parameters, B and every SAL variable (PCG32 state included). */
function learned(cp: Checkpoint) {
  const { params, B, sal } = cp.state;
  return { iteration: cp.iteration, params, B, sal };
}

const f32 = runConfig("f32", { precision: "f32" });
const board = runConfig("board", {});

describe("SAL training: host float32 mode = sim = QEMU, bit for bit", () => {
  it("after 6 trials with an initial phase and a phase after every update", async () => {
    await train(f32, join(dir, "host-f32"), ["--board", "host"]);
    await train(board, join(dir, "sim"), ["--board", "sim"]);
    const host = checkpoint(join(dir, "host-f32"));
    const sim = checkpoint(join(dir, "sim"));
    expect(learned(sim)).toEqual(learned(host));
    // 3000 + 6 x 400 steps ran on one eta schedule (restart "never", the default)
    expect(sim.state.sal.counters[0]).toBe(3000 + 6 * 400);
    expect(sim.state.sal.counters[2]).toBeGreaterThan(20); // upper spikes: SAL was not idle
    expect(metrics(join(dir, "sim"))).toEqual(metrics(join(dir, "host-f32")));
    const angles = metrics(join(dir, "sim")).map((m) => m.angleDeg!);
    expect(angles).toHaveLength(6);
    angles.forEach((a) => expect(a).toBeGreaterThan(0));
  }, 300_000);

  it("the run's report draws the angle per iteration in its own chart (headless chromium)", async () => {
    const run = readRunDir(join(dir, "sim"));
    const names = ["loss", "angles", "raster-inputs", "raster-recurrent", "traces"]; // no "metrics": angleDeg is the only other number
    expect(chartNames(run)).toEqual(names);
    const file = join(dir, "sim", "report.html");
    writeFileSync(file, renderReport(run));
    const charts = chartsInDom(await dumpDom(file));
    expect(charts.map((c) => [c.name, c.rendered, c.error])).toEqual(names.map((n) => [n, true, undefined]));
    expect(charts.find((c) => c.name === "angles")!.marks).toBe(2 * 6); // angleDeg of 6 iterations: raw and smoothed curves
  }, 120_000); // the first runs build the kernels and the firmware

  it("on the emulated Cortex-M4 too (the same firmware under QEMU)", async () => {
    const cfg = runConfig("qemu", {}, 3);
    await train(cfg, join(dir, "qemu"), ["--board", "qemu-mps2-an386"]);
    await train(cfg, join(dir, "sim-3"), ["--board", "sim"]);
    expect(learned(checkpoint(join(dir, "qemu")))).toEqual(learned(checkpoint(join(dir, "sim-3"))));
  }, 600_000); // builds the QEMU firmware (wasm2c, arm-none-eabi-gcc) on a clean clone

  it("with restart 'phase' and plain gd (the eta schedule restarts at every phase)", async () => {
    const gd = { kind: "gd", lr: 0.02 };
    await train(runConfig("phase-f32", { precision: "f32", restart: "phase" }, 4, gd), join(dir, "phase-f32"), ["--board", "host"]);
    await train(runConfig("phase", { restart: "phase" }, 4, gd), join(dir, "phase-sim"), ["--board", "sim"]);
    const sim = checkpoint(join(dir, "phase-sim"));
    expect(learned(sim)).toEqual(learned(checkpoint(join(dir, "phase-f32"))));
    expect(sim.state.sal.counters[0]).toBe(400); // t of the last phase alone
  }, 120_000);
});

describe("SAL training: interrupted runs end where the uninterrupted run ends", () => {
  it("a host killed mid-run resumes to the same weights, B and SAL state (sim, host f32, host f64)", async () => {
    // 100 iterations: the kill at the 3rd iteration's line lands long before the run could end
    const n = 100;
    const runs = [["sim", runConfig("kill-sim", {}, n), "sim"], ["host-f32", runConfig("kill-f32", { precision: "f32" }, n), "host"], ["host-f64", runConfig("kill-f64", {}, n), "host"]] as const;
    for (const [name, cfg, boardName] of runs) {
      const whole = join(dir, `whole-${name}`);
      await train(cfg, whole, ["--board", boardName, "--checkpoint-every", "2"]);
      const killed = join(dir, `killed-${name}`);
      await new Promise<void>((resolve) => {
        const child = spawn(process.execPath, [`${ROOT}bin/edgeprop.mjs`, "train", "--config", cfg, "--out", killed, "--json", "--board", boardName, "--checkpoint-every", "2"], { cwd: ROOT });
        let lines = 0;
        child.stdout.on("data", (d: Buffer) => {
          lines += d.toString().split("\n").length - 1;
          if (lines >= 3) child.kill("SIGKILL");
        });
        child.on("exit", () => resolve());
      });
      const cp = checkpoint(killed);
      expect(cp.iteration, name).toBeGreaterThanOrEqual(2);
      expect(cp.iteration, name).toBeLessThan(n);
      await train(cfg, killed, ["--board", boardName, "--checkpoint-every", "2", "--resume"]);
      expect(learned(checkpoint(killed)), name).toEqual(learned(checkpoint(whole)));
    }
  }, 480_000);

  it("a board killed and restarted mid-run gets its last checkpoint back (SAL state inside) and replays: same state", async () => {
    const spec = readRunSpec(runConfig("reset", {}, 8));
    const training = trainingOf("eprop");
    const once = async (killAfter?: number) => {
      const r = await trainOnSim(spec, training.initialState(spec) as SalRunState, { dir, killAfter, checkpointEvery: 3 });
      return { params: r.state.params, B: r.state.B, sal: r.state.sal, recoveries: r.recoveries };
    };
    const clean = await once();
    const crashed = await once(5); // last checkpoint at 3: iterations 4..5 replayed with their phases
    expect(crashed.recoveries).toBe(1);
    expect({ ...crashed, recoveries: 0 }).toEqual({ ...clean, recoveries: 0 });
  });
});

describe("under SAL, B is never set from wOut", () => {
  it("with eta0 = 0 B stays exactly the board's own draw through training while wOut moves (sim and host f64)", async () => {
    const frozen = runConfig("frozen", { eta0: 0 });
    await train(frozen, join(dir, "frozen-sim"), ["--board", "sim"]);
    await train(frozen, join(dir, "frozen-host"), ["--board", "host"]);
    // the draw: thresholds then B from the stream seeded (5, 0x5a1), as the device's salDraw
    const s = parseSalSchedule({ kind: "sal", seed: 5 }, 0);
    const drawn = (precision: "f32" | "f64") => SalStream.draw({ nRec: 10, nOut: 2, seed: 5, seq: 0x5a1, draw: s, params: salParamsOf(s), precision }).B;
    const sim = checkpoint(join(dir, "frozen-sim")).state;
    const host = checkpoint(join(dir, "frozen-host")).state;
    expect(sim.B).toEqual(drawn("f32"));
    expect(host.B).toEqual(drawn("f64"));
    const first = readRunSpec(frozen).base.params.wOut as Matrix;
    expect(sim.params.wOut).not.toEqual(first); // wOut was trained meanwhile
    expect(sim.sal.counters[2]).toBeGreaterThan(20); // and SAL ran, spikes and all
  }, 120_000);

  it("B after phases with changing wOut is replayed exactly from the recorded spike trains alone (float32 reference)", () => {
    const nRec = 12, nOut = 3;
    const sched = parseSalSchedule({ kind: "sal", seed: 9, eta0: 0.05 }, 0);
    const stream = SalStream.draw({ nRec, nOut, seed: 9, seq: 0x5a1, draw: sched, params: salParamsOf(sched), precision: "f32" });
    const B0 = structuredClone(stream.B);
    const spikes: { z: number[]; y: number[]; t: number }[] = [];
    stream.onStep = (z, y) => spikes.push({ z: z.slice(), y: y.slice(), t: stream.t });
    let wOut: Matrix = Array.from({ length: nOut }, (_, k) => Array.from({ length: nRec }, (_, j) => Math.sin(1 + k * nRec + j)));
    for (let ph = 0; ph < 4; ph++) {
      stream.setForward(wOut);
      stream.gains();
      if (ph > 0) stream.restart();
      stream.run(1500);
      wOut = wOut.map((row, k) => row.map((w, j) => w + 0.3 * Math.cos(ph + k + j))); // training moves wOut
    }
    // The replay knows B0, the spike trains, t of each step and the constants — no wOut.
    const r = Math.fround;
    const k = stream.k;
    const B = structuredClone(B0);
    const q = new Array<number>(nRec).fill(0), rr = new Array<number>(nOut).fill(0);
    for (const { z, y, t } of spikes) {
      const c = r(r(k.eta0 / r(1 + r(t / k.Ta))) * k.lambda);
      for (let kk = 0; kk < nOut; kk++) if (y[kk]) for (let j = 0; j < nRec; j++) B[j]![kk] = r(B[j]![kk]! + r(c * q[j]!));
      for (let j = 0; j < nRec; j++) if (z[j]) for (let kk = 0; kk < nOut; kk++) B[j]![kk] = r(B[j]![kk]! - r(c * rr[kk]!));
      for (let j = 0; j < nRec; j++) q[j] = r(r(k.lambda * q[j]!) + z[j]!);
      for (let kk = 0; kk < nOut; kk++) rr[kk] = r(r(k.lambda * rr[kk]!) + y[kk]!);
    }
    expect(spikes.filter((s) => s.y.some((x) => x)).length).toBeGreaterThan(50);
    expect(B).not.toEqual(B0);
    expect(B).toEqual(stream.B);
  });
});

describe("SAL on the wire and in run configs: bad input is named", () => {
  let wasm: Uint8Array;
  beforeAll(async () => {
    wasm = (await buildFirmware()).bytes;
  });

  async function boardClient(numerics: "f32" | "fixed16" = "f32"): Promise<DeviceClient> {
    const fw = await FirmwareHost.create(wasm, { boardId: "sim" });
    if (numerics === "fixed16") {
      // what the MCU shim does on a fixed16 board (device/mcu/hal.c): NUMERICS = 1 before init()
      const at = (fw.exports as unknown as { NUMERICS: WebAssembly.Global }).NUMERICS.value as number;
      new DataView(fw.exports.memory.buffer).setUint32(at, 1, true);
    }
    fw.init();
    const c = new DeviceClient(new Session(new InProcessTransport(fw), { timeoutMs: 40, retries: 60 }));
    const h = await c.hello();
    if (numerics === "f32") expect(h.caps).toContain("sal");
    else expect(h.caps).toEqual(expect.arrayContaining(["fixed16"]));
    return c;
  }

  async function refused(p: Promise<unknown>): Promise<DeviceError> {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    return err as DeviceError;
  }

  it("the firmware refuses ALIGN out of order and out of range, naming the field, and never takes B from the host", async () => {
    const c = await boardClient();
    const cs = randomCase({ seed: 3, nIn: 4, nRec: 8, nOut: 2 });
    expect((await refused(c.request(MsgType.ALIGN, { n: 10 }))).code).toBe(ErrorCode.NOT_CONFIGURED);
    await c.configure(cs.model, "random");
    const plain = await refused(c.request(MsgType.ALIGN, { n: 10 }));
    expect([plain.code, plain.field]).toEqual([ErrorCode.UNSUPPORTED, "feedback"]);
    await c.configure(cs.model, "sal");
    const early = await refused(c.request(MsgType.ALIGN, { n: 10 }));
    expect([early.code, early.field]).toEqual([ErrorCode.BAD_VALUE, "init"]);
    const init = alignInit(parseSalSchedule({ kind: "sal", seed: 1 }, 0));
    for (const [field, value] of [["eta0", -0.01], ["etaH", -1], ["delta", 0], ["rhoTarget", 1], ["rhoTarget", 0], ["alpha", 1.5], ["Ta", 0], ["jitter", 1]] as const) {
      const e = await refused(c.request(MsgType.ALIGN, { n: 1, init: { ...init, [field]: value } }));
      expect([e.code, e.field], `${field} ${value}`).toEqual([ErrorCode.BAD_VALUE, `init.${field}`]);
    }
    const unknown = await refused(c.request(MsgType.ALIGN, { n: 1, init: { ...init, B: 1 } }));
    expect(unknown.code).toBe(ErrorCode.BAD_FIELD);
    const B = await refused(c.writeArray(ParamId.B, new Array(16).fill(0.5)));
    expect([B.code, B.field]).toEqual([ErrorCode.BAD_VALUE, "p"]);
    expect(B.message).toMatch(/learned on the board/);
    // a well-formed start: the board's draw, and B moves only with n > 0
    await c.writeArray(ParamId.wOut, cs.params.wOut.flat());
    const a0 = await c.request(MsgType.ALIGN, { n: 0, init });
    const B0 = await c.readFeedback();
    const s = parseSalSchedule({ kind: "sal", seed: 1 }, 0);
    expect(B0).toEqual(SalStream.draw({ nRec: 8, nOut: 2, seed: 1, seq: 0x5a1, draw: s, params: salParamsOf(s), precision: "f32" }).B);
    expect(a0).toMatchObject({ n: 0, t: 0, lo: 0, up: 0 });
    const a1 = await c.request(MsgType.ALIGN, { n: 5000 });
    expect(a1.n).toBe(5000);
    expect(await c.readFeedback()).not.toEqual(B0);
    await c.session.close();
  });

  it("a fixed16 board has no SAL: no 'sal' in its caps, CONFIGURE with feedback sal is UNSUPPORTED naming feedback", async () => {
    const c = await boardClient("fixed16");
    expect(c.session.info!.caps).not.toContain("sal");
    const cs = randomCase({ seed: 3, nIn: 4, nRec: 8, nOut: 2 });
    const e = await refused(c.configure(cs.model, "sal"));
    expect([e.code, e.field]).toEqual([ErrorCode.UNSUPPORTED, "feedback"]);
    expect(e.message).toMatch(/fixed16/);
    await c.session.close();
  });

  it("ALIGN reaches only e-prop: a board running another rule answers UNSUPPORTED", async () => {
    const c = await boardClient();
    await c.request(MsgType.CONFIGURE, { rule: "eqprop", layers: [2, 3, 1], beta: 0.5, freeSteps: 5, nudgedSteps: 5 });
    const e = await refused(c.request(MsgType.ALIGN, { n: 1 }));
    expect(e.code).toBe(ErrorCode.UNSUPPORTED);
    expect(e.message).toMatch(/eqprop/);
    await c.session.close();
  });

  it("a run config names the SAL field and its limit", async () => {
    const bad: [object, string, RegExp][] = [
      [{ eta0: -0.01 }, "feedback.eta0", /cannot be negative/],
      [{ etaH: -1 }, "feedback.etaH", />= 0/],
      [{ delta: 0 }, "feedback.delta", /> 0/],
      [{ rhoTarget: 1 }, "feedback.rhoTarget", /\(0, 1\)/],
      [{ rhoTarget: 0 }, "feedback.rhoTarget", /\(0, 1\)/],
      [{ jitter: 1 }, "feedback.jitter", /\[0, 1\)/],
      [{ steps: -5 }, "feedback.steps", /integer/],
      [{ restart: "sometimes" }, "feedback.restart", /'phase', 'never'/],
      [{ B: [[1]] }, "feedback.B", /learned on the board/],
    ];
    for (const [fb, field, text] of bad) {
      const e = inputError(() => readRunSpec(runConfig("bad", fb)));
      expect(e.field).toBe(field);
      expect(e.message).toMatch(text);
    }
    runConfig("bad-cli", { delta: -1 });
    const r = await edgeprop(["train", "--config", "bad-cli.json", "--out", "bad-cli"], dir); // from a folder outside the repo
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/feedback\.delta: must be > 0, got -1/);
    const b = await edgeprop(["train", "--task", "pattern", "--quick", "--rule", "bptt", "--feedback", "sal", "--out", join(dir, "bptt")]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--feedback: 'sal' learns e-prop's feedback matrix/);
    // one trial, one update, one alignment phase: mini-batches and schedules are e-prop's, not SAL's
    for (const board of ["host", "sim"]) {
      const m = await edgeprop(["train", "--task", "pattern", "--quick", "--feedback", "sal", "--board", board, "--batch-size", "4", "--out", join(dir, `batch-${board}`)]);
      expect(m.code).toBe(2);
      expect(m.stderr).toMatch(/batchSize: feedback 'sal' trains one trial per update/);
    }
  }, 120_000);
});

describe("edgeprop monitor --run: a SAL run's angle live", () => {
  it("prints each metrics row (angleDeg included) while the run trains, and ends with the run (--json, relative folder, outside the repo)", async () => {
    const cfg = runConfig("live", {}, 20);
    const trainer = spawn(process.execPath, [`${ROOT}bin/edgeprop.mjs`, "train", "--config", cfg, "--out", "live", "--json", "--board", "host"], { cwd: dir });
    let trained = "";
    // Pause the training after its first iteration: the run is then certainly still going.
    await new Promise<void>((resolve) =>
      trainer.stdout.on("data", (d: Buffer) => {
        trained += d.toString();
        if (trained.includes("\n") && !trainer.killed) {
          trainer.kill("SIGSTOP");
          resolve();
        }
      }),
    );
    const trainerDone = new Promise<number | null>((resolve) => trainer.on("exit", resolve));
    const monitor = spawn(process.execPath, [`${ROOT}bin/edgeprop.mjs`, "monitor", "--run", "live", "--json"], { cwd: dir });
    let out = "", err = "";
    monitor.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const monitorDone = new Promise<number | null>((resolve) => monitor.on("exit", resolve));
    const written = () => readFileSync(join(dir, "live", "metrics.jsonl"), "utf8").trim().split("\n").length;
    const paused = written();
    await new Promise<void>((resolve) =>
      monitor.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.split("\n").length - 1 >= paused) resolve();
      }),
    );
    expect(paused).toBeLessThan(20);
    expect(monitor.exitCode).toBeNull(); // the run has not ended: it keeps following
    trainer.kill("SIGCONT");
    expect(await trainerDone).toBe(0);
    expect(await monitorDone, err).toBe(0);
    expect(err).toMatch(/following live until the run ends[\s\S]*the run ended/);
    const rows = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    const file = readFileSync(join(dir, "live", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    expect(rows).toEqual(file);
    expect(rows.map((r) => r.iteration)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    rows.forEach((r) => expect(r.angleDeg).toBeGreaterThan(0));
  }, 240_000);

  it("without --json, one line per row: the angle in degrees, a score with the trials behind it", () => {
    expect(formatRow({ iteration: 3, loss: 1.5, angleDeg: 12.345, test: 0.84, testTrials: 10, elapsedMs: 5 })).toBe("iteration 3  loss 1.5000  angleDeg 12.3°  test 0.8400 (10 trials)");
  });

  it("refuses a folder that is not a run, and --port with --run, naming the flag", async () => {
    const notRun = await edgeprop(["monitor", "--run", "."], dir);
    expect(notRun.code).toBe(2);
    expect(notRun.stderr).toMatch(/--run: \. is not an edgeprop run folder/);
    const both = await edgeprop(["monitor", "--run", "live", "--port", "/dev/null"], dir);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--run: give --port \(a board\) or --run \(a run folder\), not both/);
  });
});

describe("SAL's results rows (npm run results)", () => {
  it("evidence and pattern x symmetric / random / sal on the simulated board: equal settings, the same 3 seeds", () => {
    const rows = RESULT_ROWS.filter((r) => r.seeds);
    expect(rows.map((r) => [r.task, r.feedback])).toEqual(["evidence", "pattern"].flatMap((t) => ["symmetric", "random", "sal"].map((f) => [t, f])));
    for (const task of ["evidence", "pattern"]) {
      const group = rows.filter((r) => r.task === task);
      group.forEach((r) => expect([r.rule, r.board, r.seeds]).toEqual(["eprop", "sim", [1, 2, 3]]));
      expect(new Set(group.map((r) => JSON.stringify([r.full, r.quick]))).size).toBe(1);
    }
  });

  it("RESULTS.md gives a row with seeds as mean ± sample sd, its seeds and the final angle", () => {
    const r: RowResult = {
      id: "evidence-eprop-sal-seeds-sim", task: "evidence", rule: "eprop", feedback: "sal", board: "sim", seed: 1, seeds: [1, 2, 3],
      values: [0.85, 0.92, 0.87], angleDeg: [6.5, 6.7, 6.9], taskOptions: {}, iterations: 600, lr: 0.002, metric: "accuracy", value: 0.88,
      chance: 0.5, higherIsBetter: true, testTrials: 100, finalLoss: 1, wallMs: 1000, dir: "x", paper: "p",
    };
    const md = resultsMarkdown([r], { quick: false, seed: 1, shownOptions: {}, totalMs: 1000 });
    expect(md).toContain("| evidence | eprop (sal feedback) | sim | defaults | 600 | 0.002 | test accuracy **88.0 ± 3.6 %** (100; seeds 1, 2, 3; final angle(B, wOut^T) 6.7° ± 0.2°) |");
    expect(md).toMatch(/Rows with seeds .* mean ± sample standard deviation/);
  });
});
