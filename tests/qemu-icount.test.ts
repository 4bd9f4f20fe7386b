// Deterministic cost on the emulated Cortex-M4: the TCG plugin host/firmware/qemu/icount.c counts
// executed guest instructions. A known loop (tests/fixtures/mcu/loop.S) proves the count exactly;
// the echo firmware proves per-poll costs repeat exactly.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getBoard } from "../boards/index.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { cacheDir, repoPath } from "../host/paths.ts";
import { bootQemu, parseIcount, runIcount, stopQemu } from "../host/firmware/qemu.ts";
import { buildEchoWasm } from "../host/firmware/source.ts";
import { requireTool } from "../host/firmware/tools.ts";

const board = getBoard("qemu-mps2-an386");

function buildLoop(n: number): { elf: string; mark: number } {
  const dir = cacheDir("mcu", "tests");
  mkdirSync(dir, { recursive: true });
  const elf = join(dir, `loop-${n}.elf`);
  execFileSync(requireTool("arm-none-eabi-gcc"), [
    "-mcpu=cortex-m4", "-mthumb", "-nostdlib", `-DLOOP_N=${n}`, "-Wl,-Ttext=0", "-e", "reset", "-o", elf,
    repoPath("tests", "fixtures", "mcu", "loop.S"),
  ]);
  const nm = execFileSync(requireTool("arm-none-eabi-nm"), [elf], { encoding: "utf8" });
  const m = /^([0-9a-f]+) T mark$/m.exec(nm);
  if (!m) throw new Error("mark not found in loop ELF");
  return { elf, mark: parseInt(m[1]!, 16) };
}

describe("QEMU instruction counter", () => {
  it("counts exactly 2N + 3 instructions between the marks of a known N-iteration loop", async () => {
    for (const n of [1000, 12345]) {
      const { elf, mark } = buildLoop(n);
      const r = await runIcount(board, elf, { mark });
      expect(r.exitCode).toBe(0);
      expect(r.marks.length).toBe(2);
      expect(r.marks[1]! - r.marks[0]!).toBe(2 * n + 3);
      // Whole run: bl, [loop region], bl + movs, ldr, bkpt: deterministic too.
      expect(r.total).toBe(r.marks[1]! + 4);
    }
  });

  it("is deterministic across runs and reports each busy poll of the firmware", async () => {
    const build = await buildFirmware({ board, wasmPath: await buildEchoWasm() });
    const s = build.symbols;
    const costs: number[][] = [];
    for (let run = 0; run < 2; run++) {
      const out = cacheDir("qemu", `icount-echo-${process.pid}-${run}.txt`);
      const b = await bootQemu({ board, elf: build.elf, icount: { out, mark: s.edgeprop_mark, begin: s.edgeprop_poll_begin, end: s.edgeprop_poll_end, io: s.edgeprop_io } });
      try {
        for (let i = 0; i < 3; i++) {
          // One byte per request, so that it cannot be split across two polls.
          await b.link.write("x");
          await b.link.waitFor(/x/, 20_000);
        }
        // The poll that echoed the last bytes reports when it returns, just after they arrive:
        // wait for that third report (the deadline only turns "never" into a failure).
        const deadline = Date.now() + 30_000;
        while (parseIcount(readFileSync(out, "utf8")).polls.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      } finally {
        await b.link.close();
        await stopQemu(b.qemu);
      }
      const report = parseIcount(readFileSync(out, "utf8"));
      // Two marks around init(): the instructions of instantiate+init are a fixed number.
      expect(report.marks.length).toBe(2);
      costs.push([report.marks[0]!, report.marks[1]! - report.marks[0]!, ...report.polls]);
    }
    expect(costs[0]).toEqual(costs[1]);
    const polls = costs[0]!.slice(2);
    expect(polls.length).toBe(3);
    expect(new Set(polls).size).toBe(1); // the same request costs the same every time
    expect(polls[0]).toBeGreaterThan(50);
  });
});
