// The nucleo-f446re image (built for the real board) run unchanged on QEMU's netduinoplus2, an
// STM32F405 with the same memory map (flash @0x08000000, 128 KiB SRAM @0x20000000) and the same
// USART2 (0x40004400, IRQ 38) that the ST-LINK virtual COM port uses on the Nucleo. This
// exercises the STM32 driver of device/mcu/boards/stm32f4.c, its receive interrupt and the HAL's
// ring buffer. (QEMU's RCC/GPIO are not modelled — writes are ignored — and its SysTick runs
// from a faster clock than the F446's 16 MHz HSI, so millis() runs fast there.)
import { afterEach, describe, expect, it } from "vitest";
import { getBoard } from "../boards/index.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { bootQemu, stopQemu, type BootedBoard } from "../host/firmware/qemu.ts";
import { buildEchoWasm } from "../host/firmware/source.ts";

let booted: BootedBoard | undefined;
afterEach(async () => {
  if (booted) {
    await booted.link.close();
    await stopQemu(booted.qemu);
    booted = undefined;
  }
});

describe("nucleo-f446re image on QEMU netduinoplus2 (STM32F405)", () => {
  it("greets, echoes a burst through the USART2 interrupt and the ring buffer, answers PING/STORE", async () => {
    const board = getBoard("nucleo-f446re");
    const build = await buildFirmware({ board, wasmPath: await buildEchoWasm() });
    // USART2 is QEMU's second serial port on this machine.
    booted = await bootQemu({ board, elf: build.elf, machine: "netduinoplus2", serialIndex: 1 });
    expect(booted.greeting).toBe("HELLO echo 1");
    const burst = Array.from({ length: 200 }, (_, i) => String.fromCharCode(65 + (i % 26))).join("") + "\n";
    await booted.link.write(burst);
    expect((await booted.link.waitFor(/[A-Z]{200}\n/, 20_000))[0]).toBe(burst);
    await booted.link.write("PING\n");
    await booted.link.waitFor(/PONG \d+\n/, 20_000);
    await booted.link.write("STORE\n");
    expect((await booted.link.waitFor(/STORE \w+ \d+\n/, 20_000))[0]).toBe("STORE ok 4096\n");
  });
});
