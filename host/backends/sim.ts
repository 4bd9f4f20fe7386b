// `--backend sim`: the case goes over a real serial line to the sim board (a separate process
// hosting the firmware .wasm on a socat pty pair): CONFIGURE, WRITE the parameters, RUN the
// trial in frames, GRADS. `--port PATH` uses an already running board (`edgeprop sim`);
// `--fault-rate R` injects byte faults on the board's UART. Same kernels as `--backend wasm`
// (scalar build), so the two agree bit for bit. (To be registered in host/backends/index.ts.)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GradBackend } from "./backend.ts";
import { InputError } from "../input/errors.ts";
import type { Case, GradResult } from "../model/types.ts";
import { DeviceClient } from "../session/client.ts";
import { Session } from "../session/session.ts";
import { SerialTransport } from "../transport/serial.ts";
import { startSim } from "../sim/sim.ts";

/** Runs one case on a board reachable at `port`; returns its e-prop loss and gradients. */
export async function gradOverSerial(c: Case, port: string, opts: { maxFrame?: number } = {}): Promise<GradResult> {
  const t = await SerialTransport.open(port);
  const s = new Session(t, { timeoutMs: 200, retries: 20, maxFrame: opts.maxFrame ?? 65535 });
  try {
    const dev = new DeviceClient(s);
    await dev.hello();
    await dev.configure(c.model, c.feedback.kind);
    await dev.writeParams(c.params, c.feedback.B);
    const r = await dev.runTrial(c.inputs, c.targets, c.mask);
    return { loss: r.loss, grads: await dev.readGrads() };
  } finally {
    await s.close();
  }
}

export const simBackend: GradBackend = {
  name: "sim",
  rules: ["eprop"],
  async grad(c, opts) {
    if (opts.flags.port) return gradOverSerial(c, opts.flags.port);
    const faultRate = opts.flags["fault-rate"] !== undefined ? Number(opts.flags["fault-rate"]) : 0;
    if (!(faultRate >= 0 && faultRate < 0.1)) throw new InputError("--fault-rate", `a byte error rate in [0, 0.1), got '${opts.flags["fault-rate"]}'`);
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-sim-"));
    const sim = await startSim({ dir, faultRate });
    try {
      // on a noisy line smaller frames get through more often
      return await gradOverSerial(c, sim.port, { maxFrame: faultRate > 0 ? 512 : undefined });
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
