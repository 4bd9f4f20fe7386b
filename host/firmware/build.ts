// The MCU firmware pipeline: firmware .wasm -> wasm2c -> arm-none-eabi-gcc (+ the C shim in
// device/mcu/, + a linker script generated from boards/<id>.json) -> ELF/BIN(/UF2), with sizes
// checked against the board's flash and RAM. Builds are cached by a hash of
// every input (cacheDir("mcu")/<board>/<hash>/), so tests and repeated CLI calls pay for a compile once.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { WASM_PAGE_BYTES, type Board, type Numerics } from "../../boards/index.ts";
import { InputError } from "../input/errors.ts";
import { deviceRuleNames } from "../rules/index.ts";
import { REPO_ROOT, cacheDir, repoPath } from "../paths.ts";
import { BOOT2_BYTES, HEAP_RESERVE_BYTES, STACK_BYTES, linkerScript } from "./linker.ts";
import { DEFAULT_MEMCHECK, MEMCHECKS, WINDOW_SLACK, maskAccessors, windowBytes, type Memcheck } from "./memcheck.ts";
import { NEWLIB_NANO, WASM2C_HEADER, WASM2C_RUNTIME_DIR, requireFile, requireTool } from "./tools.ts";
import { UF2_FAMILY_RP2040, crc32Rp2040, toUf2 } from "./uf2.ts";
import { checkHalModule, readWasm, type WasmInfo } from "./wasm.ts";

const run = promisify(execFile);

export const SHIM_DIR = repoPath("device", "mcu");
/** Bump when the pipeline changes in a way the input hash does not see. */
const PIPELINE_VERSION = "2";

/** Flags every board gets, after the board's own cflags. */
export const COMMON_CFLAGS = [
  "-O2",
  "-ffunction-sections",
  "-fdata-sections",
  "-fno-common",
  "-DNDEBUG", // wasm-rt-impl.c's asserts would pull in stdio's stderr
  "-fno-math-errno", // wasm float ops never set errno: sqrt etc. compile to the FPU instruction
  "-Wall",
  "-Wno-unused-function",
  "-Wno-unused-variable",
  "-Wno-unused-but-set-variable",
];

export interface SizeReport {
  /** Code + read-only data in flash (.text, .rodata, .ARM.exidx, .boot2). */
  text: number;
  /** Initialised data: in flash (load image) and in RAM. */
  data: number;
  /** Zeroed RAM. */
  bss: number;
  stack: number;
  flash: { used: number; limit: number };
  ram: {
    /** data + bss + stack: what the linker placed. */
    static: number;
    wasmPages: number;
    /** wasm linear memory: allocated on the heap at instantiation (bounds), or the fixed window + slack (mask). */
    wasmBytes: number;
    heapReserve: number;
    needed: number;
    limit: number;
  };
}

export interface FirmwareBuild {
  board: string;
  wasm: string;
  wasmSha256: string;
  dir: string;
  elf: string;
  bin: string;
  uf2?: string;
  cached: boolean;
  sizes: SizeReport;
  /** Addresses (Thumb bit cleared) of the probe points the icount plugin uses. */
  symbols: Record<string, number>;
  /** Flags passed to the compiler (board cflags + common), for the record. */
  cflags: string[];
  /** How memory accesses are checked (host/firmware/memcheck.ts). */
  memcheck: Memcheck;
  /** The kernels' numerics the image runs (boards/*.json "numerics", or the build's override). */
  numerics: Numerics;
  /** mask: the power-of-two window the linear memory lives in (the most it can grow to). */
  windowBytes?: number;
}

export interface BuildOptions {
  board: Board;
  /** Path of the firmware .wasm (used for messages and the record). */
  wasmPath: string;
  /** Root for cached builds (default cacheDir("mcu")). */
  buildRoot?: string;
  /** Rebuild even when a cached build exists. */
  force?: boolean;
  /** `bounds` (wasm2c's checks) or `mask` (fixed window, masked addresses; default). */
  memcheck?: Memcheck;
  /** Extra -D flags for the C shim (tests: e.g. canary checks). */
  defines?: string[];
  /** The kernels' numerics (default: the board's): the shim tells the firmware through its NUMERICS export. */
  numerics?: Numerics;
}

export function driverSources(board: Board): string[] {
  const driver = board.toolchain!.driver;
  const files = ["startup.c", "syscalls.c", "hal.c", "memory.c", `boards/${driver}.c`];
  if (board.toolchain!.boot2) files.push(`boards/${driver}-boot2.S`);
  return files;
}

function shimFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(SHIM_DIR);
  return out.sort();
}

/**
 * asc flags that leave out of a board's firmware the rules its boards/*.json `rules` does not
 * list (`--use FW_OMIT_<NAME>=1`, read by device/firmware/rules.ts); none without `rules`.
 */
export function ruleOmitFlags(board: Board): string[] {
  if (!board.rules) return [];
  const known = deviceRuleNames();
  board.rules.forEach((r, i) => {
    if (!known.includes(r)) throw new InputError(`boards/${board.id}.json.rules[${i}]`, `expected a rule with a device kernel (${known.join(", ")}), got '${r}'`);
  });
  return known.filter((r) => !board.rules!.includes(r)).flatMap((r) => ["--use", `FW_OMIT_${r.toUpperCase().replace(/[^A-Z0-9]/g, "_")}=1`]);
}

/** data+bss of the shim and runtime besides the storage area: measured ~9 KiB (the 4 KiB receive ring, tables). */
const STATIC_ESTIMATE = 12 * 1024;

/** RAM the module needs on this board before anything is compiled (static part estimated). */
export function estimateRam(board: Board, info: WasmInfo, memcheck: Memcheck = "bounds"): { needed: number; wasmBytes: number } {
  const initial = (info.memory?.initialPages ?? 0) * WASM_PAGE_BYTES;
  const staticEstimate = STACK_BYTES + board.storageBytes + STATIC_ESTIMATE;
  const wasmBytes = memcheck === "mask" ? maskWindow(board, info) + WINDOW_SLACK : initial;
  return { needed: staticEstimate + wasmBytes + HEAP_RESERVE_BYTES, wasmBytes };
}

/** The mask window of a module on a board: all the RAM the rest leaves, rounded down to a power of two. */
export function maskWindow(board: Board, info: WasmInfo): number {
  return windowBytes(board.ramBytes, STACK_BYTES + board.storageBytes + STATIC_ESTIMATE + HEAP_RESERVE_BYTES, (info.memory?.initialPages ?? 0) * WASM_PAGE_BYTES);
}

function ramRefusal(board: Board, wasmPath: string, pages: number, needed: number, detail: string): InputError {
  return new InputError(
    wasmPath,
    `needs ${needed} bytes of RAM (${pages} wasm page(s) x 65536 = ${pages * WASM_PAGE_BYTES}, ${detail}) but board ${board.id} has ${board.ramBytes}`,
  );
}

/** Refuse a board that cannot run wasm2c firmware at all (sim, ESP32-S3). */
export function assertBuildable(board: Board): void {
  if (board.runtime !== "wasm2c" || !board.toolchain || !board.memory) {
    throw new InputError(
      "--board",
      `board ${board.id} (runtime ${board.runtime}, support ${board.support}) has no native firmware build: ${board.notes}`,
    );
  }
}

async function sizes(elf: string, board: Board, info: WasmInfo): Promise<SizeReport> {
  // (mask builds: the window is a section of its own, counted as the wasm memory)
  const { stdout } = await run(requireTool("arm-none-eabi-size"), ["-A", "-d", elf]);
  const sec = new Map<string, number>();
  for (const line of stdout.split("\n")) {
    const m = /^(\.\S+)\s+(\d+)\s+(\d+)/.exec(line.trim());
    if (m) sec.set(m[1]!, Number(m[2]));
  }
  const get = (n: string): number => sec.get(n) ?? 0;
  const text = get(".boot2") + get(".text") + get(".ARM.exidx");
  const data = get(".data");
  const bss = get(".bss");
  const stack = get(".stack");
  const pages = info.memory?.initialPages ?? 0;
  const wasmBytes = get(".wasm_window") || pages * WASM_PAGE_BYTES;
  const stat = data + bss + stack;
  return {
    text,
    data,
    bss,
    stack,
    flash: { used: text + data, limit: board.flashBytes },
    ram: { static: stat, wasmPages: pages, wasmBytes, heapReserve: HEAP_RESERVE_BYTES, needed: stat + wasmBytes + HEAP_RESERVE_BYTES, limit: board.ramBytes },
  };
}

async function symbols(elf: string): Promise<Record<string, number>> {
  const { stdout } = await run(requireTool("arm-none-eabi-nm"), [elf]);
  const out: Record<string, number> = {};
  for (const line of stdout.split("\n")) {
    const m = /^([0-9a-f]+) [Tt] (edgeprop_\w+|main|Reset_Handler)$/.exec(line.trim());
    if (m) out[m[2]!] = parseInt(m[1]!, 16) & ~1;
  }
  return out;
}

/** Arguments of `Z_fw_instantiate` after the instance, as wasm2c 1.0.32 declares them. */
function glueHeader(fwHeader: string): string {
  const m = /void Z_fw_instantiate\(Z_fw_instance_t\*([^)]*)\);/.exec(fwHeader);
  if (!m) throw new Error("wasm2c output: Z_fw_instantiate not found (wabt version other than 1.0.32?)");
  const modules = [...m[1]!.matchAll(/struct Z_(\w+)_instance_t\*/g)].map((x) => x[1]!);
  for (const mod of modules) if (mod !== "hal" && mod !== "env") throw new Error(`wasm2c output: unexpected import module '${mod}'`);
  return [
    "/* Generated by host/firmware/build.ts from fw.h; do not edit. */",
    `#define FW_IMPORTS_ENV ${modules.includes("env") ? 1 : 0}`,
    `#define FW_INSTANTIATE_ARGS ${modules.map((mod) => `&${mod}_instance`).join(", ") || "/* none */"}`,
    `#define FW_HAS_BOARD_ID ${/u32\* Z_fwZ_BOARD_ID\(Z_fw_instance_t\* instance\);/.test(fwHeader) ? 1 : 0}`,
    `#define FW_HAS_BUSY ${/u32 Z_fwZ_busy\(Z_fw_instance_t\*\);/.test(fwHeader) ? 1 : 0}`,
    `#define FW_HAS_NUMERICS ${/u32\* Z_fwZ_NUMERICS\(Z_fw_instance_t\* instance\);/.test(fwHeader) ? 1 : 0}`,
    "",
  ].join("\n");
}

/** Debian's wasm-rt-impl.c passes an enum through va_arg; arm-none-eabi uses short enums, so it must read an int. */
export function patchRuntime(src: string, memcheck: Memcheck = "bounds"): string {
  let patched = src.replaceAll("va_arg(args, wasm_rt_type_t)", "(wasm_rt_type_t)va_arg(args, int)");
  if (patched === src) throw new Error("wasm-rt-impl.c: va_arg(args, wasm_rt_type_t) not found (wabt version other than 1.0.32?)");
  if (memcheck === "mask") {
    // device/mcu/memory.c defines these two on the fixed window; the heap versions become unused
    for (const f of ["void wasm_rt_allocate_memory(", "uint32_t wasm_rt_grow_memory("]) {
      if (!patched.includes(f)) throw new Error(`wasm-rt-impl.c: '${f}' not found (wabt version other than 1.0.32?)`);
      patched = patched.replace(f, f.replace("(", "_heap_unused("));
    }
  }
  return patched;
}

export async function buildFirmware(opts: BuildOptions): Promise<FirmwareBuild> {
  const { board } = opts;
  const memcheck = opts.memcheck ?? DEFAULT_MEMCHECK;
  const numerics = opts.numerics ?? board.numerics;
  if (!MEMCHECKS.includes(memcheck)) throw new InputError("--memcheck", `expected one of ${MEMCHECKS.join(", ")}, got '${memcheck}'`);
  assertBuildable(board);
  const tc = board.toolchain!;
  if (!existsSync(opts.wasmPath)) throw new InputError(opts.wasmPath, "file not found (expected a firmware .wasm)");
  const wasm = readFileSync(opts.wasmPath);
  const info = readWasm(wasm, opts.wasmPath);
  checkHalModule(info, opts.wasmPath);
  const pages = info.memory!.initialPages;
  const est = estimateRam(board, info, memcheck);
  if (est.needed > board.ramBytes) {
    throw ramRefusal(board, opts.wasmPath, pages, est.needed, `+ ~${est.needed - est.wasmBytes} for stack, data, storage and heap (estimated)`);
  }

  const wasm2c = requireTool("wasm2c");
  const cc = requireTool(tc.cc, `boards/${board.id}.json.toolchain.cc`);
  requireFile(join(WASM2C_RUNTIME_DIR, "wasm-rt-impl.c"));
  requireFile(WASM2C_HEADER);
  if (tc.libc === "newlib-nano") requireFile(NEWLIB_NANO);
  else requireFile("/usr/lib/picolibc/arm-none-eabi/picolibc.specs");

  const window = memcheck === "mask" ? maskWindow(board, info) : undefined;
  const memDefines = window ? [`-DEDGEPROP_WINDOW_BYTES=${window}u`, `-DEDGEPROP_WINDOW_SLACK=${WINDOW_SLACK}u`] : [];
  const cflags = [...tc.cflags, ...COMMON_CFLAGS, ...memDefines, ...(opts.defines ?? []), `-DBOARD_NUMERICS=${numerics === "fixed16" ? 1 : 0}u`];
  const hash = createHash("sha256");
  hash.update(PIPELINE_VERSION).update(wasm).update(JSON.stringify(board)).update(JSON.stringify(cflags));
  for (const f of shimFiles()) hash.update(relative(SHIM_DIR, f)).update(readFileSync(f));
  for (const f of ["linker.ts", "build.ts", "uf2.ts", "memcheck.ts"]) hash.update(readFileSync(join(REPO_ROOT, "host/firmware", f)));
  const key = hash.digest("hex").slice(0, 16);
  const root = opts.buildRoot ?? cacheDir("mcu");
  const dir = join(root, board.id, key);
  const record = join(dir, "build.json");
  const wasmSha256 = createHash("sha256").update(wasm).digest("hex");
  if (!opts.force && existsSync(record)) {
    const prev = JSON.parse(readFileSync(record, "utf8")) as FirmwareBuild;
    return { ...prev, wasm: opts.wasmPath, cached: true };
  }

  // Build in a scratch directory and rename at the end, so parallel builds never see half a build.
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    writeFileSync(join(tmp, "fw.wasm"), wasm);
    await run(wasm2c, [join(tmp, "fw.wasm"), "-n", "fw", "-o", join(tmp, "fw.c")]);
    if (memcheck === "mask") writeFileSync(join(tmp, "fw.c"), maskAccessors(readFileSync(join(tmp, "fw.c"), "utf8")));
    writeFileSync(join(tmp, "fw_glue.h"), glueHeader(readFileSync(join(tmp, "fw.h"), "utf8")));
    writeFileSync(join(tmp, "wasm-rt.h"), readFileSync(WASM2C_HEADER));
    writeFileSync(join(tmp, "wasm-rt-impl.h"), readFileSync(join(WASM2C_RUNTIME_DIR, "wasm-rt-impl.h")));
    writeFileSync(join(tmp, "wasm-rt-impl.c"), patchRuntime(readFileSync(join(WASM2C_RUNTIME_DIR, "wasm-rt-impl.c"), "utf8"), memcheck));
    writeFileSync(join(tmp, "link.ld"), linkerScript(board, window ? { windowSection: window + WINDOW_SLACK } : {}));
    const elf = join(tmp, "fw.elf");
    const libcFlags = tc.libc === "newlib-nano" ? ["--specs=nano.specs"] : ["--specs=picolibc.specs"];
    const args = [
      ...cflags,
      `-DBOARD_CLOCK_HZ=${board.clockHz}u`,
      `-DBOARD_BAUD=${board.transport.baud}u`,
      `-DBOARD_STORAGE_BYTES=${board.storageBytes}u`,
      `-DBOARD_ID_STR="${board.id.slice(0, 15)}"`,
      `-I${tmp}`,
      `-I${SHIM_DIR}`,
      `-I${join(SHIM_DIR, "include")}`,
      ...libcFlags,
      "-nostartfiles",
      "-Wl,--gc-sections",
      `-Wl,-Map=${join(tmp, "fw.map")}`,
      "-T",
      join(tmp, "link.ld"),
      "-o",
      elf,
      join(tmp, "fw.c"),
      join(tmp, "wasm-rt-impl.c"),
      ...driverSources(board).map((f) => join(SHIM_DIR, f)),
      "-lm",
    ];
    try {
      await run(cc, args, { maxBuffer: 16 << 20 });
    } catch (err) {
      const e = err as { stderr?: string };
      throw new Error(`${tc.cc} failed for board ${board.id}:\n${e.stderr ?? String(err)}`);
    }
    const size = await sizes(elf, board, info);
    if (size.flash.used > size.flash.limit) {
      throw new InputError(opts.wasmPath, `firmware needs ${size.flash.used} bytes of flash (text ${size.text} + data ${size.data}) but board ${board.id} has ${size.flash.limit}`);
    }
    if (size.ram.needed > size.ram.limit) {
      throw ramRefusal(board, opts.wasmPath, pages, size.ram.needed, `+ data ${size.data} + bss ${size.bss} + stack ${size.stack} + heap reserve ${HEAP_RESERVE_BYTES}`);
    }
    const bin = join(tmp, "fw.bin");
    await run(requireTool("arm-none-eabi-objcopy"), ["-O", "binary", elf, bin]);
    let uf2: string | undefined;
    if (tc.boot2) {
      // The boot ROM refuses a boot2 whose CRC32 (last 4 of its 256 bytes) does not match.
      const image = readFileSync(bin);
      image.writeUInt32LE(crc32Rp2040(image.subarray(0, BOOT2_BYTES - 4)), BOOT2_BYTES - 4);
      writeFileSync(bin, image);
    }
    if (board.flash.method === "uf2") {
      uf2 = join(tmp, "fw.uf2");
      writeFileSync(uf2, toUf2(readFileSync(bin), board.memory!.flash.origin, board.flash.uf2FamilyId ?? UF2_FAMILY_RP2040));
    }
    const syms = await symbols(elf);
    const result: FirmwareBuild = {
      board: board.id,
      wasm: opts.wasmPath,
      wasmSha256,
      dir,
      elf: join(dir, "fw.elf"),
      bin: join(dir, "fw.bin"),
      ...(uf2 ? { uf2: join(dir, "fw.uf2") } : {}),
      cached: false,
      sizes: size,
      symbols: syms,
      cflags,
      memcheck,
      numerics,
      ...(window ? { windowBytes: window } : {}),
    };
    writeFileSync(join(tmp, "build.json"), JSON.stringify(result, null, 2) + "\n");
    // A complete build of the same inputs may have landed meanwhile (another test worker): keep
    // that one, never delete a directory someone may be reading. --force replaces it.
    if (opts.force) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      if (!existsSync(join(dir, "build.json"))) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
    return result;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** One-line human summary of a build's sizes against the board's limits. */
export function formatSizes(b: FirmwareBuild): string {
  const s = b.sizes;
  const pct = (a: number, l: number): string => `${((100 * a) / l).toFixed(1)}%`;
  return [
    `text ${s.text}  data ${s.data}  bss ${s.bss}  stack ${s.stack}`,
    `flash ${s.flash.used} / ${s.flash.limit} (${pct(s.flash.used, s.flash.limit)})`,
    `ram ${s.ram.needed} / ${s.ram.limit} (${pct(s.ram.needed, s.ram.limit)}; ` +
      (b.windowBytes ? `wasm window ${b.windowBytes} + ${WINDOW_SLACK} slack, --memcheck mask)` : `wasm ${s.ram.wasmPages} page(s) = ${s.ram.wasmBytes}, --memcheck bounds)`),
    `numerics ${b.numerics}`,
  ].join("\n");
}
