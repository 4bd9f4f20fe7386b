// `--backend wasm`: the device kernels (device/, AssemblyScript → WebAssembly, float32) run in
// Node. `--build scalar` (default; the MCU build, bit-exact with the native wasm2c build) or
// `--build simd`. The .wasm is built on demand (host/device/build.ts).
import { InputError } from "../input/errors.ts";
import { deviceGrad } from "../device/driver.ts";
import type { Build } from "../device/planner.ts";
import type { GradBackend } from "./backend.ts";

export const wasmBackend: GradBackend = {
  name: "wasm",
  rules: ["eprop"],
  async grad(c, opts) {
    const build = opts.flags.build ?? "scalar";
    if (build !== "scalar" && build !== "simd") throw new InputError("--build", `scalar|simd, got '${build}'`);
    const { loss, grads } = await deviceGrad(c, build as Build);
    return { loss, grads };
  },
};
