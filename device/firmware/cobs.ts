// COBS, the device copy of protocol/cobs.ts: a one-shot encoder and an incremental decoder
// that decodes bytes as they arrive from the UART (so the frame header is known early).

/** Worst-case encoded length of n bytes (no delimiter). */
export function cobsMaxEncoded(n: u32): u32 {
  return n + n / 254 + 1;
}

/** Encodes [src, src+len) to dst (dst must hold cobsMaxEncoded(len)); returns the encoded length. */
export function cobsEncode(src: usize, len: u32, dst: usize): u32 {
  let codeAt: usize = dst;
  let o: usize = dst + 1;
  let code: u32 = 1;
  const end = src + <usize>len;
  for (let p = src; p < end; p++) {
    const b = load<u8>(p);
    if (b == 0) {
      store<u8>(codeAt, <u8>code);
      codeAt = o++;
      code = 1;
    } else {
      store<u8>(o++, b);
      code++;
      if (code == 0xff) {
        store<u8>(codeAt, <u8>code);
        codeAt = o++;
        code = 1;
      }
    }
  }
  store<u8>(codeAt, <u8>code);
  return <u32>(o - dst);
}

/**
 * Incremental decoder state. Feed encoded bytes (never 0x00) with cobsFeed; at the delimiter
 * call cobsFinish. Decoded bytes are written at `out` up to `cap`; beyond that the decoder
 * counts but does not store (cobsOverflow).
 */
@unmanaged
export class CobsDecoder {
  out: usize = 0;
  cap: u32 = 0;
  len: u32 = 0;
  /** Bytes left in the current block (0 = next byte is a code byte). */
  left: u32 = 0;
  /** Whether a zero is owed before the next data byte (the previous block's code was < 0xFF). */
  pendingZero: bool = false;
  started: bool = false;
  bad: bool = false;
  overflow: bool = false;
}

export function cobsReset(d: CobsDecoder): void {
  d.len = 0;
  d.left = 0;
  d.pendingZero = false;
  d.started = false;
  d.bad = false;
  d.overflow = false;
}

@inline function put(d: CobsDecoder, b: u8): void {
  if (d.len < d.cap) store<u8>(d.out + <usize>d.len, b);
  else d.overflow = true;
  d.len++;
}

/** Feeds one non-zero encoded byte. */
export function cobsFeed(d: CobsDecoder, b: u8): void {
  d.started = true;
  if (d.left == 0) {
    // code byte
    if (d.pendingZero) put(d, 0);
    d.left = <u32>b - 1;
    d.pendingZero = b != 0xff;
  } else {
    put(d, b);
    d.left--;
  }
}

/** At the delimiter: true if the block was complete and valid COBS (the trailing zero is dropped). */
export function cobsFinish(d: CobsDecoder): bool {
  return d.started && !d.bad && d.left == 0;
}
