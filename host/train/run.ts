// One training run into a run directory, for any rule: what `edgeprop train` and `edgeprop demo`
// execute. Writes run.json, metrics.jsonl, checkpoint.json (atomically, every `checkpointEvery`),
// trajectory.json (the last trial), params.json and summary.json; resumes exactly. What is the
// rule's — its state, tensors, targets and trajectory — comes from its training (training.ts).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../input/errors.ts";
import { RUN_FILES, RunWriter, type MetricRow, type RunSummary } from "../report/rundir.ts";
import { trainingOf } from "../rules/index.ts";
import { CHECKPOINT_FILE, readCheckpoint, runHash, writeCheckpoint } from "./checkpoint.ts";
import { runLoop } from "./loop.ts";
import { Progress } from "./progress.ts";
import type { TrainState } from "./target.ts";
import { openTarget } from "./targets.ts";
import type { RunSetup } from "./training.ts";

export interface RunOptions {
  board: string;
  dir: string;
  json: boolean;
  checkpointEvery: number;
  resume: boolean;
  port?: string;
  faultRate?: number;
}

/** Held-out trials scored at each checkpoint (the final score uses the setup's testTrials). */
const PERIODIC_TEST_TRIALS = 10;

export async function trainRun(s: RunSetup, o: RunOptions): Promise<RunSummary & { params: TrainState["params"] }> {
  const { spec } = s;
  const { dir } = o;
  const training = trainingOf(spec.rule, "rule");
  const hash = runHash({ definition: s.definition, board: o.board });
  const writer = new RunWriter(dir);

  let state: TrainState = training.initialState(spec);
  let start = 1;
  let elapsedBefore = 0; // wall time of the iterations before a resume
  if (o.resume) {
    const cp = readCheckpoint(dir, training.tensors(spec.base));
    if (cp.runHash !== hash) throw new InputError("--resume", `the checkpoint in ${dir} belongs to a different run (config, task or board changed)`);
    state = cp.state;
    start = cp.iteration + 1;
    elapsedBefore = truncateMetrics(join(dir, RUN_FILES.metrics), cp.iteration);
  } else {
    if (existsSync(join(dir, CHECKPOINT_FILE))) throw new InputError("--out", `${dir} already holds a run; use --resume to continue it or another --out`);
    writeFileSync(join(dir, RUN_FILES.metrics), "");
    writer.writeRun({ ...s.info, board: o.board, started: new Date().toISOString() });
  }

  const target = await openTarget(o.board, spec, state, { port: o.port, faultRate: o.faultRate, runDir: dir, iteration: start - 1 });
  const progress = new Progress(spec.iterations, start, o.json);
  const t0 = performance.now();
  let lastLoss = NaN;
  try {
    await runLoop(spec, target, {
      start,
      checkpointEvery: o.checkpointEvery,
      record: () => false,
      onIteration(n, outcome, st) {
        const row: MetricRow = { ...outcome.metrics, iteration: n, loss: outcome.loss, elapsedMs: elapsedBefore + Math.round(performance.now() - t0) };
        // At checkpoints a task also scores a few held-out trials, so the report can plot it.
        if (st && s.evaluate && n < spec.iterations) row.test = s.evaluate(st.params, PERIODIC_TEST_TRIALS).value;
        lastLoss = outcome.loss;
        writer.appendMetric(row);
        progress.update({ iteration: n, loss: outcome.loss });
        const sample = training.sample?.(spec, n, outcome);
        if (sample) writer.writeTrajectory(sample);
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
  const summary: RunSummary = {
    finalLoss: lastLoss,
    iterations: spec.iterations,
    elapsedMs: elapsedBefore + Math.round(performance.now() - t0),
    ...(metric ? { metric: { ...metric, split: "test" } } : {}),
  };
  writer.writeSummary(summary);
  return { ...summary, params: state.params };
}

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
