// Board definitions (boards/*.json): every file validates, the required boards exist with
// consistent facts, bad boards are InputErrors naming the field, and `edgeprop boards` lists them.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BOARDS_DIR, getBoard, loadBoards, validateBoard } from "../boards/index.ts";
import { edgeprop } from "./helpers/cli.ts";
import { inputError } from "./helpers/errors.ts";

const REQUIRED = ["sim", "qemu-mps2-an386", "qemu-mps2-an500", "rp2040-pico", "nucleo-f446re", "nrf52840-dk", "esp32-s3-devkitc"];

function raw(id: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(BOARDS_DIR, `${id}.json`), "utf8")) as Record<string, unknown>;
}


describe("boards", () => {
  it("loads every required board", () => {
    const ids = loadBoards().map((b) => b.id);
    for (const id of REQUIRED) expect(ids).toContain(id);
  });

  it("has the facts the pipeline relies on", () => {
    const an386 = getBoard("qemu-mps2-an386");
    expect(an386).toMatchObject({ core: "cortex-m4", fpu: "fpv4-sp-d16", clockHz: 25_000_000, runtime: "wasm2c", emulated: true, support: "full" });
    expect(an386.memory).toEqual({ flash: { origin: 0, length: 4 << 20 }, ram: { origin: 0x20000000, length: 4 << 20 } });
    expect(an386.toolchain!.cflags).toEqual(expect.arrayContaining(["-mcpu=cortex-m4", "-mfloat-abi=hard", "-ffp-contract=off"]));
    expect(getBoard("qemu-mps2-an500")).toMatchObject({ core: "cortex-m7", qemu: { machine: "mps2-an500" } });
    const pico = getBoard("rp2040-pico");
    expect(pico).toMatchObject({ core: "cortex-m0plus", fpu: "none", ramBytes: 264 * 1024, flashBytes: 2 << 20 });
    expect(pico.toolchain!.cflags).toContain("-mfloat-abi=soft");
    expect(pico.flash).toMatchObject({ method: "uf2", uf2FamilyId: 0xe48bff56, volumeLabel: "RPI-RP2" });
    expect(pico.usb).toMatchObject({ bootloader: "2e8a:0003" });
    expect(getBoard("nucleo-f446re")).toMatchObject({ ramBytes: 128 * 1024, flashBytes: 512 * 1024, memory: { flash: { origin: 0x08000000 } } });
    expect(getBoard("nrf52840-dk")).toMatchObject({ ramBytes: 256 * 1024, flashBytes: 1 << 20 });
    expect(getBoard("sim")).toMatchObject({ runtime: "node-wasm", transport: { kind: "pty" }, toolchain: null });
    const esp = getBoard("esp32-s3-devkitc");
    expect(esp).toMatchObject({ core: "xtensa-lx7", support: "unsupported", toolchain: null });
    expect(esp.notes).toMatch(/Xtensa/);
    expect(esp.notes).toMatch(/WAMR|wasm3/);
  });

  it("every hard-float board disables FP contraction and every Arm board's -mcpu matches its core", () => {
    for (const b of loadBoards()) {
      if (!b.toolchain) continue;
      expect(b.toolchain.cflags).toContain(`-mcpu=${b.core}`);
      if (b.fpu !== "none") expect(b.toolchain.cflags).toContain("-ffp-contract=off");
    }
  });

  it("an unknown board is an InputError naming the known ones", () => {
    const err = inputError(() => getBoard("nope"));
    expect(err.field).toBe("--board");
    for (const id of REQUIRED) expect(err.expected).toContain(id);
    expect(inputError(() => getBoard(undefined)).expected).toMatch(/^missing; expected one of/);
  });

  it("malformed boards are InputErrors naming the field", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...raw("nucleo-f446re"), ramBytes: -1 }, "x.ramBytes"],
      [{ ...raw("nucleo-f446re"), runtime: "micropython" }, "x.runtime"],
      [{ ...raw("nucleo-f446re"), usb: { serial: "0483-374b" } }, "x.usb.serial"],
      [{ ...raw("nucleo-f446re"), toolchain: { ...(raw("nucleo-f446re").toolchain as object), cflags: ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard"] } }, "x.toolchain.cflags"],
      [{ ...raw("rp2040-pico"), fpu: "fpv4-sp-d16" }, "x.toolchain.cflags"],
      [{ ...raw("rp2040-pico"), flash: { method: "uf2", format: "uf2" } }, "x.flash.uf2FamilyId"],
      [{ ...raw("qemu-mps2-an386"), qemu: undefined }, "x.qemu"],
      [{ ...raw("qemu-mps2-an386"), memory: undefined }, "x.memory"],
      [{ ...raw("sim"), id: "Sim Board" }, "x.id"],
    ];
    for (const [board, field] of cases) expect(inputError(() => validateBoard(board, "x")).field).toBe(field);
  });

  it("`edgeprop boards` prints a table and `--json` the validated records", () => {
    const table = edgeprop(["boards"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^id\s+core/);
    expect(table.stdout).toMatch(/qemu-mps2-an386\s+cortex-m4\+fpv4-sp-d16\s+25 MHz\s+4 MiB/);
    // DFU and USB bulk are library code no command reaches: said under the table, not listed as features
    expect(table.stdout).toMatch(/Library code not yet tried on hardware \(no command uses it\):\n.*host\/flash\/dfu\.ts.*\n.*host\/transport\/usb-bulk\.ts/);
    const json = edgeprop(["boards", "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(loadBoards());
  });
});
