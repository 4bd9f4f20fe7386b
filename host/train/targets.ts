// Opens the training target for `--board`: `host` is the float64 reference; board ids from
// boards/ (sim, qemu-...) run on a device over the wire (registered by the session layer).
import { InputError } from "../cli/errors.ts";
import { HostTarget } from "./host-target.ts";
import type { RunSpec } from "./run-config.ts";
import type { TrainState, TrainTarget } from "./target.ts";

export interface TargetOptions {
  /** Serial port of an already running board (instead of starting one). */
  port?: string;
  /** Byte error rate injected into the link (fault-injection proxy). */
  faultRate?: number;
  /** Directory for board-side files (the simulated board's storage). */
  runDir: string;
}

export type TargetFactory = (spec: RunSpec, initial: TrainState, opts: TargetOptions) => Promise<TrainTarget>;

const factories = new Map<string, TargetFactory>([["host", async (spec, initial) => new HostTarget(spec, initial)]]);

/** Lets device transports add their boards without this file knowing them. */
export function registerTarget(board: string, factory: TargetFactory): void {
  factories.set(board, factory);
}

export async function openTarget(board: string, spec: RunSpec, initial: TrainState, opts: TargetOptions): Promise<TrainTarget> {
  const factory = factories.get(board);
  if (!factory) throw new InputError("--board", `expected one of ${[...factories.keys()].join(", ")}, got '${board}'`);
  return factory(spec, initial, opts);
}
