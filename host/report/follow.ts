// Following a run directory while `edgeprop train` writes it (`edgeprop monitor --run DIR`): every
// new metrics.jsonl row as it is appended (loss, held-out test score, SAL's angleDeg, ...), until
// summary.json says the run ended. The training host owns the board's port, so a live view of a
// run reads what the host writes rather than the link.
import { existsSync, openSync, readSync, closeSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../input/errors.ts";
import { isOutputDir, RUN_FILES, type MetricRow } from "./rundir.ts";

/** How often the folder is looked at, ms (a user watching a run sees a row within this). */
const POLL_MS = 500;

export interface FollowOptions {
  /** Stops early when it resolves (Ctrl-C, --duration). */
  stop?: Promise<void>;
}

/** Calls `onRow` for every metrics row of `dir`, those already written first; resolves when the run ended (true) or on stop (false). */
export async function followRun(dir: string, onRow: (row: MetricRow) => void, o: FollowOptions = {}): Promise<boolean> {
  if (!isOutputDir(dir, "run")) throw new InputError("--run", `${dir} is not an edgeprop run folder (start \`edgeprop train --out ${dir}\` first)`);
  const path = join(dir, RUN_FILES.metrics);
  let stopped = false;
  o.stop?.then(() => (stopped = true));
  let offset = 0;
  let partial = "";
  const readNew = () => {
    if (!existsSync(path)) return;
    const size = statSync(path).size;
    if (size < offset) offset = 0; // a --resume truncated the file: read it again
    if (size === offset) return;
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const lines = (partial + buf.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) onRow(JSON.parse(line) as MetricRow);
    } finally {
      closeSync(fd);
    }
  };
  for (;;) {
    const ended = existsSync(join(dir, RUN_FILES.summary));
    readNew();
    if (ended) return true;
    if (stopped) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** One row as a line: iteration, loss and every other metric (with the trials behind it, `<name>Trials`). */
export function formatRow(row: MetricRow): string {
  const parts = [`iteration ${row.iteration}`, `loss ${row.loss.toPrecision(5)}`];
  for (const [k, v] of Object.entries(row)) {
    if (k === "iteration" || k === "loss" || k === "elapsedMs" || typeof v !== "number" || (k.endsWith("Trials") && k !== "Trials")) continue;
    const trials = row[`${k}Trials`];
    parts.push(k.endsWith("Deg") ? `${k} ${v.toFixed(1)}°` : `${k} ${v.toPrecision(4)}${typeof trials === "number" ? ` (${trials} trials)` : ""}`);
  }
  return parts.join("  ");
}
