// `edgeprop fault-proxy --port BOARD_PORT --fault-rate R`: puts the fault-injecting link between
// the host and a board (real, QEMU or sim) and prints the port to use instead; runs until
// Ctrl-C, then prints how many bytes it hit. --fault-rate means what it means everywhere: each
// byte crossing, either direction, is dropped, flipped or duplicated with that probability.
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { FAULT_FLAGS, JSON_FLAG, faultRate, faultSeed, say } from "../flags.ts";
import { InputError } from "../../input/errors.ts";
import { instanceDir } from "../../paths.ts";
import { startFaultProxy } from "../../transport/proxy.ts";

export const faultProxyCommand = defineCommand({
  name: "fault-proxy",
  summary: "proxy a board's serial port through a link that drops, flips and duplicates bytes",
  usage: "--port BOARD_PORT --fault-rate R [--fault-seed N] [--dir DIR] [--json]",
  description:
    "Opens the board's port and a new pseudo-terminal pair; any program that opens the printed port\n" +
    "talks to the board through a line with byte faults. Runs until Ctrl-C, then prints the fault counts.",
  flags: {
    port: { type: "string", value: "PATH", description: "the board's serial port (required)" },
    ...FAULT_FLAGS,
    dir: { type: "string", value: "DIR", default: "a fresh folder in ~/.cache/edgeprop/fault-proxy", description: "folder for the pty links" },
    json: JSON_FLAG,
  },
  examples: ["edgeprop fault-proxy --port /dev/ttyACM0 --fault-rate 1e-3"],
  async main(args) {
    const port = flagString(args, "port");
    if (!port) throw new InputError("--port", "the board's serial port (e.g. the one `edgeprop sim` prints)");
    const rate = faultRate(args);
    const seed = faultSeed(args);
    const given = flagString(args, "dir");
    const dir = given !== undefined ? resolve(given) : instanceDir("fault-proxy");
    const p = await startFaultProxy(port, dir, { rate, seed });
    // Stop handlers first, then the port: whoever reads the port may signal at once.
    const stopped = new Promise<void>((done) => {
      const stop = () => void p.stop().then(done);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    if (args.flags.has("json")) process.stdout.write(JSON.stringify({ port: p.port, device: p.pty.hostPath, rate, seed }) + "\n");
    else {
      process.stdout.write(`${p.port}\n`);
      say(`fault proxy (byte fault rate ${rate}, seed ${seed}) to ${port} on ${p.port} (${p.pty.hostPath}); Ctrl-C stops it`);
    }
    await stopped;
    if (given === undefined) rmSync(dir, { recursive: true, force: true });
    const s = (x: typeof p.toBoard.stats) => `${x.bytes} bytes: ${x.dropped} dropped, ${x.flipped} flipped, ${x.duplicated} duplicated`;
    say(`to board ${s(p.toBoard.stats)}; to host ${s(p.toHost.stats)}`);
    return 0;
  },
});
