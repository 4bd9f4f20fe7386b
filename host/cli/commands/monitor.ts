// `edgeprop monitor --port PATH`: shows a board's LOG stream (and its HELLO), like a serial
// monitor that speaks the protocol. `edgeprop monitor --run DIR`: follows a training run live
// (the training host owns the board's port): each metrics row as it is written — loss, test score,
// SAL's angle between B and wOut^T — until the run ends. Stops on Ctrl-C, or after --duration seconds.
import { Session } from "../../session/session.ts";
import { openTransport } from "../../transport/open.ts";
import { flagNumber, flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";
import { followRun, formatRow } from "../../report/follow.ts";

const LEVELS = ["debug", "info", "warn", "error"];

export const monitorCommand: Command = {
  name: "monitor",
  summary: "show a board's LOG stream (boot messages, warnings, errors), or follow a training run's metrics live",
  usage: "edgeprop monitor (--port PATH | --run DIR) [--duration SECONDS] [--json]",
  async run(argv) {
    const args = parseArgs(argv, ["port", "run", "duration"], ["json"]);
    const port = flagString(args, "port");
    const runDir = flagString(args, "run");
    if (port && runDir) throw new InputError("--port/--run", "give one: a board's port, or a run directory to follow");
    if (!port && !runDir) throw new InputError("--port", "expected the board's serial port (e.g. the one `edgeprop sim` or `edgeprop flash` printed), or --run DIR to follow a training run");
    const duration = flagNumber(args, "duration", Infinity, 0);
    const json = args.flags.has("json");
    if (runDir) {
      process.stderr.write(`following ${runDir} until the run ends${Number.isFinite(duration) ? ` or ${duration} s pass` : ""} (Ctrl-C stops)\n`);
      const stop = new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
      const ended = await followRun(runDir, (row) => process.stdout.write((json ? JSON.stringify(row) : formatRow(row)) + "\n"), {
        stop,
        ...(Number.isFinite(duration) ? { maxMs: duration * 1000 } : {}),
      });
      process.stderr.write(ended ? "the run ended\n" : "stopped following\n");
      return 0;
    }
    const print = (event: Record<string, unknown>, text: string) =>
      process.stdout.write((json ? JSON.stringify({ time: new Date().toISOString(), ...event }) : `${new Date().toISOString().slice(11, 23)} ${text}`) + "\n");
    const session = new Session(await openTransport({ port: port! }), {
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
