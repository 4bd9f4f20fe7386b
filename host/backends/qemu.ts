// `--backend qemu`: the case runs on the firmware compiled ahead of time (wasm2c + arm gcc)
// and booted in QEMU (default board qemu-mps2-an386, `--board` for another emulated board),
// over the same protocol and host code as the simulated board.
import { startQemuBoard } from "../firmware/qemu-board.ts";
import { gradOverSerial } from "./sim.ts";
import type { GradBackend } from "./backend.ts";

export const qemuBackend: GradBackend = {
  name: "qemu",
  rules: ["eprop"],
  async grad(c, opts) {
    if (opts.flags.port) return gradOverSerial(c, opts.flags.port);
    const board = await startQemuBoard({ board: opts.flags.board ?? "qemu-mps2-an386" });
    try {
      return await gradOverSerial(c, board.port);
    } finally {
      await board.stop();
    }
  },
};
