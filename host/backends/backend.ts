// A gradient backend: where `edgeprop grad` runs a rule (the rule decides what is computed,
// host/rules/). `host` is the float64 reference; `wasm` the device kernels in Node; `sim` and
// `qemu` a board over the protocol; `fpga-sim` the generated Verilog (e-prop only).
import { InputError } from "../input/errors.ts";
import { getRule } from "../rules/index.ts";
import type { GradResult } from "../model/types.ts";
import type { RuleModule } from "../rules/rule.ts";

export interface GradOptions {
  /** A registered rule's name (host/rules/index.ts). */
  rule: string;
  /** Backend-specific flags from the command line (e.g. `build` for wasm: scalar|simd). */
  flags: Record<string, string>;
  /** Progress lines (what is started, what the backend waits for): the CLI writes them to stderr. */
  say?: (line: string) => void;
}

export interface GradBackend {
  name: string;
  /** The registered rules this backend computes (host: all; device backends: those with a device kernel). */
  readonly rules: readonly string[];
  /**
   * The rule's loss, gradients and extras (host/rules/rule.ts GradOutput); `c` is the case as the
   * rule's parseCase returned it. `Out` is the caller's view of that output: e-prop's and BPTT's
   * shape by default, another rule's when the caller asks for that rule.
   */
  grad<Out = GradResult>(c: unknown, opts: GradOptions): Promise<Out>;
}

/** The rule `rule` names, or an InputError when `backend` cannot run it. */
export function ruleOn(backend: GradBackend, rule: string): RuleModule {
  const r = getRule(rule);
  if (!backend.rules.includes(r.name)) {
    const why = r.wasm || r.board ? `does not run on backend '${backend.name}'` : "has no device kernel (it runs on --backend host)";
    throw new InputError("--backend", `rule '${r.name}' ${why}; backend '${backend.name}' runs ${backend.rules.join("|") || "no rule"}`);
  }
  return r;
}
