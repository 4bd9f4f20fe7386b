// Board definitions are data (boards/<id>.json, PlatformIO-like); this module loads and validates
// them. Unknown or malformed boards are an InputError naming the field and the known boards.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../host/input/errors.ts";
import { repoPath } from "../host/paths.ts";
import { bool as boolOf, choice as choiceOf, intIn, obj, text } from "../host/input/fields.ts";

export const BOARDS_DIR = repoPath("boards");

export type Runtime = "node-wasm" | "wasm2c" | "wamr";
export type Support = "full" | "build-only" | "unsupported";
export type FlashMethod = "none" | "qemu" | "uf2" | "mass-storage" | "esptool";
export type ImageFormat = "wasm" | "elf" | "bin" | "uf2";
export type TransportKind = "pty" | "uart" | "usb-cdc";
export type Driver = "cmsdk" | "rp2040" | "stm32f4" | "nrf52";
/** The kernels' arithmetic: float32 (hard- or soft-float), or the FPGA core's 16-bit fixed point (cores without an FPU). */
export type Numerics = "f32" | "fixed16";

export interface MemoryRegion {
  origin: number;
  length: number;
}

export interface Board {
  id: string;
  name: string;
  vendor: string;
  mcu: string;
  /** `-mcpu` name for Arm cores, or `wasm32` / `xtensa-lx7`. */
  core: string;
  /** `-mfpu` name, `none`, or a descriptive name for non-Arm cores. */
  fpu: string;
  /** Core clock the shim runs at (0 = host speed, sim only). */
  clockHz: number;
  /** The e-prop kernel the firmware runs on this board (device/kernels/numerics.ts). */
  numerics: Numerics;
  ramBytes: number;
  flashBytes: number;
  storageBytes: number;
  /** Address map used by the generated linker script (wasm2c boards only). */
  memory?: { flash: MemoryRegion; ram: MemoryRegion };
  runtime: Runtime;
  emulated: boolean;
  support: Support;
  notes: string;
  transport: { kind: TransportKind; baud: number };
  /** USB ids as "vid:pid" hex strings, per role (serial port, ROM bootloader). */
  usb: { serial?: string; bootloader?: string } | null;
  flash: { method: FlashMethod; format: ImageFormat; volumeLabel?: string; uf2FamilyId?: number };
  qemu?: { machine: string };
  toolchain: {
    cc: string;
    libc: "newlib-nano" | "picolibc";
    driver: Driver;
    boot2?: boolean;
    cflags: string[];
  } | null;
  /**
   * The learning rules its firmware carries (host/rules, device/firmware/rules.ts); absent: every
   * rule. The others are left out at compile time (host/firmware/build.ts ruleOmitFlags).
   */
  rules?: string[];
}

const RUNTIMES: readonly Runtime[] = ["node-wasm", "wasm2c", "wamr"];
const SUPPORTS: readonly Support[] = ["full", "build-only", "unsupported"];
const FLASH_METHODS: readonly FlashMethod[] = ["none", "qemu", "uf2", "mass-storage", "esptool"];
const FORMATS: readonly ImageFormat[] = ["wasm", "elf", "bin", "uf2"];
const TRANSPORTS: readonly TransportKind[] = ["pty", "uart", "usb-cdc"];
const DRIVERS: readonly Driver[] = ["cmsdk", "rp2040", "stm32f4", "nrf52"];
const NUMERICS: readonly Numerics[] = ["f32", "fixed16"];
const COMPILERS = ["arm-none-eabi-gcc"] as const;
const USB_ID = /^[0-9a-f]{4}:[0-9a-f]{4}$/;

type Json = Record<string, unknown>;

// The shared JSON readers, keyed by object member (boards name fields as `boards/x.json.key`).
const str = (o: Json, key: string, field: string) => text(o[key], `${field}.${key}`);
const uint = (o: Json, key: string, field: string, min = 0) => intIn(o[key], `${field}.${key}`, min, 2 ** 32);
const choice = <T extends string>(o: Json, key: string, field: string, choices: readonly T[]) => choiceOf(o[key], `${field}.${key}`, choices);
const bool = (o: Json, key: string, field: string) => boolOf(o[key], `${field}.${key}`);

function region(v: unknown, field: string): MemoryRegion {
  const o = obj(v, field);
  return { origin: uint(o, "origin", field), length: uint(o, "length", field, 1) };
}

/** Validate one parsed board file; `field` prefixes error paths (e.g. `boards/x.json`). */
export function validateBoard(raw: unknown, field: string): Board {
  const o = obj(raw, field);
  const id = str(o, "id", field);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) throw new InputError(`${field}.id`, "expected lower-case letters, digits and '-'");
  const runtime = choice(o, "runtime", field, RUNTIMES);
  const board: Board = {
    id,
    name: str(o, "name", field),
    vendor: str(o, "vendor", field),
    mcu: str(o, "mcu", field),
    core: str(o, "core", field),
    fpu: str(o, "fpu", field),
    clockHz: uint(o, "clockHz", field),
    numerics: choice(o, "numerics", field, NUMERICS),
    ramBytes: uint(o, "ramBytes", field, 1),
    flashBytes: uint(o, "flashBytes", field),
    storageBytes: uint(o, "storageBytes", field),
    runtime,
    emulated: bool(o, "emulated", field),
    support: choice(o, "support", field, SUPPORTS),
    notes: str(o, "notes", field),
    transport: (() => {
      const t = obj(o.transport, `${field}.transport`);
      return { kind: choice(t, "kind", `${field}.transport`, TRANSPORTS), baud: uint(t, "baud", `${field}.transport`, 1) };
    })(),
    usb: (() => {
      if (o.usb === null) return null;
      const u = obj(o.usb, `${field}.usb`);
      const out: { serial?: string; bootloader?: string } = {};
      for (const role of ["serial", "bootloader"] as const) {
        if (u[role] === undefined) continue;
        if (typeof u[role] !== "string" || !USB_ID.test(u[role] as string)) {
          throw new InputError(`${field}.usb.${role}`, "expected a 'vid:pid' pair of 4-digit lower-case hex numbers");
        }
        out[role] = u[role] as string;
      }
      return out;
    })(),
    flash: (() => {
      const f = obj(o.flash, `${field}.flash`);
      const out: Board["flash"] = {
        method: choice(f, "method", `${field}.flash`, FLASH_METHODS),
        format: choice(f, "format", `${field}.flash`, FORMATS),
      };
      if (f.volumeLabel !== undefined) out.volumeLabel = str(f, "volumeLabel", `${field}.flash`);
      if (f.uf2FamilyId !== undefined) {
        // Written as a hex string in the JSON ("0xe48bff56"), as in the UF2 family list.
        const v = f.uf2FamilyId;
        if (typeof v !== "string" || !/^0x[0-9a-f]{8}$/.test(v)) throw new InputError(`${field}.flash.uf2FamilyId`, "expected an 8-digit hex string such as \"0xe48bff56\"");
        out.uf2FamilyId = parseInt(v, 16);
      }
      if (out.method === "uf2" && out.uf2FamilyId === undefined) throw new InputError(`${field}.flash.uf2FamilyId`, "required when method is uf2");
      if (out.method === "mass-storage" && out.volumeLabel === undefined) throw new InputError(`${field}.flash.volumeLabel`, "required when method is mass-storage");
      return out;
    })(),
    toolchain: null,
  };
  if (o.memory !== undefined) {
    const m = obj(o.memory, `${field}.memory`);
    board.memory = { flash: region(m.flash, `${field}.memory.flash`), ram: region(m.ram, `${field}.memory.ram`) };
    if (board.memory.ram.length !== board.ramBytes) throw new InputError(`${field}.memory.ram.length`, `expected ramBytes (${board.ramBytes})`);
    if (board.memory.flash.length !== board.flashBytes) throw new InputError(`${field}.memory.flash.length`, `expected flashBytes (${board.flashBytes})`);
  }
  if (o.rules !== undefined) {
    const list = o.rules;
    if (!Array.isArray(list)) throw new InputError(`${field}.rules`, "expected an array of rule names, e.g. [\"eprop\"]");
    board.rules = list.map((r, i) => {
      const name = text(r, `${field}.rules[${i}]`);
      if (!/^[a-z][a-z0-9-]*$/.test(name) || list.indexOf(r) !== i) throw new InputError(`${field}.rules[${i}]`, `expected a rule's name, once (lower-case letters, digits and '-'), got '${name}'`);
      return name;
    });
  }
  if (o.qemu !== undefined) board.qemu = { machine: str(obj(o.qemu, `${field}.qemu`), "machine", `${field}.qemu`) };
  if (o.toolchain !== null) {
    const t = obj(o.toolchain, `${field}.toolchain`);
    const cflags = t.cflags;
    if (!Array.isArray(cflags) || !cflags.every((f) => typeof f === "string" && f.startsWith("-"))) {
      throw new InputError(`${field}.toolchain.cflags`, "expected an array of compiler flags");
    }
    board.toolchain = {
      // A compiler we know (it is run, never through a shell): a board file cannot name a command.
      cc: choice(t, "cc", `${field}.toolchain`, COMPILERS),
      libc: choice(t, "libc", `${field}.toolchain`, ["newlib-nano", "picolibc"] as const),
      driver: choice(t, "driver", `${field}.toolchain`, DRIVERS),
      cflags: cflags as string[],
    };
    if (t.boot2 !== undefined) board.toolchain.boot2 = bool(t, "boot2", `${field}.toolchain`);
  }
  // Cross-field rules: what the firmware pipeline relies on.
  if (runtime === "wasm2c") {
    if (!board.toolchain) throw new InputError(`${field}.toolchain`, "required for runtime wasm2c");
    if (!board.memory) throw new InputError(`${field}.memory`, "required for runtime wasm2c (linker script)");
    if (!board.toolchain.cflags.includes(`-mcpu=${board.core}`)) throw new InputError(`${field}.toolchain.cflags`, `expected -mcpu=${board.core} (the board's core)`);
    const hardFloat = board.toolchain.cflags.includes("-mfloat-abi=hard");
    if ((board.fpu === "none") === hardFloat) throw new InputError(`${field}.toolchain.cflags`, `float ABI does not match fpu '${board.fpu}'`);
    if (hardFloat && !board.toolchain.cflags.includes("-ffp-contract=off")) {
      throw new InputError(`${field}.toolchain.cflags`, "expected -ffp-contract=off (fused multiply-add breaks bit-exactness)");
    }
  }
  if (board.flash.method === "qemu" && !board.qemu) throw new InputError(`${field}.qemu`, "required when flash.method is qemu");
  return board;
}

let cache: Map<string, Board> | undefined;

/** Every board in boards/*.json, validated, sorted by id. */
export function loadBoards(dir = BOARDS_DIR): Board[] {
  if (dir === BOARDS_DIR && cache) return [...cache.values()];
  const boards = new Map<string, Board>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const field = `boards/${file}`;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(join(dir, file), "utf8"));
    } catch (err) {
      throw new InputError(field, `expected valid JSON (${(err as Error).message})`);
    }
    const board = validateBoard(raw, field);
    if (`${board.id}.json` !== file) throw new InputError(`${field}.id`, `expected '${file.slice(0, -5)}' (the file name)`);
    boards.set(board.id, board);
  }
  if (dir === BOARDS_DIR) cache = boards;
  return [...boards.values()];
}

export function boardIds(): string[] {
  return loadBoards().map((b) => b.id);
}

/** The board with this id, or an InputError naming the known boards. */
export function getBoard(id: string | undefined, field = "--board"): Board {
  const boards = loadBoards();
  const board = boards.find((b) => b.id === id);
  if (!board) {
    throw new InputError(field, `${id === undefined ? "missing" : `unknown board '${id}'`}; expected one of ${boards.map((b) => b.id).join(", ")}`);
  }
  return board;
}

/** Bytes of wasm linear memory per page. */
export const WASM_PAGE_BYTES = 65536;
