// `edgeprop results` (`npm run results`): trains every row of the results table (pattern
// generation e-prop vs BPTT on the host and e-prop on the simulated board; evidence
// accumulation, store-recall and Fashion-MNIST with on-device e-prop) one run at a time and
// writes RESULTS.md. `--quick` is a smoke run with small task sizes (a minute or two).
import { mkdirSync, writeFileSync } from "node:fs";
import { resultsMarkdown } from "../../results/markdown.ts";
import { RESULT_ROWS } from "../../results/rows.ts";
import { rowConfig, runRow, type RowResult } from "../../results/run.ts";
import { flagInt, flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { JSON_FLAG, say } from "../flags.ts";
import { InputError } from "../../input/errors.ts";

export const resultsCommand = defineCommand({
  name: "results",
  summary: "train the results table (pattern, evidence, store-recall, Fashion-MNIST) and write RESULTS.md",
  usage: "[--only TASK|ROW[,...]] [--quick] [--seed N] [--out FILE] [--dir DIR] [--json]",
  description: `Rows: ${RESULT_ROWS.map((r) => r.id).join(", ")}. Each row trains into its own run folder under --dir.`,
  flags: {
    only: { type: "string", value: "TASK|ROW[,...]", default: "every row", description: "train only these tasks or rows" },
    quick: { type: "boolean", description: "small task sizes (a smoke run of a minute or two)" },
    seed: { type: "string", value: "N", default: "1", description: "task seed" },
    out: { type: "string", value: "FILE", default: "RESULTS.md", description: "the table (relative to the current folder)" },
    dir: { type: "string", value: "DIR", default: "runs/results (runs/results-quick with --quick)", description: "folder of the run folders (earlier runs there are replaced; nothing else is)" },
    json: JSON_FLAG,
  },
  examples: ["edgeprop results --quick", "edgeprop results --only evidence --seed 2"],
  async main(args) {
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
    const results: RowResult[] = [];
    const t0 = performance.now();
    for (const row of rows) {
      const cfg = rowConfig(row, quick);
      say(`results: ${row.id} (${cfg.iterations} iterations, lr ${cfg.lr}, board ${row.board})`);
      const r = await runRow(row, { quick, seed, dir, say });
      say(`results: ${row.id}: ${r.metric} ${r.value.toFixed(4)} (chance ${r.chance}) in ${(r.wallMs / 1000).toFixed(0)} s`);
      results.push(r);
    }
    const totalMs = Math.round(performance.now() - t0);
    const shownOptions = Object.fromEntries(rows.map((r) => [r.id, Object.keys(rowConfig(r, quick).taskOptions)]));
    writeFileSync(out, resultsMarkdown(results, { quick, seed, shownOptions, totalMs }));
    if (args.flags.has("json")) process.stdout.write(JSON.stringify({ out, quick, seed, totalMs, rows: results }) + "\n");
    else process.stdout.write(`wrote ${out}\n`);
    return 0;
  },
});
