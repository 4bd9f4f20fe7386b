// `edgeprop monitor --port PATH`: shows a board's LOG stream (and its HELLO), like a serial
// monitor that speaks the protocol. `edgeprop monitor --run DIR`: follows a training run live
// (the training host owns the board's port): each metrics row as it is written — loss, test score,
// SAL's angle between B and wOut^T — until the run ends. Stops on Ctrl-C, or after --duration seconds.
import { connectBoard } from "../../link/connect-board.ts";
import { followRun, formatRow } from "../../report/follow.ts";
import { flagNumber, flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { BOARD_LINK_FLAGS, JSON_FLAG, say, timeouts } from "../flags.ts";
import { InputError } from "../../input/errors.ts";

const LEVELS = ["debug", "info", "warn", "error"];

/** Resolves on Ctrl-C, SIGTERM or after `duration` seconds. */
function stopSignal(duration: number): Promise<void> {
  return new Promise<void>((resolve) => {
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
}

export const monitorCommand = defineCommand({
  name: "monitor",
  summary: "show a board's HELLO and LOG stream, or follow a training run's metrics live",
  usage: "(--port PATH | --run DIR) [--duration S] [--json]",
  description:
    "With --port: says HELLO to the board, prints its answer, then every LOG event it sends (a restarted\n" +
    "board announces itself with a boot LOG) until Ctrl-C or --duration. One line per event on stdout.\n" +
    "With --run: follows the run folder an `edgeprop train` is writing (its metrics.jsonl rows: loss,\n" +
    "held-out test score, SAL's angleDeg between B and wOut^T) until the run ends, Ctrl-C or --duration.",
  flags: {
    ...BOARD_LINK_FLAGS,
    run: { type: "string", value: "DIR", description: "a run folder to follow while it trains (instead of --port)" },
    board: { type: "string", value: "BOARD", description: "the board's id (for its baud rate); any board answers without it" },
    duration: { type: "string", value: "S", default: "until Ctrl-C (--run: until the run ends)", description: "stop after this many seconds" },
    json: JSON_FLAG,
  },
  examples: [
    "edgeprop monitor --port /dev/ttyACM0",
    "edgeprop monitor --port ~/.cache/edgeprop/sim/123-abc/host --json",
    "edgeprop monitor --run runs/evidence --json | jq .angleDeg",
  ],
  async main(args) {
    const port = flagString(args, "port");
    const runDir = flagString(args, "run");
    if (port !== undefined && runDir !== undefined) throw new InputError("--run", "give --port (a board) or --run (a run folder), not both");
    if (port === undefined && runDir === undefined) {
      throw new InputError("--port", "expected the board's serial port (edgeprop ports lists them; edgeprop sim and flash print theirs), or --run DIR to follow a training run");
    }
    const duration = flagNumber(args, "duration", Infinity, 0);
    const json = args.flags.has("json");
    if (runDir !== undefined) {
      say(`following ${runDir} until the run ends${Number.isFinite(duration) ? ` or ${duration} s pass` : ""} (Ctrl-C stops)`);
      const ended = await followRun(runDir, (row) => process.stdout.write((json ? JSON.stringify(row) : formatRow(row)) + "\n"), { stop: stopSignal(duration) });
      say(ended ? "the run ended" : "stopped following");
      return 0;
    }
    const print = (event: Record<string, unknown>, text: string) =>
      process.stdout.write((json ? JSON.stringify({ time: new Date().toISOString(), ...event }) : `${new Date().toISOString().slice(11, 23)} ${text}`) + "\n");
    const board = flagString(args, "board");
    const conn = await connectBoard({
      port: port!,
      ...(board !== undefined ? { board } : {}),
      timeouts: timeouts(args),
      say,
      onLog: (level, text) => print({ event: "log", level: LEVELS[level] ?? level, text }, `[${LEVELS[level] ?? level}] ${text}`),
    });
    try {
      // Stop handlers first, then the HELLO line: whoever reads it may signal at once.
      const stopped = stopSignal(duration);
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
