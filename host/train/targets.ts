// Opens the training target for `--board`: `host` is the rule's float64 target; a board id from
// boards/ trains on the device over the wire — the simulated board and QEMU boards are started
// here unless `--port` names a running one; a physical board needs `--port`. A model too large
// for the board's RAM is refused first, with the numbers (the rule's deviceBytes). Several boards
// (`--replicas N` of a board edgeprop starts, or several `--port`) train one run together
// (replicas.ts).
import { join } from "node:path";
import { getBoard } from "../../boards/index.ts";
import { checkFits } from "../device/planner.ts";
import { InputError } from "../input/errors.ts";
import { startQemuBoard } from "../firmware/qemu-board.ts";
import { firmwareWasmFor } from "../firmware/source.ts";
import { getRule } from "../rules/index.ts";
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
  /** Byte error rate injected into the link on the host side. */
  faultRate?: number;
  /** Run directory: the simulated board keeps its storage file under it. */
  runDir: string;
  /** Iterations `initial` holds (where the run resumes from). */
  iteration: number;
}

export async function openTarget(board: string, spec: RunSpec, initial: TrainState, opts: TargetOptions): Promise<TrainTarget> {
  const rule = getRule(spec.rule, "rule");
  const ports = opts.ports ?? (opts.port !== undefined ? [opts.port] : []);
  const replicas = opts.replicas ?? 1;
  if (replicas > 1 && ports.length > 0) {
    throw new InputError("--replicas", "a board given by --port is one running board: edgeprop cannot start copies of it; give one --port per board instead");
  }
  if (board === "host") {
    if (replicas > 1) throw new InputError("--replicas", "--board host trains in this process; --replicas starts several boards edgeprop can start (--board sim or a QEMU board)");
    if (ports.length > 0) throw new InputError("--board", "--port names a running board: give its kind with --board (e.g. sim, or the board id of boards/)");
    checkScale(spec, rule.training!);
    return rule.training!.host(spec, initial);
  }
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
  if (ports.length > 1) {
    return ReplicaTarget.open(spec, initial, { ...device, boards: ports.map((port) => ({ board, port })) });
  }
  if (replicas > 1) {
    if (b.id !== "sim" && b.flash.method !== "qemu") {
      throw new InputError("--replicas", `board '${b.id}' is a physical board: edgeprop cannot start copies of it; flash each one and give one --port per board`);
    }
    const boards: ReplicaBoard[] = [];
    try {
      for (let i = 0; i < replicas; i++) boards.push(await startReplica(b.id, join(opts.runDir, `sim-${i + 1}`)));
    } catch (err) {
      await Promise.all(boards.map((r) => r.release?.()));
      throw err;
    }
    return ReplicaTarget.open(spec, initial, { ...device, boards });
  }
  if (ports.length === 1) return DeviceTarget.open(spec, initial, { ...device, port: ports[0]! });
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

/**
 * A board edgeprop starts (the simulated board, a QEMU board) as a replica: with the watch on
 * its process and a relaunch that replaces it by a fresh one.
 */
export async function startReplica(board: string, simDir: string): Promise<ReplicaBoard> {
  const b = getBoard(board);
  if (b.id === "sim") {
    const wasm = await firmwareWasmFor(b);
    let generation = 0;
    let sim = await startSim({ dir: simDir, wasm });
    return {
      board: b.id,
      port: sim.port,
      release: () => sim.stop(),
      exited: () => new Promise((r) => (sim.board.exitCode !== null || sim.board.signalCode !== null ? r(undefined) : sim.board.once("exit", r))),
      async relaunch() {
        await sim.stop();
        sim = await startSim({ dir: `${simDir}-${++generation}`, wasm });
        return sim.port;
      },
    };
  }
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
