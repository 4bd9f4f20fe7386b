// The MessagePack subset of PROTOCOL.md, on raw linear memory with no allocation:
// nil, bool, int (fixint, u8..u64, i8..i64), float32/float64, str, bin, array, map.
// ext/timestamp are rejected. One reader and one writer (module globals) — the dispatcher
// decodes one request and encodes one response at a time.
// The writer picks the smallest encoding, exactly as @msgpack/msgpack does, so that
// host-encode -> device-decode -> device-encode is byte-identical (tests/firmware-codec.test.ts).
//
// Alignment: a MessagePack value sits at any byte offset, so every multi-byte access to a frame
// (headers here, bin payloads in the handlers) goes through the byte-wise ld*/st* below. On MCUs
// the `--memcheck mask` build compiles wasm loads/stores to plain typed accesses (VLDR, LDRD,
// LDR on a Cortex-M0+) that fault on unaligned addresses; aligned loads stay for the arena.

// ---------------- unaligned little-endian access ----------------
/** Little-endian u16 at any address. */
export function ldU16(p: usize): u32 {
  return <u32>load<u8>(p) | (<u32>load<u8>(p + 1) << 8);
}
/** Little-endian u32 at any address. */
export function ldU32(p: usize): u32 {
  return <u32>load<u8>(p) | (<u32>load<u8>(p + 1) << 8) | (<u32>load<u8>(p + 2) << 16) | (<u32>load<u8>(p + 3) << 24);
}
/** Little-endian f32 at any address (a bin payload element). */
export function ldF32(p: usize): f32 {
  return reinterpret<f32>(ldU32(p));
}
export function stU16(p: usize, v: u32): void {
  store<u8>(p, <u8>v);
  store<u8>(p + 1, <u8>(v >> 8));
}
export function stU32(p: usize, v: u32): void {
  store<u8>(p, <u8>v);
  store<u8>(p + 1, <u8>(v >> 8));
  store<u8>(p + 2, <u8>(v >> 16));
  store<u8>(p + 3, <u8>(v >> 24));
}
export function stF32(p: usize, v: f32): void {
  stU32(p, reinterpret<u32>(v));
}

// ---------------- reader ----------------
export const T_END: i32 = 0; // no more input / error
export const T_NIL: i32 = 1;
export const T_BOOL: i32 = 2;
export const T_INT: i32 = 3;
export const T_FLOAT: i32 = 4;
export const T_STR: i32 = 5;
export const T_BIN: i32 = 6;
export const T_ARRAY: i32 = 7;
export const T_MAP: i32 = 8;

export let rPos: usize = 0;
export let rEnd: usize = 0;
/** Set on any malformed / truncated / unsupported input; sticky until mpReadBegin. */
export let rErr: bool = false;

// the last token read by mpNext()
export let tKind: i32 = T_END;
/** int value (T_INT: signed if tUnsigned is false), bool (0/1) */
export let tInt: i64 = 0;
/** true when tInt holds a uint64 beyond i64's range, reinterpreted */
export let tBigU: bool = false;
export let tFloat: f64 = 0;
/** float was encoded as float32 */
export let tIsF32: bool = false;
/** str/bin: data pointer and length; array/map: element / pair count */
export let tPtr: usize = 0;
export let tLen: u32 = 0;

export function mpReadBegin(ptr: usize, len: u32): void {
  rPos = ptr;
  rEnd = ptr + <usize>len;
  rErr = false;
}

@inline function need(n: u32): bool {
  if (rErr || <usize>n > rEnd - rPos) {
    rErr = true;
    return false;
  }
  return true;
}
@inline function r8(): u32 {
  const v = <u32>load<u8>(rPos);
  rPos += 1;
  return v;
}
@inline function r16(): u32 {
  const v = (<u32>load<u8>(rPos) << 8) | <u32>load<u8>(rPos + 1);
  rPos += 2;
  return v;
}
@inline function r32(): u32 {
  const v = bswap<u32>(ldU32(rPos));
  rPos += 4;
  return v;
}
@inline function r64(): u64 {
  const hi = <u64>bswap<u32>(ldU32(rPos));
  const v = (hi << 32) | <u64>bswap<u32>(ldU32(rPos + 4));
  rPos += 8;
  return v;
}

function setData(kind: i32, len: u32): i32 {
  if (!need(len)) return fail();
  tKind = kind;
  tPtr = rPos;
  tLen = len;
  rPos += <usize>len;
  return kind;
}
function setCount(kind: i32, n: u32): i32 {
  // every element takes at least one byte: a count larger than what is left is malformed
  const min: u64 = kind == T_MAP ? <u64>n * 2 : <u64>n;
  if (rErr || min > <u64>(rEnd - rPos)) return fail();
  tKind = kind;
  tLen = n;
  return kind;
}
function setInt(v: i64): i32 {
  tKind = T_INT;
  tInt = v;
  tBigU = false;
  return T_INT;
}
function fail(): i32 {
  rErr = true;
  tKind = T_END;
  return T_END;
}

/** Reads one token (for str/bin also its data; for array/map only the header). */
export function mpNext(): i32 {
  if (!need(1)) return fail();
  const b = r8();
  if (b < 0x80) return setInt(<i64>b);
  if (b >= 0xe0) return setInt(<i64>(<i32>b - 0x100));
  if (b >= 0xa0 && b < 0xc0) return setData(T_STR, b & 0x1f);
  if (b >= 0x90 && b < 0xa0) return setCount(T_ARRAY, b & 0x0f);
  if (b >= 0x80 && b < 0x90) return setCount(T_MAP, b & 0x0f);
  switch (b) {
    case 0xc0: tKind = T_NIL; return T_NIL;
    case 0xc2: tKind = T_BOOL; tInt = 0; return T_BOOL;
    case 0xc3: tKind = T_BOOL; tInt = 1; return T_BOOL;
    case 0xc4: if (!need(1)) return fail(); return setData(T_BIN, r8());
    case 0xc5: if (!need(2)) return fail(); return setData(T_BIN, r16());
    case 0xc6: if (!need(4)) return fail(); return setData(T_BIN, r32());
    case 0xca: if (!need(4)) return fail(); tKind = T_FLOAT; tIsF32 = true; tFloat = <f64>reinterpret<f32>(r32()); return T_FLOAT;
    case 0xcb: if (!need(8)) return fail(); tKind = T_FLOAT; tIsF32 = false; tFloat = reinterpret<f64>(r64()); return T_FLOAT;
    case 0xcc: if (!need(1)) return fail(); return setInt(<i64>r8());
    case 0xcd: if (!need(2)) return fail(); return setInt(<i64>r16());
    case 0xce: if (!need(4)) return fail(); return setInt(<i64>r32());
    case 0xcf: {
      if (!need(8)) return fail();
      const v = r64();
      setInt(<i64>v);
      tBigU = (v >> 63) != 0;
      return T_INT;
    }
    case 0xd0: if (!need(1)) return fail(); return setInt(<i64><i8>r8());
    case 0xd1: if (!need(2)) return fail(); return setInt(<i64><i16>r16());
    case 0xd2: if (!need(4)) return fail(); return setInt(<i64><i32>r32());
    case 0xd3: if (!need(8)) return fail(); return setInt(<i64>r64());
    case 0xd9: if (!need(1)) return fail(); return setData(T_STR, r8());
    case 0xda: if (!need(2)) return fail(); return setData(T_STR, r16());
    case 0xdb: if (!need(4)) return fail(); return setData(T_STR, r32());
    case 0xdc: if (!need(2)) return fail(); return setCount(T_ARRAY, r16());
    case 0xdd: if (!need(4)) return fail(); return setCount(T_ARRAY, r32());
    case 0xde: if (!need(2)) return fail(); return setCount(T_MAP, r16());
    case 0xdf: if (!need(4)) return fail(); return setCount(T_MAP, r32());
    default: return fail(); // 0xc1 (never used), ext (0xc7-0xc9, 0xd4-0xd8)
  }
}

/** Skips one complete value, iteratively (no recursion: nesting depth cannot overflow the stack). */
export function mpSkip(): bool {
  let pending: u64 = 1;
  while (pending > 0) {
    const k = mpNext();
    if (k == T_END) return false;
    pending--;
    if (k == T_ARRAY) pending += <u64>tLen;
    else if (k == T_MAP) pending += <u64>tLen * 2;
  }
  return true;
}

/** True when the last token is a str equal to the ASCII literal `s`. */
export function mpStrIs(s: string): bool {
  if (tKind != T_STR || <i32>tLen != s.length) return false;
  for (let i = 0; i < s.length; i++) {
    if (<i32>load<u8>(tPtr + <usize>i) != s.charCodeAt(i)) return false;
  }
  return true;
}

/** Reads a map header; returns the pair count, or -1. */
export function mpReadMap(): i32 {
  if (mpNext() != T_MAP || tLen > 0x7fffffff) return -1;
  return <i32>tLen;
}

/** Reads an unsigned integer <= max; returns false if the token is not one. */
export let vU32: u32 = 0;
export function mpReadU32(max: u32 = 0xffffffff): bool {
  if (mpNext() != T_INT || tBigU || tInt < 0 || tInt > <i64>max) return false;
  vU32 = <u32>tInt;
  return true;
}

/** Reads any number (int or float) as f64. */
export let vF64: f64 = 0;
export function mpReadNum(): bool {
  const k = mpNext();
  if (k == T_INT) {
    vF64 = tBigU ? <f64><u64>tInt : <f64>tInt;
    return true;
  }
  if (k == T_FLOAT) {
    vF64 = tFloat;
    return true;
  }
  return false;
}

export let vBool: bool = false;
export function mpReadBool(): bool {
  if (mpNext() != T_BOOL) return false;
  vBool = tInt != 0;
  return true;
}

/** Reads a bin; its data is at tPtr, tLen bytes. */
export function mpReadBin(): bool {
  return mpNext() == T_BIN;
}

// ---------------- writer ----------------
export let wStart: usize = 0;
export let wPos: usize = 0;
export let wEnd: usize = 0;
/** Set when the output did not fit; sticky until mpWriteBegin. */
export let wErr: bool = false;

export function mpWriteBegin(ptr: usize, cap: u32): void {
  wStart = ptr;
  wPos = ptr;
  wEnd = ptr + <usize>cap;
  wErr = false;
}

export function mpWritten(): u32 {
  return <u32>(wPos - wStart);
}

/** Reserves n bytes and returns their address (0 if they do not fit). */
export function mpReserve(n: u32): usize {
  if (wErr || <usize>n > wEnd - wPos) {
    wErr = true;
    return 0;
  }
  const p = wPos;
  wPos += <usize>n;
  return p;
}

@inline function w8(v: u32): void {
  const p = mpReserve(1);
  if (p) store<u8>(p, <u8>v);
}
function w8x(tag: u32, v: u32): void {
  const p = mpReserve(2);
  if (p) { store<u8>(p, <u8>tag); store<u8>(p + 1, <u8>v); }
}
function w16x(tag: u32, v: u32): void {
  const p = mpReserve(3);
  if (p) { store<u8>(p, <u8>tag); store<u8>(p + 1, <u8>(v >> 8)); store<u8>(p + 2, <u8>v); }
}
function w32x(tag: u32, v: u32): void {
  const p = mpReserve(5);
  if (p) { store<u8>(p, <u8>tag); stU32(p + 1, bswap<u32>(v)); }
}
function w64x(tag: u32, v: u64): void {
  const p = mpReserve(9);
  if (p) { store<u8>(p, <u8>tag); stU32(p + 1, bswap<u32>(<u32>(v >> 32))); stU32(p + 5, bswap<u32>(<u32>v)); }
}

export function mpWriteNil(): void { w8(0xc0); }
export function mpWriteBool(v: bool): void { w8(v ? 0xc3 : 0xc2); }

export function mpWriteU64(v: u64): void {
  if (v < 0x80) w8(<u32>v);
  else if (v < 0x100) w8x(0xcc, <u32>v);
  else if (v < 0x10000) w16x(0xcd, <u32>v);
  else if (v < 0x100000000) w32x(0xce, <u32>v);
  else w64x(0xcf, v);
}
export function mpWriteUint(v: u32): void { mpWriteU64(<u64>v); }

export function mpWriteInt(v: i64): void {
  if (v >= 0) mpWriteU64(<u64>v);
  else if (v >= -0x20) w8(<u32>(<i32>v) & 0xff);
  else if (v >= -0x80) w8x(0xd0, <u32>(<i32>v) & 0xff);
  else if (v >= -0x8000) w16x(0xd1, <u32>(<i32>v) & 0xffff);
  else if (v >= -0x80000000) w32x(0xd2, <u32>(<i32>v));
  else w64x(0xd3, <u64>v);
}

export function mpWriteF64(v: f64): void { w64x(0xcb, reinterpret<u64>(v)); }
export function mpWriteF32(v: f32): void { w32x(0xca, reinterpret<u32>(v)); }

function header(n: u32, fix: u32, fixMax: u32, t8: u32, t16: u32, t32: u32): void {
  if (n < fixMax) w8(fix | n);
  else if (t8 != 0 && n < 0x100) w8x(t8, n);
  else if (n < 0x10000) w16x(t16, n);
  else w32x(t32, n);
}
export function mpWriteMap(n: u32): void { header(n, 0x80, 16, 0, 0xde, 0xdf); }
export function mpWriteArray(n: u32): void { header(n, 0x90, 16, 0, 0xdc, 0xdd); }
export function mpWriteStrHeader(n: u32): void { header(n, 0xa0, 32, 0xd9, 0xda, 0xdb); }
export function mpWriteBinHeader(n: u32): void {
  if (n < 0x100) w8x(0xc4, n);
  else if (n < 0x10000) w16x(0xc5, n);
  else w32x(0xc6, n);
}

/** Writes an ASCII string literal. */
export function mpWriteStr(s: string): void {
  const n = <u32>s.length;
  mpWriteStrHeader(n);
  const p = mpReserve(n);
  if (p) for (let i: u32 = 0; i < n; i++) store<u8>(p + <usize>i, <u8>s.charCodeAt(<i32>i));
}

export function mpWriteStrBytes(ptr: usize, n: u32): void {
  mpWriteStrHeader(n);
  const p = mpReserve(n);
  if (p) memory.copy(p, ptr, n);
}

export function mpWriteBin(ptr: usize, n: u32): void {
  mpWriteBinHeader(n);
  const p = mpReserve(n);
  if (p) memory.copy(p, ptr, n);
}

/** Writes a bin header for n bytes and returns where the caller must put them (0 if no room). */
export function mpWriteBinReserve(n: u32): usize {
  mpWriteBinHeader(n);
  return mpReserve(n);
}
