// Opens the training target: `host` is the rule's float64 target; a board trains on the device
// over the wire, reached through connectBoard (host/link/): the simulated board and QEMU boards
// are started unless `--port` names a running one; a physical board needs `--port`; `--port`
// alone trains on whatever board answers there. A model too large for the board's RAM is refused
// first, with the numbers (the rule's deviceBytes).
import { getBoard } from "../../boards/index.ts";
import { checkFits } from "../device/planner.ts";
import { InputError } from "../input/errors.ts";
import { connectBoard, type BoardTimeouts } from "../link/connect-board.ts";
import { getRule } from "../rules/index.ts";
import { DeviceTarget } from "./device-target.ts";
import type { TrainState, TrainTarget } from "./target.ts";
import type { RunSpec } from "./training.ts";

export interface TargetOptions {
  /** Serial port of an already running board (instead of starting one). */
  port?: string;
  /** Byte fault rate injected into the link on the host side (connectBoard). */
  faultRate?: number;
  timeouts: BoardTimeouts;
  /** Progress lines: what is started, what the host waits for. */
  say?: (line: string) => void;
  /** Iterations `initial` holds (where the run resumes from). */
  iteration: number;
}

/** `board` undefined: the board on `opts.port`, whatever it is. */
export async function openTarget(board: string | undefined, spec: RunSpec, initial: TrainState, opts: TargetOptions): Promise<TrainTarget> {
  const rule = getRule(spec.rule, "rule");
  if (board === "host") {
    if (opts.port !== undefined) throw new InputError("--port", "the host reference does not use a serial port; give --board BOARD, or leave --board out to train on the board on that port");
    return rule.training!.host(spec, initial);
  }
  // Refuse before starting or flashing anything: what the rule cannot train on a board, and a
  // model whose device state alone does not fit the board's RAM (the board's CONFIGURE answer
  // then accounts for the firmware's own share too).
  DeviceTarget.trainerFor(spec);
  const fits = (ramBytes: number, what: string) => {
    if (!rule.deviceBytes) return;
    const o = { optimizer: spec.optimizer.kind };
    checkFits(rule.deviceBytes(spec.base, o), rule.deviceSize?.(spec.base, o) ?? { field: "model", shape: "the model" }, ramBytes, what);
  };
  if (board !== undefined) fits(getBoard(board).ramBytes, `RAM of board '${board}'`);
  const conn = await connectBoard({ board, port: opts.port, faultRate: opts.faultRate, timeouts: opts.timeouts, rule: spec.rule, ...(opts.say ? { say: opts.say } : {}) });
  if (board === undefined) {
    try {
      fits(conn.board?.ramBytes ?? conn.info.ram, `RAM of the board on ${conn.port} ('${conn.info.board}')`);
    } catch (err) {
      await conn.release();
      throw err;
    }
  }
  return DeviceTarget.open(spec, initial, conn, { iteration: opts.iteration });
}
