// The rows of RESULTS.md (`edgeprop results`): which task, rule, board, options, iterations and
// learning rate each row trains with, for the full table and for `--quick`, and what the e-prop
// paper (Bellec et al. 2020, Nature Communications 11:3625) reports for comparison.
import type { FeedbackKind } from "../model/types.ts";
import { salRows } from "../rules/eprop/sal-results.ts";
import { stackRows } from "../rules/ostl/results.ts";
import type { TaskOptions } from "../tasks/task.ts";
import type { BatchConfig } from "../train/batch.ts";
import type { LrSchedule } from "../train/schedule.ts";

export interface RowConfig {
  taskOptions: Partial<TaskOptions>;
  iterations: number;
  lr: number;
  testTrials: number;
  /** Mini-batches and an lr schedule (absent: one trial per update at a constant lr). */
  batch?: BatchConfig;
  lrSchedule?: LrSchedule;
}

export interface ResultRow {
  /** Unique id (run directory name, `--only` matches it or the task). */
  id: string;
  task: string;
  /** A registered rule that trains (host/rules/index.ts). */
  rule: string;
  feedback: FeedbackKind;
  board: "host" | "sim";
  full: RowConfig;
  quick: RowConfig;
  /** The project's goal for this row, if it has one (compared with the full run). */
  goal?: { value: number; text: string };
  /** What the paper reports, worded as carefully as we can source it. */
  paper: string;
  /** Seeds of the row, one run each, reported as mean ± spread (absent: the table's `--seed`). */
  seeds?: readonly number[];
}

// Pattern generation: the task's defaults (100 frozen Poisson inputs, jittered by up to 1 step per
// trial, 100 LIF, T = 1000 ms), scored on 10 jittered test trials the run never trained on.
const patternFull: RowConfig = { taskOptions: {}, iterations: 1000, lr: 0.01, testTrials: 10 };
const patternQuick: RowConfig = { taskOptions: { steps: 500, nIn: 50, nRec: 50 }, iterations: 60, lr: 0.01, testTrials: 10 };
const PATTERN_PAPER =
  "Fig. 2 (3 readouts, bar chart, scored on its one training pattern): e-prop's NMSE close to BPTT's, approximately 0.1 or below (value not verified here)";

// Digits with EqProp (EQPROP.md "Training check"): the task's defaults are the spec's configuration
// ([64, 32, 10], symmetric, beta 1, eps 0.5, 40/10 steps, SGD lr [0.1, 0.05] on batches of 10,
// 30 epochs of the 1437 training images = 4320 iterations), scored on the 360 held-out images.
// The rule takes its iterations and rates from the task options (iterations and lr here are what
// they give, for the table; tests/eqprop-train-cli.test.ts ties them).
const digitsFull: RowConfig = { taskOptions: { epochs: 30, batchSize: 10, lr0: 0.1, lr1: 0.05 }, iterations: 4320, lr: 0.1, testTrials: 360 };
const digitsQuick: RowConfig = { taskOptions: { trainLimit: 500, epochs: 2, batchSize: 10, lr0: 0.1, lr1: 0.05 }, iterations: 100, lr: 0.1, testTrials: 360 };
const DIGITS_PAPER = "EQPROP.md's numpy prototype of the spec: 97.2–98.9 % after 30 epochs (5 seeds; float32 97.2–98.6 %)";
const DIGITS_GOAL = { value: 0.96, text: "held-out accuracy ≥ 96 % in ≤ 30 epochs trained on the simulated board (EQPROP.md's on-device goal, float32)" };

export const RESULT_ROWS: ResultRow[] = [
  { id: "pattern-eprop-host", task: "pattern", rule: "eprop", feedback: "symmetric", board: "host", full: patternFull, quick: patternQuick, paper: PATTERN_PAPER, goal: { value: 0.1, text: "NMSE ≤ ~0.1 (paper's e-prop, approx.)" } },
  { id: "pattern-bptt-host", task: "pattern", rule: "bptt", feedback: "symmetric", board: "host", full: patternFull, quick: patternQuick, paper: PATTERN_PAPER },
  { id: "pattern-eprop-sim", task: "pattern", rule: "eprop", feedback: "symmetric", board: "sim", full: patternFull, quick: patternQuick, paper: PATTERN_PAPER, goal: { value: 0.1, text: "NMSE ≤ ~0.1 (paper's e-prop, approx.)" } },
  {
    id: "evidence-eprop-sim",
    task: "evidence",
    rule: "eprop",
    feedback: "symmetric",
    board: "sim",
    // The quick timing (7 cues of 50 ms, 25 ms gaps, 100 ms delay, 100 ms recall: T = 725 ms).
    full: { taskOptions: { cueSteps: 50, spacingSteps: 25, delaySteps: 100, recallSteps: 100 }, iterations: 1500, lr: 0.002, testTrials: 200 },
    quick: {
      taskOptions: { nCues: 3, cueSteps: 30, spacingSteps: 15, delaySteps: 50, recallSteps: 50, nRec: 40, nAdaptive: 20, rateHz: 80 },
      iterations: 600,
      lr: 0.002,
      testTrials: 100,
    },
    goal: { value: 0.95, text: "accuracy ≥ 0.95" },
    paper: "Fig. 3 (7 cues, 2.25 s trials): e-prop approximately 96-97 % vs BPTT approximately 99 % (approximate, not verified here)",
  },
  {
    id: "store-recall-eprop-sim",
    task: "store-recall",
    rule: "eprop",
    feedback: "symmetric",
    board: "sim",
    full: { taskOptions: { periods: 4, periodSteps: 100 }, iterations: 500, lr: 0.01, testTrials: 200 },
    quick: { taskOptions: { periods: 3, periodSteps: 100, nRec: 40, nAdaptive: 40 }, iterations: 300, lr: 0.01, testTrials: 50 },
    goal: { value: 0.05, text: "recall error ≤ 0.05 (solved)" },
    paper: "no figure quoted (the task follows Bellec et al. 2018/2020, where adaptive networks solve it); goal: solved",
  },
  {
    id: "fashion-mnist-eprop-sim",
    task: "fashion-mnist",
    rule: "eprop",
    feedback: "symmetric",
    board: "sim",
    full: { taskOptions: {}, iterations: 4000, lr: 0.002, testTrials: 1000 },
    quick: { taskOptions: { pool: 4, encSteps: 20, tailSteps: 5, decisionSteps: 10, nRec: 50 }, iterations: 300, lr: 0.005, testTrials: 200 },
    goal: { value: 0.85, text: "accuracy ≥ 0.85" },
    paper: "not in the paper (Fashion-MNIST is the project's own on-device benchmark)",
  },
  ...(["host", "sim"] as const).map((board): ResultRow => ({ id: `digits-eqprop-${board}`, task: "digits", rule: "eqprop", feedback: "symmetric", board, full: digitsFull, quick: digitsQuick, paper: DIGITS_PAPER, ...(board === "sim" ? { goal: DIGITS_GOAL } : {}) })),
  // Training at scale (issue 15): mini-batches accumulated on the board and a cosine schedule.
  {
    id: "fashion-mnist-eprop-sim-batch",
    task: "fashion-mnist",
    rule: "eprop",
    feedback: "symmetric",
    board: "sim",
    full: {
      taskOptions: {}, iterations: 5000, lr: 0.005, testTrials: 10000,
      batch: { size: 16, reduction: "mean" }, lrSchedule: { kind: "cosine", warmup: 100, total: 5000, minLr: 1e-4 },
    },
    quick: {
      taskOptions: { pool: 4, encSteps: 20, tailSteps: 5, decisionSteps: 10, nRec: 50 }, iterations: 100, lr: 0.005, testTrials: 200,
      batch: { size: 4, reduction: "mean" }, lrSchedule: { kind: "cosine", warmup: 5, total: 100, minLr: 1e-4 },
    },
    goal: { value: 0.85, text: "accuracy ≥ 0.85" },
    paper: "not in the paper (Fashion-MNIST is the project's own on-device benchmark)",
  },
  {
    id: "evidence-paper-eprop-sim-batch",
    task: "evidence",
    rule: "eprop",
    feedback: "symmetric",
    board: "sim",
    // The task's defaults are the paper's timing: 7 cues of 100 ms after 50 ms gaps, 1050 ms delay, 150 ms recall (T = 2250 ms).
    full: {
      taskOptions: {}, iterations: 400, lr: 0.003, testTrials: 200,
      batch: { size: 8, reduction: "mean" }, lrSchedule: { kind: "cosine", warmup: 20, total: 400, minLr: 1e-4 },
    },
    quick: {
      taskOptions: { nCues: 3, cueSteps: 30, spacingSteps: 15, delaySteps: 50, recallSteps: 50, nRec: 40, nAdaptive: 20, rateHz: 80 },
      iterations: 150, lr: 0.003, testTrials: 100,
      batch: { size: 4, reduction: "mean" }, lrSchedule: { kind: "cosine", warmup: 10, total: 150, minLr: 1e-4 },
    },
    goal: { value: 0.95, text: "accuracy ≥ 0.95" },
    paper: "Fig. 3 (7 cues, 2.25 s trials, batches of trials per update): e-prop approximately 96-97 % vs BPTT approximately 99 % (approximate, not verified here)",
  },
  // DECOLLE (DECOLLE.md): a 2-layer stack on 784 rate-coded inputs, every layer trained by its own fixed random readout on the board.
  {
    id: "fashion-mnist-decolle-sim",
    task: "fashion-mnist",
    rule: "decolle",
    feedback: "symmetric", // not used by DECOLLE
    board: "sim",
    full: { taskOptions: { pool: 1, layers: "400x400", decolleUpdate: "trial" }, iterations: 60000, lr: 0.001, testTrials: 10000 },
    quick: { taskOptions: { pool: 4, encSteps: 16, decisionSteps: 10, layers: "100x100", alpha: 0.8, beta: 0.7, decolleUpdate: "trial" }, iterations: 1000, lr: 0.005, testTrials: 200 },
    goal: { value: 0.85, text: "accuracy ≥ 0.85" },
    paper: "not in the DECOLLE paper (Kaiser et al. 2020: DvsGesture, N-MNIST); on-device e-prop here: 73.7 %",
  },
];
RESULT_ROWS.push(...stackRows(RESULT_ROWS)); // OSTL and BPTT on layer stacks, at the e-prop rows' settings
RESULT_ROWS.push(...salRows()); // e-prop with feedback symmetric / random / sal over 3 seeds (issue 12)
