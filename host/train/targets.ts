// Opens the training target: `host` is the float64 reference; a board trains on the device over
// the wire, reached through connectBoard (host/link/): the simulated board and QEMU boards are
// started unless `--port` names a running one; a physical board needs `--port`; `--port` alone
// trains on whatever board answers there. A model too large for the board's RAM is refused
// first, with the numbers.
import { getBoard } from "../../boards/index.ts";
import { checkBudget, planModel } from "../device/planner.ts";
import { InputError } from "../input/errors.ts";
import { connectBoard, type BoardTimeouts } from "../link/connect-board.ts";
import { DeviceTarget } from "./device-target.ts";
import { HostTarget } from "./host-target.ts";
import type { RunSpec } from "./run-config.ts";
import type { TrainState, TrainTarget } from "./target.ts";

export interface TargetOptions {
  /** Serial port of an already running board (instead of starting one). */
  port?: string;
  /** Byte fault rate injected into the link on the host side (connectBoard). */
  faultRate?: number;
  timeouts: BoardTimeouts;
  /** Progress lines: what is started, what the host waits for. */
  say?: (line: string) => void;
}

/** `board` undefined: the board on `opts.port`, whatever it is. */
export async function openTarget(board: string | undefined, spec: RunSpec, initial: TrainState, opts: TargetOptions): Promise<TrainTarget> {
  if (board === "host") {
    if (opts.port !== undefined) throw new InputError("--port", "the host reference does not use a serial port; give --board BOARD, or leave --board out to train on the board on that port");
    return new HostTarget(spec, initial);
  }
  DeviceTarget.check(spec);
  const plan = planModel(spec.base.model, spec.base.feedback.kind, { optimizer: spec.optimizer.kind });
  // Refuse before starting or flashing anything: the model's device state alone must fit the
  // board's RAM (the board's CONFIGURE answer then accounts for the firmware's own share too).
  if (board !== undefined) checkBudget(plan, getBoard(board).ramBytes, `RAM of board '${board}'`);
  const conn = await connectBoard({ board, port: opts.port, faultRate: opts.faultRate, timeouts: opts.timeouts, say: opts.say });
  if (board === undefined) {
    try {
      checkBudget(plan, conn.board?.ramBytes ?? conn.info.ram, `RAM of the board on ${conn.port} ('${conn.info.board}')`);
    } catch (err) {
      await conn.release();
      throw err;
    }
  }
  return DeviceTarget.open(spec, initial, conn);
}
