// Progress of a training run: a one-line bar with loss, rate and ETA on a terminal (stderr),
// or one JSON object per iteration on stdout with --json.
export interface ProgressRow {
  iteration: number;
  loss: number;
  [metric: string]: number;
}

export class Progress {
  private readonly t0 = performance.now();
  private lastDraw = 0;

  constructor(
    private readonly total: number,
    private readonly start: number,
    private readonly json: boolean,
    private readonly tty = process.stderr.isTTY === true,
  ) {}

  /** `status`: the target's own line (e.g. per-board throughput), shown after the rate. */
  update(row: ProgressRow, status?: string): void {
    if (this.json) {
      process.stdout.write(JSON.stringify(row) + "\n");
      return;
    }
    const now = performance.now();
    const done = row.iteration - this.start + 1;
    const rate = (done * 1000) / Math.max(1, now - this.t0);
    const eta = (this.total - row.iteration) / Math.max(rate, 1e-9);
    const text = `${row.iteration}/${this.total} loss ${row.loss.toPrecision(5)} ${rate.toFixed(1)} it/s ETA ${formatSeconds(eta)}${status ? ` [${status}]` : ""}`;
    if (this.tty) {
      if (now - this.lastDraw < 100 && row.iteration !== this.total) return;
      this.lastDraw = now;
      const width = 24;
      const filled = Math.round((width * row.iteration) / this.total);
      process.stderr.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}\x1b[K`);
      if (row.iteration === this.total) process.stderr.write("\n");
    } else if (row.iteration === this.total || done % Math.max(1, Math.floor(this.total / 10)) === 0) {
      process.stderr.write(text + "\n");
    }
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, "0")}m`;
}
