// Frame layer of PROTOCOL.md: header (version, type, flags, seq) + MessagePack body + CRC-32C,
// COBS-encoded, delimited by 0x00.
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from "./cobs.ts";
import { crc32c } from "./crc32c.ts";

export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 5;
export const CRC_BYTES = 4;
/** Smallest possible frame: header + empty map body (1 byte) + CRC. */
export const MIN_FRAME = HEADER_BYTES + 1 + CRC_BYTES;
/** Every conforming device accepts frames of this size; used until HELLO negotiates more. */
export const BASE_MAX_FRAME = 256;

export const FLAG_RESPONSE = 0x01;
export const FLAG_EVENT = 0x02;
export const FLAGS_KNOWN = FLAG_RESPONSE | FLAG_EVENT;

export interface Frame {
  version: number;
  type: number;
  flags: number;
  seq: number;
  /** The MessagePack body (exactly one map). */
  body: Uint8Array;
}

/** The unencoded frame bytes: header, body, CRC-32C (little-endian) of header+body. */
export function frameBytes(f: Omit<Frame, "version"> & { version?: number }): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + f.body.length + CRC_BYTES);
  out[0] = f.version ?? PROTOCOL_VERSION;
  out[1] = f.type & 0xff;
  out[2] = f.flags & 0xff;
  out[3] = f.seq & 0xff;
  out[4] = (f.seq >>> 8) & 0xff;
  out.set(f.body, HEADER_BYTES);
  const crc = crc32c(out, 0, HEADER_BYTES + f.body.length);
  new DataView(out.buffer, out.byteOffset).setUint32(HEADER_BYTES + f.body.length, crc, true);
  return out;
}

/** Wire bytes of a frame: COBS(frame) followed by the 0x00 delimiter. */
export function encodeFrame(f: Omit<Frame, "version"> & { version?: number }): Uint8Array {
  const enc = cobsEncode(frameBytes(f));
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return out;
}

export type FrameError = "cobs" | "short" | "crc";

/** Parses unencoded frame bytes (after COBS decoding). */
export function parseFrame(raw: Uint8Array): Frame | FrameError {
  if (raw.length < MIN_FRAME) return "short";
  const n = raw.length - CRC_BYTES;
  const want = new DataView(raw.buffer, raw.byteOffset).getUint32(n, true);
  if (crc32c(raw, 0, n) !== want) return "crc";
  return {
    version: raw[0]!,
    type: raw[1]!,
    flags: raw[2]!,
    seq: raw[3]! | (raw[4]! << 8),
    body: raw.slice(HEADER_BYTES, n),
  };
}

/** Decodes one COBS block (delimiter excluded). */
export function decodeFrame(block: Uint8Array): Frame | FrameError {
  const raw = cobsDecode(block);
  if (raw === null) return "cobs";
  return parseFrame(raw);
}

/** Wire length of a frame whose unencoded length is `n` (worst case, delimiter included). */
export function wireLength(n: number): number {
  return cobsMaxEncodedLength(n) + 1;
}

/**
 * Splits a byte stream at 0x00 delimiters. Blocks longer than `maxBlock` encoded bytes are
 * discarded up to the next delimiter (reported through `onOversize`). Empty blocks are skipped.
 */
export class FrameSplitter {
  private buf: Uint8Array;
  private len = 0;
  private overflow = false;

  constructor(
    private readonly onBlock: (block: Uint8Array) => void,
    private readonly maxBlock = 1 << 20,
    private readonly onOversize?: () => void,
  ) {
    this.buf = new Uint8Array(Math.min(maxBlock, 4096));
  }

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === 0) {
        if (this.overflow) {
          this.overflow = false;
          this.onOversize?.();
        } else if (this.len > 0) {
          this.onBlock(this.buf.slice(0, this.len));
        }
        this.len = 0;
        continue;
      }
      if (this.overflow) continue;
      if (this.len >= this.maxBlock) {
        this.overflow = true;
        this.len = 0;
        continue;
      }
      if (this.len === this.buf.length) {
        const nb = new Uint8Array(Math.min(this.maxBlock, this.buf.length * 2));
        nb.set(this.buf);
        this.buf = nb;
      }
      this.buf[this.len++] = b;
    }
  }

  reset(): void {
    this.len = 0;
    this.overflow = false;
  }
}
