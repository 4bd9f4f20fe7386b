// `--backend qemu`: the case runs on the firmware compiled ahead of time (wasm2c + arm gcc)
// and booted in QEMU (default board qemu-mps2-an386, `--board` for another emulated board),
// over the same protocol and host code as the simulated board.
import { startQemuBoard } from "../firmware/qemu-board.ts";
import { deviceRuleNames } from "../rules/index.ts";
import { gradOverSerial } from "./sim.ts";
import { ruleOn, type GradBackend, type GradOptions } from "./backend.ts";

export const qemuBackend: GradBackend = {
  name: "qemu",
  get rules() {
    return deviceRuleNames();
  },
  async grad<Out>(c: unknown, opts: GradOptions): Promise<Out> {
    const rule = ruleOn(qemuBackend, opts.rule).name;
    if (opts.flags.port) return gradOverSerial<Out>(c, opts.flags.port, { rule });
    const board = await startQemuBoard({ board: opts.flags.board ?? "qemu-mps2-an386" });
    try {
      return await gradOverSerial<Out>(c, board.port, { rule });
    } finally {
      await board.stop();
    }
  },
};
