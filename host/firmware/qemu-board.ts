// An emulated board running the edgeprop firmware, for backends and benchmarks: build (cached),
// boot QEMU paused with UART0 on a pty, resume, and hand back the pty for a SerialTransport —
// the firmware says nothing until asked, so nothing is lost between resume and open. With
// `icount`, the TCG plugin reports the instructions of every poll() that touched the UART
// (read with `costs()`): summing those over a request gives its deterministic cost.
// A `--backend qemu` connects to board.port like to any board (host/link/connect-board.ts).
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { getBoard, type Board, type Numerics } from "../../boards/index.ts";
import { buildFirmware, type FirmwareBuild } from "./build.ts";
import type { Memcheck } from "./memcheck.ts";
import { qemuDir, parseIcount, resumeQemu, startQemu, stopQemu, type IcountReport, type QemuInstance } from "./qemu.ts";
import { resolveWasm } from "./source.ts";

export interface QemuBoard {
  board: Board;
  build: FirmwareBuild;
  qemu: QemuInstance;
  /** The pty of the board's UART (open it with SerialTransport). */
  port: string;
  /** Instruction counter reports so far (empty without `icount`). */
  costs(): IcountReport;
  stop(): Promise<void>;
}

export interface QemuBoardOptions {
  board?: string;
  /** A .wasm path, `firmware` (default) or `echo`. */
  wasm?: string;
  icount?: boolean;
  /** How the firmware checks memory accesses (default: the build's default, mask). */
  memcheck?: Memcheck;
  /** The kernels' numerics (default: the board's). */
  numerics?: Numerics;
  /** Run a real board's image on a compatible QEMU machine (see QemuStartOptions). */
  machine?: string;
  serialIndex?: number;
}

let seq = 0;

export async function startQemuBoard(opts: QemuBoardOptions = {}): Promise<QemuBoard> {
  const board = getBoard(opts.board ?? "qemu-mps2-an386");
  const build = await buildFirmware({ board, wasmPath: await resolveWasm(opts.wasm ?? "firmware", board), ...(opts.memcheck ? { memcheck: opts.memcheck } : {}), ...(opts.numerics ? { numerics: opts.numerics } : {}) });
  const out = join(qemuDir(), `costs-${process.pid}-${++seq}-${Date.now()}.txt`);
  const s = build.symbols;
  const qemu = await startQemu({
    board,
    elf: build.elf,
    ...(opts.machine ? { machine: opts.machine } : {}),
    ...(opts.serialIndex !== undefined ? { serialIndex: opts.serialIndex } : {}),
    ...(opts.icount ? { icount: { out, mark: s.edgeprop_mark, begin: s.edgeprop_poll_begin, end: s.edgeprop_poll_end, io: s.edgeprop_io } } : {}),
  });
  await resumeQemu(qemu);
  return {
    board,
    build,
    qemu,
    port: qemu.pty!,
    costs: () => parseIcount(existsSync(out) ? readFileSync(out, "utf8") : ""),
    async stop() {
      await stopQemu(qemu);
      rmSync(out, { force: true });
    },
  };
}
