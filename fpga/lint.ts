// `verilator --lint-only -Wall` over the generated RTL (core, memories, top). For SPRAM designs
// a port-only stub of SB_SPRAM256KA stands in for the vendor cell (the stub alone has lint off).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Derived } from "./config.ts";
import { rtlFileNames } from "./generate/index.ts";
import { runTool } from "./tools.ts";

const SPRAM_STUB = `/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNDRIVEN */
/* verilator lint_off DECLFILENAME */
module SB_SPRAM256KA (input [13:0] ADDRESS, input [15:0] DATAIN, input [3:0] MASKWREN, input WREN, input CHIPSELECT,
  input CLOCK, input STANDBY, input SLEEP, input POWEROFF, output [15:0] DATAOUT);
endmodule
`;

export interface LintResult {
  ok: boolean;
  warnings: string[];
}

/** Lints a design already written to `dir` (see writeDesign). */
export async function lintDesign(d: Derived, dir: string): Promise<LintResult> {
  const files = rtlFileNames(d);
  if (d.cfg.memory === "spram") {
    writeFileSync(join(dir, "sb_spram256ka_lint_stub.v"), SPRAM_STUB);
    files.unshift("sb_spram256ka_lint_stub.v");
  }
  const r = await runTool("verilator", ["--lint-only", "-Wall", "--top-module", "edgeprop_top", ...files], dir);
  const warnings = (r.stderr + r.stdout).split("\n").filter((l) => /^%(Warning|Error)/.test(l) && !/Exiting due to/.test(l));
  return { ok: r.status === 0 && warnings.length === 0, warnings };
}
