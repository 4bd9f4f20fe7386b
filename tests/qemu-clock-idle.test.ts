// Real clocks and idle on the emulated boards:
// - the nucleo-f446re image carries the 180 MHz PLL bring-up (device/mcu/boards/stm32f4.c) and
//   still boots and answers the protocol on QEMU's netduinoplus2, which models no RCC/PWR: the
//   bounded waits fall back to the 16 MHz HSI;
// - between requests the firmware sleeps in `wfi` (interrupt-driven STM32 USART2 and the polled
//   CMSDK UART of qemu-mps2-an386), so an idle QEMU uses next to no host CPU, and the next byte
//   wakes it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { getBoard } from "../boards/index.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { SerialLink, bootQemu, stopQemu, type QemuStartOptions } from "../host/firmware/qemu.ts";
import { protocolHello } from "../host/firmware/ready.ts";
import { resolveWasm } from "../host/firmware/source.ts";
import { requireTool } from "../host/firmware/tools.ts";

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

async function bootAndIdle(boardId: string, extra: Partial<QemuStartOptions>): Promise<void> {
  const board = getBoard(boardId);
  const build = await buildFirmware({ board, wasmPath: await resolveWasm("firmware") });
  const b = await bootQemu({ board, elf: build.elf, ready: protocolHello, timeoutMs: 30_000, ...extra });
  try {
    expect(b.greeting).toMatch(new RegExp(`^HELLO board=${boardId} `));
    // idle: no request for 2 s of wall time
    const c0 = cpuSeconds(b.qemu.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 2000));
    const share = (cpuSeconds(b.qemu.pid) - c0) / ((performance.now() - t0) / 1000);
    expect(share).toBeLessThan(0.25); // a busy-polling board keeps QEMU at ~100 % of a core
    // the next request wakes it
    const hello = protocolHello as (link: SerialLink, timeoutMs: number) => Promise<string>;
    const again = await hello(await SerialLink.open(b.qemu.pty!), 30_000);
    expect(again).toMatch(new RegExp(`^HELLO board=${boardId} `));
  } finally {
    await b.link.close();
    await stopQemu(b.qemu);
  }
}

describe("clocks and idle on QEMU", () => {
  it("nucleo-f446re: the image with the 180 MHz PLL bring-up boots on netduinoplus2, answers, idles in wfi", async () => {
    const board = getBoard("nucleo-f446re");
    expect(board.clockHz).toBe(180_000_000);
    const build = await buildFirmware({ board, wasmPath: await resolveWasm("firmware") });
    const nm = execFileSync(requireTool("arm-none-eabi-nm"), [build.elf], { encoding: "utf8" });
    expect(nm).toMatch(/ T board_clocks_init$/m);
    expect(build.cflags).toContain("-mcpu=cortex-m4");
    // USART2 is QEMU's second serial port on this machine
    await bootAndIdle("nucleo-f446re", { machine: "netduinoplus2", serialIndex: 1 });
  }, 300_000);

  it("qemu-mps2-an386 (polled UART): idles in wfi between requests and wakes on the next byte", async () => {
    await bootAndIdle("qemu-mps2-an386", {});
  }, 300_000);
});
