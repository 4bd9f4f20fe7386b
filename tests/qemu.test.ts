// Firmware on the emulated Cortex-M boards: the echo module (tests/fixtures/echo.ts) AOT-compiled
// by the pipeline, booted in qemu-system-arm with UART0 on a host pty, and talked to through the
// `serialport` package exactly as the host will talk to real boards.
import { afterEach, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { getBoard } from "../boards/index.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { bootQemu, stopQemu, type BootedBoard } from "../host/firmware/qemu.ts";
import { buildEchoWasm } from "../host/firmware/source.ts";
import { edgepropAsync } from "./fixtures/mcu/cli.ts";

const running: BootedBoard[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) {
    await b.link.close();
    await stopQemu(b.qemu);
  }
});

async function boot(boardId: string): Promise<BootedBoard> {
  const board = getBoard(boardId);
  const build = await buildFirmware({ board, wasmPath: await buildEchoWasm() });
  const booted = await bootQemu({ board, elf: build.elf });
  running.push(booted);
  return booted;
}

async function ask(b: BootedBoard, line: string, answer: RegExp): Promise<string> {
  await b.link.write(line);
  return (await b.link.waitFor(answer, 20_000))[0];
}

describe("echo firmware on QEMU", () => {
  for (const id of ["qemu-mps2-an386", "qemu-mps2-an500"]) {
    it(`${id}: greets on a pty, echoes, keeps time and storage`, async () => {
      const b = await boot(id);
      expect(b.greeting).toBe("HELLO echo 1");
      expect(b.qemu.pty).toMatch(/^\/dev\/pts\/\d+$/);
      expect(await ask(b, "hello board\n", /hello board\n/)).toBe("hello board\n");
      // millis() comes from the 25 MHz CMSDK timer: it advances with (virtual) wall time. Each
      // stamp is taken between sending its PING and reading its PONG, so the device's interval
      // lies within the host's intervals around them, however slow the machine is.
      const h0 = performance.now();
      const first = Number((await ask(b, "PING\n", /PONG (\d+)\n/)).slice(5));
      const h1 = performance.now();
      await new Promise((r) => setTimeout(r, 300));
      const h2 = performance.now();
      const second = Number((await ask(b, "PING\n", /PONG (\d+)\n/)).slice(5));
      const h3 = performance.now();
      expect(second - first).toBeGreaterThanOrEqual(Math.floor(h2 - h1) - 2);
      expect(second - first).toBeLessThanOrEqual(Math.ceil(h3 - h0) + 2);
      expect(await ask(b, "STORE\n", /STORE \w+ \d+\n/)).toBe("STORE ok 4096\n");
      // A burst larger than the UART's one-byte RX register arrives intact (QEMU flow control).
      const burst = Array.from({ length: 600 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("") + "\n";
      expect(await ask(b, burst, /[a-z]{600}\n/)).toBe(burst);
    });
  }

  it("reports wasm traps on the UART: unreachable and a HAL buffer outside linear memory", async () => {
    const a = await boot("qemu-mps2-an386");
    expect(await ask(a, "TRAP\n", /TRAP \d+ [^\n]*\n/)).toBe("TRAP 5 Unreachable instruction executed\n");
    const b = await boot("qemu-mps2-an386");
    expect(await ask(b, "OOB\n", /TRAP \d+ [^\n]*\n/)).toMatch(/^TRAP 1 Out-of-bounds/);
  });

  it("`edgeprop flash --board qemu-mps2-an386 --wasm echo --json` leaves the board running on a pty; --stop ends it", async () => {
    const r = await edgepropAsync(["flash", "--board", "qemu-mps2-an386", "--wasm", "echo", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      target: string;
      events: { type: string; greeting?: string }[];
      qemu: { pid: number; pty: string };
      sizes: { ram: { needed: number; limit: number } };
    };
    expect(out.events.map((e) => e.type)).toEqual(["started", "programming", "finished", "booting", "ready"]);
    expect(out.events.at(-1)!.greeting).toBe("HELLO echo 1");
    expect(out.target).toBe(out.qemu.pty);
    expect(existsSync(out.qemu.pty)).toBe(true);
    // The CLI has exited; the board is still there and answers on the printed pty.
    const { SerialLink } = await import("../host/firmware/qemu.ts");
    const link = await SerialLink.open(out.qemu.pty);
    try {
      await link.write("PING\n");
      await link.waitFor(/PONG \d+\n/, 20_000);
    } finally {
      await link.close();
    }
    const stop = await edgepropAsync(["flash", "--board", "qemu-mps2-an386", "--stop", "--json"]);
    expect(stop.code).toBe(0);
    expect((JSON.parse(stop.stdout) as { stopped: { pid: number } }).stopped.pid).toBe(out.qemu.pid);
    // QEMU got `quit`; wait for the process to be gone (the exit is the event; the deadline only
    // turns "never" into a failure)
    const alive = () => {
      try {
        process.kill(out.qemu.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (const deadline = Date.now() + 30_000; alive() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});
