// `edgeprop demo`: the first thing a new user runs. It builds the firmware (kernels included),
// starts the simulated board — a separate process on a real pseudo-terminal — checks that the
// board's e-prop gradients match the float64 reference on a random case, trains a small
// pattern-generation network on the board, and writes the run and its HTML report.
// Results on stdout, progress on stderr; works from any folder (--out is relative to it).
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { randomCase } from "../../case/random.ts";
import { renderReport } from "../../report/html.ts";
import { RUN_FILES, claimOutputDir, readRunDir, removeOutputDir } from "../../report/rundir.ts";
import { epropGrad } from "../../reference/eprop.ts";
import { gradOnBoard } from "../../backends/sim.ts";
import { connectBoard } from "../../link/connect-board.ts";
import { formatLinkStats } from "../../link/link-stats.ts";
import { parseOptimizer } from "../../train/optimizer.ts";
import { Interrupted, trainRun } from "../../train/run.ts";
import { setupFromTask } from "../../train/setup.ts";
import { maxRelErr } from "../../model/compare.ts";
import type { Case, Grads } from "../../model/types.ts";
import { flagInt, flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { BOARD_LINK_FLAGS, JSON_FLAG, say, timeouts } from "../flags.ts";
import { onInterrupt } from "../interrupt.ts";

const LR = 0.01;

function maxRelDiff(a: Grads, b: Grads): number {
  return Math.max(maxRelErr(a.wIn.flat(), b.wIn.flat()), maxRelErr(a.wRec.flat(), b.wRec.flat()), maxRelErr(a.wOut.flat(), b.wOut.flat()), maxRelErr(a.bOut, b.bOut));
}

export const demoCommand = defineCommand({
  name: "demo",
  summary: "check the simulated board's gradients, train a small network on it, write the results to ./edgeprop-demo",
  usage: "[--out DIR] [--iterations N] [--json]",
  description:
    "1. starts the simulated board (the firmware .wasm in its own process, UART on a socat pty pair)\n" +
    "   and compares its e-prop gradients with the float64 reference on a random ALIF case;\n" +
    "2. trains pattern generation (50 inputs, 50 LIF neurons, 500 ms: the task's --quick set) on it;\n" +
    "3. writes case.json, result.json, run/ and run/report.html to --out.",
  flags: {
    out: { type: "string", value: "DIR", default: "edgeprop-demo", description: "output folder (relative to the current folder; new, empty or an earlier demo)" },
    iterations: { type: "string", value: "N", default: "60", description: "training iterations" },
    timeout: BOARD_LINK_FLAGS.timeout!,
    json: JSON_FLAG,
  },
  examples: ["edgeprop demo", "edgeprop demo --out /tmp/demo --iterations 20 --json"],
  async main(args) {
    const out = flagString(args, "out") ?? "edgeprop-demo";
    const iterations = flagInt(args, "iterations", 60, 1, 100_000);
    const json = args.flags.has("json");
    const wait = timeouts(args);
    claimOutputDir(out, "demo", "--out");
    const runDir = join(out, "run");
    removeOutputDir(runDir, "run", "--out");

    say("edgeprop demo: building the firmware and starting the simulated board...");
    const c = randomCase({ neuron: "alif", recurrent: true, loss: "mse", seed: 7, T: 200 });
    writeFileSync(join(out, "case.json"), JSON.stringify(c));
    const conn = await connectBoard({ board: "sim", timeouts: wait, say });
    const port = conn.port;
    const board = await gradOnBoard(c, conn);
    const gradCheck = { case: c.name, maxRelDiff: maxRelDiff(board.grads, epropGrad(c).grads), loss: board.loss };
    const line1 = `1. e-prop gradients on the simulated board (${port}) vs the float64 reference, ${c.name}: max relative difference ${gradCheck.maxRelDiff.toExponential(2)}`;
    if (!json) process.stdout.write(line1 + "\n");

    const setup = setupFromTask({
      task: "pattern", quick: true, seed: 1, taskOptions: {}, rule: "eprop", feedback: "symmetric",
      optimizer: parseOptimizer({ kind: "adam", lr: LR }), iterations, testTrials: 1,
    });
    const base = setup.spec.base as Case; // e-prop's case
    say(`2. training pattern generation (${base.model.nIn} inputs, ${base.model.nRec} LIF neurons, ${base.inputs.length} ms) on the simulated board for ${iterations} iterations:`);
    const interrupt = onInterrupt(say, "the current iteration");
    let result;
    try {
      result = await trainRun(setup, { board: "sim", dir: runDir, json: false, checkpointEvery: 10, resume: false, timeouts: wait, say, signal: interrupt.signal });
    } catch (err) {
      if (!(err instanceof Interrupted)) throw err;
      say(`stopped after iteration ${err.iteration} of ${iterations}${err.checkpoint !== undefined ? ` (checkpoint: iteration ${err.checkpoint})` : ""}; resume the training with:`);
      say(`  edgeprop train --task pattern --quick --lr ${LR} --iterations ${iterations} --test-trials 1 --board sim --out ${runDir} --resume`);
      return 130;
    } finally {
      interrupt.dispose();
    }
    const report = join(runDir, RUN_FILES.report);
    const run = readRunDir(runDir);
    writeFileSync(report, renderReport(run));
    const first = run.metrics[0]!.loss;
    const summary = {
      gradCheck,
      training: { task: "pattern", board: "sim", iterations, firstLoss: first, finalLoss: result.finalLoss, test: result.metric, link: result.link },
      runDir,
      report,
    };
    writeFileSync(join(out, "result.json"), JSON.stringify(summary, null, 2) + "\n");
    if (json) process.stdout.write(JSON.stringify(summary) + "\n");
    else {
      const m = result.metric;
      process.stdout.write(
        [
          `2. pattern generation on the simulated board: loss ${first.toPrecision(4)} -> ${result.finalLoss?.toPrecision(4)}` +
            `${m ? `; ${m.name} ${m.value.toFixed(3)} on ${m.nTrials} trial(s) (chance ${m.chance})` : ""}`,
          ...(result.link ? [`   ${formatLinkStats(result.link)}`] : []),
          `results written to ${out}/ (result.json, run/, report: ${report})`,
        ].join("\n") + "\n",
      );
    }
    return 0;
  },
});
