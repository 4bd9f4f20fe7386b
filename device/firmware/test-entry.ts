// Test harness entry (tests/firmware-codec.test.ts): the firmware (init/poll) plus direct
// access to the device codec so that it can be tied to the host's codec byte for byte.
import { crc32c } from "./crc32c";
import { CobsDecoder, cobsReset, cobsFeed, cobsFinish, cobsEncode } from "./cobs";
import {
  mpReadBegin, mpNext, rErr, rPos, rEnd, tKind, tInt, tBigU, tFloat, tIsF32, tPtr, tLen,
  T_NIL, T_BOOL, T_INT, T_FLOAT, T_STR, T_BIN, T_ARRAY, T_MAP,
  mpWriteBegin, mpWritten, wErr, mpWriteNil, mpWriteBool, mpWriteInt, mpWriteU64, mpWriteF32, mpWriteF64,
  mpWriteStrBytes, mpWriteBin, mpWriteArray, mpWriteMap,
} from "./msgpack";
export { init, poll, busy, BOARD_ID } from "./main";

/** Scratch areas for the host: IN (src) and OUT (dst), 32 KiB each. */
export const IN: usize = memory.data(32768, 16);
export const OUT: usize = memory.data(32768, 16);

export function t_crc(ptr: usize, len: u32): u32 {
  return crc32c(ptr, len);
}

export function t_cobs_encode(src: usize, len: u32, dst: usize): u32 {
  return cobsEncode(src, len, dst);
}

const tdec = changetype<CobsDecoder>(memory.data(offsetof<CobsDecoder>(), 8));

/** Decodes one block (no delimiter) incrementally; returns the length, -1 invalid, -2 overflow. */
export function t_cobs_decode(src: usize, len: u32, dst: usize, cap: u32): i32 {
  tdec.out = dst;
  tdec.cap = cap;
  cobsReset(tdec);
  for (let i: u32 = 0; i < len; i++) {
    const b = load<u8>(src + <usize>i);
    if (b == 0) return -1;
    cobsFeed(tdec, b);
  }
  if (!cobsFinish(tdec)) return -1;
  if (tdec.overflow) return -2;
  return <i32>tdec.len;
}

/**
 * Decodes every value in [src, src+len) token by token and re-encodes it with the device
 * writer. Returns the bytes written, -1 on malformed input, -2 if the output did not fit.
 */
export function t_transcode(src: usize, len: u32, dst: usize, cap: u32): i32 {
  mpReadBegin(src, len);
  mpWriteBegin(dst, cap);
  while (rPos < rEnd) {
    const k = mpNext();
    if (k == T_NIL) mpWriteNil();
    else if (k == T_BOOL) mpWriteBool(tInt != 0);
    else if (k == T_INT) {
      if (tBigU) mpWriteU64(<u64>tInt);
      else mpWriteInt(tInt);
    } else if (k == T_FLOAT) {
      if (tIsF32) mpWriteF32(<f32>tFloat);
      else mpWriteF64(tFloat);
    } else if (k == T_STR) mpWriteStrBytes(tPtr, tLen);
    else if (k == T_BIN) mpWriteBin(tPtr, tLen);
    else if (k == T_ARRAY) mpWriteArray(tLen);
    else if (k == T_MAP) mpWriteMap(tLen);
    else return -1;
  }
  if (rErr) return -1;
  if (wErr) return -2;
  return <i32>mpWritten();
}

/** Kind of the first token of [src, src+len) (for tests of the reader's error paths). */
export function t_first_kind(src: usize, len: u32): i32 {
  mpReadBegin(src, len);
  return mpNext() == 0 ? -1 : tKind;
}
