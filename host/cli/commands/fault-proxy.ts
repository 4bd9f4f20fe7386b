// `edgeprop fault-proxy --port BOARD_PORT --fault-rate R [--seed S] [--dir DIR] [--json]`:
// puts the fault-injecting link between the host and a board (real, QEMU or sim) and prints
// the port to use instead; runs until Ctrl-C, then prints how many bytes it hit.
// (To be registered in host/cli/commands/index.ts.)
import { resolve } from "node:path";
import { flagInt, flagNumber, flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";
import { startFaultProxy } from "../../transport/proxy.ts";

export const faultProxyCommand: Command = {
  name: "fault-proxy",
  summary: "proxy a board's serial port through a link that drops, flips and duplicates bytes",
  usage: "edgeprop fault-proxy --port BOARD_PORT --fault-rate R [--seed S] [--dir DIR] [--json]",
  async run(argv) {
    const args = parseArgs(argv, ["port", "fault-rate", "seed", "dir"], ["json"]);
    const port = flagString(args, "port");
    if (!port) throw new InputError("--port", "the board's serial port (e.g. the one `edgeprop sim` prints)");
    const rate = flagNumber(args, "fault-rate", 1e-3, 0, 0.5);
    const seed = flagInt(args, "seed", 1, 0);
    const dir = resolve(flagString(args, "dir") ?? "runs/fault-proxy");
    const p = await startFaultProxy(port, dir, { rate, seed });
    if (args.flags.has("json")) process.stdout.write(JSON.stringify({ port: p.port, device: p.pty.hostPath, rate, seed }) + "\n");
    else process.stdout.write(`fault proxy (byte fault rate ${rate}, seed ${seed}) to ${port}; port: ${p.port} (${p.pty.hostPath})\npress Ctrl-C to stop\n`);
    await new Promise<void>((done) => {
      const stop = () => void p.stop().then(done);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    const s = (x: typeof p.toBoard.stats) => `${x.bytes} bytes: ${x.dropped} dropped, ${x.flipped} flipped, ${x.duplicated} duplicated`;
    process.stderr.write(`to board ${s(p.toBoard.stats)}; to host ${s(p.toHost.stats)}\n`);
    return 0;
  },
};
