// `edgeprop train`: MODEL.md's training loop on a target (`host` reference or a board), with
// a run directory (run.json, metrics.jsonl, checkpoint.json, trajectory.json, params.json,
// summary.json), a progress bar or JSON lines, and exact resumption with --resume.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FeedbackKind, Rule } from "../../model/types.ts";
import { RUN_FILES, RunWriter, type MetricRow } from "../../report/rundir.ts";
import { CHECKPOINT_FILE, readCheckpoint, runHash, writeCheckpoint } from "../../train/checkpoint.ts";
import { runLoop } from "../../train/loop.ts";
import { newOptimizerState, parseOptimizer } from "../../train/optimizer.ts";
import { Progress } from "../../train/progress.ts";
import { setupFromConfig, setupFromTask, type RunSetup } from "../../train/setup.ts";
import { openTarget } from "../../train/targets.ts";
import type { TrainState } from "../../train/target.ts";
import { flagChoice, flagInt, flagNumber, flagString, parseArgs, type ParsedArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../errors.ts";

function taskOptions(args: ParsedArgs): Record<string, number | string | boolean> {
  const raw = flagString(args, "task-opt");
  if (raw === undefined) return {};
  const out: Record<string, number | string | boolean> = {};
  for (const pair of raw.split(",")) {
    const [k, v] = pair.split("=");
    if (!k || v === undefined) throw new InputError("--task-opt", `expected key=value[,key=value], got '${pair}'`);
    out[k] = v === "true" ? true : v === "false" ? false : Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return out;
}

function setup(args: ParsedArgs): RunSetup {
  const config = flagString(args, "config");
  const task = flagString(args, "task");
  if ((config === undefined) === (task === undefined)) throw new InputError("--config/--task", "give exactly one of --config run.json or --task NAME");
  if (config !== undefined) return setupFromConfig(config);
  const optimizer = parseOptimizer({ kind: flagChoice(args, "optimizer", ["gd", "adam"] as const, "adam"), lr: flagNumber(args, "lr", 5e-3, 1e-12) });
  return setupFromTask({
    task: task!,
    quick: args.flags.has("quick"),
    seed: flagInt(args, "seed", 1, 0, 2 ** 32 - 1),
    taskOptions: taskOptions(args),
    rule: flagChoice<Rule>(args, "rule", ["eprop", "bptt"], "eprop"),
    feedback: flagChoice<FeedbackKind>(args, "feedback", ["symmetric", "random"], "symmetric"),
    optimizer,
    iterations: flagInt(args, "iterations", 200, 1, 100_000_000),
    testTrials: flagInt(args, "test-trials", 50, 0, 100_000),
  });
}

/** Held-out trials scored at each checkpoint (the final score uses --test-trials). */
const PERIODIC_TEST_TRIALS = 10;

export const trainCommand: Command = {
  name: "train",
  summary: "train a network (MODEL.md training loop) on the host reference or a board",
  usage:
    "edgeprop train (--config run.json | --task pattern|evidence|store-recall|fashion-mnist [--seed N] [--iterations N] " +
    "[--quick] [--rule eprop|bptt] [--feedback symmetric|random] [--optimizer adam|gd] [--lr X] [--task-opt k=v,...]) " +
    "[--board host|sim|BOARD] [--port PATH] [--fault-rate X] [--out DIR] [--checkpoint-every N] [--resume] [--json]",
  async run(argv) {
    const args = parseArgs(
      argv,
      ["config", "task", "seed", "iterations", "rule", "feedback", "optimizer", "lr", "task-opt", "test-trials", "board", "port", "fault-rate", "out", "checkpoint-every"],
      ["resume", "json", "quick"],
    );
    const s = setup(args);
    const { spec } = s;
    const board = flagString(args, "board") ?? "host";
    const dir = flagString(args, "out") ?? join("runs", spec.name);
    const json = args.flags.has("json");
    const checkpointEvery = flagInt(args, "checkpoint-every", 10, 1, 100_000_000);
    const hash = runHash({ definition: s.definition, board });
    const writer = new RunWriter(dir);

    let state: TrainState = { params: structuredClone(spec.base.params), B: structuredClone(spec.base.feedback.B), optimizer: newOptimizerState() };
    let start = 1;
    let elapsedBefore = 0; // wall time of the iterations before a resume
    if (args.flags.has("resume")) {
      const cp = readCheckpoint(dir, spec.base.model);
      if (cp.runHash !== hash) throw new InputError("--resume", `the checkpoint in ${dir} belongs to a different run (config, task or board changed)`);
      state = cp.state;
      start = cp.iteration + 1;
      elapsedBefore = truncateMetrics(join(dir, RUN_FILES.metrics), cp.iteration);
    } else {
      if (existsSync(join(dir, CHECKPOINT_FILE))) throw new InputError("--out", `${dir} already holds a run; use --resume to continue it or another --out`);
      writeFileSync(join(dir, RUN_FILES.metrics), "");
      writer.writeRun({ ...s.info, board, started: new Date().toISOString() });
    }

    const target = await openTarget(board, spec, state, {
      port: flagString(args, "port"),
      faultRate: args.flags.has("fault-rate") ? flagNumber(args, "fault-rate", 0, 0, 0.5) : undefined,
      runDir: dir,
    });
    const progress = new Progress(spec.iterations, start, json);
    const t0 = performance.now();
    let lastLoss = NaN;
    try {
      await runLoop(spec, target, {
        start,
        checkpointEvery,
        record: () => false,
        onIteration(n, outcome, st) {
          const row: MetricRow = { iteration: n, loss: outcome.loss, elapsedMs: elapsedBefore + Math.round(performance.now() - t0) };
          // At checkpoints a task also scores a few held-out trials, so the report can plot it.
          if (st && s.evaluate && n < spec.iterations) row.test = s.evaluate(st.params, PERIODIC_TEST_TRIALS).value;
          lastLoss = outcome.loss;
          writer.appendMetric(row);
          progress.update({ iteration: n, loss: outcome.loss });
          if (outcome.z && outcome.y) {
            const trial = spec.trial(n);
            writer.writeTrajectory({ iteration: n, dt: spec.base.model.dt, inputs: trial.inputs, z: outcome.z, y: outcome.y, targets: trial.targets, mask: trial.mask, loss: outcome.loss, label: trial.label });
          }
          if (st) {
            writeCheckpoint(dir, { iteration: n, runHash: hash, state: st });
            state = st;
          }
        },
      });
    } finally {
      await target.close();
    }
    writeFileSync(join(dir, "params.json"), JSON.stringify(state.params));
    const metric = s.evaluate?.(state.params, s.testTrials);
    writer.writeSummary({ finalLoss: lastLoss, iterations: spec.iterations, elapsedMs: Math.round(performance.now() - t0), ...(metric ? { metric: { ...metric, split: "test" } } : {}) });
    if (!json) {
      process.stderr.write(`run written to ${dir}/ (final loss ${lastLoss.toPrecision(5)}${metric ? `, test ${metric.name} ${metric.value.toFixed(4)} (chance ${metric.chance})` : ""})\n`);
    }
    return 0;
  },
};

/**
 * On resume, iterations after the checkpoint are run again, so their rows are dropped.
 * Returns the wall time the kept iterations took, so elapsedMs continues from it.
 */
function truncateMetrics(path: string, upTo: number): number {
  if (!existsSync(path)) return 0;
  const kept = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as MetricRow)
    .filter((row) => row.iteration <= upTo);
  writeFileSync(path, kept.map((row) => JSON.stringify(row) + "\n").join(""));
  return kept.at(-1)?.elapsedMs ?? 0;
}
