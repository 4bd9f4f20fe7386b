// `--backend qemu`: the case runs on the firmware compiled ahead of time (wasm2c + arm gcc)
// and booted in QEMU (default board qemu-mps2-an386, `--board` for another emulated board),
// over the same protocol and host code as the simulated board (connectBoard, gradOnBoard).
import { connectBoard } from "../link/connect-board.ts";
import { deviceRuleNames } from "../rules/index.ts";
import { boardFlags, gradOnBoard } from "./sim.ts";
import { ruleOn, type GradBackend, type GradOptions } from "./backend.ts";

export const qemuBackend: GradBackend = {
  name: "qemu",
  get rules() {
    return deviceRuleNames();
  },
  async grad<Out>(c: unknown, opts: GradOptions): Promise<Out> {
    const rule = ruleOn(qemuBackend, opts.rule).name;
    return gradOnBoard<Out>(c, await connectBoard(boardFlags("qemu-mps2-an386", opts, rule)), rule);
  },
};
