// OSTL's rows of RESULTS.md (`npm run results`): layer stacks of 1 and 2 layers on pattern
// generation and evidence accumulation, on the host (float64) and on the simulated board, and
// BPTT on the same stacks on the host (the benchmark: one-layer OSTL within 10 % of BPTT's
// NMSE at equal iterations; one-layer OSTL has BPTT's gradient exactly). Every row copies the
// iterations, learning rate, task options and test trials of the e-prop row of its task, so the
// stacks and the recurrent networks are compared at equal settings (and seeds: `--seed`).
import type { ResultRow, RowConfig } from "../../results/rows.ts";

const PAPER = "not a figure of the e-prop paper; no OSTL paper figure quoted: compare with the BPTT row on the same stack (one layer: the same gradient)";

const withLayers = (c: RowConfig, layers: number): RowConfig => ({ ...c, taskOptions: { ...c.taskOptions, layers } });

/** The stack rows, derived from the registered e-prop rows `pattern-eprop-host` and `evidence-eprop-sim`. */
export function stackRows(rows: readonly ResultRow[]): ResultRow[] {
  const like = (id: string) => {
    const r = rows.find((x) => x.id === id);
    if (!r) throw new Error(`results: OSTL rows copy the settings of row '${id}', which is not registered`);
    return r;
  };
  const plan: [ResultRow, string, "host" | "sim", number][] = [];
  for (const r of [like("pattern-eprop-host"), like("evidence-eprop-sim")]) {
    for (const layers of [1, 2]) plan.push([r, "ostl", "host", layers], [r, "bptt", "host", layers], [r, "ostl", "sim", layers]);
  }
  return plan.map(([r, rule, board, layers]) => ({
    id: `${r.task}-${rule}-${layers}layer-${board}`,
    task: r.task,
    rule,
    feedback: "symmetric",
    board,
    full: withLayers(r.full, layers),
    quick: withLayers(r.quick, layers),
    paper: PAPER,
  }));
}
