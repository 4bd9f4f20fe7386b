// Opens the training target for `--board`: `host` is the rule's float64 target; a board id from
// boards/ trains on the device over the wire — the simulated board and QEMU boards are started
// here unless `--port` names a running one; a physical board needs `--port`. A model too large
// for the board's RAM is refused first, with the numbers (the rule's deviceBytes).
import { join } from "node:path";
import { getBoard } from "../../boards/index.ts";
import { checkFits } from "../device/planner.ts";
import { InputError } from "../input/errors.ts";
import { startQemuBoard } from "../firmware/qemu-board.ts";
import { firmwareWasmFor } from "../firmware/source.ts";
import { getRule } from "../rules/index.ts";
import { startSim } from "../sim/sim.ts";
import { DeviceTarget } from "./device-target.ts";
import type { TrainState, TrainTarget } from "./target.ts";
import type { RunSpec } from "./training.ts";

export interface TargetOptions {
  /** Serial port of an already running board (instead of starting one). */
  port?: string;
  /** Byte error rate injected into the link on the host side. */
  faultRate?: number;
  /** Run directory: the simulated board keeps its storage file under it. */
  runDir: string;
  /** Iterations `initial` holds (where the run resumes from). */
  iteration: number;
}

export async function openTarget(board: string, spec: RunSpec, initial: TrainState, opts: TargetOptions): Promise<TrainTarget> {
  const rule = getRule(spec.rule, "rule");
  if (board === "host") return rule.training!.host(spec, initial);
  const b = getBoard(board);
  // Refuse before starting or flashing anything: what the rule cannot train on a board, and a
  // model whose device state alone does not fit the board's RAM (the board's CONFIGURE answer
  // then accounts for the firmware's own share too).
  DeviceTarget.trainerFor(spec);
  if (rule.deviceBytes) {
    const o = { optimizer: spec.optimizer.kind };
    checkFits(rule.deviceBytes(spec.base, o), rule.deviceSize?.(spec.base, o) ?? { field: "model", shape: "the model" }, b.ramBytes, `RAM of board '${b.id}'`);
  }
  const device = { board, faultRate: opts.faultRate, iteration: opts.iteration };
  if (opts.port) return DeviceTarget.open(spec, initial, { ...device, port: opts.port });
  if (b.id === "sim") {
    const sim = await startSim({ dir: join(opts.runDir, "sim"), wasm: await firmwareWasmFor(b) });
    return DeviceTarget.open(spec, initial, { ...device, port: sim.port, release: () => sim.stop() });
  }
  if (b.flash.method === "qemu") {
    const q = await startQemuBoard({ board: b.id });
    return DeviceTarget.open(spec, initial, { ...device, port: q.port, release: () => q.stop() });
  }
  throw new InputError("--port", `board '${b.id}' is a physical board: flash it (edgeprop flash --board ${b.id}) and give its serial port with --port`);
}
