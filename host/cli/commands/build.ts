// `edgeprop build --board BOARD [--wasm FILE|echo|firmware] [--memcheck mask|bounds]
// [--numerics f32|fixed16] [--json]`: AOT-compile a firmware .wasm for a microcontroller
// (wasm2c + arm-none-eabi-gcc + device/mcu shim) and print text/data/bss against the board's
// flash and RAM.
import { getBoard } from "../../../boards/index.ts";
import { buildFirmware, formatSizes } from "../../firmware/build.ts";
import { DEFAULT_MEMCHECK, MEMCHECKS } from "../../firmware/memcheck.ts";
import { resolveWasm } from "../../firmware/source.ts";
import { flagChoice, flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";

export const buildCommand: Command = {
  name: "build",
  summary: "compile a firmware .wasm for a board (wasm2c + arm-none-eabi-gcc) and check its size",
  usage: "edgeprop build --board BOARD [--wasm FILE|echo|firmware] [--memcheck mask|bounds] [--numerics f32|fixed16] [--force] [--json]   (default --wasm firmware: the edgeprop firmware; echo: the HAL test module; --memcheck mask: memory accesses masked into a fixed window, bounds: wasm2c's bounds checks, see device/mcu/README.md; --numerics: the e-prop kernel, default the board's)",
  async run(argv) {
    const args = parseArgs(argv, ["board", "wasm", "memcheck", "numerics"], ["json", "force"]);
    const board = getBoard(flagString(args, "board"));
    const wasmPath = await resolveWasm(flagString(args, "wasm"), board);
    const memcheck = flagChoice(args, "memcheck", MEMCHECKS, DEFAULT_MEMCHECK);
    const numerics = flagChoice(args, "numerics", ["f32", "fixed16"] as const, board.numerics);
    const build = await buildFirmware({ board, wasmPath, force: args.flags.has("force"), memcheck, numerics });
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
