// Timing helpers for benchmarks: medians of repeats, because these machines are noisy.

/** CPU time of this process in ms (the machines running the bench are shared: wall time is noisier). */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `repeats` times (after one warm-up) and returns the median wall time in ms. */
export function timeMedianMs(fn: () => void, repeats: number): number {
  fn();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}
