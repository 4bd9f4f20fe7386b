// `edgeprop train`: a rule's training loop (MODEL.md's for e-prop and BPTT) on a target (`host`
// reference or a board), with a run directory (run.json, metrics.jsonl, checkpoint.json,
// trajectory.json, params.json, summary.json), a progress bar or JSON lines, and exact
// resumption with --resume.
import { join } from "node:path";
import type { FeedbackKind } from "../../model/types.ts";
import { formatLinkStats } from "../../link/link-stats.ts";
import { checkRunName } from "../../report/rundir.ts";
import { parseOptimizer } from "../../train/optimizer.ts";
import { Interrupted, trainRun } from "../../train/run.ts";
import { rules } from "../../rules/index.ts";
import { setupFromConfig, setupFromTask } from "../../train/setup.ts";
import type { RunSetup } from "../../train/training.ts";
import { tasks } from "../../tasks/index.ts";
import { flagChoice, flagInt, flagNumber, flagString, type ParsedArgs } from "../args.ts";
import { defineCommand } from "../command.ts";
import { BOARD_LINK_FLAGS, FAULT_FLAGS, faultRate, say, timeouts } from "../flags.ts";
import { onInterrupt } from "../interrupt.ts";
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

/** `--rule` choices: the registered rules that train. */
const TRAINING_RULES = rules.filter((r) => r.training).map((r) => r.name);

/** Flags that shape a task run; a --config file says these itself. */
const TASK_ONLY = ["seed", "quick", "task-opt", "test-trials", "rule", "feedback"] as const;

function setup(args: ParsedArgs): RunSetup {
  const config = flagString(args, "config");
  const task = flagString(args, "task");
  if ((config === undefined) === (task === undefined)) throw new InputError("--config/--task", "give exactly one of --config run.json or --task NAME");
  if (config !== undefined) {
    const ignored = TASK_ONLY.find((f) => args.flags.has(f));
    if (ignored) throw new InputError(`--${ignored}`, "only with --task (a --config file sets this itself)");
    const s = setupFromConfig(config);
    // --optimizer, --lr and --iterations override the file, and the override is part of the run.
    const overrides: Record<string, unknown> = {};
    if (args.flags.has("optimizer")) overrides.kind = flagChoice(args, "optimizer", ["gd", "adam"] as const, "adam");
    if (args.flags.has("lr")) overrides.lr = flagNumber(args, "lr", 0, 1e-12, 1e6);
    if (args.flags.has("iterations")) s.spec.iterations = flagInt(args, "iterations", 0, 1, 100_000_000);
    if (Object.keys(overrides).length || args.flags.has("iterations")) {
      s.spec.optimizer = { ...s.spec.optimizer, ...overrides };
      s.info = { ...s.info, optimizer: s.spec.optimizer, iterations: s.spec.iterations };
      s.definition = { config: s.definition, optimizer: s.spec.optimizer, iterations: s.spec.iterations };
      say(`${config}: optimizer ${s.spec.optimizer.kind}, lr ${s.spec.optimizer.lr}, ${s.spec.iterations} iterations (overridden on the command line)`);
    }
    return s;
  }
  const optimizer = parseOptimizer({ kind: flagChoice(args, "optimizer", ["gd", "adam"] as const, "adam"), lr: flagNumber(args, "lr", 5e-3, 1e-12, 1e6) });
  return setupFromTask({
    task: task!,
    quick: args.flags.has("quick"),
    seed: flagInt(args, "seed", 1, 0, 2 ** 32 - 1),
    taskOptions: taskOptions(args),
    rule: flagChoice(args, "rule", TRAINING_RULES, "eprop"),
    feedback: flagChoice<FeedbackKind>(args, "feedback", ["symmetric", "random"], "symmetric"),
    optimizer,
    iterations: flagInt(args, "iterations", 200, 1, 100_000_000),
    testTrials: flagInt(args, "test-trials", 50, 0, 100_000),
    explicit: [...args.flags.keys()],
  });
}

/** The command that continues this run: what the user typed, with --resume. */
function resumeCommand(argv: readonly string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return ["edgeprop", "train", ...argv.filter((a) => a !== "--resume"), "--resume"].map(quote).join(" ");
}

export const trainCommand = defineCommand({
  name: "train",
  summary: "train a network (a rule's training loop) on the host reference or a board",
  usage: "(--config FILE | --task NAME) [--board host|sim|BOARD] [--port PATH] [--out DIR] [options]",
  description:
    "Runs the rule's training loop (MODEL.md's for e-prop and BPTT) and writes a run folder (run.json,\n" +
    "metrics.jsonl, checkpoint.json, params.json, trajectory.json, summary.json). On a board the device\n" +
    "computes the rule and applies the optimizer itself; the link statistics are printed at the end and kept in summary.json. Ctrl-C stops\n" +
    "after the current iteration and prints the command that resumes; --resume continues exactly.\n" +
    "With --config, --optimizer/--lr/--iterations override the file; task flags are refused.\n" +
    `Tasks: ${tasks.map((t) => t.name).join(", ")} (--quick: each task's short option set).`,
  flags: {
    config: { type: "string", value: "FILE", description: "a run config: rule, optimizer, iterations and the rule's case (host/rules/README.md)" },
    task: { type: "string", value: "NAME", description: `a built-in task: ${tasks.map((t) => t.name).join("|")} (digits: with --rule eqprop)` },
    seed: { type: "string", value: "N", default: "1", description: "task seed (weights, trials)" },
    iterations: { type: "string", value: "N", default: "200 (tasks) / the config's", description: "training iterations, one trial each" },
    quick: { type: "boolean", description: "the task's short option set (smaller T and network)" },
    rule: { type: "string", value: TRAINING_RULES.join("|"), default: "eprop", description: "learning rule (on a board: one its firmware carries)" },
    feedback: { type: "string", value: "symmetric|random", default: "symmetric", description: "e-prop feedback weights" },
    optimizer: { type: "string", value: "adam|gd", default: "adam", description: "optimizer" },
    lr: { type: "string", value: "X", default: "0.005 (tasks) / the config's", description: "learning rate" },
    "task-opt": { type: "string", value: "K=V,...", description: "task options (host/tasks/README.md), e.g. nRec=50,delaySteps=200" },
    "test-trials": { type: "string", value: "N", default: "50", description: "held-out trials of the final score" },
    board: { type: "string", value: "host|sim|BOARD", default: "host, or the board on --port", description: "where to train: the float64 reference, the simulated board, a QEMU board (started here) or a board on --port" },
    ...BOARD_LINK_FLAGS,
    ...FAULT_FLAGS,
    out: { type: "string", value: "DIR", default: "runs/<run name>", description: "run folder (relative to the current folder; new, empty or an earlier run)" },
    "checkpoint-every": { type: "string", value: "N", default: "10 (or the task's cadence)", description: "iterations between checkpoints" },
    resume: { type: "boolean", description: "continue the run in --out from its checkpoint" },
    json: { type: "boolean", description: "one JSON line per iteration on stdout ({iteration, loss})" },
  },
  examples: [
    "edgeprop train --task evidence --quick --board sim --out runs/evidence",
    "edgeprop train --config run.json --board qemu-mps2-an386 --timeout 60",
    "edgeprop train --task pattern --port /dev/ttyACM0 --json | jq .loss",
    "edgeprop train --task pattern --out runs/pattern --resume",
  ],
  async main(args) {
    const s = setup(args);
    const out = flagString(args, "out");
    const dir = out ?? join("runs", checkRunName(s.spec.name, s.info.config ? `${s.info.config}: name` : "--task"));
    const json = args.flags.has("json");
    const port = flagString(args, "port");
    const board = flagString(args, "board") ?? (port === undefined ? "host" : undefined);
    const interrupt = onInterrupt(say, "the current iteration");
    let result;
    try {
      result = await trainRun(s, {
        board,
        dir,
        json,
        checkpointEvery: flagInt(args, "checkpoint-every", s.checkpointEvery ?? 10, 1, 100_000_000),
        resume: args.flags.has("resume"),
        port,
        faultRate: faultRate(args),
        timeouts: timeouts(args),
        say,
        signal: interrupt.signal,
      });
    } catch (err) {
      if (!(err instanceof Interrupted)) throw err;
      say(`stopped after iteration ${err.iteration} of ${s.spec.iterations}; ` +
        (err.checkpoint !== undefined ? `the checkpoint in ${dir} holds iteration ${err.checkpoint}.` : "no checkpoint was taken yet."));
      say(`resume with: ${resumeCommand(out === undefined ? [...args.argv, "--out", dir] : args.argv)}`);
      return 130;
    } finally {
      interrupt.dispose();
    }
    if (!json) {
      const m = result.metric;
      const lines = [
        `run written to ${dir}/ (board ${result.board}; final loss ${result.finalLoss?.toPrecision(5)}` +
          `${m ? `; test ${m.name} ${m.value.toFixed(4)} on ${m.nTrials} held-out trials (chance ${m.chance})` : ""})`,
        ...(result.link ? [formatLinkStats(result.link)] : []),
      ];
      process.stdout.write(lines.join("\n") + "\n");
    } else if (result.link) {
      say(formatLinkStats(result.link));
    }
    return 0;
  },
});
