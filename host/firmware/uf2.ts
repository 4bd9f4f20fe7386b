// UF2 (https://github.com/microsoft/uf2): the image format of drag-and-drop bootloaders such as
// the RP2040 boot ROM. 512-byte blocks, each carrying 256 bytes of payload for one flash address.
export const UF2_MAGIC_START0 = 0x0a324655; // "UF2\n"
export const UF2_MAGIC_START1 = 0x9e5d5157;
export const UF2_MAGIC_END = 0x0ab16f30;
export const UF2_FLAG_NOT_MAIN_FLASH = 0x00000001;
export const UF2_FLAG_FILE_CONTAINER = 0x00001000;
export const UF2_FLAG_FAMILY_ID_PRESENT = 0x00002000;
export const UF2_FLAG_MD5_PRESENT = 0x00004000;
export const UF2_FLAG_EXTENSION_TAGS = 0x00008000;
export const UF2_FAMILY_RP2040 = 0xe48bff56;
export const UF2_BLOCK_BYTES = 512;
export const UF2_PAYLOAD_BYTES = 256;
/** Bytes available for data in a block (the payload uses the first payloadSize of them). */
const DATA_AREA = 476;

export interface Uf2Block {
  flags: number;
  targetAddr: number;
  payloadSize: number;
  blockNo: number;
  numBlocks: number;
  familyId: number;
  data: Uint8Array;
}

/** Pack a flat binary that starts at `baseAddr` into UF2 blocks (family id present). */
export function toUf2(bin: Uint8Array, baseAddr: number, familyId: number): Uint8Array {
  if (baseAddr % UF2_PAYLOAD_BYTES !== 0) throw new Error(`UF2 base address 0x${baseAddr.toString(16)} is not 256-byte aligned`);
  const numBlocks = Math.max(1, Math.ceil(bin.length / UF2_PAYLOAD_BYTES));
  const out = new Uint8Array(numBlocks * UF2_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < numBlocks; i++) {
    const at = i * UF2_BLOCK_BYTES;
    view.setUint32(at + 0, UF2_MAGIC_START0, true);
    view.setUint32(at + 4, UF2_MAGIC_START1, true);
    view.setUint32(at + 8, UF2_FLAG_FAMILY_ID_PRESENT, true);
    view.setUint32(at + 12, baseAddr + i * UF2_PAYLOAD_BYTES, true);
    view.setUint32(at + 16, UF2_PAYLOAD_BYTES, true);
    view.setUint32(at + 20, i, true);
    view.setUint32(at + 24, numBlocks, true);
    view.setUint32(at + 28, familyId >>> 0, true);
    // Payload (zero-padded past the end of the image), then zeros up to the end magic.
    out.set(bin.subarray(i * UF2_PAYLOAD_BYTES, (i + 1) * UF2_PAYLOAD_BYTES), at + 32);
    view.setUint32(at + 508, UF2_MAGIC_END, true);
  }
  return out;
}

/** Parse UF2 blocks, checking the magic numbers and sizes; throws on a malformed file. */
export function parseUf2(file: Uint8Array): Uf2Block[] {
  if (file.length % UF2_BLOCK_BYTES !== 0) throw new Error(`UF2 length ${file.length} is not a multiple of 512`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const blocks: Uf2Block[] = [];
  for (let at = 0; at < file.length; at += UF2_BLOCK_BYTES) {
    const u32 = (o: number): number => view.getUint32(at + o, true);
    if (u32(0) !== UF2_MAGIC_START0 || u32(4) !== UF2_MAGIC_START1 || u32(508) !== UF2_MAGIC_END) {
      throw new Error(`UF2 block at byte ${at}: bad magic`);
    }
    const payloadSize = u32(16);
    if (payloadSize > DATA_AREA) throw new Error(`UF2 block at byte ${at}: payload ${payloadSize} > ${DATA_AREA}`);
    blocks.push({
      flags: u32(8),
      targetAddr: u32(12),
      payloadSize,
      blockNo: u32(20),
      numBlocks: u32(24),
      familyId: u32(28),
      data: file.slice(at + 32, at + 32 + payloadSize),
    });
  }
  return blocks;
}

/** The RP2040 boot ROM's CRC32 (polynomial 0x04c11db7, MSB first, init 0xffffffff, no final xor). */
export function crc32Rp2040(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
    crc >>>= 0;
  }
  return crc >>> 0;
}
