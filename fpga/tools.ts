// Running the Debian FPGA tools: a missing tool is a MissingToolError naming its package from
// the one table, scripts/toolchains.txt (host/toolchains.ts).
import { spawn } from "node:child_process";
import { missingTool } from "../host/toolchains.ts";

export type FpgaTool = "iverilog" | "vvp" | "verilator" | "yosys" | "nextpnr-ice40";

export interface ToolRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool asynchronously (simulations and place-and-route take seconds to minutes). */
export function runTool(tool: FpgaTool, args: string[], cwd: string, timeoutMs = 900_000): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === "ENOENT" ? missingTool(tool) : err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") reject(new Error(`${tool} timed out after ${timeoutMs / 1000} s`));
      else resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

export async function runToolOk(tool: FpgaTool, args: string[], cwd: string, timeoutMs?: number): Promise<ToolRun> {
  const r = await runTool(tool, args, cwd, timeoutMs);
  if (r.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed (exit ${r.status}):\n${(r.stderr || r.stdout).slice(-3000)}`);
  return r;
}

/** yosys's simulation models of the iCE40 primitives (SB_SPRAM256KA) for iverilog. */
export const ICE40_CELLS_SIM = "/usr/share/yosys/ice40/cells_sim.v";
