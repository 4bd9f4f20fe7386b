// `edgeprop train`: a rule's training loop (MODEL.md's for e-prop and BPTT) on a target (`host`
// reference or a board), with a run directory (run.json, metrics.jsonl, checkpoint.json, trajectory.json, params.json,
// summary.json), a progress bar or JSON lines, and exact resumption with --resume.
import { join } from "node:path";
import type { FeedbackKind } from "../../model/types.ts";
import { rules } from "../../rules/index.ts";
import { parseScale } from "../../train/batch.ts";
import { parseOptimizer } from "../../train/optimizer.ts";
import { scheduleFromFlag } from "../../train/schedule.ts";
import { trainRun } from "../../train/run.ts";
import { setupFromConfig, setupFromTask } from "../../train/setup.ts";
import type { RunSetup } from "../../train/training.ts";
import { flagChoice, flagInt, flagNumber, flagString, parseArgs, type ParsedArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";

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

/** `--port` may be given once per board: collected here, everything else goes to parseArgs. */
function collectPorts(argv: string[]): { ports: string[]; rest: string[] } {
  const ports: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith("--port=")) ports.push(a.slice("--port=".length));
    else if (a === "--port") {
      const v = argv[++i];
      if (v === undefined) throw new InputError("--port", "expected a value after the flag");
      ports.push(v);
    } else rest.push(a);
  }
  return { ports, rest };
}

/** `--rule` choices: the registered rules that train. */
const TRAINING_RULES = rules.filter((r) => r.training).map((r) => r.name);

function setup(args: ParsedArgs): RunSetup {
  const config = flagString(args, "config");
  const task = flagString(args, "task");
  if ((config === undefined) === (task === undefined)) throw new InputError("--config/--task", "give exactly one of --config run.json or --task NAME");
  if (config !== undefined) {
    const flag = ["batch-size", "batch-reduction", "lr-schedule"].find((f) => args.flags.has(f));
    if (flag) throw new InputError(`--${flag}`, "with --config, set batchSize, batchReduction and lrSchedule in the run config");
    return setupFromConfig(config);
  }
  const optimizer = parseOptimizer({ kind: flagChoice(args, "optimizer", ["gd", "adam"] as const, "adam"), lr: flagNumber(args, "lr", 5e-3, 1e-12) });
  const iterations = flagInt(args, "iterations", 200, 1, 100_000_000);
  const schedule = flagString(args, "lr-schedule");
  const scale = parseScale({
    ...(args.flags.has("batch-size") ? { batchSize: flagInt(args, "batch-size", 1, 1, 1_000_000) } : {}),
    ...(args.flags.has("batch-reduction") ? { batchReduction: flagChoice(args, "batch-reduction", ["mean", "sum"] as const, "mean") } : {}),
    ...(schedule !== undefined ? { lrSchedule: scheduleFromFlag(schedule, "--lr-schedule") } : {}),
  }, iterations);
  return setupFromTask({
    ...scale,
    task: task!,
    quick: args.flags.has("quick"),
    seed: flagInt(args, "seed", 1, 0, 2 ** 32 - 1),
    taskOptions: taskOptions(args),
    rule: flagChoice(args, "rule", TRAINING_RULES, "eprop"),
    feedback: flagChoice<FeedbackKind>(args, "feedback", ["symmetric", "random"], "symmetric"),
    optimizer,
    iterations,
    testTrials: flagInt(args, "test-trials", 50, 0, 100_000),
  });
}

export const trainCommand: Command = {
  name: "train",
  summary: "train a network (MODEL.md training loop) on the host reference or a board",
  usage:
    "edgeprop train (--config run.json | --task pattern|evidence|store-recall|fashion-mnist [--seed N] [--iterations N] " +
    `[--quick] [--rule ${TRAINING_RULES.join("|")}] [--feedback symmetric|random] [--optimizer adam|gd] [--lr X] [--task-opt k=v,...]) ` +
    "[--batch-size N] [--batch-reduction mean|sum] [--lr-schedule KIND[,warmup=N,...]] " +
    "[--board host|sim|BOARD] [--port PATH]... [--replicas N] [--fault-rate X] [--out DIR] [--checkpoint-every N] [--resume] [--json]",
  async run(argv) {
    const { ports, rest } = collectPorts(argv);
    const args = parseArgs(
      rest,
      ["config", "task", "seed", "iterations", "rule", "feedback", "optimizer", "lr", "task-opt", "test-trials", "board", "fault-rate", "out", "checkpoint-every",
        "batch-size", "batch-reduction", "lr-schedule", "replicas"],
      ["resume", "json", "quick"],
    );
    const s = setup(args);
    const dir = flagString(args, "out") ?? join("runs", s.spec.name);
    const json = args.flags.has("json");
    const result = await trainRun(s, {
      board: flagString(args, "board") ?? "host",
      dir,
      json,
      checkpointEvery: flagInt(args, "checkpoint-every", 10, 1, 100_000_000),
      resume: args.flags.has("resume"),
      ports,
      replicas: flagInt(args, "replicas", 1, 1, 64),
      faultRate: args.flags.has("fault-rate") ? flagNumber(args, "fault-rate", 0, 0, 0.5) : undefined,
    });
    if (!json) {
      const m = result.metric;
      process.stderr.write(`run written to ${dir}/ (final loss ${result.finalLoss?.toPrecision(5)}${m ? `, test ${m.name} ${m.value.toFixed(4)} (chance ${m.chance})` : ""})\n`);
    }
    return 0;
  },
};
