// A small reader of the WebAssembly sections the firmware pipeline checks before compiling:
// imports (must be the HAL of device/HAL.md), exports (init, poll, memory) and memory limits.
import { InputError } from "../input/errors.ts";

export interface WasmImport {
  module: string;
  name: string;
  kind: "func" | "table" | "memory" | "global" | "tag";
  /** For functions: the signature as `(i32,i32)->i32`. */
  type?: string;
}

export interface WasmInfo {
  imports: WasmImport[];
  exports: { name: string; kind: WasmImport["kind"] }[];
  /** Linear memory (defined or imported), in 64 KiB pages; max undefined = unbounded. */
  memory: { initialPages: number; maxPages?: number } | null;
}

/** The HAL imports of device/HAL.md with their wasm signatures. */
export const HAL_IMPORTS: Record<string, string> = {
  "hal.uart_write": "(i32,i32)->",
  "hal.uart_read": "(i32,i32)->i32",
  "hal.millis": "()->i32",
  "hal.storage_size": "()->i32",
  "hal.storage_read": "(i32,i32,i32)->i32",
  "hal.storage_write": "(i32,i32,i32)->i32",
  "env.abort": "(i32,i32,i32,i32)->",
};
export const REQUIRED_EXPORTS = ["init", "poll", "memory"] as const;

const KINDS = ["func", "table", "memory", "global", "tag"] as const;
const VALTYPES: Record<number, string> = { 0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref" };

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly field: string) {}
  fail(what: string): never {
    throw new InputError(this.field, `not a valid WebAssembly module (${what} at byte ${this.pos})`);
  }
  u8(): number {
    if (this.pos >= this.bytes.length) this.fail("unexpected end");
    return this.bytes[this.pos++]!;
  }
  leb(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) this.fail("LEB128 too long");
    }
  }
  name(): string {
    const len = this.leb();
    if (this.pos + len > this.bytes.length) this.fail("name past end");
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
  limits(): { initial: number; max?: number } {
    const flags = this.u8();
    const initial = this.leb();
    return flags & 1 ? { initial, max: this.leb() } : { initial };
  }
}

export function readWasm(bytes: Uint8Array, field = "--wasm"): WasmInfo {
  const r = new Reader(bytes, field);
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  for (const m of magic) if (r.u8() !== m) throw new InputError(field, "not a WebAssembly module (bad magic/version)");
  const types: string[] = [];
  const info: WasmInfo = { imports: [], exports: [], memory: null };
  while (r.pos < bytes.length) {
    const id = r.u8();
    const size = r.leb();
    const end = r.pos + size;
    if (end > bytes.length) r.fail("section past end");
    if (id === 1) {
      const n = r.leb();
      for (let i = 0; i < n; i++) {
        if (r.u8() !== 0x60) r.fail("function type expected");
        const params = Array.from({ length: r.leb() }, () => VALTYPES[r.u8()] ?? "?");
        const results = Array.from({ length: r.leb() }, () => VALTYPES[r.u8()] ?? "?");
        types.push(`(${params.join(",")})->${results.join(",")}`);
      }
    } else if (id === 2) {
      const n = r.leb();
      for (let i = 0; i < n; i++) {
        const module = r.name();
        const name = r.name();
        const kind = KINDS[r.u8()] ?? r.fail("import kind");
        const imp: WasmImport = { module, name, kind };
        if (kind === "func") imp.type = types[r.leb()] ?? r.fail("type index");
        else if (kind === "table") {
          r.u8();
          r.limits();
        } else if (kind === "memory") {
          const l = r.limits();
          info.memory = { initialPages: l.initial, ...(l.max !== undefined ? { maxPages: l.max } : {}) };
        } else if (kind === "global") {
          r.u8();
          r.u8();
        } else {
          r.u8();
          r.leb();
        }
        info.imports.push(imp);
      }
    } else if (id === 5) {
      const n = r.leb();
      for (let i = 0; i < n; i++) {
        const l = r.limits();
        if (i === 0) info.memory = { initialPages: l.initial, ...(l.max !== undefined ? { maxPages: l.max } : {}) };
      }
    } else if (id === 7) {
      const n = r.leb();
      for (let i = 0; i < n; i++) {
        const name = r.name();
        const kind = KINDS[r.u8()] ?? r.fail("export kind");
        r.leb();
        info.exports.push({ name, kind });
      }
    }
    r.pos = end;
  }
  return info;
}

/** Checks the module against device/HAL.md; throws InputError listing every offending import. */
export function checkHalModule(info: WasmInfo, field = "--wasm"): void {
  const bad = info.imports
    .filter((i) => i.kind !== "func" || HAL_IMPORTS[`${i.module}.${i.name}`] !== i.type)
    .map((i) => `${i.module}.${i.name}${i.type ?? ` (${i.kind})`}`);
  if (bad.length > 0) {
    throw new InputError(field, `imports outside the HAL of device/HAL.md: ${bad.join(", ")}; allowed: ${Object.entries(HAL_IMPORTS).map(([k, t]) => k + t).join(", ")}`);
  }
  for (const name of REQUIRED_EXPORTS) {
    const e = info.exports.find((x) => x.name === name);
    const kind = name === "memory" ? "memory" : "func";
    if (!e || e.kind !== kind) throw new InputError(field, `expected an exported ${kind} '${name}' (device/HAL.md)`);
  }
  if (!info.memory) throw new InputError(field, "expected a linear memory");
}
