// Training on the simulated board (a separate process on a real pty): the same weights as the
// float64 reference within float32 tolerance, bit-identical weights over a faulty link (whose
// faults and retransmissions the run records), after the board is killed and restarted mid-run,
// and after the host is killed and resumed. The CLI runs from the test's own folder with
// relative paths, as a user's would.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { randomCase } from "../host/case/random.ts";
import type { Params } from "../host/model/types.ts";
import { trainOnSim as trainOnSimBoard } from "./helpers/sim-train.ts";
import { newOptimizerState } from "../host/train/optimizer.ts";
import { readRunSpec } from "../host/train/run-config.ts";
import { runIn, startEdgeprop } from "./helpers/cli.ts";
import { freshState } from "./helpers/state.ts";
import { flat, GRAD_KEYS, maxRelErr } from "./helpers/compare.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeprop-train-sim-"));

/** Writes `<dir>/<name>.json`; returns its name relative to `dir` (where the CLI runs). */
function runConfig(name: string, iterations: number, optimizer: object): string {
  const c = randomCase({ neuron: "alif", seed: 8, T: 80, nIn: 6, nRec: 12, nOut: 2, recurrent: true });
  const c2 = randomCase({ neuron: "alif", seed: 9, T: 80, nIn: 6, nRec: 12, nOut: 2, recurrent: true });
  const { format: _f, inputs: _i, targets: _t, mask: _m, ...body } = c;
  const trials = [c, c2].map(({ inputs, targets, mask }) => ({ inputs, targets, mask }));
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...body, rule: "eprop", optimizer, iterations, trials }));
  return `${name}.json`;
}

const params = (d: string): Params => JSON.parse(readFileSync(join(d, "params.json"), "utf8"));

/** `edgeprop train --config CFG --out OUT --json` in the test folder; the JSON lines and stderr. */
async function train(cfg: string, out: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const r = await runIn(dir, ["train", "--config", cfg, "--out", out, "--json", ...extra], { env });
  expect(r.code, r.stderr).toBe(0);
  const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { iteration: number; loss: number });
  return Object.assign(rows, { stderr: r.stderr });
}

const summary = (d: string) => JSON.parse(readFileSync(join(dir, d, "summary.json"), "utf8"));

describe("edgeprop train --board sim", () => {
  const adam = runConfig("adam", 16, { kind: "adam", lr: 0.01 });

  it("ends with the float64 reference's weights within float32 tolerance", async () => {
    const sim = await train(adam, "sim", ["--board", "sim"]);
    const host = await train(adam, "host", ["--board", "host"]);
    sim.forEach((row, i) => expect(Math.abs(row.loss - host[i]!.loss)).toBeLessThanOrEqual(1e-4 * Math.abs(host[i]!.loss)));
    for (const k of GRAD_KEYS) {
      expect(maxRelErr(flat(params(join(dir, "sim")), k), flat(params(join(dir, "host")), k)), k).toBeLessThan(1e-4);
    }
  });

  it("over a link with a 1e-3 byte error rate ends with the clean run's weights, bit for bit, and records the faults", async () => {
    const faulty = await train(adam, "faulty", ["--board", "sim", "--fault-rate", "1e-3"]);
    expect(params(join(dir, "faulty"))).toEqual(params(join(dir, "sim")));
    // The faults happened, and the protocol repaired them: the run's link statistics say so.
    const link = summary("faulty").link;
    expect(link.injectedFaults).toBeGreaterThan(0);
    expect(link.crcFailures).toBeGreaterThan(0);
    expect(link.retransmits).toBeGreaterThan(0);
    expect(link.framesSent).toBeGreaterThan(link.retransmits);
    expect(summary("sim").link).toMatchObject({ injectedFaults: 0 });
    expect(summary("sim").link.framesSent).toBeGreaterThan(0);
    // ... and `train` prints them at the end.
    expect(faulty.stderr).toMatch(new RegExp(`link: ${link.framesSent} frames sent, ${link.retransmits} retransmitted, ${link.crcFailures} CRC failures, ${link.injectedFaults} injected byte faults`));
  });

  it("a host killed mid-run resumes to the uninterrupted run's weights", async () => {
    // Its own state folder, so the board's processes can be told apart by their arguments.
    const state = await freshState("edgeprop-killed-state-");
    const run = startEdgeprop(dir, ["train", "--config", adam, "--out", "killed", "--json", "--board", "sim", "--checkpoint-every", "3"], { env: { XDG_CACHE_HOME: state } });
    await run.line(/"iteration":7\b/, "stdout");
    run.child.kill("SIGKILL");
    await run.exited;
    // The killed host's board and pty pair die with it (nothing left busy-polling a core).
    const leftovers = () => execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(state));
    for (let i = 0; i < 100 && leftovers().length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(leftovers()).toEqual([]);
    const cp = JSON.parse(readFileSync(join(dir, "killed", "checkpoint.json"), "utf8"));
    expect(cp.iteration).toBeGreaterThanOrEqual(3);
    expect(cp.iteration).toBeLessThan(16);
    const resumed = await train(adam, "killed", ["--board", "sim", "--checkpoint-every", "3", "--resume"]);
    expect(resumed.stderr).toMatch(new RegExp(`resuming killed from its checkpoint at iteration ${cp.iteration}: iterations ${cp.iteration + 1} to 16`));
    expect(params(join(dir, "killed"))).toEqual(params(join(dir, "sim")));
  });
});

/** Trains `spec` on a fresh simulated board; optionally kills and restarts the board process after iteration `killAfter`. */
async function trainOnSim(spec: ReturnType<typeof readRunSpec>, killAfter?: number): Promise<{ params: Params; recoveries: number }> {
  const initial = { params: structuredClone(spec.base.params), B: spec.base.feedback.B, optimizer: newOptimizerState() };
  const r = await trainOnSimBoard(spec, initial, { dir, killAfter, checkpointEvery: 4 });
  return { params: r.state.params, recoveries: r.recoveries };
}

describe("a board killed and restarted mid-training", () => {
  it("gets the last checkpoint back and the lost iterations are replayed: same weights", async () => {
    const spec = readRunSpec(join(dir, runConfig("gd", 12, { kind: "adam", lr: 0.005 })));
    const clean = await trainOnSim(spec);
    const crashed = await trainOnSim(spec, 6); // last checkpoint at iteration 4
    expect(crashed.recoveries).toBe(1);
    expect(clean.recoveries).toBe(0);
    expect(crashed.params).toEqual(clean.params);
  });
});
