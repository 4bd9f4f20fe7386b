// `edgeprop monitor --port PATH`: shows a board's LOG stream (and its HELLO), like a serial
// monitor that speaks the protocol. Stops on Ctrl-C, or after --duration seconds.
import { connectBoard } from "../../link/connect-board.ts";
import { flagNumber, flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { BOARD_LINK_FLAGS, JSON_FLAG, say, timeouts } from "../flags.ts";
import { InputError } from "../../input/errors.ts";

const LEVELS = ["debug", "info", "warn", "error"];

export const monitorCommand = defineCommand({
  name: "monitor",
  summary: "show a board's HELLO and LOG stream (boot messages, warnings, errors)",
  usage: "--port PATH [--duration S] [--json]",
  description:
    "Says HELLO to the board on --port, prints its answer, then every LOG event it sends (a restarted\n" +
    "board announces itself with a boot LOG) until Ctrl-C or --duration. One line per event on stdout.",
  flags: {
    ...BOARD_LINK_FLAGS,
    board: { type: "string", value: "BOARD", description: "the board's id (for its baud rate); any board answers without it" },
    duration: { type: "string", value: "S", default: "until Ctrl-C", description: "stop after this many seconds" },
    json: JSON_FLAG,
  },
  examples: ["edgeprop monitor --port /dev/ttyACM0", "edgeprop monitor --port ~/.cache/edgeprop/sim/123-abc/host --json"],
  async main(args) {
    const port = flagString(args, "port");
    if (!port) throw new InputError("--port", "expected the board's serial port (edgeprop ports lists them; edgeprop sim and flash print theirs)");
    const duration = flagNumber(args, "duration", Infinity, 0);
    const json = args.flags.has("json");
    const print = (event: Record<string, unknown>, text: string) =>
      process.stdout.write((json ? JSON.stringify({ time: new Date().toISOString(), ...event }) : `${new Date().toISOString().slice(11, 23)} ${text}`) + "\n");
    const board = flagString(args, "board");
    const conn = await connectBoard({
      port,
      ...(board !== undefined ? { board } : {}),
      timeouts: timeouts(args),
      say,
      onLog: (level, text) => print({ event: "log", level: LEVELS[level] ?? level, text }, `[${LEVELS[level] ?? level}] ${text}`),
    });
    try {
      // Stop handlers first, then the HELLO line: whoever reads it may signal at once.
      const stopped = new Promise<void>((resolve) => {
        const timer = Number.isFinite(duration) ? setTimeout(stop, duration * 1000) : undefined;
        function stop() {
          clearTimeout(timer);
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolve();
        }
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      const info = conn.info;
      print({ event: "hello", ...info }, `connected: board ${info.board}, firmware ${info.fw}, runtime ${info.rt}, ${info.ram} bytes free RAM, max frame ${info.mf}`);
      say(`monitoring ${port}${Number.isFinite(duration) ? ` for ${duration} s` : ""} (Ctrl-C stops)`);
      await stopped;
    } finally {
      await conn.release();
    }
    return 0;
  },
});
