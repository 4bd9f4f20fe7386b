// Opens the training target: `host` is the rule's float64 target; a board trains on the device
// over the wire, reached through connectBoard (host/link/): the simulated board and QEMU boards
// are started unless `--port` names a running one; a physical board needs `--port`; `--port`
// alone trains on whatever board answers there. A model too large for the board's RAM is refused
// first, with the numbers (the rule's deviceBytes). Several boards (`--replicas N` of a board
// edgeprop starts, or several `--port`) train one run together (replicas.ts).
import { getBoard } from "../../boards/index.ts";
import { checkFits } from "../device/planner.ts";
import { InputError } from "../input/errors.ts";
import { connectBoard, type BoardConnection, type BoardTimeouts } from "../link/connect-board.ts";
import { getRule } from "../rules/index.ts";
import { startQemuBoard } from "../firmware/qemu-board.ts";
import { firmwareWasmFor } from "../firmware/source.ts";
import { startSim } from "../sim/sim.ts";
import { checkScale } from "./batch.ts";
import { DeviceTarget } from "./device-target.ts";
import { ReplicaTarget, type ReplicaBoard } from "./replicas.ts";
import type { TrainState, TrainTarget } from "./target.ts";
import type { RunSpec } from "./training.ts";

export interface TargetOptions {
  /** Serial port of an already running board (instead of starting one). */
  port?: string;
  /** Serial ports of several running boards (one run over all of them; their kinds may differ). */
  ports?: string[];
  /** Boards of kind `board` to start and train on together (sim, QEMU boards). */
  replicas?: number;
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
  const ports = opts.ports ?? (opts.port !== undefined ? [opts.port] : []);
  const replicas = opts.replicas ?? 1;
  if (replicas > 1 && ports.length > 0) {
    throw new InputError("--replicas", "a board given by --port is one running board: edgeprop cannot start copies of it; give one --port per board instead");
  }
  if (board === "host") {
    if (replicas > 1) throw new InputError("--replicas", "--board host trains in this process; --replicas starts several boards edgeprop can start (--board sim or a QEMU board)");
    if (ports.length > 0) throw new InputError("--port", "the host reference does not use a serial port; give --board BOARD, or leave --board out to train on the board on that port");
    checkScale(spec, rule.training!);
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
  /** A board reached on a port without --board: its RAM is known once it has answered. */
  const fitsConn = (conn: BoardConnection) => fits(conn.board?.ramBytes ?? conn.info.ram, `RAM of the board on ${conn.port} ('${conn.info.board}')`);
  if (board !== undefined) fits(getBoard(board).ramBytes, `RAM of board '${board}'`);
  const link = { faultRate: opts.faultRate, timeouts: opts.timeouts, ...(opts.say ? { say: opts.say } : {}) };

  if (ports.length > 1 || replicas > 1) {
    ReplicaTarget.trainerFor(spec);
    const several = { ...link, iteration: opts.iteration, ...(board === undefined ? { check: fitsConn } : {}) };
    // several --port: boards of any kinds, each says what it is in its HELLO (connectBoard)
    if (ports.length > 1) return ReplicaTarget.open(spec, initial, { ...several, boards: ports.map((port) => ({ board, port })) });
    const b = getBoard(board!);
    if (b.id !== "sim" && b.flash.method !== "qemu") {
      throw new InputError("--replicas", `board '${b.id}' is a physical board: edgeprop cannot start copies of it; flash each one and give one --port per board`);
    }
    const boards: ReplicaBoard[] = [];
    try {
      for (let i = 0; i < replicas; i++) boards.push(await startReplica(b.id, opts.say));
    } catch (err) {
      await Promise.all(boards.map((r) => r.release?.()));
      throw err;
    }
    return ReplicaTarget.open(spec, initial, { ...several, boards });
  }

  const conn = await connectBoard({ ...link, board, port: ports[0], rule: spec.rule });
  if (board === undefined) {
    try {
      fitsConn(conn);
    } catch (err) {
      await conn.release();
      throw err;
    }
  }
  return DeviceTarget.open(spec, initial, conn, { iteration: opts.iteration });
}

/**
 * A board edgeprop starts (the simulated board, a QEMU board) as a replica: with the watch on
 * its process and a relaunch that replaces it by a fresh one.
 */
export async function startReplica(board: string, say?: (line: string) => void): Promise<ReplicaBoard> {
  const b = getBoard(board);
  if (b.id === "sim") {
    const wasm = await firmwareWasmFor(b);
    say?.("starting a simulated board...");
    let sim = await startSim({ wasm });
    return {
      board: b.id,
      port: sim.port,
      release: () => sim.stop(),
      exited: () => new Promise((r) => (sim.board.exitCode !== null || sim.board.signalCode !== null ? r(undefined) : sim.board.once("exit", r))),
      async relaunch() {
        await sim.stop();
        sim = await startSim({ wasm });
        return sim.port;
      },
    };
  }
  say?.(`building the firmware and booting ${b.id} in QEMU...`);
  let q = await startQemuBoard({ board: b.id });
  return {
    board: b.id,
    port: q.port,
    release: () => q.stop(),
    exited: () => q.qemu.exited,
    async relaunch() {
      await q.stop();
      q = await startQemuBoard({ board: b.id });
      return q.port;
    },
  };
}
