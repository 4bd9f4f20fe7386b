// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init 0xFFFFFFFF, final xor 0xFFFFFFFF).
// Check value: crc32c("123456789") = 0xE3069283. The device copy is device/firmware/crc32c.ts;
// tests/firmware-codec.test.ts ties the two.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `data[start, end)`; `crc` continues a previous call (pass the previous result). */
export function crc32c(data: Uint8Array, start = 0, end = data.length, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
