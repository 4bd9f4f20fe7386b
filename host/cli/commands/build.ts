// `edgeprop build --board BOARD [--wasm FILE|echo|firmware] [--memcheck mask|bounds]
// [--numerics f32|fixed16] [--json]`: AOT-compile a firmware .wasm for a microcontroller
// (wasm2c + arm-none-eabi-gcc + device/mcu shim) and print text/data/bss against the board's
// flash and RAM. Builds are cached in the per-user state folder.
import { getBoard } from "../../../boards/index.ts";
import { buildFirmware, formatSizes } from "../../firmware/build.ts";
import { resolveWasm } from "../../firmware/source.ts";
import { flagChoice, flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { JSON_FLAG, MEMCHECK_FLAG, memcheck } from "../flags.ts";

export const buildCommand = defineCommand({
  name: "build",
  summary: "compile a firmware .wasm for a board (wasm2c + arm-none-eabi-gcc) and check its size",
  usage: "--board BOARD [--wasm FILE|echo|firmware] [--memcheck mask|bounds] [--numerics f32|fixed16] [--force] [--json]",
  description:
    "wasm2c turns the module into C, arm-none-eabi-gcc compiles it with the device/mcu shim and a linker\n" +
    "script generated from boards/BOARD.json; the sizes are checked against the board's flash and RAM.\n" +
    "Builds are cached by a hash of every input in ~/.cache/edgeprop/build (XDG_CACHE_HOME).",
  flags: {
    board: { type: "string", value: "BOARD", description: "a wasm2c board from edgeprop boards (required)" },
    wasm: { type: "string", value: "FILE|echo|firmware", default: "firmware", description: "the edgeprop firmware, the echo test module, or a .wasm" },
    memcheck: MEMCHECK_FLAG,
    numerics: { type: "string", value: "f32|fixed16", default: "the board's", description: "the e-prop kernel: float32, or the FPGA core's 16-bit fixed point" },
    force: { type: "boolean", description: "rebuild even if cached" },
    json: JSON_FLAG,
  },
  examples: ["edgeprop build --board qemu-mps2-an386", "edgeprop build --board rp2040-pico --json"],
  async main(args) {
    const board = getBoard(flagString(args, "board"));
    const wasmPath = await resolveWasm(flagString(args, "wasm"), board);
    const numerics = flagChoice(args, "numerics", ["f32", "fixed16"] as const, board.numerics);
    const build = await buildFirmware({ board, wasmPath, force: args.flags.has("force"), memcheck: memcheck(args), numerics });
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
});
