// How firmware memory accesses are checked on MCUs (`edgeprop build --memcheck bounds|mask`).
//
// bounds: wasm2c 1.0.32's own accessors, untouched: every load/store compares a 64-bit address
//         against the memory's size and traps (TRAP 1 OOB) when it is out of range; the linear
//         memory is calloc'ed on the heap and grown with realloc.
// mask:   the accessors are replaced after generation (this file), and the linear memory is a
//         fixed window of 2^k bytes + SLACK at a link-time address (device/mcu/memory.c). Every
//         access goes to window + (addr & (2^k - 1)) + off with an immediate offset off <= OFF_MAX
//         (larger offsets are added before the mask), so whatever address the module computes,
//         the bytes it touches lie in [window, window + 2^k + SLACK): the firmware's stack, its
//         instance (globals, tables, memory descriptor), .data/.bss and the peripherals are out of
//         its reach. An out-of-range access does not trap; it wraps inside the window (the module
//         can only corrupt its own memory). The isolation argument is spelled out in
//         device/mcu/README.md. Typed accessors (may_alias, so no strict-aliasing hazards) let gcc
//         keep values in FPU registers and use VLDR/VSTR with immediate offsets; they need aligned
//         addresses, which the firmware guarantees (every rule's handlers read and write the
//         unaligned payload bytes one by one, device/firmware/msgpack.ts ld*/st*).
export type Memcheck = "bounds" | "mask";
export const MEMCHECKS: readonly Memcheck[] = ["bounds", "mask"];
export const DEFAULT_MEMCHECK: Memcheck = "mask";

/** Largest immediate offset kept as an offset after the mask (VLDR/LDRD reach 1020). */
export const OFF_MAX = 1020;
/** Bytes after the 2^k window that an access may touch: OFF_MAX + the widest access (8), rounded up. */
export const WINDOW_SLACK = 1040;

// The accessor block of wasm2c 1.0.32's fw.c, from the endianness switch to the last store.
const BLOCK_START = "#if WABT_BIG_ENDIAN\nstatic inline void load_data(";
const BLOCK_END = "DEFINE_STORE(i64_store32, u32, u64)\n";

// [name, C type of the memory operand, C type of the wasm value]
const LOADS: [string, string, string][] = [
  ["i32_load", "u32", "u32"], ["i64_load", "u64", "u64"], ["f32_load", "f32", "f32"], ["f64_load", "f64", "f64"],
  ["i32_load8_s", "s8", "u32"], ["i64_load8_s", "s8", "u64"], ["i32_load8_u", "u8", "u32"], ["i64_load8_u", "u8", "u64"],
  ["i32_load16_s", "s16", "u32"], ["i64_load16_s", "s16", "u64"], ["i32_load16_u", "u16", "u32"], ["i64_load16_u", "u16", "u64"],
  ["i64_load32_s", "s32", "u64"], ["i64_load32_u", "u32", "u64"],
];
const STORES: [string, string, string][] = [
  ["i32_store", "u32", "u32"], ["i64_store", "u64", "u64"], ["f32_store", "f32", "f32"], ["f64_store", "f64", "f64"],
  ["i32_store8", "u8", "u32"], ["i32_store16", "u16", "u32"], ["i64_store8", "u8", "u64"], ["i64_store16", "u16", "u64"],
  ["i64_store32", "u32", "u64"],
];

function maskedBlock(): string {
  return [
    "/* edgeprop --memcheck mask (host/firmware/memcheck.ts): masked, typed accessors. */",
    "static inline void load_data(void* dest, const void* src, size_t n) {",
    "  memcpy(dest, src, n);",
    "}",
    "#define LOAD_DATA(m, o, i, s)      \\",
    "  do {                             \\",
    "    RANGE_CHECK((&m), o, s);       \\",
    "    load_data(&(m.data[o]), i, s); \\",
    "  } while (0)",
    "extern uint8_t edgeprop_wasm_window[];",
    "#define EDGEPROP_MASK ((u32)EDGEPROP_WINDOW_BYTES - 1u)",
    // The masked base goes through an empty asm so that gcc cannot re-associate it with the
    // offset (it would add the offset to the masked address, then the window, and lose the
    // [reg, #imm] addressing): one UBFX + one ADD per pointer, then immediate offsets.
    "static inline uint8_t* edgeprop_base(u32 a) {",
    "  uint8_t* p = edgeprop_wasm_window + (a & EDGEPROP_MASK);",
    "  __asm__(\"\" : \"+r\"(p));",
    "  return p;",
    "}",
    "#define EDGEPROP_AT(a, off) (edgeprop_base((u32)(a)) + (off))",
    ...["u8", "s8", "u16", "s16", "u32", "s32", "u64", "f32", "f64"].map((t) => `typedef ${t} __attribute__((may_alias)) ${t}_alias;`),
    ...LOADS.map(([name, mem, val]) => {
      // sign-extending loads widen through the signed type of the result, as wasm2c does
      const conv = mem.startsWith("s") ? `(${val})(${val === "u64" ? "s64" : "s32"})` : `(${val})`;
      return `static inline ${val} ${name}_m(u32 a, u32 off) { return ${conv}*(const ${mem}_alias*)EDGEPROP_AT(a, off); }`;
    }),
    ...STORES.map(([name, mem, val]) => `static inline void ${name}_m(u32 a, u32 off, ${val} v) { *(${mem}_alias*)EDGEPROP_AT(a, off) = (${mem})v; }`),
    "",
  ].join("\n");
}

const CALL = /\b((?:i32|i64|f32|f64)_(?:load|store)(?:8_s|8_u|16_s|16_u|32_s|32_u|8|16|32)?)\(&instance->w2c_memory, \(u64\)\((w2c_[a-z]\d+)\)(?: \+ (\d+)u?)?/g;

/**
 * Rewrites wasm2c 1.0.32's fw.c for `--memcheck mask`: the accessor block becomes masked typed
 * accessors on the window, and every load/store call site passes (address, immediate offset).
 * Throws if the generated code does not have the exact shape this pass knows (another wabt).
 */
export function maskAccessors(fwC: string): string {
  const a = fwC.indexOf(BLOCK_START);
  const b = fwC.indexOf(BLOCK_END);
  if (a < 0 || b < a) throw new Error("wasm2c output: accessor block not found (wabt version other than 1.0.32?)");
  let out = fwC.slice(0, a) + maskedBlock() + fwC.slice(b + BLOCK_END.length);
  out = out.replace(CALL, (_m, name: string, v: string, off: string | undefined) => {
    const o = off === undefined ? 0 : Number(off);
    return o <= OFF_MAX ? `${name}_m(${v}, ${o}u` : `${name}_m(${v} + ${o}u, 0u`;
  });
  const left = /\b(?:i32|i64|f32|f64)_(?:load|store)\w*\(&instance->w2c_memory/.exec(out);
  if (left) throw new Error(`wasm2c output: memory access '${out.slice(left.index, left.index + 80)}' has a shape the mask pass does not know`);
  return out;
}

/**
 * The window for a board: the largest power of two that leaves `reserve` bytes of RAM for the
 * stack, .data/.bss and the heap, and holds at least the module's initial pages.
 */
export function windowBytes(ramBytes: number, reserve: number, initialBytes: number): number {
  let w = 1;
  while (w * 2 + WINDOW_SLACK + reserve <= ramBytes) w *= 2;
  return Math.max(w, initialBytes);
}
