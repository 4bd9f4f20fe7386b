// Host codec of the wire protocol (protocol/): CRC-32C, COBS, frames, binary fields, errors.
import { describe, expect, it } from "vitest";
import { crc32c } from "../protocol/crc32c.ts";
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from "../protocol/cobs.ts";
import { FrameSplitter, decodeFrame, encodeFrame, frameBytes, parseFrame } from "../protocol/frame.ts";
import {
  DeviceError, ErrorCode, MsgType, bitRowBytes, decodeBody, encodeBody, f32le, fromF32le, fromU16le, packBits,
  u16le, unpackBits, validateDeviceBody,
} from "../protocol/messages.ts";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("CRC-32C", () => {
  it("matches the standard check value", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });
  it("continues across chunks", () => {
    const d = new TextEncoder().encode("hello, wire protocol");
    expect(crc32c(d, 7, d.length, crc32c(d, 0, 7))).toBe(crc32c(d));
  });
});

describe("COBS", () => {
  it("round-trips edge lengths and zero runs, never emitting 0x00", () => {
    const r = rng(7);
    const cases: Uint8Array[] = [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(0, 0), Uint8Array.of(1)];
    for (const n of [1, 253, 254, 255, 256, 507, 508, 509, 1000, 4096]) {
      cases.push(new Uint8Array(n).map(() => 1 + Math.floor(r() * 255)));
      cases.push(new Uint8Array(n).map(() => (r() < 0.1 ? 0 : Math.floor(r() * 256))));
      cases.push(new Uint8Array(n));
    }
    for (const c of cases) {
      const e = cobsEncode(c);
      expect(e.length).toBeLessThanOrEqual(cobsMaxEncodedLength(c.length));
      expect(e.includes(0)).toBe(false);
      expect(cobsDecode(e)).toEqual(c);
    }
  });
  it("rejects invalid blocks", () => {
    expect(cobsDecode(Uint8Array.of(5, 1, 2))).toBeNull(); // runs past the end
    expect(cobsDecode(Uint8Array.of(2, 0))).toBeNull(); // contains a zero
  });
});

describe("frames", () => {
  it("encodes header, body and CRC; decodes them back", () => {
    const body = encodeBody({ d: Uint8Array.of(0, 1, 2, 0) });
    const wire = encodeFrame({ type: MsgType.PING, flags: 0, seq: 0xbeef, body });
    expect(wire[wire.length - 1]).toBe(0);
    expect(wire.subarray(0, wire.length - 1).includes(0)).toBe(false);
    const f = decodeFrame(wire.subarray(0, wire.length - 1));
    expect(f).toEqual({ version: 1, type: MsgType.PING, flags: 0, seq: 0xbeef, body });
  });
  it("detects every single-bit error", () => {
    const raw = frameBytes({ type: MsgType.RUN, flags: 0, seq: 3, body: encodeBody({ n: 10, x: new Uint8Array(40).fill(7) }) });
    for (let i = 0; i < raw.length * 8; i++) {
      const c = raw.slice();
      c[i >> 3]! ^= 1 << (i & 7);
      expect(parseFrame(c)).toBe("crc");
    }
    expect(parseFrame(raw.subarray(0, 5))).toBe("short");
  });
  it("splits a stream at delimiters and drops oversized blocks", () => {
    const got: Uint8Array[] = [];
    let over = 0;
    const s = new FrameSplitter((b) => got.push(b), 8, () => over++);
    s.push(Uint8Array.of(0, 1, 2, 0, 0, 3));
    s.push(Uint8Array.of(4, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0, 5, 0));
    expect(got).toEqual([Uint8Array.of(1, 2), Uint8Array.of(3, 4), Uint8Array.of(5)]);
    expect(over).toBe(1);
  });
});

describe("binary fields", () => {
  it("f32 arrays are little-endian float32", () => {
    const b = f32le([1, -2.5, 0.1]);
    expect(Array.from(b.subarray(0, 4))).toEqual([0, 0, 0x80, 0x3f]);
    expect(Array.from(fromF32le(b))).toEqual([1, -2.5, Math.fround(0.1)]);
    expect(Array.from(fromU16le(u16le([1, 65535])))).toEqual([1, 65535]);
  });
  it("spike bitmaps pack LSB first, one row per step", () => {
    const rows = [
      [1, 0, 0, 0, 0, 0, 0, 0, 1, 1],
      [0, 0, 0, 0, 0, 0, 0, 1, 0, 0],
    ];
    const b = packBits(rows, 10);
    expect(bitRowBytes(10)).toBe(2);
    expect(Array.from(b)).toEqual([0x01, 0x03, 0x80, 0x00]);
    expect(unpackBits(b, 2, 10)).toEqual(rows);
  });
});

describe("messages", () => {
  it("validates device bodies against the schema", () => {
    expect(validateDeviceBody(MsgType.PING, { t: 5 })).toBeNull();
    expect(validateDeviceBody(MsgType.PING, { t: -1 })).toMatch(/not a uint/);
    expect(validateDeviceBody(MsgType.PING, { t: 1, zz: 1 })).toMatch(/unknown field/);
    expect(validateDeviceBody(MsgType.ERROR, { c: 1 })).toMatch(/missing field 'm'/);
    expect(validateDeviceBody(0x55, {})).toMatch(/unknown message type/);
    expect(() => decodeBody(encodeBody([1, 2] as unknown as Record<string, unknown>))).toThrow(/not a map/);
  });
  it("device errors print in words", () => {
    const e = DeviceError.fromBody({ c: ErrorCode.NO_MEMORY, m: "model needs 900000 bytes; board has 60000 bytes free", rt: MsgType.CONFIGURE });
    expect(e.message).toBe(
      "device error NO_MEMORY in reply to CONFIGURE: the model does not fit in the device's RAM — model needs 900000 bytes; board has 60000 bytes free",
    );
    expect(DeviceError.fromBody({ c: ErrorCode.BAD_VALUE, m: "element 3 is NaN or infinite", f: "d" }).message).toMatch(/\(field d\)/);
  });
});
