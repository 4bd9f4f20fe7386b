// `--backend wasm`: the rule's device kernels (device/, AssemblyScript → WebAssembly, float32)
// run in Node. `--build scalar` (default; the MCU build, bit-exact with the native wasm2c build)
// or `--build simd`. The .wasm is built on demand (host/device/build.ts).
import { InputError } from "../input/errors.ts";
import { rules } from "../rules/index.ts";
import { ruleOn, type GradBackend, type GradOptions } from "./backend.ts";

export const wasmBackend: GradBackend = {
  name: "wasm",
  get rules() {
    return rules.filter((r) => r.wasm).map((r) => r.name);
  },
  async grad<Out>(c: unknown, opts: GradOptions): Promise<Out> {
    const rule = ruleOn(wasmBackend, opts.rule);
    const build = opts.flags.build ?? "scalar";
    if (build !== "scalar" && build !== "simd") throw new InputError("--build", `scalar|simd, got '${build}'`);
    return (await rule.wasm!(c, build)) as Out;
  },
};
