// `edgeprop flash --board BOARD`: build if needed, refuse a module the board cannot hold, then
// flash with progress events on stderr. For QEMU boards "flash" boots the emulator detached
// (UART0 on a pty), waits for the firmware's HELLO and prints the pty path; `--stop` stops a
// QEMU board started earlier (only if it still is that QEMU: host/firmware/qemu-running.ts).
import { getBoard } from "../../../boards/index.ts";
import { buildFirmware } from "../../firmware/build.ts";
import { flashFirmware, formatEvent, type FlashEvent } from "../../firmware/flash.ts";
import { processStartTicks, saveRunning, stopRunning, type RunningQemu } from "../../firmware/qemu-running.ts";
import { readyCheck, type ReadyKind } from "../../firmware/ready.ts";
import { resolveWasm } from "../../firmware/source.ts";
import { flagChoice, flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { BOARD_LINK_FLAGS, JSON_FLAG, MEMCHECK_FLAG, memcheck, say, timeouts } from "../flags.ts";
import { InputError } from "../../input/errors.ts";

export const flashCommand = defineCommand({
  name: "flash",
  summary: "build if needed and flash a board (QEMU boards: boot with UART0 on a pty)",
  usage: "--board BOARD [--wasm FILE|echo|firmware] [--memcheck mask|bounds] [--mount DIR] [--stop] [--json]",
  description:
    "Builds the firmware (cached), checks it fits the board, and flashes it, printing progress events on\n" +
    "stderr (probe-rs style). UF2 and mass-storage boards: the image is copied to the board's USB drive,\n" +
    "then flash waits for the board's serial port and its HELLO. QEMU boards boot detached; stdout gets\n" +
    "the pty to use with --port, and --stop stops that QEMU again.",
  flags: {
    board: { type: "string", value: "BOARD", description: "a board id from edgeprop boards (required)" },
    wasm: { type: "string", value: "FILE|echo|firmware", default: "firmware", description: "what to flash: the edgeprop firmware, the echo test module, or a .wasm" },
    ready: { type: "string", value: "greeting|hello", default: "hello for the firmware, else greeting", description: "how to tell the board is up: the protocol's HELLO, or a greeting line" },
    memcheck: MEMCHECK_FLAG,
    mount: { type: "string", value: "DIR", default: "found by volume label", description: "UF2 / mass-storage: the mounted board drive" },
    timeout: BOARD_LINK_FLAGS.timeout!,
    stop: { type: "boolean", description: "QEMU boards: stop the one an earlier flash started" },
    json: JSON_FLAG,
  },
  examples: ["edgeprop flash --board qemu-mps2-an386", "edgeprop flash --board rp2040-pico --mount /media/$USER/RPI-RP2", "edgeprop flash --board qemu-mps2-an386 --stop"],
  async main(args) {
    const json = args.flags.has("json");
    const board = getBoard(flagString(args, "board"));
    if (args.flags.has("stop")) {
      if (board.flash.method !== "qemu") throw new InputError("--stop", `only for QEMU boards; ${board.id} flashes via ${board.flash.method}`);
      const st = await stopRunning(board.id);
      if (st?.note) say(st.note);
      process.stdout.write(
        json
          ? JSON.stringify({ board: board.id, stopped: st?.stopped ? st.record : null }) + "\n"
          : st?.stopped ? `stopped ${board.id} (pid ${st.record.pid})\n` : `${board.id} was not running\n`,
      );
      return 0;
    }
    const wasmSpec = flagString(args, "wasm");
    const ready = flagChoice<ReadyKind>(args, "ready", ["greeting", "hello"], wasmSpec === undefined || wasmSpec === "firmware" ? "hello" : "greeting");
    const wait = timeouts(args);
    const wasmPath = await resolveWasm(wasmSpec, board);
    const build = await buildFirmware({ board, wasmPath, memcheck: memcheck(args) });
    const events: FlashEvent[] = [];
    const onEvent = (e: FlashEvent): void => {
      events.push(e);
      if (!json) say(formatEvent(e));
    };
    if (board.flash.method === "qemu") {
      const st = await stopRunning(board.id);
      if (st?.note) say(st.note);
    }
    const mount = flagString(args, "mount");
    const result = await flashFirmware({
      board, build, onEvent, detached: true, waitReady: board.flash.method !== "qemu", ready: readyCheck(ready, say),
      timeoutMs: wait.waitMs, ...(mount ? { mountPoint: mount } : {}),
    });
    let running: RunningQemu | undefined;
    if (result.booted) {
      const q = result.booted.qemu;
      running = { board: board.id, pid: q.pid, startTicks: processStartTicks(q.pid) ?? 0, pty: q.pty!, monitor: q.monitor, log: q.log, elf: build.elf };
      saveRunning(running);
      await result.booted.link.close(); // (already closed by the hello check; closing twice is fine)
      // Leave QEMU running on its own: drop every handle this process holds on it.
      q.child.unref();
    }
    const { booted: _booted, ...plain } = result;
    if (json) {
      process.stdout.write(JSON.stringify({ ...plain, sizes: build.sizes, events, ...(running ? { qemu: running } : {}) }, null, 2) + "\n");
    } else if (running) {
      process.stdout.write(`${running.pty}\n`);
      say(`qemu pid ${running.pid}; stop with: edgeprop flash --board ${board.id} --stop`);
    } else {
      process.stdout.write(`${result.target}\n`);
    }
    return 0;
  },
});
