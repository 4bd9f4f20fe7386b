// A gradient backend: something that takes a hil-case/1 and returns `edgeprop grad`'s output.
// `host` is the float64 reference; `wasm`, `sim`, `qemu` and `fpga-sim` run the device side.
import type { Case, GradResult, Rule } from "../model/types.ts";

export interface GradOptions {
  rule: Rule;
  /** Backend-specific flags from the command line (e.g. `build` for wasm: scalar|simd). */
  flags: Record<string, string>;
  /** Progress lines (what is started, what the backend waits for): the CLI writes them to stderr. */
  say?: (line: string) => void;
}

export interface GradBackend {
  name: string;
  /** Which rules this backend can compute (the reference does all; devices do e-prop). */
  rules: readonly Rule[];
  grad(c: Case, opts: GradOptions): Promise<GradResult>;
}
