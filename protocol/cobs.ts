// Consistent Overhead Byte Stuffing: removes every 0x00 from a frame so that 0x00 can
// delimit frames on the wire. Overhead: 1 byte per 254 bytes of data, plus 1.
// The device copy is device/firmware/cobs.ts (incremental decoder); tests tie the two.

/** Worst-case encoded length of `n` bytes (without the 0x00 delimiter). */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

/** Encodes `data` (no trailing delimiter is added). */
export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(data.length));
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
    } else {
      out[o++] = b;
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        codeAt = o++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/** Decodes one COBS block (without delimiter); returns null if it is not valid COBS. */
export function cobsDecode(enc: Uint8Array): Uint8Array | null {
  const out = new Uint8Array(enc.length);
  let o = 0;
  let i = 0;
  while (i < enc.length) {
    const code = enc[i++]!;
    if (code === 0) return null;
    const end = i + code - 1;
    if (end > enc.length) return null;
    for (; i < end; i++) {
      const b = enc[i]!;
      if (b === 0) return null;
      out[o++] = b;
    }
    if (code !== 0xff && i < enc.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
