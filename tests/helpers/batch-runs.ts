// Small e-prop run configs for the batch and replica suites: a recurrent ALIF network with a
// handful of distinct trials (random cases of one model), so a mini-batch mixes trials.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomCase, type RandomCaseOptions } from "../../host/case/random.ts";

export interface RunConfigOptions {
  iterations: number;
  optimizer?: object;
  /** Distinct trials (cycled by the run). */
  trials?: number;
  T?: number;
  loss?: "mse" | "ce";
  /** More model options (lossReduction, rateReg, ...). */
  model?: RandomCaseOptions;
  /** Extra top-level run-config fields (batchSize, batchReduction, lrSchedule, ...). */
  extra?: Record<string, unknown>;
}

/** Writes `<dir>/<name>.json` and returns its path. */
export function writeRunConfig(dir: string, name: string, o: RunConfigOptions): string {
  const shape = { neuron: "alif" as const, T: o.T ?? 60, nIn: 6, nRec: 12, nOut: 2, recurrent: true, loss: o.loss ?? "mse", ...o.model };
  const cases = Array.from({ length: o.trials ?? 4 }, (_, i) => randomCase({ ...shape, seed: 20 + i }));
  const { format: _f, inputs: _i, targets: _t, mask: _m, ...body } = cases[0]!;
  const path = join(dir, `${name}.json`);
  const trials = cases.map(({ inputs, targets, mask }) => ({ inputs, targets, mask }));
  writeFileSync(path, JSON.stringify({ ...body, rule: "eprop", optimizer: o.optimizer ?? { kind: "adam", lr: 0.01 }, iterations: o.iterations, trials, ...o.extra }));
  return path;
}
