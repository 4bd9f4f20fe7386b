// The flash pipeline's drive-copy method (UF2 / ST-LINK / J-Link mass storage) with its progress
// events. MOCKED: the board's USB drive is a temporary directory (no physical board here).
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBoard } from "../boards/index.ts";
import { InputError } from "../host/input/errors.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { driveCandidates, findSerialPorts, flashFirmware, formatEvent, type FlashEvent } from "../host/firmware/flash.ts";
import { buildEchoWasm } from "../host/firmware/source.ts";

describe("flash to a USB drive (mocked drive: a temp directory)", () => {
  it("copies the UF2 to an RPI-RP2 drive with erasing/programming/verifying/finished events (mocked drive)", async () => {
    const board = getBoard("rp2040-pico");
    const build = await buildFirmware({ board, wasmPath: await buildEchoWasm() });
    const drive = mkdtempSync(join(tmpdir(), "RPI-RP2-"));
    try {
      const events: FlashEvent[] = [];
      const r = await flashFirmware({ board, build, mountPoint: drive, chunkBytes: 4096, onEvent: (e) => events.push(e) });
      const image = readFileSync(build.uf2!);
      expect(readFileSync(r.target).equals(image)).toBe(true);
      expect(r.target).toBe(join(drive, "fw.uf2"));
      expect(events[0]).toEqual({ type: "started", board: "rp2040-pico", method: "uf2", image: build.uf2, bytes: image.length });
      expect(events[1]!.type).toBe("erasing");
      const prog = events.filter((e): e is Extract<FlashEvent, { type: "programming" }> => e.type === "programming");
      expect(prog.length).toBe(Math.ceil(image.length / 4096));
      expect(prog.map((e) => e.done)).toEqual([...prog.map((e) => e.done)].sort((a, b) => a - b));
      expect(prog.at(-1)).toEqual({ type: "programming", done: image.length, total: image.length });
      expect(events.slice(-2).map((e) => e.type)).toEqual(["verifying", "finished"]);
      expect(formatEvent(prog.at(-1)!)).toMatch(/programming \d+\/\d+ \(100%\)/);
    } finally {
      rmSync(drive, { recursive: true, force: true });
    }
  });

  it("copies the BIN to an ST-LINK drive and says how to find a missing drive (mocked drive)", async () => {
    const board = getBoard("nucleo-f446re");
    const build = await buildFirmware({ board, wasmPath: await buildEchoWasm() });
    const drive = mkdtempSync(join(tmpdir(), "NODE_F446RE-"));
    try {
      const r = await flashFirmware({ board, build, mountPoint: drive });
      expect(readFileSync(r.target).equals(readFileSync(build.bin))).toBe(true);
    } finally {
      rmSync(drive, { recursive: true, force: true });
    }
    expect(driveCandidates("NODE_F446RE")).toContain("/media/NODE_F446RE");
    const err = await flashFirmware({ board: { ...board, flash: { ...board.flash, volumeLabel: "NO_SUCH_DRIVE_XYZ" } }, build }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).expected).toMatch(/no mounted drive labelled NO_SUCH_DRIVE_XYZ found/);
  });

  it("finds the board's serial port by its USB id (mocked port list)", async () => {
    const list = async () => [
      { path: "/dev/ttyUSB0", vendorId: "10c4", productId: "ea60" },
      { path: "/dev/ttyACM1", vendorId: "0483", productId: "374B" },
      { path: "/dev/ttyACM0", vendorId: "0483", productId: "374b" },
      { path: "/dev/ttyS0" },
    ];
    expect(await findSerialPorts(getBoard("nucleo-f446re"), list)).toEqual(["/dev/ttyACM0", "/dev/ttyACM1"]);
    expect(await findSerialPorts(getBoard("nrf52840-dk"), list)).toEqual([]);
    expect(await findSerialPorts(getBoard("qemu-mps2-an386"), list)).toEqual([]);
  });
});
