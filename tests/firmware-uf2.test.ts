// UF2 for the RP2040 (host/firmware/uf2.ts): blocks parsed back and checked against the UF2 spec
// (https://github.com/microsoft/uf2): magic numbers, 256-byte payloads at consecutive 256-byte
// aligned addresses, block numbering, family id 0xe48bff56 with its flag; and the boot2 CRC the
// RP2040 boot ROM checks.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { getBoard } from "../boards/index.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { buildEchoWasm } from "../host/firmware/source.ts";
import {
  UF2_FAMILY_RP2040, UF2_FLAG_FAMILY_ID_PRESENT, crc32Rp2040, parseUf2, toUf2,
} from "../host/firmware/uf2.ts";

function checkSpec(file: Uint8Array, bin: Uint8Array, base: number): void {
  expect(file.length % 512).toBe(0);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const blocks = parseUf2(file);
  expect(blocks.length).toBe(Math.ceil(bin.length / 256));
  for (const [i, b] of blocks.entries()) {
    const at = i * 512;
    expect(view.getUint32(at, true)).toBe(0x0a324655);
    expect(view.getUint32(at + 4, true)).toBe(0x9e5d5157);
    expect(view.getUint32(at + 508, true)).toBe(0x0ab16f30);
    expect(b.flags).toBe(0x00002000); // familyID present, nothing else (not "not main flash")
    expect(b.flags & UF2_FLAG_FAMILY_ID_PRESENT).toBeTruthy();
    expect(b.familyId).toBe(0xe48bff56);
    expect(b.payloadSize).toBe(256);
    expect(b.targetAddr).toBe(base + 256 * i);
    expect(b.targetAddr % 256).toBe(0);
    expect(b.blockNo).toBe(i);
    expect(b.numBlocks).toBe(blocks.length);
    // Unused data bytes after the payload are zero.
    expect(file.subarray(at + 32 + 256, at + 508).every((x) => x === 0)).toBe(true);
  }
  const back = new Uint8Array(blocks.length * 256);
  for (const b of blocks) back.set(b.data, b.targetAddr - base);
  expect(Buffer.from(back.subarray(0, bin.length)).equals(Buffer.from(bin))).toBe(true);
  expect(back.subarray(bin.length).every((x) => x === 0)).toBe(true);
}

describe("UF2", () => {
  it("round-trips an arbitrary image, padding the last block", () => {
    const bin = new Uint8Array(1000).map((_, i) => (i * 7 + 3) & 0xff);
    checkSpec(toUf2(bin, 0x10000000, UF2_FAMILY_RP2040), bin, 0x10000000);
    expect(() => toUf2(bin, 0x10000080, UF2_FAMILY_RP2040)).toThrow(/aligned/);
    const bad = toUf2(bin, 0x10000000, UF2_FAMILY_RP2040);
    bad[512 + 508]! ^= 1;
    expect(() => parseUf2(bad)).toThrow(/block at byte 512: bad magic/);
    expect(() => parseUf2(bad.subarray(0, 700))).toThrow(/multiple of 512/);
  });

  it("computes the boot ROM's CRC32 (CRC-32/MPEG-2)", () => {
    expect(crc32Rp2040(new TextEncoder().encode("123456789"))).toBe(0x0376e6e7);
    expect(crc32Rp2040(new Uint8Array(0))).toBe(0xffffffff);
  });

  it("packs the RP2040 firmware: boot2 with a valid CRC at 0x10000000, vectors at 0x10000100", async () => {
    const build = await buildFirmware({ board: getBoard("rp2040-pico"), wasmPath: await buildEchoWasm() });
    const bin = readFileSync(build.bin);
    const uf2 = readFileSync(build.uf2!);
    checkSpec(uf2, bin, 0x10000000);
    expect(bin.readUInt32LE(252)).toBe(crc32Rp2040(bin.subarray(0, 252)));
    expect(bin.readUInt32LE(252)).not.toBe(0);
    // Vector table right after boot2: initial SP in RAM, reset handler in flash (Thumb).
    expect(bin.readUInt32LE(256)).toBe(0x20000000 + 8192);
    expect(bin.readUInt32LE(260) >>> 0).toBe((build.symbols.Reset_Handler! | 1) >>> 0);
    expect(build.sizes.flash.used).toBeLessThanOrEqual(getBoard("rp2040-pico").flashBytes);
  });
});
