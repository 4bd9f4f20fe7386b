// The MCU firmware pipeline (host/firmware/build.ts + device/mcu/): the HAL check of a module,
// the wasm2c runtime patch, the generated linker script, and a real build for every Cortex-M
// board (M0+ soft-float included) with sizes checked against the board's limits.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { getBoard, loadBoards } from "../boards/index.ts";
import { InputError } from "../host/input/errors.ts";
import { assertBuildable, buildFirmware, patchRuntime } from "../host/firmware/build.ts";
import { assertFits } from "../host/firmware/flash.ts";
import { WINDOW_SLACK } from "../host/firmware/memcheck.ts";
import { linkerScript, STACK_BYTES } from "../host/firmware/linker.ts";
import { ECHO_SOURCE, MCU_ASC_FLAGS, buildEchoWasm, compileAssemblyScript } from "../host/firmware/source.ts";
import { requireTool } from "../host/firmware/tools.ts";
import { HAL_IMPORTS, checkHalModule, readWasm } from "../host/firmware/wasm.ts";
import { edgepropAsync } from "./fixtures/mcu/cli.ts";
import { inputError } from "./helpers/errors.ts";

const CORTEX_M = loadBoards().filter((b) => b.runtime === "wasm2c");

/** A minimal module: one function import, given as wasm type bytes. */
function moduleImporting(module: string, name: string, params: number[], results: number[]): Uint8Array {
  const enc = (s: string): number[] => [s.length, ...new TextEncoder().encode(s)];
  const type = [0x01, 0x60, params.length, ...params, results.length, ...results];
  const imp = [0x01, ...enc(module), ...enc(name), 0x00, 0x00];
  const section = (id: number, body: number[]): number[] => [id, body.length, ...body];
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...section(1, type), ...section(2, imp)]);
}


describe("firmware module checks", () => {
  it("the echo fixture imports exactly the HAL and exports init, poll, memory", async () => {
    const info = readWasm(readFileSync(await buildEchoWasm()));
    expect(info.imports.map((i) => `${i.module}.${i.name}${i.type}`).sort()).toEqual(
      Object.entries(HAL_IMPORTS).filter(([k]) => k.startsWith("hal.")).map(([k, t]) => k + t).sort(),
    );
    expect(info.exports.map((e) => e.name).sort()).toEqual(["init", "memory", "poll"]);
    expect(info.memory).toEqual({ initialPages: 1 });
    expect(() => checkHalModule(info)).not.toThrow();
  });

  it("rejects imports outside the HAL, naming them", () => {
    const seed = readWasm(moduleImporting("env", "seed", [], [0x7c]));
    const err = inputError(() => checkHalModule(seed, "m.wasm"));
    expect(err.field).toBe("m.wasm");
    expect(err.expected).toMatch(/env\.seed\(\)->f64/);
    // Right name, wrong signature.
    expect(inputError(() => checkHalModule(readWasm(moduleImporting("hal", "millis", [], [0x7e])))).expected).toMatch(/hal\.millis\(\)->i64/);
    expect(inputError(() => readWasm(new Uint8Array([1, 2, 3, 4]), "x.wasm")).expected).toMatch(/not a WebAssembly module/);
  });

  it("patches Debian's wasm-rt-impl.c for short enums and refuses an unknown runtime", () => {
    const src = readFileSync("/usr/share/wabt/wasm2c/wasm-rt-impl.c", "utf8");
    const patched = patchRuntime(src);
    expect(patched).not.toContain("va_arg(args, wasm_rt_type_t)");
    expect(patched).toContain("(wasm_rt_type_t)va_arg(args, int)");
    expect(() => patchRuntime("int main(void) { return 0; }")).toThrow(/wabt version/);
  });

  it("generates a linker script from the board's memory map (stack at the bottom of RAM)", () => {
    const ld = linkerScript(getBoard("nucleo-f446re"));
    expect(ld).toContain("FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 524288");
    expect(ld).toContain("RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 131072");
    expect(ld).toContain(`. = . + ${STACK_BYTES};`);
    expect(ld.indexOf(".stack")).toBeLessThan(ld.indexOf(".data :"));
    expect(ld).not.toContain(".boot2");
    expect(linkerScript(getBoard("rp2040-pico"))).toMatch(/\.boot2 : \{\s+KEEP\(\*\(\.boot2\)\)\s+\. = 252;\s+LONG\(0\)/);
  });
});

describe("firmware builds for every Cortex-M board", () => {
  it("compiles and links the echo module with sizes within each board's limits", async () => {
    const wasmPath = await buildEchoWasm();
    const builds = await Promise.all(CORTEX_M.map((board) => buildFirmware({ board, wasmPath })));
    expect(CORTEX_M.map((b) => b.id).sort()).toEqual(["nrf52840-dk", "nucleo-f446re", "qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "rp2040-pico"]);
    const readelf = requireTool("arm-none-eabi-readelf");
    for (const [i, b] of builds.entries()) {
      const board = CORTEX_M[i]!;
      expect(b.sizes.text).toBeGreaterThan(4000);
      expect(b.sizes.flash.used).toBe(b.sizes.text + b.sizes.data);
      expect(b.sizes.flash.used).toBeLessThanOrEqual(board.flashBytes);
      expect(b.sizes.ram.limit).toBe(board.ramBytes);
      // --memcheck mask (the default): the linear memory is a fixed power-of-two window + slack
      expect(b.memcheck).toBe("mask");
      expect(b.windowBytes! & (b.windowBytes! - 1)).toBe(0);
      expect(b.windowBytes).toBeGreaterThanOrEqual(65536);
      expect(b.sizes.ram.wasmBytes).toBe(b.windowBytes! + WINDOW_SLACK);
      expect(b.sizes.ram.needed).toBeLessThanOrEqual(board.ramBytes);
      expect(b.sizes.stack).toBe(STACK_BYTES);
      for (const s of ["edgeprop_mark", "edgeprop_poll_begin", "edgeprop_poll_end", "edgeprop_io", "main"]) {
        expect(b.symbols[s], `${board.id} ${s}`).toBeGreaterThanOrEqual(board.memory!.flash.origin);
      }
      // The ELF's build attributes say which core and float ABI it was built for.
      const attrs = execFileSync(readelf, ["-A", b.elf], { encoding: "utf8" });
      const fpu = board.fpu !== "none";
      expect(attrs).toContain(board.core === "cortex-m0plus" ? "Tag_CPU_arch: v6S-M" : board.core === "cortex-m3" ? "Tag_CPU_arch: v7\n" : "Tag_CPU_arch: v7E-M");
      if (fpu) expect(attrs).toContain("Tag_ABI_VFP_args: VFP registers");
      else expect(attrs).not.toMatch(/Tag_FP_arch/);
      // The vector table's reset entry points into flash, Thumb bit set.
      const bin = readFileSync(b.bin);
      const vectors = bin.subarray(board.toolchain!.boot2 ? 256 : 0);
      expect(vectors.readUInt32LE(0)).toBe(board.memory!.ram.origin + STACK_BYTES);
      expect(vectors.readUInt32LE(4) & 1).toBe(1);
      expect((vectors.readUInt32LE(4) & ~1) >>> 0).toBe(b.symbols.Reset_Handler);
    }
  });

  it("refuses a module the board's RAM cannot hold, with the numbers", async () => {
    const twoPages = await compileAssemblyScript(ECHO_SOURCE, "echo-2pages", MCU_ASC_FLAGS.map((f, i, a) => (a[i - 1] === "--initialMemory" ? "2" : f)));
    expect(readWasm(readFileSync(twoPages)).memory).toEqual({ initialPages: 2 });
    const err = await buildFirmware({ board: getBoard("nucleo-f446re"), wasmPath: twoPages }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).expected).toMatch(/^needs \d+ bytes of RAM \(2 wasm page\(s\) x 65536 = 131072, .*\) but board nucleo-f446re has 131072$/);
    // The same module fits the RP2040 (264 KiB).
    const pico = await buildFirmware({ board: getBoard("rp2040-pico"), wasmPath: twoPages });
    expect(pico.sizes.ram.wasmPages).toBe(2);
    // ... and assertFits (checked again right before flashing) refuses a build that outgrew the board.
    const grown = { ...pico, sizes: { ...pico.sizes, ram: { ...pico.sizes.ram, needed: 300_000 } } };
    expect(inputError(() => assertFits(getBoard("rp2040-pico"), grown)).expected).toMatch(/needs 300000 bytes of RAM .* but board rp2040-pico has 270336/);
    // The CLI refuses before flashing: exit 2, one line with the numbers.
    const cli = await edgepropAsync(["flash", "--board", "nucleo-f446re", "--wasm", twoPages]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/needs \d+ bytes of RAM .* but board nucleo-f446re has 131072/);
  });

  it("`edgeprop build --json` reports sizes; boards without a native build are refused", async () => {
    const [r, text, esp] = await Promise.all([
      edgepropAsync(["build", "--board", "qemu-mps2-an386", "--json"], 280_000),
      edgepropAsync(["build", "--board", "nrf52840-dk"], 280_000),
      edgepropAsync(["build", "--board", "esp32-s3-devkitc"]),
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { board: string; sizes: { text: number; data: number; bss: number } };
    expect(out.board).toBe("qemu-mps2-an386");
    expect(out.sizes.text).toBeGreaterThan(0);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/text \d+ {2}data \d+ {2}bss \d+/);
    expect(text.stdout).toMatch(/ram \d+ \/ 262144/);
    expect(esp.code).toBe(2);
    expect(esp.stderr).toMatch(/Xtensa/);
    expect(inputError(() => assertBuildable(getBoard("sim"))).expected).toMatch(/runtime node-wasm/);
  }, 300_000); // two whole-firmware (four rules) wasm2c + gcc builds on a cold cache
});
