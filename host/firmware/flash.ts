// Flashing as a pipeline of progress events (probe-rs style): callers get a stream of typed
// events (started, erasing, programming with byte counts, verifying, finished, booting, ready)
// whatever the method is:
//   qemu          "program" = hand the ELF to qemu-system-arm, boot it paused with UART0 on a
//                 pty, resume, wait for the firmware's greeting;
//   uf2 / mass-storage
//                 copy the image (UF2 for the RP2040 boot ROM, BIN for ST-LINK / J-Link drives)
//                 onto the board's USB drive, found by volume label, in chunks, then fsync; the
//                 board reboots itself into the new firmware.
// Boards without a method (sim, esp32-s3) are refused with the reason.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readdirSync, writeSync } from "node:fs";
import { userInfo } from "node:os";
import { basename, join } from "node:path";
import { WASM_PAGE_BYTES, type Board } from "../../boards/index.ts";
import { InputError } from "../input/errors.ts";
import type { FirmwareBuild } from "./build.ts";
import { listPorts, matchPorts, type ListedPort } from "../transport/port-list.ts";
import { DEFAULT_READY, SerialLink, bootQemu, type BootedBoard, type IcountOptions, type ReadyCheck } from "./qemu.ts";

export type FlashEvent =
  | { type: "started"; board: string; method: Board["flash"]["method"]; image: string; bytes: number }
  | { type: "erasing"; done: number; total: number }
  | { type: "programming"; done: number; total: number }
  | { type: "verifying" }
  | { type: "finished"; ms: number }
  | { type: "booting"; detail: string }
  | { type: "ready"; port: string; greeting: string; ms: number };

export interface FlashOptions {
  board: Board;
  build: FirmwareBuild;
  onEvent?: (e: FlashEvent) => void;
  /** Mass-storage/UF2: directory of the mounted board drive (default: search by volume label). */
  mountPoint?: string;
  /** Bytes per programming step (progress granularity) for drive copies. */
  chunkBytes?: number;
  /** QEMU: keep running after this process exits (the CLI); default false (tests, backends). */
  detached?: boolean;
  /** QEMU: instruction counter options. */
  icount?: IcountOptions;
  /** Readiness signal on the UART (default: a HELLO line), or a check that talks to it. */
  ready?: ReadyCheck;
  timeoutMs?: number;
  /** Real boards: after the copy, wait for the board's serial port (USB vid:pid) and run `ready`. */
  waitReady?: boolean;
  /** Serial port enumeration (default: serialport's SerialPort.list; tests inject a mock). */
  listPorts?: () => Promise<PortInfo[]>;
}

export type PortInfo = ListedPort;

/** The serial ports whose USB id is the board's `usb.serial` ("vid:pid"), best first. */
export async function findSerialPorts(board: Board, listed: () => Promise<PortInfo[]> = listPorts): Promise<string[]> {
  return matchPorts(await listed(), [board])
    .filter((p) => p.boards.some((b) => b.role === "serial"))
    .map((p) => p.path)
    .sort();
}

export interface FlashResult {
  board: string;
  method: Board["flash"]["method"];
  image: string;
  bytes: number;
  /** Where the image went: a file on the board drive, or the QEMU pty. */
  target: string;
  /** QEMU only: the running board (its UART link is open; caller stops it). */
  booted?: BootedBoard;
}

/** Refuse before flashing when the module cannot fit the board (numbers in the message). */
export function assertFits(board: Board, build: FirmwareBuild): void {
  const s = build.sizes;
  if (s.ram.needed > board.ramBytes) {
    throw new InputError(
      build.wasm,
      `needs ${s.ram.needed} bytes of RAM (${s.ram.wasmPages} wasm page(s) x ${WASM_PAGE_BYTES} + static ${s.ram.static} + heap reserve ${s.ram.heapReserve}) but board ${board.id} has ${board.ramBytes}`,
    );
  }
  if (s.flash.used > board.flashBytes) {
    throw new InputError(build.wasm, `needs ${s.flash.used} bytes of flash but board ${board.id} has ${board.flashBytes}`);
  }
}

/** Candidate mount points of a USB drive with this volume label (Linux desktop conventions). */
export function driveCandidates(label: string): string[] {
  const user = (() => {
    try {
      return userInfo().username;
    } catch {
      return "";
    }
  })();
  const out = [`/media/${user}/${label}`, `/run/media/${user}/${label}`, `/media/${label}`, `/mnt/${label}`];
  for (const base of ["/media", "/run/media"]) {
    if (!existsSync(base)) continue;
    for (const u of readdirSync(base)) out.push(join(base, u, label));
  }
  return [...new Set(out)];
}

export function findDrive(board: Board): string {
  const label = board.flash.volumeLabel!;
  const hit = driveCandidates(label).find((p) => existsSync(p));
  if (!hit) {
    const how = board.flash.method === "uf2" ? "hold BOOTSEL while plugging the board in" : "plug the board's debugger USB port in";
    throw new InputError("--mount", `no mounted drive labelled ${label} found (${how}, or pass --mount DIR)`);
  }
  return hit;
}

export async function flashFirmware(opts: FlashOptions): Promise<FlashResult> {
  const { board, build } = opts;
  const emit = opts.onEvent ?? (() => {});
  assertFits(board, build);
  const method = board.flash.method;
  if (method === "qemu") {
    const bytes = readFileSync(build.elf).length;
    const t0 = Date.now();
    emit({ type: "started", board: board.id, method, image: build.elf, bytes });
    emit({ type: "programming", done: bytes, total: bytes });
    emit({ type: "finished", ms: Date.now() - t0 });
    emit({ type: "booting", detail: `qemu-system-arm -M ${board.qemu!.machine} -serial pty` });
    const booted = await bootQemu({
      board,
      elf: build.elf,
      detached: opts.detached === true,
      ...(opts.icount ? { icount: opts.icount } : {}),
      ready: opts.ready ?? DEFAULT_READY,
      timeoutMs: opts.timeoutMs ?? 10_000,
    });
    emit({ type: "ready", port: booted.qemu.pty!, greeting: booted.greeting, ms: Date.now() - t0 });
    return { board: board.id, method, image: build.elf, bytes, target: booted.qemu.pty!, booted };
  }
  if (method === "uf2" || method === "mass-storage") {
    const image = method === "uf2" ? build.uf2 : build.bin;
    if (!image) throw new Error(`build for ${board.id} has no ${method === "uf2" ? "UF2" : "BIN"} image`);
    const data = readFileSync(image);
    const dir = opts.mountPoint ?? findDrive(board);
    if (!existsSync(dir)) throw new InputError("--mount", `${dir} does not exist`);
    const target = join(dir, basename(image));
    const t0 = Date.now();
    emit({ type: "started", board: board.id, method, image, bytes: data.length });
    // The drive's firmware erases as it programs; report it as one step for probe-rs parity.
    emit({ type: "erasing", done: data.length, total: data.length });
    const chunk = opts.chunkBytes ?? 64 * 1024;
    const fd = openSync(target, "w");
    try {
      for (let done = 0; done < data.length; ) {
        const n = Math.min(chunk, data.length - done);
        writeSync(fd, data, done, n);
        done += n;
        emit({ type: "programming", done, total: data.length });
      }
      emit({ type: "verifying" });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    emit({ type: "finished", ms: Date.now() - t0 });
    if (opts.waitReady) {
      // The board reboots into the new firmware; its USB serial port (re)appears.
      emit({ type: "booting", detail: `waiting for USB serial ${board.usb?.serial ?? "(none)"}` });
      const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
      let port: string | undefined;
      while (!port) {
        port = (await findSerialPorts(board, opts.listPorts))[0];
        if (port) break;
        if (Date.now() > deadline) throw new Error(`no serial port with USB id ${board.usb?.serial} appeared after flashing ${board.id}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const link = await SerialLink.open(port, board.transport.baud);
      try {
        const ready = opts.ready ?? DEFAULT_READY;
        const tmo = opts.timeoutMs ?? 10_000;
        const greeting = ready instanceof RegExp ? (await link.waitFor(ready, tmo))[0].trim() : await ready(link, tmo);
        emit({ type: "ready", port, greeting, ms: Date.now() - t0 });
      } finally {
        await link.close();
      }
    }
    return { board: board.id, method, image, bytes: data.length, target };
  }
  throw new InputError("--board", `board ${board.id} cannot be flashed (method ${method}): ${board.notes}`);
}

/** A one-line rendering of an event for humans (the CLI prints these to stderr). */
export function formatEvent(e: FlashEvent): string {
  switch (e.type) {
    case "started":
      return `flashing ${e.image} (${e.bytes} bytes) to ${e.board} via ${e.method}`;
    case "erasing":
      return `  erasing     ${e.done}/${e.total}`;
    case "programming":
      return `  programming ${e.done}/${e.total} (${Math.round((100 * e.done) / e.total)}%)`;
    case "verifying":
      return "  verifying";
    case "finished":
      return `  finished in ${e.ms} ms`;
    case "booting":
      return `booting: ${e.detail}`;
    case "ready":
      return `ready on ${e.port} after ${e.ms} ms: ${e.greeting}`;
  }
}
