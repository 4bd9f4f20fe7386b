// One training run into a run directory, for any rule: what `edgeprop train` and `edgeprop demo`
// execute. Writes run.json, metrics.jsonl, checkpoint.json (atomically, every `checkpointEvery`),
// trajectory.json (the last trial), params.json and summary.json (with the link statistics on a
// board); resumes exactly. What is the rule's — its state, tensors, targets and trajectory —
// comes from its training (training.ts). The folder must be new, empty or an edgeprop run; a
// checkpoint is validated before it is trusted; nothing is written before the input has been
// checked and the target is open.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../input/errors.ts";
import type { BoardTimeouts } from "../link/connect-board.ts";
import type { LinkStats } from "../link/link-stats.ts";
import { RUN_FILES, RunWriter, checkOutputDir, isOutputDir, type MetricRow, type RunSummary } from "../report/rundir.ts";
import { trainingOf } from "../rules/index.ts";
import { batchTrials } from "./batch.ts";
import { CHECKPOINT_FILE, readCheckpoint, runHash, writeCheckpoint } from "./checkpoint.ts";
import { checkCheckpoint } from "./checkpoint-check.ts";
import { DivergedError, runLoop } from "./loop.ts";
import { Progress } from "./progress.ts";
import type { TrainState, TrainTarget } from "./target.ts";
import { openTarget } from "./targets.ts";
import type { RunSetup } from "./training.ts";

export interface RunOptions {
  /** `host`, a board id, or undefined with `port`: whatever board answers there. */
  board: string | undefined;
  dir: string;
  json: boolean;
  checkpointEvery: number;
  resume: boolean;
  port?: string;
  /** Several running boards, one run (replicas.ts). */
  ports?: string[];
  /** Boards of kind `board` to start for one run (replicas.ts). */
  replicas?: number;
  faultRate?: number;
  timeouts: BoardTimeouts;
  /** Progress lines (stderr): where a resume restarts, what is started and waited for. */
  say: (line: string) => void;
  /** Aborted (Ctrl-C): the run stops after the current iteration with an Interrupted error. */
  signal?: AbortSignal;
}

export interface RunResult extends RunSummary {
  params: TrainState["params"];
  /** The board that trained (`host`, or the id of the board). */
  board: string;
  /** First iteration this invocation ran (1, or the checkpoint's iteration + 1). */
  start: number;
  link?: LinkStats;
}

/** The run stopped on request after `iteration`; the checkpoint holds `checkpoint` (if any). */
export class Interrupted extends Error {
  constructor(
    readonly iteration: number,
    readonly checkpoint: number | undefined,
  ) {
    super(`interrupted after iteration ${iteration}`);
    this.name = "Interrupted";
  }
}

/** Held-out trials scored at each checkpoint (the final score uses the setup's testTrials). */
const PERIODIC_TEST_TRIALS = 10;

/** Every number in a (nested) parameter record is finite. */
function allFinite(x: unknown): boolean {
  if (typeof x === "number") return Number.isFinite(x);
  if (Array.isArray(x)) return x.every(allFinite);
  if (typeof x === "object" && x !== null) return Object.values(x).every(allFinite);
  return true;
}

export async function trainRun(s: RunSetup, o: RunOptions): Promise<RunResult> {
  const { spec } = s;
  const { dir } = o;
  const training = trainingOf(spec.rule, "rule");
  const hash = runHash({ definition: s.definition, board: o.board ?? "port" });
  const cpPath = join(dir, CHECKPOINT_FILE);
  const summaryPath = join(dir, RUN_FILES.summary);

  let state: TrainState = training.initialState(spec);
  let start = 1;
  let elapsedBefore = 0; // wall time of the iterations before a resume
  let lastLoss = NaN;
  let lastCheckpoint: number | undefined;
  if (o.resume) {
    if (!isOutputDir(dir, "run")) throw new InputError("--resume", `${dir} is not an edgeprop run folder: nothing to resume`);
    const tensors = training.tensors(spec.base);
    const cp = readCheckpoint(dir, tensors);
    if (cp.runHash !== hash) throw new InputError("--resume", `the checkpoint in ${dir} belongs to a different run (config, task or board changed)`);
    checkCheckpoint(cp, { rule: spec.rule, base: spec.base, iterations: spec.iterations, optimizer: spec.optimizer, tensors }, cpPath);
    if (cp.iteration >= spec.iterations && existsSync(summaryPath)) {
      o.say(`the run in ${dir} is complete (${spec.iterations} of ${spec.iterations} iterations): nothing to resume`);
      const done = JSON.parse(readFileSync(summaryPath, "utf8")) as RunSummary;
      return { ...done, params: cp.state.params, board: o.board ?? "port", start: spec.iterations + 1 };
    }
    state = cp.state;
    start = cp.iteration + 1;
    lastCheckpoint = cp.iteration;
    ({ elapsedMs: elapsedBefore, loss: lastLoss } = truncateMetrics(join(dir, RUN_FILES.metrics), cp.iteration));
    o.say(start <= spec.iterations
      ? `resuming ${dir} from its checkpoint at iteration ${cp.iteration}: iterations ${start} to ${spec.iterations}`
      : `finishing ${dir}: its checkpoint holds all ${spec.iterations} iterations`);
  } else {
    checkOutputDir(dir, "run", "--out");
    if (existsSync(cpPath)) throw new InputError("--out", `${dir} already holds a run; use --resume to continue it or another --out`);
  }

  const target: TrainTarget | undefined = start <= spec.iterations
    ? await openTarget(o.board, spec, state, {
      port: o.port, ports: o.ports, replicas: o.replicas, faultRate: o.faultRate, timeouts: o.timeouts, say: o.say, iteration: start - 1,
    })
    : undefined;
  const board = target?.board ?? o.board ?? "port";
  let link: LinkStats | undefined;
  let writer: RunWriter | undefined;
  const t0 = performance.now();
  try {
    writer = new RunWriter(dir);
    const w = writer;
    if (!o.resume) {
      writeFileSync(join(dir, RUN_FILES.metrics), "");
      w.writeRun({ ...s.info, board, started: new Date().toISOString() });
    }
    if (target) {
      const progress = new Progress(spec.iterations, start, o.json);
      // Between iterations, let the event loop run: a host target computes synchronously, and
      // Ctrl-C or a closed stdout must be noticed after the iteration, not after the run.
      const yieldFirst = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
        await new Promise((r) => setImmediate(r));
        return f(...a);
      };
      target.iterate = yieldFirst(target.iterate.bind(target));
      if (target.iterateBatch) target.iterateBatch = yieldFirst(target.iterateBatch.bind(target));
      await runLoop(spec, target, {
        start,
        checkpointEvery: o.checkpointEvery,
        record: () => false,
        onIteration(n, outcome, st) {
          const row: MetricRow = {
            ...outcome.metrics, iteration: n, loss: outcome.loss, ...(outcome.lr !== undefined ? { lr: outcome.lr } : {}),
            elapsedMs: elapsedBefore + Math.round(performance.now() - t0),
          };
          // At checkpoints a task also scores held-out trials, so the report can plot it.
          if (st && s.evaluate && n < spec.iterations) {
            const ev = s.evaluate(st.params, s.periodicTestTrials ?? PERIODIC_TEST_TRIALS);
            Object.assign(row, { test: ev.value, testTrials: ev.nTrials });
          }
          lastLoss = outcome.loss;
          w.appendMetric(row);
          progress.update({ iteration: n, loss: outcome.loss, ...outcome.metrics }, target.status?.());
          // the recorded trial is the update's last (with mini-batches, trial n*B)
          const sample = training.sample?.(spec, batchTrials(spec, n).at(-1)!, outcome);
          if (sample) w.writeTrajectory({ ...sample, iteration: n });
          if (st) {
            writeCheckpoint(dir, { iteration: n, runHash: hash, state: st });
            state = st;
            lastCheckpoint = n;
          }
          if (o.signal?.aborted && n < spec.iterations) throw new Interrupted(n, lastCheckpoint);
        },
      });
      link = target.link?.();
    }
  } finally {
    await target?.close();
  }
  // Never write weights that are not numbers over a run's results.
  if (!allFinite(state.params)) throw new DivergedError(`the weights are not finite numbers: training diverged (lower the learning rate); params.json was not written and the last checkpoint is intact`);
  writeFileSync(join(dir, "params.json"), JSON.stringify(state.params));
  const metric = s.evaluate?.(state.params, s.testTrials);
  const summary: RunSummary = {
    finalLoss: lastLoss,
    iterations: spec.iterations,
    elapsedMs: elapsedBefore + Math.round(performance.now() - t0),
    ...(metric ? { metric: { ...metric, split: "test" } } : {}),
    ...s.report?.(state.params),
    ...(link ? { link } : {}),
  };
  writer.writeSummary(summary);
  return { ...summary, params: state.params, board, start, ...(link ? { link } : {}) };
}

/**
 * On resume, iterations after the checkpoint are run again, so their rows are dropped.
 * Returns the wall time the kept iterations took, so elapsedMs continues from it, and the loss
 * of the last kept iteration (the final loss when nothing is left to run).
 */
function truncateMetrics(path: string, upTo: number): { elapsedMs: number; loss: number } {
  if (!existsSync(path)) return { elapsedMs: 0, loss: NaN };
  const kept: MetricRow[] = [];
  readFileSync(path, "utf8").split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let row: MetricRow;
    try {
      row = JSON.parse(line) as MetricRow;
    } catch {
      throw new InputError(`${path}:${i + 1}`, "expected one JSON object per line");
    }
    if (row.iteration <= upTo) kept.push(row);
  });
  writeFileSync(path, kept.map((row) => JSON.stringify(row) + "\n").join(""));
  return { elapsedMs: kept.at(-1)?.elapsedMs ?? 0, loss: kept.at(-1)?.loss ?? NaN };
}
