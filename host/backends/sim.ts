// `--backend sim`: the case goes over a real serial line to the sim board (a separate process
// hosting the firmware .wasm on a socat pty pair); the rule's `board` drives it (for e-prop:
// CONFIGURE, WRITE the parameters, RUN the trial in frames, GRADS). `--port PATH` uses an
// already running board (`edgeprop sim`, QEMU, an MCU); `--fault-rate R` injects byte faults on
// the link; `--timeout S` bounds the wait for the board. Boards are reached through connectBoard.
// Same kernels as `--backend wasm` (scalar build), so the two agree bit for bit.
import { InputError } from "../input/errors.ts";
import { connectBoard, DEFAULT_WAIT_S, type BoardConnection, type ConnectOptions } from "../link/connect-board.ts";
import type { GradResult } from "../model/types.ts";
import { deviceRuleNames, getRule } from "../rules/index.ts";
import { ruleOn, type GradBackend, type GradOptions } from "./backend.ts";

/** Runs one case with `rule` on a connected board (its HELLO checked the rule), then releases it. */
export async function gradOnBoard<Out = GradResult>(c: unknown, conn: BoardConnection, rule = "eprop"): Promise<Out> {
  try {
    return (await getRule(rule).board!(c, conn.client)) as Out;
  } finally {
    await conn.release();
  }
}

export interface SerialGradOptions {
  maxFrame?: number;
  /** The rule (default e-prop); the board's firmware must carry it (HELLO `rules`). */
  rule?: string;
}

/** One case on the board at `port` (tests and benchmarks; `maxFrame` 512 for a noisy line). */
export async function gradOverSerial<Out = GradResult>(c: unknown, port: string, opts: SerialGradOptions = {}): Promise<Out> {
  const rule = ruleOn(simBackend, opts.rule ?? "eprop").name;
  const conn = await connectBoard({ port, rule, timeouts: { waitMs: DEFAULT_WAIT_S * 1000 }, ...(opts.maxFrame !== undefined ? { maxFrame: opts.maxFrame } : {}) });
  return gradOnBoard<Out>(c, conn, rule);
}

function number(flags: Record<string, string>, name: string, fallback: number, min: number, max: number): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max) throw new InputError(`--${name}`, `expected a number in [${min}, ${max}], got '${v}'`);
  return n;
}

/** connectBoard options from grad's flags: `--port` means whatever board answers there. */
export function boardFlags(board: string, opts: GradOptions, rule: string): ConnectOptions {
  const flags = opts.flags;
  return {
    ...(flags.port !== undefined ? { port: flags.port } : { board: flags.board ?? board }),
    rule,
    faultRate: number(flags, "fault-rate", 0, 0, 0.5),
    timeouts: { waitMs: 1000 * number(flags, "timeout", DEFAULT_WAIT_S, 0.1, 86_400) },
    ...(opts.say ? { say: opts.say } : {}),
  };
}

export const simBackend: GradBackend = {
  name: "sim",
  get rules() {
    return deviceRuleNames();
  },
  async grad<Out>(c: unknown, opts: GradOptions): Promise<Out> {
    const rule = ruleOn(simBackend, opts.rule).name;
    return gradOnBoard<Out>(c, await connectBoard(boardFlags("sim", opts, rule)), rule);
  },
};
