// `edgeprop results` (`npm run results`): trains every row of the results table (pattern
// generation e-prop vs BPTT on the host and e-prop on the simulated board; evidence
// accumulation, store-recall and Fashion-MNIST with on-device e-prop) one run at a time and
// writes RESULTS.md. `--quick` is a smoke run with small task sizes (a minute or two).
import { mkdirSync, writeFileSync } from "node:fs";
import { resultsMarkdown } from "../../results/markdown.ts";
import { RESULT_ROWS } from "../../results/rows.ts";
import { rowConfig, runRow, type RowResult } from "../../results/run.ts";
import { flagInt, flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";

export const resultsCommand: Command = {
  name: "results",
  summary: "train the results table (pattern, evidence, store-recall, Fashion-MNIST) and write RESULTS.md",
  usage: "edgeprop results [--only TASK|ROW[,...]] [--quick] [--seed N] [--out FILE] [--dir DIR] [--json]",
  async run(argv) {
    const args = parseArgs(argv, ["only", "seed", "out", "dir"], ["quick", "json"]);
    const quick = args.flags.has("quick");
    const seed = flagInt(args, "seed", 1, 0, 2 ** 32 - 1);
    const only = flagString(args, "only")?.split(",");
    const rows = only ? RESULT_ROWS.filter((r) => only.includes(r.task) || only.includes(r.id)) : RESULT_ROWS;
    const known = new Set(RESULT_ROWS.flatMap((r) => [r.task, r.id]));
    const unknown = only?.filter((n) => !known.has(n)) ?? [];
    if (unknown.length || rows.length === 0) throw new InputError("--only", `expected task or row names from ${[...known].join(", ")}`);
    const out = flagString(args, "out") ?? "RESULTS.md";
    const dir = flagString(args, "dir") ?? (quick ? "runs/results-quick" : "runs/results");
    mkdirSync(dir, { recursive: true });
    const log = (line: string) => process.stderr.write(line + "\n");
    const results: RowResult[] = [];
    const t0 = performance.now();
    for (const row of rows) {
      const cfg = rowConfig(row, quick);
      log(`results: ${row.id} (${cfg.iterations} iterations, lr ${cfg.lr}, board ${row.board})`);
      const r = await runRow(row, { quick, seed, dir });
      log(`results: ${row.id}: ${r.metric} ${r.value.toFixed(4)} (chance ${r.chance}) in ${(r.wallMs / 1000).toFixed(0)} s`);
      results.push(r);
    }
    const totalMs = Math.round(performance.now() - t0);
    const shownOptions = Object.fromEntries(rows.map((r) => [r.id, Object.keys(rowConfig(r, quick).taskOptions)]));
    writeFileSync(out, resultsMarkdown(results, { quick, seed, shownOptions, totalMs }));
    if (args.flags.has("json")) process.stdout.write(JSON.stringify({ out, quick, seed, totalMs, rows: results }) + "\n");
    else process.stdout.write(`wrote ${out}\n`);
    return 0;
  },
};
