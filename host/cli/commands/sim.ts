// `edgeprop sim [--dir DIR] [--storage FILE] [--fault-rate R] [--fault-seed S] [--json]`:
// starts the simulated board (a separate process hosting the firmware .wasm, its UART on a
// socat pty pair, storage in a file) and prints the serial port to use; runs until Ctrl-C.
// (To be registered in host/cli/commands/index.ts.)
import { resolve } from "node:path";
import { flagNumber, flagInt, flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { startSim } from "../../sim/sim.ts";

export const simCommand: Command = {
  name: "sim",
  summary: "start the simulated board (firmware .wasm in a separate process on a pseudo-terminal) and print its port",
  usage: "edgeprop sim [--dir DIR] [--storage FILE] [--wasm FILE] [--fault-rate R] [--fault-seed S] [--json]",
  async run(argv) {
    const args = parseArgs(argv, ["dir", "storage", "wasm", "fault-rate", "fault-seed"], ["json", "verbose"]);
    const dir = flagString(args, "dir");
    const sim = await startSim({
      dir: dir ? resolve(dir) : undefined,
      storage: flagString(args, "storage"),
      wasm: flagString(args, "wasm"),
      faultRate: flagNumber(args, "fault-rate", 0, 0, 0.5),
      faultSeed: flagInt(args, "fault-seed", 1, 0),
      log: args.flags.has("verbose") ? (l) => process.stderr.write(`[board] ${l}`) : undefined,
    });
    if (args.flags.has("json")) {
      process.stdout.write(JSON.stringify({ port: sim.port, device: sim.pty.hostPath, pid: sim.board.pid }) + "\n");
    } else {
      process.stdout.write(`sim board running (pid ${sim.board.pid}); port: ${sim.port} (${sim.pty.hostPath})\n`);
      process.stdout.write("press Ctrl-C to stop\n");
    }
    await new Promise<void>((done) => {
      let stopping = false;
      const stop = () => {
        stopping = true;
        void sim.stop().then(done);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      sim.board.once("exit", (code, sig) => {
        if (stopping) return;
        process.stderr.write(`sim board process exited (${code ?? sig})\n`);
        void sim.stop().then(done);
      });
    });
    return 0;
  },
};
