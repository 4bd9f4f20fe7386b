// One part of BENCHMARKS.md. `npm run bench` runs every registered section in one process,
// so the ratios inside a section are measured side by side on the same machine state.
export interface BenchSection {
  name: string;
  /** Returns a markdown fragment (starting with a `## ` heading). */
  run(log: (line: string) => void): Promise<string>;
}
