// The edgeprop firmware itself (device/firmware, built by device/firmware/build.ts) through the
// MCU pipeline: it builds within the limits of the tightest boards, and on the emulated
// Cortex-M4 it answers the protocol's HELLO over the QEMU pty with the board id the shim wrote
// into its BOARD_ID export.
import { describe, expect, it } from "vitest";
import { getBoard } from "../boards/index.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { flashFirmware, type FlashEvent } from "../host/firmware/flash.ts";
import { bootQemu, stopQemu } from "../host/firmware/qemu.ts";
import { protocolHello } from "../host/firmware/ready.ts";
import { resolveWasm } from "../host/firmware/source.ts";

describe("device/firmware on the MCU pipeline", () => {
  it("builds for the smallest-RAM board and answers HELLO on qemu-mps2-an386", async () => {
    const wasmPath = await resolveWasm("firmware");
    // (bench/mcu.ts builds it for every board; here the extremes keep the suite fast.)
    const boards = ["qemu-mps2-an386", "nucleo-f446re"].map((id) => getBoard(id));
    const builds = await Promise.all(boards.map((board) => buildFirmware({ board, wasmPath })));
    for (const [i, b] of builds.entries()) {
      expect(b.sizes.flash.used).toBeLessThanOrEqual(boards[i]!.flashBytes);
      expect(b.sizes.ram.needed).toBeLessThanOrEqual(boards[i]!.ramBytes);
    }
    const board = getBoard("qemu-mps2-an386");
    const events: FlashEvent[] = [];
    const r = await flashFirmware({ board, build: builds[0]!, ready: protocolHello, onEvent: (e) => events.push(e) });
    try {
      const ready = events.at(-1)!;
      expect(ready.type).toBe("ready");
      expect((ready as { greeting: string }).greeting).toMatch(/^HELLO board=qemu-mps2-an386 fw=\S+ rt=\S+ ram=\d+ mf=\d+$/);
    } finally {
      await r.booted!.link.close();
      await stopQemu(r.booted!.qemu);
    }
  }, 240_000);

  it("runs in the 128 KiB of the nucleo-f446re image (on QEMU netduinoplus2) and answers HELLO", async () => {
    const board = getBoard("nucleo-f446re");
    const build = await buildFirmware({ board, wasmPath: await resolveWasm("firmware") });
    const b = await bootQemu({ board, elf: build.elf, machine: "netduinoplus2", serialIndex: 1, ready: protocolHello });
    try {
      expect(b.greeting).toMatch(/^HELLO board=nucleo-f446re /);
    } finally {
      await b.link.close();
      await stopQemu(b.qemu);
    }
  }, 240_000);
});
