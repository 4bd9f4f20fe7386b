// The same firmware and protocol on an emulated MCU: device/firmware AOT-compiled with wasm2c +
// arm-none-eabi-gcc, booted on QEMU mps2-an386 (Cortex-M4F), driven over QEMU's UART pty by the
// same session layer. Its e-prop gradients equal `--backend wasm` bit for bit.
import { describe, expect, it } from "vitest";
import { getBoard } from "../boards/index.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { flashFirmware } from "../host/firmware/flash.ts";
import { bootQemu, stopQemu } from "../host/firmware/qemu.ts";
import { protocolHello } from "../host/firmware/ready.ts";
import { resolveWasm } from "../host/firmware/source.ts";
import { randomCase } from "../host/case/random.ts";
import { wasmBackend } from "../host/backends/wasm.ts";
import { gradOverSerial } from "../host/backends/sim.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { Session } from "../host/session/session.ts";
import { MsgType } from "../protocol/messages.ts";

describe("protocol on emulated MCUs (QEMU)", () => {
  it("grad over QEMU's UART equals --backend wasm bit for bit", async () => {
    const board = getBoard("qemu-mps2-an386");
    const build = await buildFirmware({ board, wasmPath: await resolveWasm("firmware", board) }); // the image `edgeprop flash` builds for it (its rules)
    const r = await flashFirmware({ board, build, ready: protocolHello });
    const path = r.booted!.link.port.path;
    await r.booted!.link.close();
    try {
      for (const o of [{ seed: 1 }, { seed: 2, neuron: "alif" as const, loss: "ce" as const, recurrent: true }]) {
        const c = randomCase(o);
        expect(await gradOverSerial(c, path)).toEqual(await wasmBackend.grad(c, { rule: "eprop", flags: {} }));
      }
    } finally {
      await stopQemu(r.booted!.qemu);
    }
  }, 240_000);

  it("on the 128 KiB nucleo-f446re image a model that does not fit is refused in words, a small one fits", async () => {
    const board = getBoard("nucleo-f446re");
    const build = await buildFirmware({ board, wasmPath: await resolveWasm("firmware", board) }); // the image `edgeprop flash` builds for it (its rules)
    const b = await bootQemu({ board, elf: build.elf, machine: "netduinoplus2", serialIndex: 1, ready: protocolHello });
    const path = b.link.port.path;
    await b.link.close();
    try {
      const s = new Session(await SerialTransport.open(path), { timeoutMs: 500 });
      expect((await s.connect()).board).toBe("nucleo-f446re");
      await expect(s.request(MsgType.CONFIGURE, { nIn: 80, nRec: 100, nOut: 3 })).rejects.toThrow(
        /^device error NO_MEMORY in reply to CONFIGURE: the model does not fit in the device's RAM — model needs \d+ bytes; board has \d+ bytes free$/,
      );
      const ok = await s.request(MsgType.CONFIGURE, { nIn: 20, nRec: 30, nOut: 3 });
      expect(ok.bytes as number).toBeGreaterThan(0);
      await s.close();
    } finally {
      await stopQemu(b.qemu);
    }
  }, 240_000);
});
