// `--backend sim`: the case goes over a real serial line to the sim board (a separate process
// hosting the firmware .wasm on a socat pty pair); the rule's `board` drives it (for e-prop:
// CONFIGURE, WRITE the parameters, RUN the trial in frames, GRADS). `--port PATH` uses an
// already running board (`edgeprop sim`); `--fault-rate R` injects byte faults on the board's
// UART. Same kernels as `--backend wasm` (scalar build), so the two agree bit for bit.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBoard } from "../../boards/index.ts";
import { firmwareWasmFor } from "../firmware/source.ts";
import { ruleOn, type GradBackend, type GradOptions } from "./backend.ts";
import { InputError } from "../input/errors.ts";
import { deviceRuleNames } from "../rules/index.ts";
import type { GradResult } from "../model/types.ts";
import { DeviceClient } from "../session/client.ts";
import { Session } from "../session/session.ts";
import { SerialTransport } from "../transport/serial.ts";
import { startSim } from "../sim/sim.ts";

export interface SerialGradOptions {
  maxFrame?: number;
  /** The rule (default e-prop); the board's firmware must carry it (HELLO `rules`). */
  rule?: string;
}

/** Runs one case on a board reachable at `port`: the rule's loss and gradients (`Out`: as GradBackend.grad). */
export async function gradOverSerial<Out = GradResult>(c: unknown, port: string, opts: SerialGradOptions = {}): Promise<Out> {
  const rule = ruleOn(simBackend, opts.rule ?? "eprop");
  const t = await SerialTransport.open(port);
  const s = new Session(t, { timeoutMs: 200, retries: 20, maxFrame: opts.maxFrame ?? 65535 });
  try {
    const dev = new DeviceClient(s);
    await dev.helloFor(rule.name);
    return (await rule.board!(c, dev)) as Out;
  } finally {
    await s.close();
  }
}

export const simBackend: GradBackend = {
  name: "sim",
  get rules() {
    return deviceRuleNames();
  },
  async grad<Out>(c: unknown, opts: GradOptions): Promise<Out> {
    const rule = ruleOn(simBackend, opts.rule).name;
    if (opts.flags.port) return gradOverSerial<Out>(c, opts.flags.port, { rule });
    const faultRate = opts.flags["fault-rate"] !== undefined ? Number(opts.flags["fault-rate"]) : 0;
    if (!(faultRate >= 0 && faultRate < 0.1)) throw new InputError("--fault-rate", `a byte error rate in [0, 0.1), got '${opts.flags["fault-rate"]}'`);
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-sim-"));
    const sim = await startSim({ dir, faultRate, wasm: await firmwareWasmFor(getBoard("sim")) });
    try {
      // on a noisy line smaller frames get through more often
      return await gradOverSerial<Out>(c, sim.port, { rule, maxFrame: faultRate > 0 ? 512 : undefined });
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
