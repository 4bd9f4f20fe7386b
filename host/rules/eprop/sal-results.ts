// SAL's rows of RESULTS.md (`npm run results`, issue 12): evidence accumulation and pattern
// generation on the simulated board with feedback symmetric (B = wOut^T, weight transport),
// random (a fixed random B) and sal (the board learns B itself, ALIGN phases between trials),
// each over the same 3 seeds (parameters, trials, the random B and the board's SAL stream all
// follow the seed), reported as mean ± spread with the final angle between B and wOut^T.
// The budgets are the small networks of the e-prop rows' `--quick` sets, trained longer (9 runs a
// task on a shared machine stay within minutes): the comparison is between feedbacks at equal
// settings, not a new best figure for either task.
import type { FeedbackKind } from "../../model/types.ts";
import type { ResultRow, RowConfig } from "../../results/rows.ts";

/** The seeds of every SAL comparison row. */
export const SAL_SEEDS = [1, 2, 3] as const;

const FEEDBACKS: FeedbackKind[] = ["symmetric", "random", "sal"];

const PAPER: Record<string, string> = {
  evidence: "Fig. 3 compares symmetric and random e-prop on the 7-cue task (values not verified here); SAL is not in the paper",
  pattern: "Fig. 2 compares symmetric and random e-prop (3 readouts; values not verified here); SAL is not in the paper",
};

const EVIDENCE_OPTIONS = { nCues: 3, cueSteps: 30, spacingSteps: 15, delaySteps: 50, recallSteps: 50, nRec: 40, nAdaptive: 20, rateHz: 80 };
const PATTERN_OPTIONS = { steps: 500, nIn: 50, nRec: 50 };

const CONFIGS: Record<string, { full: RowConfig; quick: RowConfig }> = {
  evidence: {
    full: { taskOptions: EVIDENCE_OPTIONS, iterations: 600, lr: 0.002, testTrials: 100 },
    quick: { taskOptions: EVIDENCE_OPTIONS, iterations: 100, lr: 0.002, testTrials: 50 },
  },
  pattern: {
    full: { taskOptions: PATTERN_OPTIONS, iterations: 300, lr: 0.01, testTrials: 10 },
    quick: { taskOptions: PATTERN_OPTIONS, iterations: 40, lr: 0.01, testTrials: 10 },
  },
};

/** The feedback rows: 2 tasks x 3 feedbacks, each over SAL_SEEDS. */
export function salRows(): ResultRow[] {
  return (["evidence", "pattern"] as const).flatMap((task) =>
    FEEDBACKS.map((feedback): ResultRow => ({
      id: `${task}-eprop-${feedback}-seeds-sim`,
      task,
      rule: "eprop",
      feedback,
      board: "sim",
      ...CONFIGS[task]!,
      seeds: SAL_SEEDS,
      paper: PAPER[task]!,
    })),
  );
}
