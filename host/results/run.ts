// Runs the rows of the results table one after the other (one training process at a time),
// each into its own run directory, and collects what RESULTS.md reports.
import { join } from "node:path";
import { DEFAULT_WAIT_S } from "../link/connect-board.ts";
import { removeOutputDir } from "../report/rundir.ts";
import { parseOptimizer } from "../train/optimizer.ts";
import { trainRun } from "../train/run.ts";
import { setupFromTask } from "../train/setup.ts";
import type { ResultRow, RowConfig } from "./rows.ts";

export interface RowResult {
  id: string;
  task: string;
  rule: string;
  feedback: string;
  board: string;
  seed: number;
  taskOptions: Record<string, unknown>;
  iterations: number;
  lr: number;
  metric: string;
  value: number;
  chance: number;
  higherIsBetter: boolean;
  testTrials: number;
  finalLoss: number;
  wallMs: number;
  dir: string;
  goal?: { value: number; text: string; met: boolean };
  paper: string;
}

export function rowConfig(row: ResultRow, quick: boolean): RowConfig {
  return quick ? row.quick : row.full;
}

export async function runRow(row: ResultRow, o: { quick: boolean; seed: number; dir: string; say: (line: string) => void }): Promise<RowResult> {
  const cfg = rowConfig(row, o.quick);
  const setup = setupFromTask({
    task: row.task,
    quick: false,
    seed: o.seed,
    taskOptions: cfg.taskOptions,
    rule: row.rule,
    feedback: row.feedback,
    optimizer: parseOptimizer({ kind: "adam", lr: cfg.lr }),
    iterations: cfg.iterations,
    testTrials: cfg.testTrials,
  });
  const dir = join(o.dir, row.id);
  removeOutputDir(dir, "run", "--dir"); // a fresh run every time (no accidental --resume); only ever an earlier run
  const t0 = performance.now();
  const s = await trainRun(setup, { board: row.board, dir, json: false, checkpointEvery: Math.max(10, Math.floor(cfg.iterations / 10)), resume: false, timeouts: { waitMs: DEFAULT_WAIT_S * 1000 }, say: o.say });
  const wallMs = Math.round(performance.now() - t0);
  const m = s.metric!;
  const higher = m.higherIsBetter ?? true;
  return {
    id: row.id,
    task: row.task,
    rule: row.rule,
    feedback: row.feedback,
    board: row.board,
    seed: o.seed,
    taskOptions: setup.info.taskOptions ?? {},
    iterations: cfg.iterations,
    lr: cfg.lr,
    metric: m.name,
    value: m.value,
    chance: m.chance ?? NaN,
    higherIsBetter: higher,
    testTrials: m.nTrials ?? cfg.testTrials,
    finalLoss: s.finalLoss ?? NaN,
    wallMs,
    dir,
    ...(row.goal && !o.quick ? { goal: { ...row.goal, met: higher ? m.value >= row.goal.value : m.value <= row.goal.value } } : {}),
    paper: row.paper,
  };
}
