// `edgeprop monitor --port PATH`: shows a board's LOG stream (and its HELLO), like a serial
// monitor that speaks the protocol. Stops on Ctrl-C, or after --duration seconds.
import { Session } from "../../session/session.ts";
import { openTransport } from "../../transport/open.ts";
import { flagNumber, flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";

const LEVELS = ["debug", "info", "warn", "error"];

export const monitorCommand: Command = {
  name: "monitor",
  summary: "show a board's LOG stream (boot messages, warnings, errors)",
  usage: "edgeprop monitor --port PATH [--duration SECONDS] [--json]",
  async run(argv) {
    const args = parseArgs(argv, ["port", "duration"], ["json"]);
    const port = flagString(args, "port");
    if (!port) throw new InputError("--port", "expected the board's serial port (e.g. the one `edgeprop sim` or `edgeprop flash` printed)");
    const duration = flagNumber(args, "duration", Infinity, 0);
    const json = args.flags.has("json");
    const print = (event: Record<string, unknown>, text: string) =>
      process.stdout.write((json ? JSON.stringify({ time: new Date().toISOString(), ...event }) : `${new Date().toISOString().slice(11, 23)} ${text}`) + "\n");
    const session = new Session(await openTransport({ port }), {
      onLog: (level, text) => print({ event: "log", level: LEVELS[level] ?? level, text }, `[${LEVELS[level] ?? level}] ${text}`),
    });
    try {
      const info = await session.connect();
      print({ event: "hello", ...info }, `connected: board ${info.board}, firmware ${info.fw}, runtime ${info.rt}, ${info.ram} bytes free RAM, max frame ${info.mf}`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        if (Number.isFinite(duration)) setTimeout(resolve, duration * 1000);
      });
    } finally {
      await session.close();
    }
    return 0;
  },
};
