// `--backend sim`: the case goes over a real serial line to the sim board (a separate process
// hosting the firmware .wasm on a socat pty pair): CONFIGURE, WRITE the parameters, RUN the
// trial in frames, GRADS. `--port PATH` uses an already running board (`edgeprop sim`, QEMU, an
// MCU); `--fault-rate R` injects byte faults on the link; `--timeout S` bounds the wait for the
// board. Same kernels as `--backend wasm` (scalar build), so the two agree bit for bit.
import type { GradBackend } from "./backend.ts";
import { InputError } from "../input/errors.ts";
import type { Case, GradResult } from "../model/types.ts";
import { connectBoard, DEFAULT_WAIT_S, type BoardConnection, type ConnectOptions } from "../link/connect-board.ts";

/** Runs one case on a connected board, then releases it; returns its e-prop loss and gradients. */
export async function gradOnBoard(c: Case, conn: BoardConnection): Promise<GradResult> {
  try {
    const dev = conn.client;
    await dev.configure(c.model, c.feedback.kind);
    await dev.writeParams(c.params, c.feedback.B);
    const r = await dev.runTrial(c.inputs, c.targets, c.mask);
    return { loss: r.loss, grads: await dev.readGrads() };
  } finally {
    await conn.release();
  }
}

/** One case on the board at `port` (tests and benchmarks; `maxFrame` 512 for a noisy line). */
export async function gradOverSerial(c: Case, port: string, opts: { maxFrame?: number } = {}): Promise<GradResult> {
  return gradOnBoard(c, await connectBoard({ port, timeouts: { waitMs: DEFAULT_WAIT_S * 1000 }, ...opts }));
}

function number(flags: Record<string, string>, name: string, fallback: number, min: number, max: number): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max) throw new InputError(`--${name}`, `expected a number in [${min}, ${max}], got '${v}'`);
  return n;
}

/** connectBoard options from grad's flags: `--port` means whatever board answers there. */
export function boardFlags(board: string, flags: Record<string, string>, say?: (line: string) => void): ConnectOptions {
  return {
    ...(flags.port !== undefined ? { port: flags.port } : { board: flags.board ?? board }),
    faultRate: number(flags, "fault-rate", 0, 0, 0.5),
    timeouts: { waitMs: 1000 * number(flags, "timeout", DEFAULT_WAIT_S, 0.1, 86_400) },
    ...(say ? { say } : {}),
  };
}

export const simBackend: GradBackend = {
  name: "sim",
  rules: ["eprop"],
  async grad(c, opts) {
    return gradOnBoard(c, await connectBoard(boardFlags("sim", opts.flags, opts.say)));
  },
};
