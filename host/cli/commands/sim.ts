// `edgeprop sim`: starts the simulated board (a separate process hosting the firmware .wasm, its
// UART on a socat pty pair, storage in a file) and prints the serial port to use; runs until
// Ctrl-C. Its files live in the per-user state folder unless --dir/--storage say otherwise.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { FAULT_FLAGS, JSON_FLAG, faultRate, faultSeed, say } from "../flags.ts";
import { InputError } from "../../input/errors.ts";
import { stateSubdir } from "../../paths.ts";
import { startSim } from "../../sim/sim.ts";

export const simCommand = defineCommand({
  name: "sim",
  summary: "start the simulated board (firmware .wasm in its own process on a pseudo-terminal) and print its port",
  usage: "[--dir DIR] [--storage FILE] [--fault-rate R] [--json]",
  description:
    "Prints the serial port (a stable link to a pty) that edgeprop grad/train/monitor --port and any\n" +
    "serial tool can open, then runs until Ctrl-C. The board's storage (its checkpoints) persists in\n" +
    "--storage across restarts, like a real board's flash.",
  flags: {
    dir: { type: "string", value: "DIR", default: "a fresh folder in ~/.cache/edgeprop/sim", description: "folder for the pty links (removed on exit when not given)" },
    storage: { type: "string", value: "FILE", default: "~/.cache/edgeprop/sim/storage.bin", description: "the board's persistent storage" },
    wasm: { type: "string", value: "FILE", default: "the edgeprop firmware (built on demand)", description: "another firmware .wasm (device/HAL.md)" },
    ...FAULT_FLAGS,
    verbose: { type: "boolean", description: "show the board process's own output on stderr" },
    json: JSON_FLAG,
  },
  examples: ["edgeprop sim", "edgeprop sim --fault-rate 1e-3 --json"],
  async main(args) {
    const wasm = flagString(args, "wasm");
    if (wasm !== undefined && !existsSync(wasm)) throw new InputError("--wasm", `file '${wasm}' not found`);
    const dir = flagString(args, "dir");
    const sim = await startSim({
      ...(dir !== undefined ? { dir } : {}),
      storage: flagString(args, "storage") ?? join(stateSubdir("sim"), "storage.bin"),
      ...(wasm !== undefined ? { wasm } : {}),
      faultRate: faultRate(args),
      faultSeed: faultSeed(args),
      ...(args.flags.has("verbose") ? { log: (l: string) => process.stderr.write(`[board] ${l}`) } : {}),
    });
    // Stop handlers first, then the port: whoever reads the port may signal at once.
    const stopped = new Promise<void>((done) => {
      let stopping = false;
      const stop = () => {
        stopping = true;
        void sim.stop().then(done);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      sim.board.once("exit", (code, sig) => {
        if (stopping) return;
        say(`sim board process exited (${code ?? sig})`);
        void sim.stop().then(done);
      });
    });
    if (args.flags.has("json")) {
      process.stdout.write(JSON.stringify({ port: sim.port, device: sim.pty.hostPath, pid: sim.board.pid }) + "\n");
    } else {
      process.stdout.write(`${sim.port}\n`);
      say(`sim board running (pid ${sim.board.pid}) on ${sim.port} (${sim.pty.hostPath}); Ctrl-C stops it`);
    }
    await stopped;
    return 0;
  },
});
