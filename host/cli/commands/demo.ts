// `edgeprop demo`: the first thing a new user runs. It builds the firmware (kernels included),
// starts the simulated board — a separate process on a real pseudo-terminal — checks that the
// board's e-prop gradients match the float64 reference on a random case, trains a small
// pattern-generation network on the board, and writes the run and its HTML report.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomCase } from "../../case/random.ts";
import { renderReport } from "../../report/html.ts";
import { RUN_FILES, readRunDir } from "../../report/rundir.ts";
import { epropGrad } from "../../reference/eprop.ts";
import { gradOverSerial } from "../../backends/sim.ts";
import { startSim } from "../../sim/sim.ts";
import { parseOptimizer } from "../../train/optimizer.ts";
import { trainRun } from "../../train/run.ts";
import { setupFromTask } from "../../train/setup.ts";
import { maxRelErr } from "../../model/compare.ts";
import type { Grads } from "../../model/types.ts";
import { flagInt, flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";

const PATTERN = { steps: 500, nIn: 50, nRec: 50 } as const;

function maxRelDiff(a: Grads, b: Grads): number {
  return Math.max(maxRelErr(a.wIn.flat(), b.wIn.flat()), maxRelErr(a.wRec.flat(), b.wRec.flat()), maxRelErr(a.wOut.flat(), b.wOut.flat()), maxRelErr(a.bOut, b.bOut));
}

export const demoCommand: Command = {
  name: "demo",
  summary: "train a small network on the simulated board and write its results to ./edgeprop-demo",
  usage: "edgeprop demo [--out DIR] [--iterations N] [--json]",
  async run(argv) {
    const args = parseArgs(argv, ["out", "iterations"], ["json"]);
    const out = flagString(args, "out") ?? "edgeprop-demo";
    const json = args.flags.has("json");
    const say = (line: string) => {
      if (!json) process.stderr.write(line + "\n");
    };
    mkdirSync(out, { recursive: true });

    say("edgeprop demo: building the firmware and starting the simulated board...");
    const sim = await startSim({ dir: join(out, "sim") });
    let gradCheck: { case: string; maxRelDiff: number; loss: number };
    try {
      const c = randomCase({ neuron: "alif", recurrent: true, loss: "mse", seed: 7, T: 200 });
      writeFileSync(join(out, "case.json"), JSON.stringify(c));
      const board = await gradOverSerial(c, sim.port);
      const reference = epropGrad(c);
      gradCheck = { case: c.name, maxRelDiff: maxRelDiff(board.grads, reference.grads), loss: board.loss };
      say(`1. e-prop gradients on the board (${sim.port}) vs the float64 reference, ${c.name}: max relative difference ${gradCheck.maxRelDiff.toExponential(2)}`);
    } finally {
      await sim.stop();
    }

    const iterations = flagInt(args, "iterations", 60, 1, 100_000);
    const setup = setupFromTask({
      task: "pattern", quick: false, seed: 1, taskOptions: PATTERN, rule: "eprop", feedback: "symmetric",
      optimizer: parseOptimizer({ kind: "adam", lr: 0.01 }), iterations, testTrials: 1,
    });
    const runDir = join(out, "run");
    rmSync(runDir, { recursive: true, force: true });
    say(`2. training pattern generation (${PATTERN.nIn} inputs, ${PATTERN.nRec} LIF neurons, ${PATTERN.steps} ms) on the simulated board for ${iterations} iterations:`);
    const result = await trainRun(setup, { board: "sim", dir: runDir, json: false, checkpointEvery: 10, resume: false });
    const report = join(runDir, RUN_FILES.report);
    writeFileSync(report, renderReport(readRunDir(runDir)));

    const first = readRunDir(runDir).metrics[0]!.loss;
    const summary = {
      gradCheck,
      training: { task: "pattern", board: "sim", iterations, firstLoss: first, finalLoss: result.finalLoss, test: result.metric },
      runDir,
      report,
    };
    writeFileSync(join(out, "result.json"), JSON.stringify(summary, null, 2) + "\n");
    if (json) process.stdout.write(JSON.stringify(summary) + "\n");
    else {
      const m = result.metric;
      say(`   loss ${first.toPrecision(4)} -> ${result.finalLoss?.toPrecision(4)}${m ? `; ${m.name} ${m.value.toFixed(3)} (chance ${m.chance})` : ""}`);
      say(`results written to ${out}/ (result.json, run/, report: ${report})`);
    }
    return 0;
  },
};
