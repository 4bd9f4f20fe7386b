// `edgeprop flash --board BOARD [--wasm FILE|echo|firmware] [--mount DIR] [--json]`: build if
// needed, refuse a module the board cannot hold, then flash with progress events. For QEMU
// boards "flash" boots the emulator detached (UART0 on a pty), waits for the firmware's greeting
// and prints the pty path; `--stop` stops a QEMU board started earlier.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getBoard } from "../../../boards/index.ts";
import { buildFirmware } from "../../firmware/build.ts";
import { DEFAULT_MEMCHECK, MEMCHECKS } from "../../firmware/memcheck.ts";
import { flashFirmware, formatEvent, type FlashEvent } from "../../firmware/flash.ts";
import { QEMU_DIR, monitorCommand } from "../../firmware/qemu.ts";
import { readyCheck, type ReadyKind } from "../../firmware/ready.ts";
import { resolveWasm } from "../../firmware/source.ts";
import { flagChoice, flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";

interface RunningQemu {
  board: string;
  pid: number;
  pty: string;
  monitor: string;
  log: string;
  elf: string;
}

const stateFile = (board: string): string => join(QEMU_DIR, `${board}.running.json`);

/** Stop a QEMU board started by an earlier `edgeprop flash` (its monitor, then its pid). */
async function stopRunning(board: string): Promise<RunningQemu | undefined> {
  const file = stateFile(board);
  if (!existsSync(file)) return undefined;
  const st = JSON.parse(readFileSync(file, "utf8")) as RunningQemu;
  try {
    await monitorCommand(st.monitor, "quit");
  } catch {
    try {
      process.kill(st.pid, "SIGTERM");
    } catch {
      /* already gone */
    }
  }
  rmSync(file, { force: true });
  rmSync(st.monitor, { force: true });
  return st;
}

export const flashCommand: Command = {
  name: "flash",
  summary: "build if needed and flash a board (QEMU boards: boot with UART0 on a pty)",
  usage:
    "edgeprop flash --board BOARD [--wasm FILE|echo|firmware] [--memcheck mask|bounds] [--ready greeting|hello] [--mount DIR] [--stop] [--json]   " +
    "(default --wasm firmware, the edgeprop firmware; --ready defaults to hello, the protocol's HELLO request, for it, else to the module's greeting line)",
  async run(argv) {
    const args = parseArgs(argv, ["board", "wasm", "mount", "ready", "memcheck"], ["json", "stop"]);
    const json = args.flags.has("json");
    const board = getBoard(flagString(args, "board"));
    if (args.flags.has("stop")) {
      if (board.flash.method !== "qemu") throw new InputError("--stop", `only for QEMU boards; ${board.id} flashes via ${board.flash.method}`);
      const st = await stopRunning(board.id);
      process.stdout.write(json ? JSON.stringify({ board: board.id, stopped: st ?? null }) + "\n" : st ? `stopped ${board.id} (pid ${st.pid})\n` : `${board.id} was not running\n`);
      return 0;
    }
    const wasmSpec = flagString(args, "wasm");
    const ready = flagChoice<ReadyKind>(args, "ready", ["greeting", "hello"], wasmSpec === undefined || wasmSpec === "firmware" ? "hello" : "greeting");
    const wasmPath = await resolveWasm(wasmSpec, board);
    const build = await buildFirmware({ board, wasmPath, memcheck: flagChoice(args, "memcheck", MEMCHECKS, DEFAULT_MEMCHECK) });
    const events: FlashEvent[] = [];
    const onEvent = (e: FlashEvent): void => {
      events.push(e);
      if (!json) process.stderr.write(formatEvent(e) + "\n");
    };
    if (board.flash.method === "qemu") await stopRunning(board.id);
    const mount = flagString(args, "mount");
    const result = await flashFirmware({ board, build, onEvent, detached: true, waitReady: board.flash.method !== "qemu", ready: readyCheck(ready), ...(mount ? { mountPoint: mount } : {}) });
    let running: RunningQemu | undefined;
    if (result.booted) {
      const q = result.booted.qemu;
      running = { board: board.id, pid: q.pid, pty: q.pty!, monitor: q.monitor, log: q.log, elf: build.elf };
      mkdirSync(QEMU_DIR, { recursive: true });
      writeFileSync(stateFile(board.id), JSON.stringify(running, null, 2) + "\n");
      await result.booted.link.close(); // (already closed by the hello check; closing twice is fine)
      // Leave QEMU running on its own: drop every handle this process holds on it.
      q.child.unref();
    }
    const { booted: _booted, ...plain } = result;
    if (json) {
      process.stdout.write(JSON.stringify({ ...plain, sizes: build.sizes, events, ...(running ? { qemu: running } : {}) }, null, 2) + "\n");
    } else if (running) {
      process.stdout.write(`${running.pty}\n`);
      process.stderr.write(`qemu pid ${running.pid}; stop with: edgeprop flash --board ${board.id} --stop\n`);
    } else {
      process.stdout.write(`${result.target}\n`);
    }
    return 0;
  },
};
