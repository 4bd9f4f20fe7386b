// `--backend qemu`: the case runs on the firmware compiled ahead of time (wasm2c + arm gcc)
// and booted in QEMU (default board qemu-mps2-an386, `--board` for another emulated board),
// over the same protocol and host code as the simulated board (connectBoard, gradOnBoard).
import { connectBoard } from "../link/connect-board.ts";
import { boardFlags, gradOnBoard } from "./sim.ts";
import type { GradBackend } from "./backend.ts";

export const qemuBackend: GradBackend = {
  name: "qemu",
  rules: ["eprop"],
  async grad(c, opts) {
    return gradOnBoard(c, await connectBoard(boardFlags("qemu-mps2-an386", opts.flags, opts.say)));
  },
};
