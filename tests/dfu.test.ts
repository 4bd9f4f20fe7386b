// DfuSe download (STM32 boards) against a SIMULATED DFU 1.1 bootloader: no physical USB device
// exists here, so the device side is a state-machine simulation (tests/sim/dfuse-device.ts).
import { describe, expect, it } from "vitest";
import type { FlashEvent } from "../host/firmware/flash.ts";
import { DfuState, dfuseDownload, parseDfuseLayout } from "../host/flash/dfu.ts";
import { SimulatedDfuseDevice } from "./sim/dfuse-device.ts";

const F446_LAYOUT = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg";

function image(bytes: number, seed = 7): Uint8Array {
  let x = seed;
  return Uint8Array.from({ length: bytes }, () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24));
}

describe("DfuSe layout strings", () => {
  it("parses the STM32F446 internal flash", () => {
    const s = parseDfuseLayout(F446_LAYOUT);
    expect(s).toHaveLength(8);
    expect(s[4]).toEqual({ start: 0x08010000, size: 64 * 1024 });
    expect(s[7]!.start + s[7]!.size).toBe(0x08080000);
  });
});

describe("DFU download to a simulated STM32 bootloader (simulation: no USB hardware here)", () => {
  it("erases, programs, verifies and leaves; the flash holds the image", async () => {
    const dev = new SimulatedDfuseDevice(F446_LAYOUT, 2048, 2);
    const img = image(70_000); // spans sectors 0..4
    const events: FlashEvent[] = [];
    await dfuseDownload(dev, img, { address: 0x08000000, layout: F446_LAYOUT, transferSize: 2048, onEvent: (e) => events.push(e) });
    expect(Array.from(dev.flash.subarray(0, img.length))).toEqual(Array.from(img));
    expect(dev.flash[img.length]).toBe(0xff); // rest of the last touched sector erased
    expect(dev.flash[0x20000]).toBe(0x00); // sector 5 untouched
    expect(dev.manifested).toBe(true);
    expect(dev.state).toBe(DfuState.dfuMANIFEST);
    const erases = events.filter((e) => e.type === "erasing");
    expect(erases.at(-1)).toEqual({ type: "erasing", done: 5, total: 5 });
    expect(events.filter((e) => e.type === "programming").at(-1)).toEqual({ type: "programming", done: img.length, total: img.length });
    expect(events.some((e) => e.type === "verifying")).toBe(true);
  });

  it("recovers a device left in dfuERROR by a previous session", async () => {
    const dev = new SimulatedDfuseDevice(F446_LAYOUT, 2048, 0);
    dev.state = DfuState.dfuERROR;
    dev.status = 15;
    const img = image(5000, 3);
    await dfuseDownload(dev, img, { address: 0x08004000, layout: F446_LAYOUT, transferSize: 2048 });
    expect(Array.from(dev.flash.subarray(0x4000, 0x4000 + img.length))).toEqual(Array.from(img));
  });

  it("refuses an image outside the flash before touching the device", async () => {
    const dev = new SimulatedDfuseDevice(F446_LAYOUT, 2048);
    await expect(dfuseDownload(dev, image(4096), { address: 0x0807f800, layout: F446_LAYOUT, transferSize: 2048 })).rejects.toThrow(/outside the flash/);
    expect(dev.log).toHaveLength(0);
  });

  it("reports the device's error status by name (programming a sector that was not erased)", async () => {
    const dev = new SimulatedDfuseDevice(F446_LAYOUT, 2048, 0);
    const img = image(20_000);
    await expect(
      dfuseDownload(dev, img, { address: 0x08000000, layout: "@Internal Flash  /0x08000000/01*016Kg,01*016Kg", transferSize: 2048, onEvent: (e) => {
        // After erasing, dirty the second sector behind the host's back.
        if (e.type === "programming" && e.done === 0) dev.flash.fill(0x00, 0x4000, 0x8000);
      } }),
    ).rejects.toThrow(/errCHECK_ERASED/);
    expect(dev.state).toBe(DfuState.dfuIDLE); // the host cleared the error
  });
});
