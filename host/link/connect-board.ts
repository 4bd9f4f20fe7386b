// The one way the host reaches a board: training, the sim/QEMU grad backends, the demo, flash's
// readiness wait and the monitor all call connectBoard(). It starts what provides the port when
// none is given (the simulated board, a QEMU board), opens the serial port, puts the fault
// injector on the host's side of the link when asked, says on stderr what it waits for and how
// long, and answers with a protocol client that has said HELLO, plus release() to undo it all.
//
// `faultRate` means the same in every verb: each byte crossing the link, in either direction,
// is dropped, flipped or duplicated with that probability (seeded by `faultSeed`); frames are
// then kept small (512 bytes), so more of them get through.
import { getBoard, type Board } from "../../boards/index.ts";
import { startQemuBoard } from "../firmware/qemu-board.ts";
import { firmwareWasmFor } from "../firmware/source.ts";
import { InputError } from "../input/errors.ts";
import { DeviceClient } from "../session/client.ts";
import { Session, TimeoutError } from "../session/session.ts";
import { startSim } from "../sim/sim.ts";
import { FaultyTransport } from "../transport/fault.ts";
import { SerialTransport } from "../transport/serial.ts";
import type { Transport } from "../transport/transport.ts";
import type { HelloInfo } from "../../protocol/messages.ts";
import { linkStats, type LinkStats } from "./link-stats.ts";

export interface BoardTimeouts {
  /**
   * How long to wait for the board: for its first answer (HELLO), and during any later request
   * for a sign of life (an answer, an ACK) before giving up. Seconds on the command line (--timeout).
   */
  waitMs: number;
  /** First per-attempt wait before a retransmission (doubles up to 4 s while unanswered). */
  attemptMs?: number;
}

export interface ConnectOptions {
  /** A board id from boards/ (sim, a QEMU board, a physical board); optional with `port`. */
  board?: string;
  /** Serial port of a running board; without it the sim or a QEMU board is started. */
  port?: string;
  faultRate?: number;
  faultSeed?: number;
  /** A learning rule the board's firmware must carry (HELLO `rules`): refused with the reason otherwise. */
  rule?: string;
  /** Largest frame to negotiate (default: 512 bytes with faultRate > 0, else what the board offers). */
  maxFrame?: number;
  timeouts: BoardTimeouts;
  /** Progress and waiting lines (the CLI writes them to stderr). */
  say?: (line: string) => void;
  onLog?: (level: number, text: string) => void;
}

export interface BoardConnection {
  client: DeviceClient;
  session: Session;
  info: HelloInfo;
  /** The board's definition: --board, else the id the board reported, when boards/ knows it. */
  board: Board | undefined;
  port: string;
  /** Called when the board restarts (its boot LOG): its model and frame size are gone. */
  onBoot: (() => void) | undefined;
  stats(): LinkStats;
  /** Closes the session and stops whatever was started for it. */
  release(): Promise<void>;
}

/** Largest frame on a noisy link: a short frame gets through more often. */
const NOISY_MAX_FRAME = 512;

export const DEFAULT_WAIT_S = 30;

export async function connectBoard(o: ConnectOptions): Promise<BoardConnection> {
  const say = o.say ?? (() => {});
  const def = o.board === undefined ? undefined : getBoard(o.board);
  const faultRate = o.faultRate ?? 0;
  if (!(faultRate >= 0 && faultRate <= 0.5)) throw new InputError("--fault-rate", `expected a byte fault rate in [0, 0.5], got ${faultRate}`);

  let port = o.port;
  let stop: () => Promise<void> = async () => {};
  if (port === undefined) {
    if (!def) throw new InputError("--port", "expected --port PATH or --board BOARD");
    if (def.id === "sim") {
      say("starting the simulated board...");
      const sim = await startSim({ wasm: await firmwareWasmFor(def) });
      port = sim.port;
      stop = () => sim.stop();
    } else if (def.flash.method === "qemu") {
      say(`building the firmware and booting ${def.id} in QEMU...`);
      const q = await startQemuBoard({ board: def.id });
      port = q.port;
      stop = () => q.stop();
    } else {
      throw new InputError("--port", `board '${def.id}' is a physical board: flash it (edgeprop flash --board ${def.id}) and give its serial port with --port (edgeprop ports lists them)`);
    }
  }

  let transport: Transport;
  try {
    transport = await SerialTransport.open(port, { baudRate: def?.transport.baud });
  } catch (err) {
    await stop();
    throw err;
  }
  const faulty = faultRate > 0 ? new FaultyTransport(transport, { rate: faultRate, seed: o.faultSeed ?? 1 }) : undefined;
  const session = new Session(faulty ?? transport, {
    timeoutMs: o.timeouts.attemptMs ?? 250,
    retries: Number.MAX_SAFE_INTEGER, // the silence limit decides
    silenceMs: o.timeouts.waitMs,
    maxWaitMs: Number.MAX_SAFE_INTEGER, // ACKs keep a long request alive
    ...(o.maxFrame !== undefined ? { maxFrame: o.maxFrame } : faultRate > 0 ? { maxFrame: NOISY_MAX_FRAME } : {}),
    ...(o.onLog ? { onLog: o.onLog } : {}),
  });
  let resets = 0;
  const release = async () => {
    await session.close().catch(() => {});
    await stop();
  };

  const seconds = o.timeouts.waitMs / 1000;
  say(`waiting for the board on ${port} (up to ${seconds} s)...`);
  const client = new DeviceClient(session);
  let info: HelloInfo;
  try {
    info = o.rule !== undefined ? await client.helloFor(o.rule) : await client.hello();
  } catch (err) {
    await release();
    if (err instanceof TimeoutError) {
      throw new BoardTimeoutError(
        `no answer from a board on ${port} within ${seconds} s: is it powered, running the edgeprop firmware (edgeprop flash) and on this port? (--timeout S waits longer)`,
      );
    }
    throw err;
  }
  const known = def ?? (() => {
    try {
      return getBoard(info.board);
    } catch {
      return undefined;
    }
  })();
  if (def && info.board !== def.id) say(`warning: --board is ${def.id} but the board on ${port} says it is '${info.board}'`);

  const conn: BoardConnection = {
    client,
    session,
    info,
    board: known,
    port,
    onBoot: undefined,
    stats: () => linkStats(session.stats, [faulty?.toDevice.stats, faulty?.toHost.stats], resets),
    release,
  };
  session.onBoot = () => {
    resets++;
    conn.onBoot?.();
  };
  return conn;
}

/** The board did not answer within --timeout (exit code 4: nothing wrong with the input). */
export class BoardTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BoardTimeoutError";
  }
}
