// Mini-batches and learning-rate schedules (issue 15): batchSize 1 is the training of before,
// bit for bit; a batch's update is its trials' summed (or averaged) gradient at fixed weights,
// on the host and accumulated on a board; the board's float32 rate of every update is the
// host's schedule rounded to float32; bad settings are refused, naming the field.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildFirmware } from "../device/firmware/build.ts";
import { randomCase } from "../host/case/random.ts";
import { epropGrad } from "../host/reference/eprop.ts";
import { transpose } from "../host/model/matrix.ts";
import { getRule } from "../host/rules/index.ts";
import { connectBoard } from "../host/link/connect-board.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { DeviceClient } from "../host/session/client.ts";
import { Session } from "../host/session/session.ts";
import { trainOnSim } from "./helpers/sim-train.ts";
import { startSim } from "../host/sim/sim.ts";
import { checkScale, parseScale } from "../host/train/batch.ts";
import { DeviceTarget } from "../host/train/device-target.ts";
import { runLoop } from "../host/train/loop.ts";
import { newOptimizerState } from "../host/train/optimizer.ts";
import { readRunSpec } from "../host/train/run-config.ts";
import { lrAt, parseLrSchedule } from "../host/train/schedule.ts";
import type { TrainTarget } from "../host/train/target.ts";
import { InProcessTransport } from "../host/transport/inprocess.ts";
import type { Params } from "../host/model/types.ts";
import { DeviceError, ErrorCode, MsgType } from "../protocol/messages.ts";
import { writeRunConfig } from "./helpers/batch-runs.ts";
import { ROOT, runIn } from "./helpers/cli.ts";
import { flat, GRAD_KEYS, maxRelErr } from "./helpers/compare.ts";
import { inputError } from "./helpers/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeprop-batch-"));
const params = (d: string): Params => JSON.parse(readFileSync(join(d, "params.json"), "utf8"));
const digest = (d: string) => createHash("sha256").update(readFileSync(join(d, "params.json"))).digest("hex");

/** `edgeprop train` to completion, without blocking the worker (helpers/cli.ts runIn). */
async function train(cfg: string, out: string, extra: string[] = []) {
  const r = await runIn(ROOT, ["train", "--config", cfg, "--out", out, "--json", ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { iteration: number; loss: number; lr?: number });
}

/** max |a - b| / max |b| over every parameter (the scale of the weights, not of each element). */
function relDiff(a: Params, b: Params): number {
  let d = 0, m = 0;
  for (const k of GRAD_KEYS) flat(a, k).forEach((x, i) => ((d = Math.max(d, Math.abs(x - flat(b, k)[i]!))), (m = Math.max(m, Math.abs(flat(b, k)[i]!)))));
  return d / m;
}

describe("batchSize 1 is the training of before, bit for bit", () => {
  // params.json digests of these runs, recorded on the base commit (fc2c3fe) before batches existed.
  // (A change of the float32 kernels' arithmetic legitimately changes the sim digests: re-record them.)
  const BEFORE = {
    "mse host": "3f4794ee28178a962ea3d7cbb069f929d076f388d55d3fb7e7b77e3a9d078361",
    "mse sim": "757f0162d2c12b3922269f21412ce7b232aa179832b5b98993e40082a829d0a7",
    "ce host": "7ce097c5f6c8dae34ae22559f7bed8cf666a101740a56c616822f33423932f39",
    "ce sim": "29f25c5529186b29346dd88e3a8b36cf0ac9a765717519cfaa0a2b6212f276c3",
  };
  for (const [name, want] of Object.entries(BEFORE)) {
    const [loss, board] = name.split(" ") as ["mse" | "ce", string];
    // half the runs say batchSize 1 explicitly, half leave it out
    const explicit = (loss === "mse") === (board === "sim");
    it(`${name}${explicit ? ", batchSize 1 given" : ""}`, async () => {
      const cfg = writeRunConfig(dir, `pin-${name.replace(" ", "-")}`, { iterations: 8, loss, ...(explicit ? { extra: { batchSize: 1 } } : {}) });
      await train(cfg, join(dir, `pin-${loss}-${board}`), ["--board", board]);
      expect(digest(join(dir, `pin-${loss}-${board}`))).toBe(want);
    }, 240_000);
  }
});

describe("a batch on the host: one update with its trials' float64 gradient", () => {
  it("sum and mean of the per-trial gradients at fixed weights, trials taken in order across updates", async () => {
    for (const reduction of ["sum", "mean"] as const) {
      const cfg = writeRunConfig(dir, `host-${reduction}`, { iterations: 2, trials: 5, optimizer: { kind: "gd", lr: 0.01 }, extra: { batchSize: 3, batchReduction: reduction } });
      const spec = readRunSpec(cfg);
      const training = getRule("eprop", "rule").training!;
      const target = training.host(spec, training.initialState(spec)) as TrainTarget;
      await runLoop(spec, target, { start: 1, checkpointEvery: 100, record: () => false, onIteration: () => {} });
      // by hand: update 1 over trials 1..3, update 2 over trials 4, 5, 1 (the list cycles)
      let w: Params = structuredClone(spec.base.params);
      for (const trials of [[1, 2, 3], [4, 5, 6]]) {
        const gs = trials.map((n) => epropGrad({ ...spec.base, params: w, feedback: { kind: "symmetric", B: transpose(w.wOut) }, ...spec.trial(n) }).grads);
        const div = reduction === "mean" ? 3 : 1;
        const step = (k: (typeof GRAD_KEYS)[number], i: number) => {
          let s = 0;
          for (const g of gs) s += flat(g, k)[i]!;
          return s / div;
        };
        const next = structuredClone(w);
        for (const k of GRAD_KEYS) {
          const f = flat(w, k).map((x, i) => x - 0.01 * step(k, i));
          if (k === "bOut") next.bOut = f;
          else next[k] = next[k].map((row, r) => row.map((_, c) => f[r * row.length + c]!));
        }
        next.wRec.forEach((row, j) => (row[j] = 0));
        w = next;
      }
      expect((await target.state()).params).toEqual(w);
    }
  });
});

describe("a batch on a board: the board accumulates, the host only streams", () => {
  let wasm: Uint8Array;
  beforeAll(async () => {
    wasm = (await buildFirmware()).bytes;
  });

  /** The firmware in this process; `fixed16`: as on a board with numerics fixed16 (NUMERICS = 1 before init, device/mcu/hal.c). */
  async function client(numerics: "f32" | "fixed16" = "f32") {
    const fw = await FirmwareHost.create(wasm, { boardId: "sim" });
    if (numerics === "fixed16") {
      const at = (fw.exports as unknown as { NUMERICS: WebAssembly.Global }).NUMERICS.value as number;
      new DataView(fw.exports.memory.buffer).setUint32(at, 1, true);
    }
    fw.init();
    const s = new Session(new InProcessTransport(fw), { timeoutMs: 40, retries: 60, maxFrame: 2048 });
    const c = new DeviceClient(s);
    await c.hello();
    return { c, s };
  }

  it("RESET 1 adds a trial's gradient to the kept ones (sum, and mean with the rate regulariser)", async () => {
    for (const extra of [{}, { lossReduction: "mean" as const, rateReg: { cReg: 0.5, fTargetHz: 10 }, loss: "ce" as const }]) {
      const a = randomCase({ seed: 11, neuron: "alif", recurrent: true, ...extra });
      const b = randomCase({ seed: 12, neuron: "alif", recurrent: true, ...extra });
      const { c, s } = await client();
      await c.configure(a.model, "symmetric");
      await c.writeParams(a.params);
      const alone: Awaited<ReturnType<DeviceClient["readGrads"]>>[] = [];
      for (const t of [a, b]) {
        await c.runTrial(t.inputs, t.targets, t.mask);
        alone.push(await c.readGrads());
      }
      await c.runTrial(a.inputs, a.targets, a.mask);
      await c.runTrial(b.inputs, b.targets, b.mask, { keepGrads: true });
      const both = await c.readGrads();
      for (const k of GRAD_KEYS) {
        const sum = flat(alone[0]!, k).map((x, i) => x + flat(alone[1]!, k)[i]!);
        expect(maxRelErr(flat(both, k), sum), k).toBeLessThan(1e-5);
      }
      await s.close();
    }
  });

  it("lossReduction mean refuses to sum trials of different lengths (field lossReduction); APPLY div divides first", async () => {
    const a = randomCase({ seed: 13, lossReduction: "mean", T: 50 });
    const b = randomCase({ seed: 14, lossReduction: "mean", T: 60 });
    const { c, s } = await client();
    await c.configure(a.model, "symmetric");
    await c.writeParams(a.params);
    await c.runTrial(a.inputs, a.targets, a.mask);
    const err = await c.runTrial(b.inputs, b.targets, b.mask, { keepGrads: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as DeviceError).code).toBe(ErrorCode.BAD_VALUE);
    expect((err as DeviceError).field).toBe("lossReduction");
    // gd with div 4: W - lr * g / 4
    await c.runTrial(a.inputs, a.targets, a.mask);
    const g = await c.readGrads();
    const w0 = await c.readParams();
    const r = await c.applyResponse({ optimizer: "gd", lr: 0.1, div: 4 });
    expect(r.lr).toBe(Math.fround(0.1));
    const w1 = await c.readParams();
    const want = flat(w0, "wIn").map((x, i) => Math.fround(x - Math.fround(Math.fround(0.1) * Math.fround(flat(g, "wIn")[i]! / 4))));
    expect(flat(w1, "wIn")).toEqual(want);
    const bad = await c.request(MsgType.APPLY, { opt: 0, lr: 0.1, div: 0 }).catch((e: unknown) => e);
    expect((bad as DeviceError).field).toBe("div");
    await s.close();
  });

  it("a fixed16 board has no cap 'batch' and refuses RESET 1, APPLY div and WRITE ids 8..11, naming the field; the host refuses its batches first", async () => {
    const a = randomCase({ seed: 15, T: 40 });
    const { c, s } = await client("fixed16");
    expect(s.info!.caps).toContain("fixed16");
    expect(s.info!.caps).not.toContain("batch");
    await c.configure(a.model, "symmetric");
    await c.writeParams(a.params);
    await c.runTrial(a.inputs, a.targets, a.mask);
    for (const [type, body, field] of [
      [MsgType.RESET, { k: 1 }, "k"],
      [MsgType.APPLY, { opt: 0, lr: 0.1, div: 2 }, "div"],
      [MsgType.WRITE, { p: 8, o: 0, d: new Uint8Array(4) }, "p"],
    ] as const) {
      const err = await c.request(type, body).catch((e: unknown) => e);
      expect(err, field).toBeInstanceOf(DeviceError);
      expect((err as DeviceError).code, field).toBe(ErrorCode.UNSUPPORTED);
      expect((err as DeviceError).field).toBe(field);
    }
    // a rejected APPLY changed nothing: a plain one is still answered with the float32 rate
    expect((await c.applyResponse({ optimizer: "gd", lr: 0.1 })).lr).toBe(Math.fround(0.1));
    // the host never sends them: its batch names the missing cap
    const spec = readRunSpec(writeRunConfig(dir, "fixed16-batch", { iterations: 2, trials: 4, optimizer: { kind: "gd", lr: 0.01 }, extra: { batchSize: 2 } }));
    const t = spec.trial(1);
    await expect(getRule("eprop", "rule").training!.device!.batch!.accumulate(c, spec, [t, t], false)).rejects.toThrow(/batchSize.*caps lack 'batch'/);
    await s.close();
  });

  it("on the simulated board equals the float64 host batch within float32 tolerance (ce, mean, rate regulariser, Adam)", async () => {
    const cfg = writeRunConfig(dir, "board-batch", {
      iterations: 6, trials: 5, loss: "ce", model: { lossReduction: "mean", rateReg: { cReg: 0.5, fTargetHz: 10 } },
      extra: { batchSize: 4, lrSchedule: { kind: "exponential", gamma: 0.9, warmup: 2 } },
    });
    const sim = await train(cfg, join(dir, "bb-sim"), ["--board", "sim"]);
    const host = await train(cfg, join(dir, "bb-host"), ["--board", "host"]);
    expect(sim.length).toBe(6); // iterations count updates
    sim.forEach((row, i) => expect(Math.abs(row.loss - host[i]!.loss)).toBeLessThanOrEqual(1e-4 * Math.abs(host[i]!.loss)));
    expect(relDiff(params(join(dir, "bb-sim")), params(join(dir, "bb-host")))).toBeLessThan(1e-5);
    // and a batch is not B single-trial updates: the weights differ from the batchSize 1 run's
    const single = writeRunConfig(dir, "board-single", { iterations: 6, trials: 5, loss: "ce", model: { lossReduction: "mean", rateReg: { cReg: 0.5, fTargetHz: 10 } }, extra: { lrSchedule: { kind: "exponential", gamma: 0.9, warmup: 2 } } });
    await train(single, join(dir, "bs-host"), ["--board", "host"]);
    expect(relDiff(params(join(dir, "bs-host")), params(join(dir, "bb-host")))).toBeGreaterThan(1e-3);
  }, 240_000);
});

describe("a board killed and restarted mid-run, with batches and a schedule", () => {
  it("gets the last checkpoint back and replays whole updates: the uninterrupted run's weights", async () => {
    const spec = readRunSpec(writeRunConfig(dir, "replay", { iterations: 6, trials: 5, extra: { batchSize: 3, lrSchedule: { kind: "step", every: 2, gamma: 0.5 } } }));
    const run = async (killAfter?: number) => {
      const initial = { params: structuredClone(spec.base.params), B: spec.base.feedback.B, optimizer: newOptimizerState() };
      // the board dies after update 3 (last checkpoint: 2): update 3 is replayed, then 4 runs on the blank board's successor
      const r = await trainOnSim(spec, initial, { dir, killAfter, checkpointEvery: 2 });
      return { params: r.state.params, recoveries: r.recoveries };
    };
    const clean = await run();
    const crashed = await run(3);
    expect(crashed.recoveries).toBe(1);
    expect(crashed.params).toEqual(clean.params);
  }, 240_000);
});

describe("learning-rate schedules: the board applies the host's rate, bit for bit", () => {
  it("the formulas (warm-up, step, exponential, cosine)", () => {
    const s = (x: object) => parseLrSchedule(x as never, 100)!;
    expect([1, 2, 4, 5].map((n) => lrAt(0.1, s({ kind: "constant", warmup: 4 }), n))).toEqual([0.025, 0.05, 0.1, 0.1]);
    expect([1, 3, 4, 6, 7].map((n) => lrAt(1, s({ kind: "step", every: 3, gamma: 0.5 }), n))).toEqual([1, 1, 0.5, 0.5, 0.25]);
    expect([1, 2, 3].map((n) => lrAt(1, s({ kind: "exponential", gamma: 0.5, warmup: 1 }), n))).toEqual([1, 1, 0.5]);
    const cos = s({ kind: "cosine", warmup: 10, minLr: 0.01 });
    expect(lrAt(1, cos, 11)).toBe(1);
    expect(lrAt(1, cos, 56)).toBeCloseTo(0.505, 12); // halfway through the 90 decay updates (s = 45)
    expect(lrAt(1, cos, 101)).toBeCloseTo(0.01, 15);
  });

  it("every update's float32 rate on the simulated board is the host's, rounded once (four kinds, gd and adam)", async () => {
    const sim = await startSim({ dir: join(dir, "sched-sim") });
    try {
      const kinds = [
        { kind: "constant", warmup: 3 },
        { kind: "step", every: 2, gamma: 0.7, warmup: 1 },
        { kind: "exponential", gamma: 0.93 },
        { kind: "cosine", warmup: 2, minLr: 1e-4 },
      ];
      for (const [i, lrSchedule] of kinds.entries()) {
        const optimizer = i % 2 ? { kind: "gd", lr: 0.013 } : { kind: "adam", lr: 0.0107 };
        const spec = readRunSpec(writeRunConfig(dir, `sched-${i}`, { iterations: 7, optimizer, extra: { batchSize: i === 3 ? 2 : 1, lrSchedule } }));
        const rates = async (target: TrainTarget) => {
          const out: number[] = [];
          await runLoop(spec, target, { start: 1, checkpointEvery: 100, record: () => false, onIteration: (_, o) => out.push(o.lr!) });
          await target.close();
          return out;
        };
        const initial = { params: structuredClone(spec.base.params), B: spec.base.feedback.B, optimizer: newOptimizerState() };
        const training = getRule("eprop", "rule").training!;
        const host = await rates(training.host(spec, structuredClone(initial)) as TrainTarget);
        const board = await rates(await DeviceTarget.open(spec, initial, await connectBoard({ board: "sim", port: sim.port, timeouts: { waitMs: 30_000 } })));
        expect(host).toEqual(Array.from({ length: 7 }, (_, n) => lrAt(spec.optimizer.lr, spec.lrSchedule, n + 1)));
        expect(board).toEqual(host.map(Math.fround));
        expect(new Set(board).size, lrSchedule.kind).toBeGreaterThan(1);
      }
    } finally {
      await sim.stop();
    }
  }, 240_000);
});

describe("bad settings are named", () => {
  const spec = () => readRunSpec(writeRunConfig(dir, "plain", { iterations: 5 }));
  it("in a run config", () => {
    expect(inputError(() => parseScale({ batchSize: 0 }, 5)).field).toBe("batchSize");
    expect(inputError(() => parseScale({ batchSize: 2.5 }, 5)).field).toBe("batchSize");
    expect(inputError(() => parseScale({ batchReduction: "max" }, 5)).field).toBe("batchReduction");
    expect(inputError(() => parseScale({ lrSchedule: { kind: "linear" } }, 5)).message).toMatch(/lrSchedule\.kind.*'constant', 'step', 'cosine', 'exponential'/);
    expect(inputError(() => parseScale({ lrSchedule: { kind: "cosine", warmup: -1 } }, 5)).field).toBe("lrSchedule.warmup");
    expect(inputError(() => parseScale({ lrSchedule: { kind: "cosine", warmup: 5 } }, 5)).field).toBe("lrSchedule.warmup");
    expect(inputError(() => parseScale({ lrSchedule: { kind: "exponential" } }, 5)).field).toBe("lrSchedule.gamma");
    expect(inputError(() => parseScale({ lrSchedule: { kind: "step", every: 2, gamma: 0.5, minLr: 1 } }, 5)).field).toBe("lrSchedule.minLr");
  });

  it("a rule whose targets do not batch or schedule is refused by name", () => {
    const s = { ...spec(), rule: "norule", batch: { size: 4, reduction: "mean" as const } };
    const training = { ...getRule("eprop", "rule").training!, scale: undefined };
    expect(inputError(() => checkScale(s, training)).message).toMatch(/batchSize 4 is not supported for rule 'norule' on the host/);
    const device = { ...getRule("eprop", "rule").training!.device!, batch: undefined, schedules: undefined };
    expect(inputError(() => checkScale(s, training, device)).message).toMatch(/on a board/);
    const sched = { ...spec(), rule: "norule", lrSchedule: parseLrSchedule({ kind: "constant", warmup: 1 }, 5) };
    expect(inputError(() => checkScale(sched, training)).field).toBe("lrSchedule");
    // EqProp's iterations are mini-batches of its own: its batchSize is the rule's, not batch.ts's
    const eq = getRule("eqprop", "rule").training!;
    expect(inputError(() => checkScale(s, eq)).message).toMatch(/mini-batches of its own.*--task-opt batchSize/);
  });

  it("on the command line, from a folder outside the repository", async () => {
    const cfg = writeRunConfig(dir, "cli-bad", { iterations: 4, extra: { batchSize: 0 } });
    const cases: [string[], RegExp][] = [
      [["train", "--config", cfg, "--out", join(dir, "x1")], /batchSize/],
      [["train", "--task", "pattern", "--quick", "--batch-size", "0", "--out", join(dir, "x2")], /--batch-size/],
      [["train", "--task", "pattern", "--quick", "--lr-schedule", "sawtooth", "--out", join(dir, "x3")], /lrSchedule\.kind/],
      [["train", "--task", "pattern", "--quick", "--lr-schedule", "cosine,warmup=-3", "--out", join(dir, "x4")], /lrSchedule\.warmup/],
      [["train", "--config", writeRunConfig(dir, "cli-ok", { iterations: 4 }), "--batch-size", "2", "--out", join(dir, "x5")], /--batch-size.*run config/],
    ];
    for (const [args, re] of cases) {
      const r = await runIn(dir, args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(re);
    }
  }, 240_000);
});
