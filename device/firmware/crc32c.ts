// CRC-32C (Castagnoli), the device copy of protocol/crc32c.ts (tied by tests/firmware-codec.test.ts).
const TABLE: usize = memory.data(1024, 4);
let tableReady = false;

export function crc32cInit(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    store<u32>(TABLE + (<usize>i << 2), c);
  }
  tableReady = true;
}

/** CRC-32C of [ptr, ptr+len); `crc` continues a previous result (0 to start). */
export function crc32c(ptr: usize, len: u32, crc: u32 = 0): u32 {
  if (!tableReady) crc32cInit();
  let c = ~crc;
  const end = ptr + <usize>len;
  for (let p = ptr; p < end; p++) {
    c = load<u32>(TABLE + (<usize>((c ^ <u32>load<u8>(p)) & 0xff) << 2)) ^ (c >>> 8);
  }
  return ~c;
}
