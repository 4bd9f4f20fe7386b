// Fixed-point primitives shared by the golden model and (as Verilog text) the generator.
// All values are JS integers well below 2^53, so plain Number arithmetic is exact.

/** Round-half-up arithmetic right shift: floor((x + 2^(s-1)) / 2^s); identity for s = 0. */
export function rshr(x: number, s: number): number {
  if (s === 0) return x;
  const p = 2 ** s;
  return Math.floor((x + p / 2) / p);
}

/** Clamp to the range of a signed two's-complement integer of `bits` bits. */
export function satS(x: number, bits: number): number {
  const max = 2 ** (bits - 1) - 1;
  const min = -(2 ** (bits - 1));
  return x > max ? max : x < min ? min : x;
}

/** Clamp to the range of an unsigned integer of `bits` bits. */
export function satU(x: number, bits: number): number {
  const max = 2 ** bits - 1;
  return x > max ? max : x < 0 ? 0 : x;
}

/** Number of bits needed to hold the unsigned value n (n >= 0). */
export function bitLen(n: number): number {
  let b = 0;
  while (2 ** b <= n) b++;
  return Math.max(b, 1);
}

export function clog2(n: number): number {
  let b = 0;
  while (2 ** b < n) b++;
  return b;
}

/** Two's-complement hex of a signed value in `bits` bits (for $readmemh and the testbench). */
export function toHex(x: number, bits: number): string {
  const v = x < 0 ? 2 ** bits + x : x;
  return v.toString(16).padStart(Math.ceil(bits / 4), "0");
}

/** Inverse of toHex. */
export function fromHex(h: string, bits: number, signed: boolean): number {
  const v = parseInt(h, 16);
  if (Number.isNaN(v)) throw new Error(`bad hex '${h}'`);
  return signed && v >= 2 ** (bits - 1) ? v - 2 ** bits : v;
}
