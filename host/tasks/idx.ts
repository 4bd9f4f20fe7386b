// Reader for the IDX files of (Fashion-)MNIST: big-endian magic 0x0000 <type> <ndims>, then
// ndims u32 sizes, then the data. Only unsigned bytes (type 0x08) are needed here. Files may be
// gzip-compressed (the Debian package ships *.gz); that is detected from the gzip magic.
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { InputError } from "../input/errors.ts";

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export function parseIdx(buf: Uint8Array, field = "idx"): IdxArray {
  const bytes = buf[0] === 0x1f && buf[1] === 0x8b ? new Uint8Array(gunzipSync(buf)) : buf;
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new InputError(field, "expected an IDX file (magic 0x0000....)");
  if (bytes[2] !== 0x08) throw new InputError(field, `expected IDX data type 0x08 (unsigned byte), got 0x${bytes[2]!.toString(16).padStart(2, "0")}`);
  const nd = bytes[3]!;
  if (nd < 1 || nd > 4) throw new InputError(field, `expected 1 to 4 dimensions, got ${nd}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * nd) throw new InputError(field, "truncated IDX header");
  const dims: number[] = [];
  for (let d = 0; d < nd; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * nd;
  if (bytes.length - start !== size) throw new InputError(field, `expected ${size} data bytes for dims ${dims.join("x")}, got ${bytes.length - start}`);
  return { dims, data: bytes.subarray(start) };
}

/** Read `path` or, if absent, `path.gz` (either may be gzip-compressed). */
export function readIdx(path: string): IdxArray {
  const p = existsSync(path) ? path : existsSync(path + ".gz") ? path + ".gz" : undefined;
  if (!p) throw new InputError(path, "file not found (also tried .gz)");
  return parseIdx(readFileSync(p), p);
}

/** Serialise an IDX array (tests build small fixture files with it). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
