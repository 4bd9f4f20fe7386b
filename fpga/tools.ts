// Running the Debian FPGA tools: a missing tool is a MissingToolError naming its package.
import { spawnSync } from "node:child_process";
import { MissingToolError } from "../host/cli/errors.ts";

const PACKAGE: Record<string, string> = {
  iverilog: "iverilog",
  vvp: "iverilog",
  verilator: "verilator",
  yosys: "yosys",
  "nextpnr-ice40": "nextpnr-ice40",
};

export interface ToolRun {
  status: number;
  stdout: string;
  stderr: string;
}

export function runTool(tool: string, args: string[], cwd: string, timeoutMs = 600_000): ToolRun {
  const r = spawnSync(tool, args, { cwd, encoding: "utf8", timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") throw new MissingToolError(tool, PACKAGE[tool] ?? tool);
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function runToolOk(tool: string, args: string[], cwd: string, timeoutMs?: number): ToolRun {
  const r = runTool(tool, args, cwd, timeoutMs);
  if (r.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed (exit ${r.status}):\n${(r.stderr || r.stdout).slice(-3000)}`);
  return r;
}

/** yosys's simulation models of the iCE40 primitives (SB_SPRAM256KA) for iverilog. */
export const ICE40_CELLS_SIM = "/usr/share/yosys/ice40/cells_sim.v";
