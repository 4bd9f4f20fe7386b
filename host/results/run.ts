// Runs the rows of the results table one after the other (one training process at a time),
// each into its own run directory, and collects what RESULTS.md reports.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_WAIT_S } from "../link/connect-board.ts";
import { removeOutputDir, RUN_FILES, type MetricRow } from "../report/rundir.ts";
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
  /** A row with seeds: every seed, and its metric value (`value` is their mean). */
  seeds?: number[];
  values?: number[];
  /** The final angle between B and wOut^T per seed (runs that report `angleDeg`: SAL). */
  angleDeg?: number[];
  taskOptions: Record<string, unknown>;
  iterations: number;
  lr: number;
  /** The batch and schedule, in words (absent: one trial per update, constant lr). */
  scale?: string;
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

/** e.g. "batch 32 (mean), cosine schedule (warmup 50, minLr 0)". */
function scaleText(cfg: RowConfig): string {
  const b = cfg.batch ? `batch ${cfg.batch.size} (${cfg.batch.reduction})` : "";
  const s = cfg.lrSchedule;
  const opts = s ? Object.entries(s).filter(([k]) => k !== "kind").map(([k, v]) => `${k} ${v}`).join(", ") : "";
  return [b, s ? `${s.kind} schedule${opts ? ` (${opts})` : ""}` : ""].filter(Boolean).join(", ");
}

export function rowConfig(row: ResultRow, quick: boolean): RowConfig {
  return quick ? row.quick : row.full;
}

/** The last metrics.jsonl row's `angleDeg` (SAL: the angle between B and wOut^T after the last phase), if the run reports one. */
function finalAngleDeg(dir: string): number | undefined {
  const last = readFileSync(join(dir, RUN_FILES.metrics), "utf8").trim().split("\n").at(-1);
  const a = last ? (JSON.parse(last) as MetricRow).angleDeg : undefined;
  return typeof a === "number" ? a : undefined;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Trains the row once per seed (`row.seeds`, else the table's seed), each into its own run folder
 * (`<id>`, or `<id>-seed<N>` for a row with seeds); a row with seeds reports the mean and keeps
 * every seed's value (and final angle, when the runs report one).
 */
export async function runRow(row: ResultRow, o: { quick: boolean; seed: number; dir: string; say: (line: string) => void }): Promise<RowResult> {
  const cfg = rowConfig(row, o.quick);
  const seeds = row.seeds ?? [o.seed];
  const runs = [];
  for (const seed of seeds) {
    const setup = setupFromTask({
      task: row.task,
      quick: false,
      seed,
      taskOptions: cfg.taskOptions,
      rule: row.rule,
      feedback: row.feedback,
      optimizer: parseOptimizer({ kind: "adam", lr: cfg.lr }),
      iterations: cfg.iterations,
      testTrials: cfg.testTrials,
      ...(cfg.batch ? { batch: cfg.batch } : {}),
      ...(cfg.lrSchedule ? { lrSchedule: cfg.lrSchedule } : {}),
    });
    const dir = join(o.dir, row.seeds ? `${row.id}-seed${seed}` : row.id);
    removeOutputDir(dir, "run", "--dir"); // a fresh run every time (no accidental --resume); only ever an earlier run
    const t0 = performance.now();
    const s = await trainRun(setup, { board: row.board, dir, json: false, checkpointEvery: Math.max(10, Math.floor(cfg.iterations / 10)), resume: false, timeouts: { waitMs: DEFAULT_WAIT_S * 1000 }, say: o.say });
    const wallMs = Math.round(performance.now() - t0);
    if (row.seeds) o.say(`results: ${row.id} seed ${seed}: ${s.metric!.name} ${s.metric!.value.toFixed(4)} in ${(wallMs / 1000).toFixed(0)} s`);
    runs.push({ setup, s, wallMs, dir, angleDeg: finalAngleDeg(dir) });
  }
  const { setup, s, dir } = runs[0]!;
  const m = s.metric!;
  const higher = m.higherIsBetter ?? true;
  const values = runs.map((r) => r.s.metric!.value);
  const value = mean(values);
  const angles = runs.map((r) => r.angleDeg).filter((a): a is number => a !== undefined);
  return {
    id: row.id,
    task: row.task,
    rule: row.rule,
    feedback: row.feedback,
    board: row.board,
    seed: seeds[0]!,
    ...(row.seeds ? { seeds: [...seeds], values } : {}),
    ...(angles.length === runs.length ? { angleDeg: angles } : {}),
    taskOptions: setup.info.taskOptions ?? {},
    iterations: cfg.iterations,
    lr: cfg.lr,
    ...(cfg.batch || cfg.lrSchedule ? { scale: scaleText(cfg) } : {}),
    metric: m.name,
    value,
    chance: m.chance ?? NaN,
    higherIsBetter: higher,
    testTrials: m.nTrials ?? cfg.testTrials,
    finalLoss: mean(runs.map((r) => r.s.finalLoss ?? NaN)),
    wallMs: runs.reduce((a, r) => a + r.wallMs, 0),
    dir: row.seeds ? join(o.dir, `${row.id}-seed*`) : dir,
    ...(row.goal && !o.quick ? { goal: { ...row.goal, met: higher ? value >= row.goal.value : value <= row.goal.value } } : {}),
    paper: row.paper,
  };
}
