// The registry of gradient backends for `edgeprop grad --backend NAME`.
import type { GradBackend } from "./backend.ts";
import { hostBackend } from "./host.ts";
import { wasmBackend } from "./wasm.ts";
import { fpgaSimBackend } from "./fpga-sim.ts";
import { simBackend } from "./sim.ts";
import { qemuBackend } from "./qemu.ts";

export const backends: GradBackend[] = [
  hostBackend,
  wasmBackend,
  simBackend,
  qemuBackend,
  fpgaSimBackend,
];
