// `edgeprop build --board BOARD [--wasm FILE|echo|firmware] [--json]`: AOT-compile a firmware
// .wasm for a microcontroller (wasm2c + arm-none-eabi-gcc + device/mcu shim) and print
// text/data/bss against the board's flash and RAM.
import { getBoard } from "../../../boards/index.ts";
import { buildFirmware, formatSizes } from "../../firmware/build.ts";
import { resolveWasm } from "../../firmware/source.ts";
import { flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";

export const buildCommand: Command = {
  name: "build",
  summary: "compile a firmware .wasm for a board (wasm2c + arm-none-eabi-gcc) and check its size",
  usage: "edgeprop build --board BOARD [--wasm FILE|echo|firmware] [--force] [--json]   (default --wasm firmware: the edgeprop firmware; echo: the HAL test module)",
  async run(argv) {
    const args = parseArgs(argv, ["board", "wasm"], ["json", "force"]);
    const board = getBoard(flagString(args, "board"));
    const wasmPath = await resolveWasm(flagString(args, "wasm"), board);
    const build = await buildFirmware({ board, wasmPath, force: args.flags.has("force") });
    if (args.flags.has("json")) {
      process.stdout.write(JSON.stringify(build, null, 2) + "\n");
    } else {
      process.stdout.write(
        `${board.id}: ${build.elf}${build.cached ? " (cached)" : ""}\n${formatSizes(build)}\n` +
          (build.uf2 ? `uf2 ${build.uf2}\n` : ""),
      );
    }
    return 0;
  },
};
