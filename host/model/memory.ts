// The host's memory limit, checked from sizes alone before anything is allocated: a case or task
// whose float64 working set (what the reference, training and the optimizer hold at once) would
// exceed it is refused with the numbers, instead of aborting V8 half-way through an allocation.
//   limit: 1 GiB (a quarter of V8's default old-space limit on a 64-bit machine), or
//          EDGEPROP_MAX_MEMORY_MB megabytes; stated in the README.
import { InputError } from "../input/errors.ts";

export interface Sizes {
  nIn: number;
  nRec: number;
  nOut: number;
  /** Steps of a trial (1 when only the network is being built). */
  T: number;
}

const DEFAULT_LIMIT_BYTES = 1 << 30;

/** The limit in bytes (EDGEPROP_MAX_MEMORY_MB overrides the default 1 GiB). */
export function memoryLimitBytes(): number {
  const mb = Number(process.env.EDGEPROP_MAX_MEMORY_MB);
  return Number.isFinite(mb) && mb > 0 ? mb * 2 ** 20 : DEFAULT_LIMIT_BYTES;
}

/**
 * Estimated bytes, 8 per float64:
 *   per synapse ((nIn + nRec + nOut) x nRec): weight, gradient, two eligibility traces, the ALIF
 *     trace, Adam's m and v — 7 numbers;
 *   per step: the trial (inputs, targets, mask) and BPTT's stored trajectory (v, A, z, psi,
 *     currents, learning signal per neuron; readout and error per output).
 */
export function estimateBytes(s: Sizes): number {
  const synapses = (s.nIn + s.nRec + s.nOut) * s.nRec;
  const perStep = s.nIn + s.nOut + 1 + 6 * s.nRec + 2 * s.nOut;
  return 8 * (7 * synapses + s.T * perStep);
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0)} MiB`;

/**
 * Refuses sizes whose estimate exceeds the limit. `fields` names where each size came from
 * (`model.nRec`, `--task-opt nRec`); the error names the one that dominates the estimate.
 */
export function checkMemory(s: Sizes, fields: Partial<Record<keyof Sizes, string>>): void {
  const need = estimateBytes(s);
  const limit = memoryLimitBytes();
  if (need <= limit) return;
  const perStep = s.T * (s.nIn + 6 * s.nRec);
  const dominant: keyof Sizes = perStep > 7 * (s.nIn + s.nRec) * s.nRec ? "T" : s.nRec >= s.nIn ? "nRec" : "nIn";
  throw new InputError(
    fields[dominant] ?? fields.nRec ?? "model",
    `nIn ${s.nIn} x nRec ${s.nRec} x nOut ${s.nOut} over ${s.T} steps needs about ${mib(need)}, over the host memory limit of ${mib(limit)} (EDGEPROP_MAX_MEMORY_MB raises it)`,
  );
}
